package sip

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Datagrams the SIP stack cannot parse, and responses matching no
// transaction, are dropped by sipgo with an error log that quotes the whole
// datagram. Anyone can send them, so dropLog turns them into warnings that
// quote at most dropQuote bytes, and logs at most dropPerSecond of them a
// second (the next one logged says how many were not).
const (
	dropQuote     = 120
	dropPerSecond = 10
)

// dropMessages are sipgo's log messages for input dropped off the network.
var dropMessages = map[string]bool{
	"failed to parse":                     true,
	"Client tx failed to handle response": true,
	"Server tx failed to handle request":  true,
	"unsupported message, skip it":        true,
}

type dropLog struct {
	slog.Handler
	limit *dropLimit
}

type dropLimit struct {
	mu         sync.Mutex
	second     int64
	logged     int
	suppressed int
}

// newDropLog wraps log's handler for sipgo's transport and transaction layers.
func newDropLog(log *slog.Logger) *slog.Logger {
	return slog.New(&dropLog{Handler: log.Handler(), limit: &dropLimit{}})
}

func (h *dropLog) Handle(ctx context.Context, r slog.Record) error {
	if !dropMessages[r.Message] {
		return h.Handler.Handle(ctx, r)
	}
	suppressed, ok := h.limit.allow(r.Time)
	if !ok {
		return nil
	}
	out := slog.NewRecord(r.Time, slog.LevelWarn, "sip: dropped bad input: "+r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindString && len(a.Value.String()) > dropQuote {
			a = slog.String(a.Key, a.Value.String()[:dropQuote]+"...")
		}
		out.AddAttrs(a)
		return true
	})
	if suppressed > 0 {
		out.AddAttrs(slog.Int("not_logged_before", suppressed))
	}
	if !h.Handler.Enabled(ctx, slog.LevelWarn) {
		return nil
	}
	return h.Handler.Handle(ctx, out)
}

func (h *dropLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &dropLog{Handler: h.Handler.WithAttrs(attrs), limit: h.limit}
}

func (h *dropLog) WithGroup(name string) slog.Handler {
	return &dropLog{Handler: h.Handler.WithGroup(name), limit: h.limit}
}

// allow admits dropPerSecond drops per wall-clock second; it returns how
// many were suppressed since the last one admitted.
func (l *dropLimit) allow(t time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec := t.Unix(); sec != l.second {
		l.second, l.logged = sec, 0
	}
	if l.logged >= dropPerSecond {
		l.suppressed++
		return 0, false
	}
	l.logged++
	n := l.suppressed
	l.suppressed = 0
	return n, true
}
