package media

import "testing"

func TestG711RoundTrip(t *testing.T) {
	for _, s := range []int16{0, 1, -1, 100, -100, 1000, -1000, 8000, -8000, 30000, -30000, 32767, -32768} {
		for name, codec := range map[string][2]func(int16) int16{
			"ulaw": {func(v int16) int16 { return DecodeULaw(EncodeULaw(v)) }},
			"alaw": {func(v int16) int16 { return DecodeALaw(EncodeALaw(v)) }},
		} {
			got := codec[0](s)
			diff := int(got) - int(s)
			if diff < 0 {
				diff = -diff
			}
			limit := int(s)/16 + 40 // G.711 keeps about 4 bits of mantissa
			if limit < 0 {
				limit = -limit + 40
			}
			if diff > limit && !(s < -32635 || s > 32635) {
				t.Errorf("%s(%d) round trip = %d (error %d > %d)", name, s, got, diff, limit)
			}
		}
	}
	if DecodeULaw(0xff) != 0 || DecodeALaw(0xd5) != 8 {
		t.Errorf("silence codes decode to %d (µ-law 0xff) and %d (A-law 0xd5)", DecodeULaw(0xff), DecodeALaw(0xd5))
	}
}
