// Command testmember runs one Parley cluster member for the failover tests
// of package actors: it reads a JSON member spec from $PARLEY_ACTORS_TEST_MEMBER,
// starts the member on a shared SQLite file, prints "READY <address>" and
// runs until stdin closes (graceful stop) or it is killed.
//
// The tests build it without the race detector: the pinned protoactor-go has
// data races in its gossip code (cluster/member_list.go writes the remote
// BlockList that MemberList.UpdateClusterTopology reads unlocked) that fire
// in every multi-member cluster and that this module cannot patch.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/parley-cc/parley/actors"
	"github.com/parley-cc/parley/store/sqlite"
)

// spec mirrors the test's memberSpec.
type spec struct {
	Config actors.ClusterConfig
	DBPath string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testmember:", err)
		os.Exit(1)
	}
}

func run() error {
	var s spec
	if err := json.Unmarshal([]byte(os.Getenv("PARLEY_ACTORS_TEST_MEMBER")), &s); err != nil {
		return fmt.Errorf("read member spec from PARLEY_ACTORS_TEST_MEMBER: %w", err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, s.DBPath)
	if err != nil {
		return fmt.Errorf("open shared store %s: %w", s.DBPath, err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := actors.Start(ctx, s.Config, actors.Deps{Store: st, Logger: log})
	if err != nil {
		return err
	}
	fmt.Printf("READY %s\n", n.Address())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return n.Stop(true)
}
