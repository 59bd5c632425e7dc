package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything a node is configured with. Each field is settable, in
// increasing order of precedence, by its default, the YAML file named by
// --config, the environment variable PARLEY_<NAME> (upper case, dashes as
// underscores) and the command-line flag --<name>. The `name` tag is the flag
// name and the YAML key; `help` is the flag's usage text.
type Config struct {
	ConfigFile string `name:"config" help:"YAML configuration file (keys are the flag names)"`

	HTTPAddr string `name:"http-addr" help:"address of the HTTP API, health, metrics and web UI"`
	SIPAddr  string `name:"sip-addr" help:"UDP/TCP address the SIP gateway listens on"`
	DataDir  string `name:"data-dir" help:"directory for the SQLite file, recordings and the embedded vector index"`
	DB       string `name:"db" help:"SQLite file path or postgres:// DSN (default: parley.db under --data-dir)"`

	VectorStore string `name:"vector-store" help:"embedded, or a Qdrant address host:port"`
	LLM         string `name:"llm" help:"dialog engine: local or openai"`
	ASR         string `name:"asr" help:"speech recognition: local or openai"`
	TTS         string `name:"tts" help:"speech synthesis: local or openai"`
	Embedder    string `name:"embedder" help:"knowledge-base embedder: local or openai"`

	ASRMode          string        `name:"asr-mode" help:"with --asr local: grammar (the deployment's phrases, menus, digits, yes/no; exact when callers stay in it; every utterance is also decoded with a trigram model of the deployment's words, kept when the grammar's phrase disagrees with it) or lm (open language model)"`
	ASRModel         string        `name:"asr-model" help:"with --asr openai: transcription model (default whisper-1)"`
	TTSVoice         string        `name:"tts-voice" help:"voice: flite slt, kal16, kal, rms or awb with --tts local (default slt); the endpoint's voice with --tts openai (default alloy)"`
	TTSModel         string        `name:"tts-model" help:"with --tts openai: speech model (default tts-1)"`
	EndOfTurnSilence time.Duration `name:"end-of-turn-silence" help:"pause that ends a caller's turn when no partial transcript says otherwise"`

	KBMaxDocumentBytes int    `name:"kb-max-document-bytes" help:"largest knowledge-base article body accepted, in bytes"`
	KBEmbedModel       string `name:"kb-embed-model" help:"embedding model with --embedder openai"`
	KBEmbedDimension   int    `name:"kb-embed-dimension" help:"vector size of --kb-embed-model"`
	KBQdrantCollection string `name:"kb-qdrant-collection" help:"Qdrant collection of the knowledge base (with a Qdrant --vector-store)"`
	KBQdrantAPIKey     string `name:"kb-qdrant-api-key" env:"QDRANT_API_KEY" help:"Qdrant API key" secret:"true"`

	OpenAIBaseURL string `name:"openai-base-url" env:"OPENAI_BASE_URL" help:"base URL of an OpenAI-compatible endpoint"`
	OpenAIAPIKey  string `name:"openai-api-key" env:"OPENAI_API_KEY" help:"API key for the OpenAI-compatible endpoint" secret:"true"`

	ClusterProvider string        `name:"cluster-provider" help:"local, automanaged, etcd or k8s"`
	ClusterName     string        `name:"cluster-name" help:"cluster name; members of one cluster share it"`
	ClusterAddr     string        `name:"cluster-addr" help:"host:port this member's actor remoting binds (port 0 picks one)"`
	AdvertiseAddr   string        `name:"cluster-advertise-addr" help:"host:port other members reach this one at (default: --cluster-addr)"`
	AutoManageAddr  string        `name:"automanaged-addr" help:"host:port of this member's automanaged membership endpoint"`
	Seeds           []string      `name:"automanaged-seeds" help:"comma-separated automanaged membership endpoints (host:port) of all members"`
	EtcdEndpoints   []string      `name:"etcd-endpoints" help:"comma-separated etcd client endpoints"`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" help:"how long a graceful shutdown may take before the node exits anyway"`

	MaxCalls int `name:"max-calls" help:"concurrent calls this node accepts before answering 503"`

	SIPPublicIP       string        `name:"sip-public-ip" help:"IPv4 address put in SIP Contact and SDP (default: the host of --sip-addr)"`
	SIPRTPPorts       string        `name:"sip-rtp-ports" help:"UDP port range min-max for call audio (RTP on even ports, RTCP on the next)"`
	SIPMediaTimeout   time.Duration `name:"sip-media-timeout" help:"hang up a call that sent no audio for this long (0 disables)"`
	SIPRetryAfter     time.Duration `name:"sip-retry-after" help:"Retry-After sent with 503 when the node is full or draining"`
	SIPRingTime       time.Duration `name:"sip-ring-time" help:"ring inbound callers this long (180 Ringing) before answering"`
	SIPInbandDTMF     bool          `name:"sip-inband-dtmf" help:"detect key tones in callers' audio too (phones without RFC 4733 telephone-event); a press sent both ways counts once"`
	SIPRealm          string        `name:"sip-realm" help:"digest realm of the registrar for agents' SIP phones"`
	SIPAgentPasswords []string      `name:"sip-agent-passwords" help:"comma-separated extension=password pairs agents' SIP phones register with" secret:"true"`
	SIPTrunkHost      string        `name:"sip-trunk-host" help:"carrier or PBX domain (host[:port]) for outbound calls to numbers"`
	SIPTrunkProxy     string        `name:"sip-trunk-proxy" help:"outbound proxy host:port for trunk calls (default: the trunk host)"`
	SIPTrunkUser      string        `name:"sip-trunk-username" help:"digest username for the trunk"`
	SIPTrunkPassword  string        `name:"sip-trunk-password" help:"digest password for the trunk" secret:"true"`
	SIPTrunkCallerID  string        `name:"sip-trunk-caller-id" help:"caller id (From user) of outbound trunk calls"`
	SIPTrunkTransport string        `name:"sip-trunk-transport" help:"udp or tcp towards the trunk"`

	WebRTCICEServers   []string      `name:"webrtc-ice-servers" help:"comma-separated STUN/TURN URLs for browser calls (turn:user:secret@host:port)" secret:"true"`
	WebRTCUDPPorts     string        `name:"webrtc-udp-ports" help:"UDP port range min-max for WebRTC media (empty: any port)"`
	WebRTCNATIPs       []string      `name:"webrtc-nat-ips" help:"comma-separated public IPs announced as ICE host candidates behind a 1:1 NAT"`
	WebRTCLoopback     bool          `name:"webrtc-loopback" help:"offer 127.0.0.1 ICE candidates, for a browser on the same host (demos, tests)"`
	WebRTCMediaTimeout time.Duration `name:"webrtc-media-timeout" help:"hang up a browser call (or softphone leg) that sent no audio for this long (0 disables)"`

	WriteBehindMax    int           `name:"write-behind-max" help:"grain writes held in memory while the database is unreachable before new writes fail with 503"`
	WriteBehindMaxAge time.Duration `name:"write-behind-max-age" help:"/readyz fails while a held write is older than this (the database is not keeping up)"`

	Deployment           string        `name:"deployment" help:"dialog deployment folder (deployment.yaml, intents and flows YAML, kb/*.md); empty: the built-in demo"`
	LLMModel             string        `name:"llm-model" help:"chat model with --llm openai (empty: the deployment's llm.model)"`
	LLMFirstTokenTimeout time.Duration `name:"llm-first-token-timeout" help:"with --llm openai, how long to wait for the first streamed token before apologising and retrying"`
	LLMStallTimeout      time.Duration `name:"llm-stall-timeout" help:"with --llm openai, the longest gap between streamed tokens before the reply counts as failed"`

	RoutingConfig         string        `name:"routing-config" help:"ACD configuration YAML (skills, queues with relaxing steps, priorities, calendars); empty: derived from the store's queues"`
	RoutingAgentTokens    []string      `name:"routing-agent-tokens" help:"comma-separated agent=token pairs for the agent desktop WebSocket; empty: loopback clients only" secret:"true"`
	RoutingOfferTimeout   time.Duration `name:"routing-offer-timeout" help:"an offer not accepted within this time goes back to the queue (with a derived configuration)"`
	RoutingMaxMisses      int           `name:"routing-max-misses" help:"consecutive missed offers before the agent is set not ready (with a derived configuration)"`
	RoutingWrapUp         time.Duration `name:"routing-wrap-up" help:"after-contact work time of each queue (with a derived configuration)"`
	RoutingBreakReasons   []string      `name:"routing-break-reasons" help:"comma-separated break reason codes agents choose from (with a derived configuration)"`
	RoutingReconcileEvery time.Duration `name:"routing-reconcile-every" help:"how often routing clears contacts and agents left by ended calls"`
	RoutingSummary        string        `name:"routing-summary" help:"hand-off summaries: auto (the LLM with --llm openai, else extractive), llm or extractive"`

	Demo      bool   `name:"demo" help:"load the demo deployment (KB articles, intents, flows, a queue, two agents) when the store is empty"`
	Pprof     bool   `name:"pprof" help:"serve Go profiles under /debug/pprof/ on the HTTP address (keep it off on untrusted networks)"`
	LogLevel  string `name:"log-level" help:"debug, info, warn or error"`
	LogFormat string `name:"log-format" help:"text or json"`
}

// DefaultConfig is a working single-node contact center on embedded defaults.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:    "127.0.0.1:8080",
		SIPAddr:     "127.0.0.1:5060",
		DataDir:     "data",
		VectorStore: "embedded",
		LLM:         "local",
		ASR:         "local",
		TTS:         "local",
		Embedder:    "local",

		KBMaxDocumentBytes: 512 << 10,
		KBEmbedModel:       "text-embedding-3-small",
		KBEmbedDimension:   1536,
		KBQdrantCollection: "parley_kb",

		ClusterProvider:      "local",
		ClusterName:          "parley",
		ClusterAddr:          "127.0.0.1:0",
		ShutdownTimeout:      15 * time.Second,
		MaxCalls:             1000,
		SIPRTPPorts:          "20000-29999",
		SIPMediaTimeout:      30 * time.Second,
		WebRTCMediaTimeout:   30 * time.Second,
		SIPRetryAfter:        5 * time.Second,
		SIPInbandDTMF:        true,
		SIPRealm:             "parley",
		SIPTrunkTransport:    "udp",
		WriteBehindMax:       100000,
		WriteBehindMaxAge:    5 * time.Second,
		LLMFirstTokenTimeout: 6 * time.Second,
		LLMStallTimeout:      4 * time.Second,
		ASRMode:              "grammar",
		EndOfTurnSilence:     600 * time.Millisecond,
		Demo:                 true,
		LogLevel:             "info",
		LogFormat:            "text",

		RoutingOfferTimeout:   20 * time.Second,
		RoutingMaxMisses:      3,
		RoutingWrapUp:         15 * time.Second,
		RoutingBreakReasons:   []string{"lunch", "training", "meeting", "personal"},
		RoutingReconcileEvery: 30 * time.Second,
		RoutingSummary:        "auto",
	}
}

// ConfigError names the setting that is wrong and why.
type ConfigError struct {
	Field  string // flag name
	Source string // default, file:line, env VAR or flag
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("config %s (from %s): %s", e.Field, e.Source, e.Reason)
	}
	return fmt.Sprintf("config %s: %s", e.Field, e.Reason)
}

// configField is one settable field of Config.
type configField struct {
	name string
	env  string // extra environment variable honoured besides PARLEY_<NAME>
	help string
	v    reflect.Value
}

func (c *Config) fields() []configField {
	rv := reflect.ValueOf(c).Elem()
	rt := rv.Type()
	out := make([]configField, 0, rt.NumField())
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		out = append(out, configField{name: f.Tag.Get("name"), env: f.Tag.Get("env"), help: f.Tag.Get("help"), v: rv.Field(i)})
	}
	return out
}

func envName(flagName string) string {
	return "PARLEY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// set parses raw into the field according to its type.
func (f configField) set(raw string) error {
	switch f.v.Kind() {
	case reflect.String:
		f.v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", raw)
		}
		f.v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		f.v.SetInt(int64(n))
	case reflect.Int64: // time.Duration
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 15s, 2m)", raw)
		}
		f.v.SetInt(int64(d))
	case reflect.Slice:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		f.v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported setting type %s", f.v.Type())
	}
	return nil
}

// rawFlag records what was given on the command line; it is applied after the
// file and the environment so that flags win.
type rawFlag struct{ val *string }

func (r rawFlag) String() string {
	if r.val == nil {
		return ""
	}
	return *r.val
}
func (r rawFlag) Set(s string) error { *r.val = s; return nil }

// boolFlag lets boolean settings be given as a bare --demo.
type boolFlag struct{ rawFlag }

func (boolFlag) IsBoolFlag() bool { return true }

// LoadConfig builds the configuration of a command from defaults, the YAML
// file, the environment and args, and validates it.
func LoadConfig(name string, args []string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	fields := cfg.fields()

	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	raw := make(map[string]*string, len(fields))
	for _, f := range fields {
		s := new(string)
		raw[f.name] = s
		def := fmt.Sprint(f.v.Interface())
		if f.v.Kind() == reflect.Slice {
			def = strings.Join(f.v.Interface().([]string), ",")
		}
		usage := f.help + " (env " + envName(f.name)
		if f.env != "" {
			usage += " or " + f.env
		}
		usage += ")"
		if f.v.Kind() == reflect.Bool {
			fs.Var(boolFlag{rawFlag{s}}, f.name, usage)
		} else {
			fs.Var(rawFlag{s}, f.name, usage)
		}
		if def != "" && def != "0" && def != "false" {
			fs.Lookup(f.name).DefValue = def
		}
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	path := getenv(envName("config"))
	if given["config"] {
		path = *raw["config"]
	}
	if path != "" {
		if err := cfg.loadFile(path); err != nil {
			return cfg, err
		}
		cfg.ConfigFile = path
	}
	for _, f := range fields {
		for _, env := range []string{f.env, envName(f.name)} {
			if env == "" {
				continue
			}
			if v := getenv(env); v != "" {
				if err := f.set(v); err != nil {
					return cfg, &ConfigError{Field: f.name, Source: "env " + env, Reason: err.Error()}
				}
			}
		}
	}
	for _, f := range fields {
		if given[f.name] {
			if err := f.set(*raw[f.name]); err != nil {
				return cfg, &ConfigError{Field: f.name, Source: "flag --" + f.name, Reason: err.Error()}
			}
		}
	}
	return cfg, cfg.Validate()
}

// loadFile reads a YAML file whose keys are flag names; unknown keys and
// values of the wrong type are errors that name the line.
func (c *Config) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &ConfigError{Field: "config", Reason: fmt.Sprintf("cannot read %s: %v", path, err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return &ConfigError{Field: "config", Source: path, Reason: "invalid YAML: " + err.Error()}
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return &ConfigError{Field: "config", Source: fmt.Sprintf("%s:%d", path, root.Line), Reason: "expected a mapping of setting: value"}
	}
	byName := map[string]configField{}
	for _, f := range c.fields() {
		byName[f.name] = f
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		src := fmt.Sprintf("%s:%d", path, key.Line)
		f, ok := byName[key.Value]
		if !ok || key.Value == "config" {
			return &ConfigError{Field: key.Value, Source: src, Reason: "unknown setting"}
		}
		var rawVal string
		switch {
		case val.Kind == yaml.SequenceNode && f.v.Kind() == reflect.Slice:
			items := make([]string, 0, len(val.Content))
			for _, it := range val.Content {
				if it.Kind != yaml.ScalarNode {
					return &ConfigError{Field: key.Value, Source: src, Reason: "list items must be plain values"}
				}
				items = append(items, it.Value)
			}
			rawVal = strings.Join(items, ",")
		case val.Kind == yaml.ScalarNode:
			rawVal = val.Value
		default:
			return &ConfigError{Field: key.Value, Source: src, Reason: "expected a plain value"}
		}
		if err := f.set(rawVal); err != nil {
			return &ConfigError{Field: key.Value, Source: src, Reason: err.Error()}
		}
	}
	return nil
}

// Validate checks every setting and reports the first that is wrong.
func (c *Config) Validate() error {
	bad := func(field, format string, a ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	hostPort := func(field, v string, allowEmpty bool) error {
		if v == "" && allowEmpty {
			return nil
		}
		_, port, err := net.SplitHostPort(v)
		if err != nil {
			return bad(field, "%q is not host:port: %v", v, err)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return bad(field, "%q has an invalid port", v)
		}
		return nil
	}
	oneOf := func(field, v string, allowed ...string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return bad(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	checks := []error{
		hostPort("http-addr", c.HTTPAddr, false),
		hostPort("sip-addr", c.SIPAddr, false),
		hostPort("cluster-addr", c.ClusterAddr, false),
		hostPort("cluster-advertise-addr", c.AdvertiseAddr, true),
		oneOf("llm", c.LLM, "local", "openai"),
		oneOf("asr", c.ASR, "local", "openai"),
		oneOf("tts", c.TTS, "local", "openai"),
		oneOf("asr-mode", c.ASRMode, "grammar", "lm"),
		oneOf("embedder", c.Embedder, "local", "openai"),
		oneOf("cluster-provider", c.ClusterProvider, "local", "automanaged", "etcd", "k8s"),
		oneOf("log-level", c.LogLevel, "debug", "info", "warn", "error"),
		oneOf("log-format", c.LogFormat, "text", "json"),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if c.DataDir == "" {
		return bad("data-dir", "must not be empty")
	}
	if c.VectorStore != "embedded" {
		if err := hostPort("vector-store", strings.TrimPrefix(strings.TrimPrefix(c.VectorStore, "http://"), "https://"), false); err != nil {
			return bad("vector-store", "%q is neither \"embedded\" nor a Qdrant host:port", c.VectorStore)
		}
	}
	if c.DB != "" && !c.usesPostgres() && strings.Contains(c.DB, "://") {
		return bad("db", "%q: only postgres:// or postgresql:// DSNs and SQLite file paths are supported", c.DB)
	}
	if c.KBMaxDocumentBytes < 1 {
		return bad("kb-max-document-bytes", "%d must be at least 1", c.KBMaxDocumentBytes)
	}
	if c.KBEmbedDimension < 1 {
		return bad("kb-embed-dimension", "%d must be at least 1", c.KBEmbedDimension)
	}
	if c.KBQdrantCollection == "" {
		return bad("kb-qdrant-collection", "must not be empty")
	}
	if c.WriteBehindMax < 1 {
		return bad("write-behind-max", "%d must be at least 1", c.WriteBehindMax)
	}
	if c.WriteBehindMaxAge <= 0 {
		return bad("write-behind-max-age", "%s must be positive", c.WriteBehindMaxAge)
	}
	if c.ClusterName == "" {
		return bad("cluster-name", "must not be empty")
	}
	if !validClusterName(c.ClusterName) {
		return bad("cluster-name", "%q may hold only letters, digits, '-' and '_'", c.ClusterName)
	}
	switch c.ClusterProvider {
	case "automanaged":
		if err := hostPort("automanaged-addr", c.AutoManageAddr, false); err != nil {
			return bad("automanaged-addr", "required with cluster-provider automanaged: %v", err.(*ConfigError).Reason)
		}
		if len(c.Seeds) == 0 {
			return bad("automanaged-seeds", "required with cluster-provider automanaged: list every member's automanaged-addr")
		}
		for _, s := range c.Seeds {
			if err := hostPort("automanaged-seeds", s, false); err != nil {
				return err
			}
		}
	case "etcd":
		if len(c.EtcdEndpoints) == 0 {
			return bad("etcd-endpoints", "required with cluster-provider etcd")
		}
	}
	if (c.LLM == "openai" || c.ASR == "openai" || c.TTS == "openai" || c.Embedder == "openai") && c.OpenAIBaseURL == "" && c.OpenAIAPIKey == "" {
		return bad("openai-base-url", "an openai provider is selected but neither OPENAI_BASE_URL nor OPENAI_API_KEY is set")
	}
	if c.LLMFirstTokenTimeout <= 0 {
		return bad("llm-first-token-timeout", "must be positive, got %s", c.LLMFirstTokenTimeout)
	}
	if c.EndOfTurnSilence < 100*time.Millisecond || c.EndOfTurnSilence > 5*time.Second {
		return bad("end-of-turn-silence", "%s must be between 100ms and 5s", c.EndOfTurnSilence)
	}
	if c.LLMStallTimeout <= 0 {
		return bad("llm-stall-timeout", "must be positive, got %s", c.LLMStallTimeout)
	}
	if c.ShutdownTimeout <= 0 {
		return bad("shutdown-timeout", "must be positive, got %s", c.ShutdownTimeout)
	}
	if err := c.validateWebRTC(bad); err != nil {
		return err
	}
	if c.MaxCalls < 1 {
		return bad("max-calls", "must be at least 1, got %d", c.MaxCalls)
	}
	if err := c.validateSIP(bad, hostPort); err != nil {
		return err
	}
	if err := c.validateRouting(bad); err != nil {
		return err
	}
	return nil
}

func validClusterName(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func (c *Config) usesPostgres() bool {
	return strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://")
}

// DBPath is the SQLite file or PostgreSQL DSN the node opens.
func (c *Config) DBPath() string {
	if c.DB != "" {
		return c.DB
	}
	return filepath.Join(c.DataDir, "parley.db")
}

// isHelp tells whether parsing stopped because -h or --help was given.
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// validateSIP checks the SIP gateway's settings.
func (c *Config) validateSIP(bad func(field, format string, a ...any) error, hostPort func(field, v string, allowEmpty bool) error) error {
	if c.SIPPublicIP != "" {
		if ip := net.ParseIP(c.SIPPublicIP); ip == nil || ip.To4() == nil {
			return bad("sip-public-ip", "%q is not an IPv4 address", c.SIPPublicIP)
		}
	}
	if _, _, err := c.RTPPortRange(); err != nil {
		return bad("sip-rtp-ports", "%v", err)
	}
	if c.SIPMediaTimeout < 0 {
		return bad("sip-media-timeout", "must not be negative, got %s", c.SIPMediaTimeout)
	}
	if c.SIPRingTime < 0 || c.SIPRingTime > 2*time.Minute {
		return bad("sip-ring-time", "must be between 0 and 2m, got %s", c.SIPRingTime)
	}
	if c.SIPRetryAfter < time.Second {
		return bad("sip-retry-after", "must be at least 1s, got %s", c.SIPRetryAfter)
	}
	if c.SIPRealm == "" {
		return bad("sip-realm", "must not be empty")
	}
	if _, err := c.AgentPasswords(); err != nil {
		return bad("sip-agent-passwords", "%v", err)
	}
	if c.SIPTrunkTransport != "udp" && c.SIPTrunkTransport != "tcp" {
		return bad("sip-trunk-transport", "%q is not udp or tcp", c.SIPTrunkTransport)
	}
	if err := hostPort("sip-trunk-proxy", c.SIPTrunkProxy, true); err != nil {
		return err
	}
	if c.SIPTrunkHost == "" && (c.SIPTrunkProxy != "" || c.SIPTrunkUser != "" || c.SIPTrunkCallerID != "") {
		return bad("sip-trunk-host", "required when another sip-trunk-* setting is given")
	}
	if strings.ContainsAny(c.SIPTrunkHost, " /@;") {
		return bad("sip-trunk-host", "%q is not a host[:port]", c.SIPTrunkHost)
	}
	return nil
}

// RTPPortRange parses --sip-rtp-ports.
func (c *Config) RTPPortRange() (lo, hi int, err error) {
	a, b, ok := strings.Cut(c.SIPRTPPorts, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q is not a port range min-max", c.SIPRTPPorts)
	}
	if lo < 1024 || hi > 65535 || hi-lo < 3 {
		return 0, 0, fmt.Errorf("%q must lie within 1024-65535 and hold at least two port pairs", c.SIPRTPPorts)
	}
	return lo, hi, nil
}

// AgentPasswords parses --sip-agent-passwords into extension -> password.
func (c *Config) AgentPasswords() (map[string]string, error) {
	out := make(map[string]string, len(c.SIPAgentPasswords))
	for i, pair := range c.SIPAgentPasswords {
		ext, pw, ok := strings.Cut(pair, "=")
		if !ok || ext == "" || pw == "" {
			return nil, fmt.Errorf("entry %d is not extension=password", i+1)
		}
		if _, dup := out[ext]; dup {
			return nil, fmt.Errorf("extension %q is listed twice", ext)
		}
		out[ext] = pw
	}
	return out, nil
}
