package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// ErrMalformedSDP reports a session description that cannot be parsed; it maps to 400 Bad Request.
var ErrMalformedSDP = errors.New("malformed SDP")

// ErrNotAcceptable reports a well-formed session description the gateway cannot serve; it maps to 488 Not Acceptable Here.
var ErrNotAcceptable = errors.New("SDP not acceptable")

// Codec is an audio payload format the gateway can carry over RTP.
type Codec struct {
	PayloadType uint8
	Name        string
	ClockRate   uint32
}

// CodecPCMU is G.711 µ-law with its static payload type 0.
var CodecPCMU = Codec{PayloadType: 0, Name: "PCMU", ClockRate: 8000}

// CodecPCMA is G.711 A-law with its static payload type 8.
var CodecPCMA = Codec{PayloadType: 8, Name: "PCMA", ClockRate: 8000}

// DefaultDTMFPayloadType is the telephone-event payload type the gateway offers.
const DefaultDTMFPayloadType = 101

// DefaultPtime is the packetization time in milliseconds used when the peer states none.
const DefaultPtime = 20

// Direction is an SDP media direction attribute (RFC 3264).
type Direction string

// The four SDP directions.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// Reverse returns the direction an answer takes for an offer with direction d.
func (d Direction) Reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	default:
		return SendRecv
	}
}

// Media is the audio stream one side of a call describes in its SDP.
type Media struct {
	// Addr is where this side receives RTP; its address is unspecified (0.0.0.0) for an RFC 2543 hold.
	Addr netip.AddrPort
	// Codecs lists the supported audio codecs in this side's order of preference.
	Codecs []Codec
	// DTMF tells whether telephone-event (RFC 4733) is offered, with DTMFPayloadType.
	DTMF            bool
	DTMFPayloadType uint8
	// Ptime is the packetization time in milliseconds, 0 when not stated.
	Ptime     int
	Direction Direction
	// SessionID and SessionVersion come from (or go to) the o= line.
	SessionID      uint64
	SessionVersion uint64
}

// OnHold tells whether this side asks not to receive media (sendonly, inactive or c=0.0.0.0).
func (m Media) OnHold() bool {
	return m.Direction == SendOnly || m.Direction == Inactive || !m.Addr.Addr().IsValid() || m.Addr.Addr().IsUnspecified()
}

// ParseSDP reads the first usable RTP/AVP audio stream of a session description.
// Errors wrap ErrMalformedSDP (syntax) or ErrNotAcceptable (nothing the gateway can serve).
func ParseSDP(body []byte) (m Media, err error) {
	// The SDP comes straight off the network: a parser bug must cost one call a 400, not the node.
	defer func() {
		if r := recover(); r != nil {
			m, err = Media{}, fmt.Errorf("%w: parser failure: %v", ErrMalformedSDP, r)
		}
	}()
	var sd sdp.SessionDescription
	if len(body) == 0 {
		return Media{}, fmt.Errorf("%w: empty body", ErrMalformedSDP)
	}
	if err := sd.Unmarshal(body); err != nil {
		return Media{}, fmt.Errorf("%w: %v", ErrMalformedSDP, err)
	}
	m = Media{
		SessionID:      sd.Origin.SessionID,
		SessionVersion: sd.Origin.SessionVersion,
		Direction:      SendRecv,
	}
	if d, ok := directionOf(sd.Attributes); ok {
		m.Direction = d
	}
	sawAudio := false
	for i, md := range sd.MediaDescriptions {
		if md == nil || md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		sawAudio = true
		if len(md.MediaName.Protos) != 2 || md.MediaName.Protos[0] != "RTP" || md.MediaName.Protos[1] != "AVP" {
			continue // SRTP or other profiles are not served
		}
		if md.MediaName.Port.Value < 1 || md.MediaName.Port.Value > 65535 {
			return Media{}, fmt.Errorf("%w: m= line %d: port %d out of range", ErrMalformedSDP, i+1, md.MediaName.Port.Value)
		}
		conn := md.ConnectionInformation
		if conn == nil {
			conn = sd.ConnectionInformation
		}
		ip, err := connectionAddr(conn)
		if err != nil {
			return Media{}, fmt.Errorf("m= line %d: %w", i+1, err)
		}
		m.Addr = netip.AddrPortFrom(ip, uint16(md.MediaName.Port.Value))
		if err := readFormats(&m, md); err != nil {
			return Media{}, fmt.Errorf("m= line %d: %w", i+1, err)
		}
		if d, ok := directionOf(md.Attributes); ok {
			m.Direction = d
		}
		if v, ok := md.Attribute("ptime"); ok {
			if p, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && p >= 10 && p <= 200 {
				m.Ptime = p
			}
		}
		return m, nil
	}
	if sawAudio {
		return Media{}, fmt.Errorf("%w: no RTP/AVP audio stream (only other profiles)", ErrNotAcceptable)
	}
	return Media{}, fmt.Errorf("%w: no audio stream", ErrNotAcceptable)
}

func connectionAddr(c *sdp.ConnectionInformation) (netip.Addr, error) {
	if c == nil || c.Address == nil {
		return netip.Addr{}, fmt.Errorf("%w: no c= connection line", ErrMalformedSDP)
	}
	if c.NetworkType != "IN" {
		return netip.Addr{}, fmt.Errorf("%w: network type %q", ErrNotAcceptable, c.NetworkType)
	}
	if c.AddressType != "IP4" {
		return netip.Addr{}, fmt.Errorf("%w: address type %q (only IP4 is served)", ErrNotAcceptable, c.AddressType)
	}
	host, _, _ := strings.Cut(c.Address.Address, "/")
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("%w: c= address %q is not an IPv4 address", ErrNotAcceptable, c.Address.Address)
	}
	return ip, nil
}

func readFormats(m *Media, md *sdp.MediaDescription) error {
	rtpmap := make(map[uint8]string)
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		ptText, enc, ok := strings.Cut(strings.TrimSpace(a.Value), " ")
		if !ok {
			return fmt.Errorf("%w: rtpmap %q has no encoding", ErrMalformedSDP, a.Value)
		}
		pt, err := strconv.ParseUint(ptText, 10, 7)
		if err != nil {
			return fmt.Errorf("%w: rtpmap %q: payload type is not 0-127", ErrMalformedSDP, a.Value)
		}
		rtpmap[uint8(pt)] = strings.TrimSpace(enc)
	}
	for _, f := range md.MediaName.Formats {
		pt64, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			return fmt.Errorf("%w: format %q is not a payload type 0-127", ErrMalformedSDP, f)
		}
		pt := uint8(pt64)
		name, rate := "", uint32(0)
		if enc, ok := rtpmap[pt]; ok {
			n, r, _ := strings.Cut(enc, "/")
			r, _, _ = strings.Cut(r, "/")
			rate64, err := strconv.ParseUint(r, 10, 32)
			if err != nil {
				return fmt.Errorf("%w: rtpmap for %d: clock rate %q", ErrMalformedSDP, pt, r)
			}
			name, rate = strings.ToUpper(n), uint32(rate64)
		} else {
			switch pt {
			case CodecPCMU.PayloadType:
				name, rate = CodecPCMU.Name, CodecPCMU.ClockRate
			case CodecPCMA.PayloadType:
				name, rate = CodecPCMA.Name, CodecPCMA.ClockRate
			}
		}
		switch {
		case name == "TELEPHONE-EVENT" && rate == 8000:
			if !m.DTMF {
				m.DTMF, m.DTMFPayloadType = true, pt
			}
		case (name == "PCMU" || name == "PCMA") && rate == 8000:
			m.Codecs = append(m.Codecs, Codec{PayloadType: pt, Name: name, ClockRate: rate})
		}
	}
	return nil
}

func directionOf(attrs []sdp.Attribute) (Direction, bool) {
	for _, a := range attrs {
		switch Direction(a.Key) {
		case SendRecv, SendOnly, RecvOnly, Inactive:
			return Direction(a.Key), true
		}
	}
	return "", false
}

// Agreement is what both sides settled on for a call's audio.
type Agreement struct {
	Codec           Codec
	DTMF            bool
	DTMFPayloadType uint8
	Ptime           int
}

// Negotiate picks the first codec of the remote side's list that is in supported,
// keeping the remote's payload type numbers; it fails with ErrNotAcceptable when none is common.
func Negotiate(remote Media, supported []Codec) (Agreement, error) {
	for _, c := range remote.Codecs {
		for _, s := range supported {
			if c.Name == s.Name && c.ClockRate == s.ClockRate {
				a := Agreement{Codec: c, DTMF: remote.DTMF, DTMFPayloadType: remote.DTMFPayloadType, Ptime: remote.Ptime}
				if a.Ptime == 0 {
					a.Ptime = DefaultPtime
				}
				return a, nil
			}
		}
	}
	names := make([]string, 0, len(remote.Codecs))
	for _, c := range remote.Codecs {
		names = append(names, c.Name)
	}
	return Agreement{}, fmt.Errorf("%w: no common codec (offered %v, supported PCMU/PCMA)", ErrNotAcceptable, names)
}

// Marshal renders m as an SDP session description with one audio stream.
func (m Media) Marshal() ([]byte, error) {
	if !m.Addr.Addr().Is4() {
		return nil, fmt.Errorf("marshal SDP: address %v is not IPv4", m.Addr)
	}
	if len(m.Codecs) == 0 {
		return nil, errors.New("marshal SDP: no codec")
	}
	ip := m.Addr.Addr().String()
	md := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:  "audio",
			Port:   sdp.RangedPort{Value: int(m.Addr.Port())},
			Protos: []string{"RTP", "AVP"},
		},
	}
	for _, c := range m.Codecs {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(c.PayloadType)))
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/%d", c.PayloadType, c.Name, c.ClockRate)))
	}
	if m.DTMF {
		pt := strconv.Itoa(int(m.DTMFPayloadType))
		md.MediaName.Formats = append(md.MediaName.Formats, pt)
		md.Attributes = append(md.Attributes,
			sdp.NewAttribute("rtpmap", pt+" telephone-event/8000"),
			sdp.NewAttribute("fmtp", pt+" 0-16"))
	}
	if m.Ptime > 0 {
		md.Attributes = append(md.Attributes, sdp.NewAttribute("ptime", strconv.Itoa(m.Ptime)))
	}
	dir := m.Direction
	if dir == "" {
		dir = SendRecv
	}
	md.Attributes = append(md.Attributes, sdp.NewPropertyAttribute(string(dir)))
	sd := sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "parley", SessionID: m.SessionID, SessionVersion: m.SessionVersion,
			NetworkType: "IN", AddressType: "IP4", UnicastAddress: ip,
		},
		SessionName:           "parley",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions:     []*sdp.MediaDescription{md},
	}
	b, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal SDP: %w", err)
	}
	return b, nil
}
