package webrtc

import (
	"errors"
	"testing"
)

// FuzzParseMessage: any bytes from a browser give a message or an error
// wrapping ErrBadMessage, never a panic.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"offer","extension":"echo","sdp":"v=0\r\n"}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"dtmf","digit":"#"}`, `{"type":"register","agent":"a1"}`, `{"type":"hangup"}`, `{"type":`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error %v does not wrap ErrBadMessage", err)
			}
			return
		}
		if m.Type == TypeDTMF && len(m.Digit) != 1 {
			t.Fatalf("accepted dtmf digit %q", m.Digit)
		}
	})
}

// FuzzPickAudio: any SDP gives a G.711 format or an error, never a panic.
func FuzzPickAudio(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 8 0 126\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\n")
	f.Add("v=0\r\nm=audio 9 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := pickAudio(s)
		if err == nil && a.MimeType == "" {
			t.Fatal("no codec and no error")
		}
	})
}
