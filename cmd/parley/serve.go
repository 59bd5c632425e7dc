package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/parley-cc/parley/actors"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/backend"
)

func init() {
	register("serve", "run a contact-center node", runServe)
}

func runServe(args []string) int {
	cfg, err := LoadConfig("parley serve", args, os.Getenv)
	if isHelp(err) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley serve:", err)
		return 2
	}
	log := newLogger(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, cfg, log, nil); err != nil {
		log.Error("parley serve stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(cfg Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// serve runs a node until ctx is cancelled, then shuts it down within
// cfg.ShutdownTimeout. ready, when not nil, receives the HTTP address once the
// node accepts requests.
func serve(ctx context.Context, cfg Config, log *slog.Logger, ready chan<- string) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	openCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	st, err := backend.Open(openCtx, cfg.DBPath())
	cancel()
	if err != nil {
		return fmt.Errorf("open store %s: %w", redactDSN(cfg.DBPath()), err)
	}
	defer st.Close()
	log.Info("store open", "db", redactDSN(cfg.DBPath()))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	wb := newWriteBehind(cfg, log, reg)

	routingCfg, err := loadRoutingConfig(ctx, cfg, st)
	if err != nil {
		return err
	}
	// The cluster starts before any other gRPC client: protoactor replaces
	// grpc's global logger when remoting starts.
	node, err := actors.Start(ctx, actors.ClusterConfig{
		Provider:       cfg.ClusterProvider,
		Name:           cfg.ClusterName,
		Addr:           cfg.ClusterAddr,
		AdvertiseAddr:  cfg.AdvertiseAddr,
		AutoManageAddr: cfg.AutoManageAddr,
		Seeds:          cfg.Seeds,
		EtcdEndpoints:  cfg.EtcdEndpoints,
	}, actors.Deps{Store: st, Logger: log, Registerer: reg, WriteBehind: wb, Routing: routingCfg})
	if err != nil {
		return fmt.Errorf("join cluster (%s): %w", cfg.ClusterProvider, err)
	}
	log.Info("cluster member up", "provider", cfg.ClusterProvider, "address", node.Address())

	if cfg.Demo {
		if err := loadDemo(ctx, st); err != nil {
			log.Warn("demo deployment not loaded", "err", err)
		}
	}

	env := &nodeEnv{Cfg: cfg, Log: log, Store: st, Node: node, Reg: reg, Services: map[string]any{}}
	parts, err := startComponents(ctx, env)
	if err != nil {
		node.Stop(false)
		return err
	}
	opts := httpapi.Options{
		Store:       st,
		Calls:       liveCalls{node.Calls()},
		WriteBehind: wb,
		// The SIP and WebRTC gateways record calls under this folder.
		RecordingsDir: filepath.Join(cfg.DataDir, "recordings"),
		Checks:        []httpapi.ReadinessCheck{httpapi.StoreCheck(st), {Name: "cluster", Check: func(context.Context) error { return node.Ready() }}, writeBehindCheck(wb, cfg.WriteBehindMaxAge)},
		Pages:         map[string]http.Handler{},
		Gatherer:      reg,
		Registerer:    reg,
		Logger:        log,
		Version:       version,
	}
	for _, p := range parts {
		opts.Routes = append(opts.Routes, p.Routes...)
		opts.Checks = append(opts.Checks, p.Checks...)
		for pattern, h := range p.Pages {
			opts.Pages[pattern] = h
		}
	}
	if cfg.Pprof {
		opts.Pages["/debug/pprof/"] = http.HandlerFunc(pprof.Index)
		opts.Pages["/debug/pprof/profile"] = http.HandlerFunc(pprof.Profile)
		opts.Pages["/debug/pprof/trace"] = http.HandlerFunc(pprof.Trace)
	}
	api := httpapi.New(opts)
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		stopComponents(context.Background(), log, parts)
		node.Stop(true)
		return fmt.Errorf("listen on http-addr %s: %w", cfg.HTTPAddr, err)
	}
	httpSrv := api.HTTPServer(cfg.HTTPAddr)
	httpErr := make(chan error, 1)
	go func() { httpErr <- httpSrv.Serve(ln) }()
	log.Info("http listening", "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err := <-httpErr:
		stopComponents(context.Background(), log, parts)
		node.Stop(false)
		return fmt.Errorf("http server: %w", err)
	}

	// Stop taking new work, let requests in flight finish, hand grains over,
	// then close the store — all within the shutdown bound.
	api.Drain()
	for _, p := range parts {
		if p.Drain != nil {
			p.Drain()
		}
	}
	shutCtx, cancelShut := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancelShut()
	if err := httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown incomplete", "err", err)
	}
	stopComponents(shutCtx, log, parts)
	stopped := make(chan error, 1)
	go func() { stopped <- node.Stop(true) }()
	select {
	case err := <-stopped:
		if err != nil {
			log.Warn("cluster leave incomplete", "err", err)
		}
	case <-shutCtx.Done():
		log.Warn("cluster leave exceeded the shutdown timeout; exiting anyway")
	}
	// Held writes get what is left of the bound; the count of any still
	// held is logged so an operator knows what the outage cost.
	if err := wb.Close(shutCtx); err != nil {
		log.Error("exiting with grain writes the database never took", "err", err)
	}
	log.Info("stopped")
	return nil
}

// liveCalls serves the API's call reads and turn writes from the Call grains.
type liveCalls struct{ calls *actors.CallClient }

func (l liveCalls) RecordTurn(ctx context.Context, callID string, t store.Turn) (int, error) {
	seq, err := l.calls.RecordTurn(ctx, callID, t)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, actors.ErrFailedPrecondition) {
		// A turn for a call nobody started opens a text conversation;
		// starting a started (or ended) call changes nothing.
		if _, _, err := l.calls.Start(ctx, store.Call{ID: callID, Direction: store.DirectionInbound, Channel: "text", StartedAt: time.Now()}); err != nil {
			return 0, err
		}
		seq, err = l.calls.RecordTurn(ctx, callID, t)
	}
	if errors.Is(err, actors.ErrFailedPrecondition) {
		return 0, fmt.Errorf("%w: %w", store.ErrConflict, err) // e.g. the call has ended
	}
	return seq, err
}

func (l liveCalls) Transcript(ctx context.Context, callID string) (*httpapi.CallTranscript, error) {
	tr, err := l.calls.Transcript(ctx, callID)
	if err != nil {
		return nil, err
	}
	return &httpapi.CallTranscript{Call: tr.Call, Turns: tr.Turns, Events: tr.Events, Member: tr.Member, Source: "live"}, nil
}
