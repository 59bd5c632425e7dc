package sip

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const sippOffer = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n"

func sdpLines(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n") }

func TestParseSDP(t *testing.T) {
	head := []string{"v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0"}
	with := func(extra ...string) []byte { return sdpLines(append(append([]string{}, head...), extra...)...) }
	tests := []struct {
		name    string
		body    []byte
		want    Media
		wantErr error
	}{
		{"sipp pcma with dtmf", []byte(sippOffer), Media{
			Addr: netip.MustParseAddrPort("127.0.0.1:6000"), Codecs: []Codec{CodecPCMA},
			DTMF: true, DTMFPayloadType: 101, Direction: SendRecv, SessionID: 53655765, SessionVersion: 2353687637,
		}, nil},
		{"caller order kept, unknown codecs dropped", with("m=audio 4000 RTP/AVP 9 0 8 96", "a=rtpmap:96 telephone-event/8000", "a=ptime:30", "a=sendonly"), Media{
			Addr: netip.MustParseAddrPort("10.0.0.1:4000"), Codecs: []Codec{CodecPCMU, CodecPCMA},
			DTMF: true, DTMFPayloadType: 96, Ptime: 30, Direction: SendOnly, SessionID: 1, SessionVersion: 2,
		}, nil},
		{"media level c= and direction override session", sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0", "a=inactive", "m=audio 4000 RTP/AVP 0", "c=IN IP4 0.0.0.0", "a=sendrecv"), Media{
			Addr: netip.MustParseAddrPort("0.0.0.0:4000"), Codecs: []Codec{CodecPCMU}, Direction: SendRecv, SessionID: 1, SessionVersion: 2,
		}, nil},
		{"session level direction", with("a=inactive", "m=audio 4000 RTP/AVP 0"), Media{
			Addr: netip.MustParseAddrPort("10.0.0.1:4000"), Codecs: []Codec{CodecPCMU}, Direction: Inactive, SessionID: 1, SessionVersion: 2,
		}, nil},
		{"empty", nil, Media{}, ErrMalformedSDP},
		{"garbage", []byte("hello world"), Media{}, ErrMalformedSDP},
		{"no c line", sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"), Media{}, ErrMalformedSDP},
		{"bad payload type", with("m=audio 4000 RTP/AVP 0 abc"), Media{}, ErrMalformedSDP},
		{"payload type above 127", with("m=audio 4000 RTP/AVP 0 300"), Media{}, ErrMalformedSDP},
		{"bad rtpmap", with("m=audio 4000 RTP/AVP 96", "a=rtpmap:96"), Media{}, ErrMalformedSDP},
		{"video only", with("m=video 4000 RTP/AVP 96"), Media{}, ErrNotAcceptable},
		{"srtp only", with("m=audio 4000 RTP/SAVP 0"), Media{}, ErrNotAcceptable},
		{"ipv6", sdpLines("v=0", "o=- 1 2 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0", "m=audio 4000 RTP/AVP 0"), Media{}, ErrNotAcceptable},
		{"hostname in c=", sdpLines("v=0", "o=- 1 2 IN IP4 h", "s=-", "c=IN IP4 pbx.example.com", "t=0 0", "m=audio 4000 RTP/AVP 0"), Media{}, ErrNotAcceptable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSDP(tt.body)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseSDP error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSDP: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseSDP =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	both := []Codec{CodecPCMU, CodecPCMA}
	tests := []struct {
		name      string
		remote    Media
		supported []Codec
		want      Agreement
		wantErr   bool
	}{
		{"caller prefers PCMA", Media{Codecs: []Codec{CodecPCMA, CodecPCMU}, DTMF: true, DTMFPayloadType: 96}, both,
			Agreement{Codec: CodecPCMA, DTMF: true, DTMFPayloadType: 96, Ptime: 20}, false},
		{"caller prefers PCMU", Media{Codecs: []Codec{CodecPCMU, CodecPCMA}, Ptime: 30}, both,
			Agreement{Codec: CodecPCMU, Ptime: 30}, false},
		{"only PCMA supported locally", Media{Codecs: []Codec{CodecPCMU, CodecPCMA}}, []Codec{CodecPCMA},
			Agreement{Codec: CodecPCMA, Ptime: 20}, false},
		{"dynamic PCMU keeps remote payload type", Media{Codecs: []Codec{{PayloadType: 98, Name: "PCMU", ClockRate: 8000}}}, both,
			Agreement{Codec: Codec{PayloadType: 98, Name: "PCMU", ClockRate: 8000}, Ptime: 20}, false},
		{"nothing common", Media{}, both, Agreement{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Negotiate(tt.remote, tt.supported)
			if tt.wantErr {
				if !errors.Is(err, ErrNotAcceptable) {
					t.Fatalf("Negotiate error = %v, want ErrNotAcceptable", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Negotiate = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestDirectionReverseAndHold(t *testing.T) {
	for d, want := range map[Direction]Direction{SendRecv: SendRecv, SendOnly: RecvOnly, RecvOnly: SendOnly, Inactive: Inactive, "": SendRecv} {
		if got := d.Reverse(); got != want {
			t.Errorf("%q.Reverse() = %q, want %q", d, got, want)
		}
	}
	addr := netip.MustParseAddrPort("10.0.0.1:4000")
	for _, tc := range []struct {
		m    Media
		hold bool
	}{
		{Media{Addr: addr, Direction: SendRecv}, false},
		{Media{Addr: addr, Direction: RecvOnly}, false},
		{Media{Addr: addr, Direction: SendOnly}, true},
		{Media{Addr: addr, Direction: Inactive}, true},
		{Media{Addr: netip.MustParseAddrPort("0.0.0.0:4000"), Direction: SendRecv}, true},
	} {
		if got := tc.m.OnHold(); got != tc.hold {
			t.Errorf("%+v OnHold() = %v, want %v", tc.m, got, tc.hold)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	m := Media{
		Addr: netip.MustParseAddrPort("192.0.2.7:30000"), Codecs: []Codec{CodecPCMU, CodecPCMA},
		DTMF: true, DTMFPayloadType: 101, Ptime: 20, Direction: SendOnly, SessionID: 42, SessionVersion: 3,
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"m=audio 30000 RTP/AVP 0 8 101\r\n", "c=IN IP4 192.0.2.7\r\n", "a=rtpmap:101 telephone-event/8000\r\n", "a=sendonly\r\n", "o=parley 42 3 IN IP4 192.0.2.7\r\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("SDP lacks %q:\n%s", want, b)
		}
	}
	got, err := ParseSDP(b)
	if err != nil {
		t.Fatalf("ParseSDP(own output): %v\n%s", err, b)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip = %+v, want %+v", got, m)
	}
	if _, err := (Media{Addr: netip.MustParseAddrPort("[::1]:4000"), Codecs: []Codec{CodecPCMU}}).Marshal(); err == nil {
		t.Fatal("Marshal of an IPv6 address succeeded, want an error")
	}
}
