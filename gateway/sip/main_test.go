package sip

import (
	"io"
	"log/slog"
	"os"
	"testing"

	siplib "github.com/emiago/sipgo/sip"
)

func TestMain(m *testing.M) {
	// sipgo's transaction and transport layers log through a package-level default;
	// garbage-input tests would flood the output with parse errors.
	if os.Getenv("SIP_DEBUG") == "" {
		siplib.SetDefaultLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(m.Run())
}
