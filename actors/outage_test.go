package actors

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"

	"github.com/parley-cc/parley/store"
)

// downStore is a real SQLite store whose writes can be made to fail the way a
// lost database connection fails (a transient error), while reads still work
// so the test can look at what landed.
type downStore struct {
	Store
	down atomic.Bool
}

var errConnLost = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (d *downStore) check() error {
	if d.down.Load() {
		return fmt.Errorf("store: %w", errConnLost)
	}
	return nil
}

func (d *downStore) SaveCall(ctx context.Context, c *store.Call) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.Store.SaveCall(ctx, c)
}

func (d *downStore) AppendTurn(ctx context.Context, t store.Turn) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.Store.AppendTurn(ctx, t)
}

func (d *downStore) AppendCallEvent(ctx context.Context, e store.CallEvent) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.Store.AppendCallEvent(ctx, e)
}

func TestCallGoesOnThroughADatabaseOutageWithWriteBehind(t *testing.T) {
	st := &downStore{Store: openStore(t, t.TempDir())}
	wb := store.NewWriteBehind(store.WriteBehindOptions{Backoff: store.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond}})
	n, err := Start(context.Background(), ClusterConfig{}, Deps{Store: st, Logger: testLogger(t), WriteBehind: wb})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(false) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	calls := n.Calls()
	if _, _, err := calls.Start(ctx, store.Call{ID: "c1", Direction: store.DirectionInbound, Channel: "sip"}); err != nil {
		t.Fatal(err)
	}
	if _, err := calls.RecordTurn(ctx, "c1", store.Turn{Speaker: store.SpeakerCaller, Text: "before the outage"}); err != nil {
		t.Fatal(err)
	}

	st.down.Store(true)
	for i, text := range []string{"during one", "during two", "during three"} {
		seq, err := calls.RecordTurn(ctx, "c1", store.Turn{Speaker: store.SpeakerCaller, Text: text})
		if err != nil || seq != i+2 {
			t.Fatalf("turn %q while the database is down: seq=%d err=%v, want seq %d accepted", text, seq, err, i+2)
		}
	}
	if _, err := calls.RecordEvent(ctx, "c1", store.CallEvent{Type: "dtmf", By: "caller", Data: map[string]string{"digit": "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := calls.Hangup(ctx, "c1", store.SpeakerCaller, "", ""); err != nil {
		t.Fatal(err)
	}
	if wb.Pending() == 0 {
		t.Fatal("no write is pending while the database is down")
	}
	tr, err := calls.Transcript(ctx, "c1")
	if err != nil || len(tr.Turns) != 4 {
		t.Fatalf("live transcript during the outage: %d turns, err=%v; want 4", len(tr.Turns), err)
	}
	if turns, _ := st.ListTurns(ctx, "c1"); len(turns) != 1 {
		t.Fatalf("store has %d turns during the outage, want 1", len(turns))
	}

	st.down.Store(false)
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	turns, err := st.ListTurns(ctx, "c1")
	if err != nil || len(turns) != 4 {
		t.Fatalf("store after recovery: %d turns, err=%v; want 4", len(turns), err)
	}
	for i, want := range []string{"before the outage", "during one", "during two", "during three"} {
		if turns[i].Seq != i+1 || turns[i].Text != want {
			t.Fatalf("turn %d = %d %q, want %d %q", i, turns[i].Seq, turns[i].Text, i+1, want)
		}
	}
	events, _ := st.ListCallEvents(ctx, "c1")
	c, _ := st.GetCall(ctx, "c1")
	if len(events) != 2 || c == nil || c.State != store.CallEnded {
		t.Fatalf("after recovery: %d events, call %+v; want dtmf+hangup and an ended call", len(events), c)
	}
	if wb.Stats().Written < 5 {
		t.Fatalf("write-behind wrote %d, want at least 5", wb.Stats().Written)
	}
}

func TestCallWriteFailsUnavailableWithoutWriteBehind(t *testing.T) {
	st := &downStore{Store: openStore(t, t.TempDir())}
	n := startLocal(t, st, ClusterConfig{RetryBudget: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	calls := n.Calls()
	if _, _, err := calls.Start(ctx, store.Call{ID: "c2", Direction: store.DirectionInbound, Channel: "sip"}); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	shortCtx, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	if _, err := calls.RecordTurn(shortCtx, "c2", store.Turn{Speaker: store.SpeakerCaller, Text: "lost?"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("turn while the database is down: err=%v, want ErrUnavailable (never a silent drop)", err)
	}
	st.down.Store(false)
	seq, err := calls.RecordTurn(ctx, "c2", store.Turn{Speaker: store.SpeakerCaller, Text: "retried"})
	if err != nil || seq != 1 {
		t.Fatalf("retry after recovery: seq=%d err=%v, want 1 (the failed turn took no number)", seq, err)
	}
}

// The etcd lease TTL is set by reflection on protoactor's provider; this
// fails if an upgrade renames the field, instead of failover silently
// slowing down.
func TestEtcdLeaseTTLIsSettable(t *testing.T) {
	// A zero Provider: NewWithConfig would open an etcd gRPC connection
	// whose logging races with the next member's grpclog.SetLoggerV2.
	p := &etcd.Provider{}
	if !setLeaseTTL(p, 2*time.Second) {
		t.Fatal("setLeaseTTL found no keepAliveTTL field on the etcd provider")
	}
	v := reflect.ValueOf(p).Elem().FieldByName("keepAliveTTL")
	if time.Duration(v.Int()) != 2*time.Second {
		t.Fatalf("keepAliveTTL = %s after setLeaseTTL(2s)", time.Duration(v.Int()))
	}
}
