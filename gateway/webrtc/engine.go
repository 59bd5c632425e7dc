package webrtc

import (
	"fmt"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"
)

// ICEServer is a STUN or TURN server handed to pion and to browsers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ICEConfig says how this node gathers ICE candidates.
type ICEConfig struct {
	Servers []ICEServer
	// UDPPortMin and UDPPortMax bound the host candidates' UDP ports (0: any).
	UDPPortMin, UDPPortMax uint16
	// NAT1To1IPs are public addresses announced as host candidates when the
	// node sits behind a 1:1 NAT (cloud VMs).
	NAT1To1IPs []string
	// Loopback gathers 127.0.0.1 candidates, IPv4 only, without mDNS: for a
	// browser on the same host (tests, demos).
	Loopback bool
}

// Validate checks the ICE settings; errors name the setting.
func (c ICEConfig) Validate() error {
	for _, s := range c.Servers {
		if len(s.URLs) == 0 {
			return fmt.Errorf("ice server without URLs")
		}
		for _, u := range s.URLs {
			pu, err := ice.ParseURL(u)
			if err != nil {
				return fmt.Errorf("ice server %q: %v", u, err)
			}
			if (pu.Scheme == ice.SchemeTypeTURN || pu.Scheme == ice.SchemeTypeTURNS) && (s.Username == "" || s.Credential == "") {
				return fmt.Errorf("turn server %q needs a username and a credential", u)
			}
		}
	}
	if (c.UDPPortMin == 0) != (c.UDPPortMax == 0) || c.UDPPortMin > c.UDPPortMax {
		return fmt.Errorf("udp port range %d-%d: give both ends, min <= max", c.UDPPortMin, c.UDPPortMax)
	}
	return nil
}

func (c ICEConfig) pionServers() []pion.ICEServer {
	out := make([]pion.ICEServer, 0, len(c.Servers))
	for _, s := range c.Servers {
		ps := pion.ICEServer{URLs: s.URLs, Username: s.Username}
		if s.Credential != "" {
			ps.Credential = s.Credential
		}
		out = append(out, ps)
	}
	return out
}

// eventMime is RFC 4733 telephone-events, negotiated so that browsers'
// RTCDTMFSender key presses reach the gateway.
const eventMime = "audio/telephone-event"

// newAPI builds the pion API every leg of this gateway uses: G.711 and
// telephone-event only (browsers offer Opus first; G.711 avoids transcoding
// to the 8 kHz frames of media.Call), RTCP reports and the ICE settings.
func newAPI(c ICEConfig) (*pion.API, error) {
	me := &pion.MediaEngine{}
	for _, codec := range []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: eventMime, ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 101},
	} {
		if err := me.RegisterCodec(codec, pion.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("webrtc: register %s: %w", codec.MimeType, err)
		}
	}
	// RTCP sender and receiver reports only: pion's other defaults (NACK,
	// transport-wide congestion control, simulcast headers, stats) serve
	// video and cost memory on every call; browsers neither NACK G.711 nor
	// adapt its bitrate.
	ir := &interceptor.Registry{}
	if err := pion.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("webrtc: interceptors: %w", err)
	}
	se := pion.SettingEngine{}
	if c.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(c.UDPPortMin, c.UDPPortMax); err != nil {
			return nil, fmt.Errorf("webrtc: udp port range: %w", err)
		}
	}
	if len(c.NAT1To1IPs) > 0 {
		se.SetNAT1To1IPs(c.NAT1To1IPs, pion.ICECandidateTypeHost)
	}
	if c.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)), nil
}

// ParseICEServers reads STUN/TURN URLs as given in configuration, e.g.
// "stun:stun.example.com:3478" or "turn:user:secret@turn.example.com:3478?transport=udp".
func ParseICEServers(urls []string) ([]ICEServer, error) {
	var out []ICEServer
	for _, u := range urls {
		s := ICEServer{URLs: []string{u}}
		if scheme, rest, ok := strings.Cut(u, ":"); ok && (scheme == "turn" || scheme == "turns") {
			if cred, host, ok := strings.Cut(rest, "@"); ok {
				user, pass, ok := strings.Cut(cred, ":")
				if !ok || user == "" || pass == "" {
					return nil, fmt.Errorf("ice server %q: credentials must be user:secret@", redactURL(u))
				}
				s = ICEServer{URLs: []string{scheme + ":" + host}, Username: user, Credential: pass}
			}
		}
		if err := (ICEConfig{Servers: []ICEServer{s}}).Validate(); err != nil {
			return nil, fmt.Errorf("%s", strings.ReplaceAll(err.Error(), u, redactURL(u)))
		}
		out = append(out, s)
	}
	return out, nil
}

// redactURL hides a TURN secret in error messages.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if c := strings.Index(u, ":"); c >= 0 && c < at {
			return u[:c+1] + "…@" + u[at+1:]
		}
	}
	return u
}
