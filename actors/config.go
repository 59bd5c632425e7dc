package actors

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Cluster providers that ClusterConfig.Provider accepts.
const (
	ProviderLocal       = "local"
	ProviderAutomanaged = "automanaged"
	ProviderEtcd        = "etcd"
	ProviderK8s         = "k8s"
)

// ClusterConfig says how a member joins the cluster. The zero value, after
// defaults, is a one-member cluster on 127.0.0.1 with nothing external.
type ClusterConfig struct {
	// Provider is local (default), automanaged, etcd or k8s.
	Provider string
	// Name is shared by the members of one cluster; default "parley".
	Name string
	// Addr is the host:port actor remoting binds; port 0 picks a free one.
	// Default 127.0.0.1:0.
	Addr string
	// AdvertiseAddr is the host:port other members reach this one at;
	// default: the bound address. Needed behind NAT or when Addr binds 0.0.0.0.
	AdvertiseAddr string

	// ClientOnly joins the cluster without hosting grains: the node reaches
	// every grain but owns none (an edge or gateway node). With automanaged
	// it needs only Seeds (it serves no membership endpoint).
	ClientOnly bool

	// AutoManageAddr is host:port of this member's automanaged membership
	// endpoint. The upstream provider binds 0.0.0.0 on its port, so only the
	// port is used for binding; the seeds list must name it.
	AutoManageAddr string
	// Seeds are the automanaged membership endpoints (host:port) of all members.
	Seeds []string
	// AutoManageRefresh is how often automanaged members poll the seeds;
	// default 500ms. It bounds how fast a dead member is noticed.
	AutoManageRefresh time.Duration

	// EtcdEndpoints are etcd client endpoints (host:port or URLs).
	EtcdEndpoints []string
	// EtcdPrefix is the key prefix members register under; default "/parley".
	EtcdPrefix string
	// EtcdLeaseTTL is how long a member's registration outlives its last
	// keep-alive, so how soon a crashed member is seen gone; default 2s
	// (etcd's minimum lease is about 1.5 s with its default heartbeat).
	EtcdLeaseTTL time.Duration

	// RequestTimeout bounds one attempt of a grain request; default 5s.
	RequestTimeout time.Duration
	// RetryBudget bounds all attempts of a request whose context has no
	// deadline; default 15s.
	RetryBudget time.Duration
	// GrainIdleTimeout passivates a grain that received nothing for this
	// long; default 10m. Its state is in the store, so passivation loses nothing.
	GrainIdleTimeout time.Duration
	// StoreTimeout bounds one store operation of a grain; default 5s.
	StoreTimeout time.Duration
	// ActorLogLevel is the least level (debug, info, warn, error) of
	// protoactor's own logs that reaches Deps.Logger; default warn, because
	// its info logs are chatty.
	ActorLogLevel string
}

// ConfigError says which ClusterConfig field is wrong and why.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("actors: cluster config %s: %s", e.Field, e.Reason)
}

func bad(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// withDefaults fills unset fields.
func (c ClusterConfig) withDefaults() ClusterConfig {
	if c.Provider == "" {
		c.Provider = ProviderLocal
	}
	if c.Name == "" {
		c.Name = "parley"
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.AutoManageRefresh <= 0 {
		c.AutoManageRefresh = 500 * time.Millisecond
	}
	if c.EtcdLeaseTTL <= 0 {
		c.EtcdLeaseTTL = 2 * time.Second
	}
	if c.EtcdPrefix == "" {
		c.EtcdPrefix = "/parley"
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.RetryBudget <= 0 {
		c.RetryBudget = 15 * time.Second
	}
	if c.GrainIdleTimeout <= 0 {
		c.GrainIdleTimeout = 10 * time.Minute
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = 5 * time.Second
	}
	if c.ActorLogLevel == "" {
		c.ActorLogLevel = "warn"
	}
	return c
}

// Validate reports the first wrong field of c (after defaults).
func (c ClusterConfig) Validate() error {
	c = c.withDefaults()
	if _, _, err := splitHostPort(c.Addr, true); err != nil {
		return bad("Addr", "%v", err)
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitHostPort(c.AdvertiseAddr, false); err != nil {
			return bad("AdvertiseAddr", "%v", err)
		}
	}
	if _, err := parseLevel(c.ActorLogLevel); err != nil {
		return bad("ActorLogLevel", "%v", err)
	}
	switch c.Provider {
	case ProviderLocal, ProviderK8s:
	case ProviderAutomanaged:
		if _, _, err := splitHostPort(c.AutoManageAddr, false); err != nil && !c.ClientOnly {
			return bad("AutoManageAddr", "required with provider automanaged: %v", err)
		}
		if len(c.Seeds) == 0 {
			return bad("Seeds", "required with provider automanaged: list every member's AutoManageAddr")
		}
		for i, s := range c.Seeds {
			if _, _, err := splitHostPort(s, false); err != nil {
				return bad(fmt.Sprintf("Seeds[%d]", i), "%v", err)
			}
		}
	case ProviderEtcd:
		if len(c.EtcdEndpoints) == 0 {
			return bad("EtcdEndpoints", "required with provider etcd")
		}
	default:
		return bad("Provider", "%q is not one of local, automanaged, etcd, k8s", c.Provider)
	}
	return nil
}

// splitHostPort parses host:port; port 0 is allowed only when zeroOK.
func splitHostPort(addr string, zeroOK bool) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no valid port", addr)
	}
	if port == 0 && !zeroOK {
		return "", 0, fmt.Errorf("%q needs a fixed port (not 0)", addr)
	}
	return host, port, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not one of debug, info, warn, error", s)
	}
	return l, nil
}
