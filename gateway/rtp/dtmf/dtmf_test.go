package dtmf

import (
	"bytes"
	"math"
	"os"
	"testing"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/g711"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/internal/pcapfile"
	"github.com/parley-cc/parley/internal/shareddata"
)

func tone(digit byte, ms int, amp float64) []int16 {
	var r, c int
	for i := range keypad {
		for j := range keypad[i] {
			if keypad[i][j] == digit {
				r, c = i, j
			}
		}
	}
	n := ms * 8
	out := make([]int16, n)
	for i := range out {
		t := float64(i) / 8000
		out[i] = int16(amp * (math.Sin(2*math.Pi*rowFreqs[r]*t) + math.Sin(2*math.Pi*colFreqs[c]*t)))
	}
	return out
}

func detect(d *Detector, samples []int16) string {
	var got []byte
	for _, f := range audio.Frames(samples) {
		if kp, ok := d.Process(&f); ok {
			got = append(got, kp.Digit)
		}
	}
	return string(got)
}

func TestDetectorSyntheticKeys(t *testing.T) {
	var s []int16
	for _, k := range []byte(Digits) {
		s = append(s, tone(k, 70, 6000)...)
		s = append(s, make([]int16, 50*8)...)
	}
	if got := detect(NewDetector(DetectorConfig{}), s); got != Digits {
		t.Fatalf("detected %q, want %q", got, Digits)
	}
}

func TestDetectorRejects(t *testing.T) {
	cases := map[string][]int16{
		"too short (20 ms)": tone('5', 20, 6000),
		"too quiet":         tone('5', 100, 100),
		"single 697 Hz":     singleTone(697, 200),
		"1 kHz test tone":   singleTone(1000, 200),
		"white-ish noise":   noise(200),
	}
	for name, s := range cases {
		if got := detect(NewDetector(DetectorConfig{}), s); got != "" {
			t.Errorf("%s: detected %q", name, got)
		}
	}
	// Excess twist: column 15 dB weaker than row.
	s := make([]int16, 800)
	for i := range s {
		tt := float64(i) / 8000
		s[i] = int16(8000*math.Sin(2*math.Pi*697*tt) + 1400*math.Sin(2*math.Pi*1209*tt))
	}
	if got := detect(NewDetector(DetectorConfig{}), s); got != "" {
		t.Errorf("15 dB twist: detected %q", got)
	}
}

func TestDetectorDebounce(t *testing.T) {
	// One long press with a 10 ms dropout is one key; a 60 ms pause makes two.
	s := append(tone('7', 200, 6000), make([]int16, 80)...)
	s = append(s, tone('7', 200, 6000)...)
	if got := detect(NewDetector(DetectorConfig{}), s); got != "7" {
		t.Errorf("press with dropout: %q, want \"7\"", got)
	}
	s = append(tone('7', 200, 6000), make([]int16, 480)...)
	s = append(s, tone('7', 200, 6000)...)
	if got := detect(NewDetector(DetectorConfig{}), s); got != "77" {
		t.Errorf("two presses: %q, want \"77\"", got)
	}
}

func singleTone(f float64, ms int) []int16 {
	out := make([]int16, ms*8)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*f*float64(i)/8000))
	}
	return out
}

func noise(ms int) []int16 {
	out := make([]int16, ms*8)
	x := uint32(12345)
	for i := range out {
		x = x*1664525 + 1013904223
		out[i] = int16(x>>16) / 4
	}
	return out
}

// sharedKeys are the baresip tone files in the order they are played.
var sharedKeys = []struct {
	file  string
	digit byte
}{
	{"sound1.wav", '1'}, {"sound2.wav", '2'}, {"sound3.wav", '3'}, {"sound4.wav", '4'},
	{"sound5.wav", '5'}, {"sound6.wav", '6'}, {"sound7.wav", '7'}, {"sound8.wav", '8'},
	{"sound9.wav", '9'}, {"soundstar.wav", '*'}, {"sound0.wav", '0'}, {"soundroute.wav", '#'},
	{"sound5.wav", '5'}, {"sound5.wav", '5'},
}

func sharedSequence(t *testing.T) ([]int16, string) {
	var seq []int16
	var want []byte
	for _, k := range sharedKeys {
		b, err := os.ReadFile(shareddata.Path(t, "dtmf", k.file))
		if err != nil {
			t.Fatal(err)
		}
		a, err := wav.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", k.file, err)
		}
		pcm, err := audio.Resample(a.Mono(), a.SampleRate, audio.SampleRate)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, pcm...)
		seq = append(seq, make([]int16, 8*60)...) // 60 ms between presses
		want = append(want, k.digit)
	}
	return seq, string(want)
}

func TestDetectorSharedTonesResampled(t *testing.T) {
	seq, want := sharedSequence(t)
	if got := detect(NewDetector(DetectorConfig{}), seq); got != want {
		t.Fatalf("detected %q, want %q", got, want)
	}
}

func TestDetectorSharedTonesThroughG711(t *testing.T) {
	seq, want := sharedSequence(t)
	ulaw := g711.DecodeUlaw(nil, g711.EncodeUlaw(nil, seq))
	if got := detect(NewDetector(DetectorConfig{}), ulaw); got != want {
		t.Errorf("µ-law: detected %q, want %q", got, want)
	}
	alaw := g711.DecodeAlaw(nil, g711.EncodeAlaw(nil, seq))
	if got := detect(NewDetector(DetectorConfig{}), alaw); got != want {
		t.Errorf("A-law: detected %q, want %q", got, want)
	}
}

func TestParseAndMarshalTelephoneEvent(t *testing.T) {
	ev, err := ParseTelephoneEvent([]byte{0x01, 0x8a, 0x08, 0xc0})
	if err != nil {
		t.Fatal(err)
	}
	if ev != (TelephoneEvent{Event: 1, End: true, Volume: 10, Duration: 2240}) {
		t.Fatalf("parsed %+v", ev)
	}
	if got := ev.Marshal(nil); !bytes.Equal(got, []byte{0x01, 0x8a, 0x08, 0xc0}) {
		t.Fatalf("marshal %x", got)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, {1, 2, 3, 4, 5}} {
		if _, err := ParseTelephoneEvent(bad); err == nil {
			t.Errorf("payload %x accepted", bad)
		}
	}
}

func TestGenerateEvent(t *testing.T) {
	pkts, err := GenerateEvent('#', 10, 800, 160) // 100 ms
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 4+3 {
		t.Fatalf("%d packets, want 4 updates + 3 ends", len(pkts))
	}
	for i, p := range pkts {
		ev, err := ParseTelephoneEvent(p.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if p.Marker != (i == 0) || ev.Event != 11 || ev.Volume != 10 {
			t.Errorf("packet %d: marker %v event %+v", i, p.Marker, ev)
		}
		if i < 4 && (ev.End || ev.Duration != uint16(160*(i+1))) {
			t.Errorf("update %d: %+v", i, ev)
		}
		if i >= 4 && (!ev.End || ev.Duration != 800) {
			t.Errorf("end %d: %+v", i, ev)
		}
	}
	if _, err := GenerateEvent('x', 10, 800, 160); err == nil {
		t.Error("key 'x' accepted")
	}
	// Generated packets received twice report the key once.
	var r EventReceiver
	var got []byte
	for rep := 0; rep < 2; rep++ {
		for _, p := range pkts {
			if kp, ok, err := r.Receive(5000, p.Payload); err != nil {
				t.Fatal(err)
			} else if ok {
				got = append(got, kp.Digit)
			}
		}
	}
	if string(got) != "#" {
		t.Fatalf("received %q, want \"#\"", got)
	}
}

func TestRFC4733FromSIPpCapture(t *testing.T) {
	f, err := os.Open(shareddata.Path(t, "sipp", "pcap", "dtmf_2833_1.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dgs, err := pcapfile.ReadUDP(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(dgs) == 0 {
		t.Fatal("no UDP datagrams in capture")
	}
	var r EventReceiver
	var got []byte
	var last KeyPress
	for _, d := range dgs {
		p := d.Payload
		if len(p) < 12 || p[0]>>6 != 2 || p[1]&0x7F != 101 {
			continue
		}
		ts := uint32(p[4])<<24 | uint32(p[5])<<16 | uint32(p[6])<<8 | uint32(p[7])
		kp, ok, err := r.Receive(ts, p[12:])
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, kp.Digit)
			last = kp
		}
	}
	if string(got) != "1" || last.InBand {
		t.Fatalf("capture yielded %q (%+v), want one RFC 4733 '1'", got, last)
	}
}

func BenchmarkDetectorFrame(b *testing.B) {
	d := NewDetector(DetectorConfig{})
	frames := audio.Frames(append(tone('5', 100, 6000), noise(100)...))
	i := 0
	for b.Loop() {
		d.Process(&frames[i%len(frames)])
		i++
	}
}

// BenchmarkDetectorQuietFrame is the common case on a call: line noise or pauses.
func BenchmarkDetectorQuietFrame(b *testing.B) {
	d := NewDetector(DetectorConfig{})
	q := noise(20)
	for i := range q {
		q[i] /= 64 // about -50 dBFS
	}
	frames := audio.Frames(q)
	for b.Loop() {
		d.Process(&frames[0])
	}
}
