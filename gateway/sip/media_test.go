package sip

import (
	"context"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/g711"
	"github.com/parley-cc/parley/gateway/rtp/media"
)

// wavStats reads a 16-bit WAV written by the recorder: duration and, per channel, how many
// 20 ms blocks are not silent.
func wavStats(t testing.TB, path string) (seconds float64, loudBlocks []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[0:4]) != "RIFF" {
		t.Fatalf("%s is not a WAV file", path)
	}
	channels := int(binary.LittleEndian.Uint16(b[22:]))
	rate := int(binary.LittleEndian.Uint32(b[24:]))
	data := b[44:]
	frames := len(data) / (2 * channels)
	loudBlocks = make([]int, channels)
	for ch := 0; ch < channels; ch++ {
		for blk := 0; blk+160 <= frames; blk += 160 {
			var energy float64
			for i := blk; i < blk+160; i++ {
				v := float64(int16(binary.LittleEndian.Uint16(data[(i*channels+ch)*2:])))
				energy += v * v
			}
			if energy/160 > 100*100 { // louder than about -50 dBFS
				loudBlocks[ch]++
			}
		}
	}
	return float64(frames) / float64(rate), loudBlocks
}

// pcapLoudSeconds decodes the A-law RTP in a capture (Ethernet, IPv4, UDP) and returns how much of it
// is audible by the same measure wavStats uses.
func pcapLoudSeconds(t testing.TB, path string) float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatalf("%s is not a little-endian Ethernet pcap", path)
	}
	var pcm []int16
	for off := 24; off+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		pkt := b[off+16 : min(off+16+n, len(b))]
		off += 16 + n
		ihl := int(pkt[14]&0x0f) * 4
		rtp := pkt[14+ihl+8:]
		if len(rtp) < 12 {
			continue
		}
		for _, a := range rtp[12:] {
			pcm = append(pcm, g711.DecodeAlawSample(a))
		}
	}
	loud := 0
	for blk := 0; blk+160 <= len(pcm); blk += 160 {
		var energy float64
		for _, v := range pcm[blk : blk+160] {
			energy += float64(v) * float64(v)
		}
		if energy/160 > 100*100 {
			loud++
		}
	}
	return float64(loud) * 0.02
}

// recordApp records each caller's message under dir/messages, named by the call id.
func recordApp(dir string) media.Application {
	return media.ApplicationFunc(func(ctx context.Context, c media.Call) error {
		r := &media.Record{DataDir: dir, Name: c.ID(), MaxDuration: time.Minute}
		return r.Run(ctx, c)
	})
}

// TestSIPpUACPcapRecorded plays SIPp's 8 s PCMA capture and an RFC 4733 '1' into the record application.
func TestSIPpUACPcapRecorded(t *testing.T) {
	dir := sharedData(t, "sipp")
	events := newEventLog()
	s := startServer(t, Config{DataDir: t.TempDir()}, Deps{Dialplan: Extensions{"record": recordApp(t.TempDir())}, Events: events})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := runSIPp(t, ctx, dir, s, "-sn", "uac_pcap", "-s", "record", "-m", "1", "-r", "1")
	if res.err != nil {
		t.Fatalf("sipp uac_pcap failed: %v\n%s", res.err, res.output)
	}
	hangup := events.wait(t, 5*time.Second, "hangup", func(e Event) bool { return e.Kind == EventHangup })
	if hangup.By != ByCaller {
		t.Errorf("hangup = %+v, want by=caller", hangup)
	}
	dtmf := events.wait(t, time.Second, "dtmf", func(e Event) bool { return e.Kind == EventDTMF })
	if dtmf.Digit != "1" || events.count(EventDTMF) != 1 {
		t.Errorf("DTMF events: first %+v, count %d; want exactly one '1'", dtmf, events.count(EventDTMF))
	}
	rec := events.wait(t, time.Second, "recording", func(e Event) bool { return e.Kind == EventRecording })
	secs, loud := wavStats(t, rec.Path)
	t.Logf("recording %s: %.2f s, loud 20 ms blocks per channel %v", rec.Path, secs, loud)
	if secs < 8.5 || secs > 11.5 {
		t.Errorf("recording lasts %.2f s, want the call's ~9-10 s (8 s audio, DTMF, 1 s pause)", secs)
	}
	want := pcapLoudSeconds(t, dir+"/pcap/g711a.pcap")
	if got := float64(loud[0]) * 0.02; got < want*0.95 || got > want*1.05 {
		t.Errorf("received channel has %.2f s of audible audio, the capture has %.2f s", got, want)
	}
	if loud[1] != 0 {
		t.Errorf("sent channel has %d loud blocks, want silence from the record application", loud[1])
	}
	waitIdle(t, s)
}
