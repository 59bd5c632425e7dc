package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config holds the gateway's settings; zero fields take the defaults documented on each.
type Config struct {
	// Addr is the UDP and TCP listen address; port 0 picks a free port (default 127.0.0.1:5060).
	Addr string
	// PublicIP is the IPv4 address put in Contact and SDP (default: the host of Addr, or 127.0.0.1 when it is unspecified).
	PublicIP string
	// RTPPortMin and RTPPortMax bound the local RTP ports, inclusive (default 20000-29999).
	RTPPortMin, RTPPortMax int
	// MaxCalls caps concurrent calls; further INVITEs get 503 (default 1000).
	MaxCalls int
	// RetryAfter is the Retry-After value sent with 503 (default 5 s).
	RetryAfter time.Duration
	// RingTime delays the 200 OK after 180 Ringing (default 0).
	RingTime time.Duration
	// MediaTimeout hangs up a call that received no RTP for this long (default 30 s; negative disables).
	MediaTimeout time.Duration
	// NoInbandDTMF turns off the Goertzel detection of key tones in callers' audio
	// (on by default: for peers without telephone-event, or that send tones anyway;
	// a press that also arrives as RFC 4733 is reported once).
	NoInbandDTMF bool
	// DataDir is where call recordings are written, under DataDir/recordings (default: no recordings).
	DataDir string
	// Realm is the digest realm of the registrar (default "parley").
	Realm string
	// UserAgent is the User-Agent and Server header value (default "parley").
	UserAgent string
	// Trunk is the default route for outbound calls to numbers that are not registered agents.
	Trunk Trunk
}

// Trunk is an outbound route to a carrier or PBX.
type Trunk struct {
	// Host is the domain put in request-URIs, e.g. "sip.carrier.example" or "10.0.0.5:5060".
	Host string
	// Proxy is the host:port INVITEs are sent to when it differs from Host (outbound proxy).
	Proxy string
	// Username and Password answer the trunk's digest challenges.
	Username, Password string
	// CallerID is the user part of From when DialOptions.CallerID is empty.
	CallerID string
	// Transport is "udp" (default) or "tcp".
	Transport string
}

func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:5060"
	}
	if c.RTPPortMin == 0 && c.RTPPortMax == 0 {
		c.RTPPortMin, c.RTPPortMax = 20000, 29999
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = 1000
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = 5 * time.Second
	}
	if c.MediaTimeout == 0 {
		c.MediaTimeout = 30 * time.Second
	}
	if c.Realm == "" {
		c.Realm = "parley"
	}
	if c.UserAgent == "" {
		c.UserAgent = "parley"
	}
	if c.Trunk.Transport == "" {
		c.Trunk.Transport = "udp"
	}
	var errs []error
	if c.RTPPortMin < 1 || c.RTPPortMax > 65535 || c.RTPPortMin > c.RTPPortMax {
		errs = append(errs, fmt.Errorf("RTPPortMin/RTPPortMax: range %d-%d is not within 1-65535", c.RTPPortMin, c.RTPPortMax))
	}
	if c.MaxCalls < 0 {
		errs = append(errs, fmt.Errorf("MaxCalls: %d is negative", c.MaxCalls))
	}
	if c.PublicIP != "" {
		if ip, err := netip.ParseAddr(c.PublicIP); err != nil || !ip.Is4() {
			errs = append(errs, fmt.Errorf("PublicIP: %q is not an IPv4 address", c.PublicIP))
		}
	}
	if c.Trunk.Transport != "udp" && c.Trunk.Transport != "tcp" {
		errs = append(errs, fmt.Errorf("Trunk.Transport: %q is not udp or tcp", c.Trunk.Transport))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("sip gateway config: %w", errors.Join(errs...))
	}
	return c, nil
}
