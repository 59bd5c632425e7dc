package sip

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParseSDP checks that any input either parses into something that survives
// a marshal/parse round trip or fails with one of the two documented errors.
func FuzzParseSDP(f *testing.F) {
	f.Add([]byte(sippOffer))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 1 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=inactive\r\n"))
	f.Add([]byte("v=0\r\nm=audio 0 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseSDP(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedSDP) && !errors.Is(err, ErrNotAcceptable) {
				t.Fatalf("ParseSDP error %v wraps neither ErrMalformedSDP nor ErrNotAcceptable", err)
			}
			return
		}
		if len(m.Codecs) == 0 {
			if _, err := Negotiate(m, []Codec{CodecPCMU, CodecPCMA}); !errors.Is(err, ErrNotAcceptable) {
				t.Fatalf("Negotiate with no codecs: %v", err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", m, err)
		}
		again, err := ParseSDP(out)
		if err != nil {
			t.Fatalf("ParseSDP(own output): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changed media:\n %+v\n %+v", m, again)
		}
	})
}
