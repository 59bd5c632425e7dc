package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaultsAreValid(t *testing.T) {
	cfg, err := LoadConfig("serve", nil, env(nil))
	if err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8080" || cfg.SIPAddr != "127.0.0.1:5060" || cfg.ClusterProvider != "local" {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if got := cfg.DBPath(); got != filepath.Join("data", "parley.db") {
		t.Fatalf("DBPath = %q", got)
	}
}

func TestConfigPrecedenceFileEnvFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "parley.yaml")
	os.WriteFile(file, []byte("http-addr: 127.0.0.1:9000\nsip-addr: 127.0.0.1:5999\nmax-calls: 7\netcd-endpoints:\n  - 127.0.0.1:2379\n  - 127.0.0.1:2380\nshutdown-timeout: 3s\n"), 0o644)
	cfg, err := LoadConfig("serve",
		[]string{"--config", file, "--http-addr", "127.0.0.1:9100", "--demo=false"},
		env(map[string]string{"PARLEY_SIP_ADDR": "127.0.0.1:6000", "PARLEY_HTTP_ADDR": "127.0.0.1:9050", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"flag beats env and file", cfg.HTTPAddr, "127.0.0.1:9100"},
		{"env beats file", cfg.SIPAddr, "127.0.0.1:6000"},
		{"file beats default", cfg.MaxCalls, 7},
		{"file list", strings.Join(cfg.EtcdEndpoints, ","), "127.0.0.1:2379,127.0.0.1:2380"},
		{"file duration", cfg.ShutdownTimeout, 3 * time.Second},
		{"bare bool flag", cfg.Demo, false},
		{"extra env name", cfg.OpenAIBaseURL, "http://127.0.0.1:1/v1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("http-addr: 127.0.0.1:9000\nhttp-adr: x\n"), 0o644)
	wrongType := filepath.Join(dir, "wrongtype.yaml")
	os.WriteFile(wrongType, []byte("max-calls: many\n"), 0o644)
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		field string
		hint  string
	}{
		{"bad address", []string{"--http-addr", "nonsense"}, nil, "http-addr", "host:port"},
		{"bad provider", []string{"--cluster-provider", "zookeeper"}, nil, "cluster-provider", "not one of"},
		{"bad env int", nil, map[string]string{"PARLEY_MAX_CALLS": "ten"}, "max-calls", "env PARLEY_MAX_CALLS"},
		{"zero max calls", []string{"--max-calls", "0"}, nil, "max-calls", "at least 1"},
		{"automanaged without seeds", []string{"--cluster-provider", "automanaged", "--automanaged-addr", "127.0.0.1:6330"}, nil, "automanaged-seeds", "required"},
		{"etcd without endpoints", []string{"--cluster-provider", "etcd"}, nil, "etcd-endpoints", "required"},
		{"openai without endpoint", []string{"--llm", "openai"}, nil, "openai-base-url", "OPENAI_BASE_URL"},
		{"unknown yaml key", []string{"--config", unknown}, nil, "http-adr", "unknown.yaml:2"},
		{"wrong yaml type", []string{"--config", wrongType}, nil, "max-calls", "wrongtype.yaml:1"},
		{"missing file", []string{"--config", filepath.Join(dir, "absent.yaml")}, nil, "config", "cannot read"},
		{"bad db scheme", []string{"--db", "mysql://x"}, nil, "db", "postgres://"},
		{"bad vector store", []string{"--vector-store", "qdrant"}, nil, "vector-store", "Qdrant host:port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadConfig("serve", c.args, env(c.env))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a ConfigError, got %v", err)
			}
			if ce.Field != c.field || !strings.Contains(err.Error(), c.hint) {
				t.Fatalf("error %q: want field %q mentioning %q", err, c.field, c.hint)
			}
		})
	}
}

func TestConfigRejectsStrayArguments(t *testing.T) {
	if _, err := LoadConfig("serve", []string{"extra"}, env(nil)); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Fatalf("want an error naming the stray argument, got %v", err)
	}
}
