package sip

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// readMono decodes a WAV file at 8 kHz, mixed down to mono.
func readMono(t testing.TB, path string) []int16 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := wav.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := audio.Resample(a.Mono(), a.SampleRate, audio.SampleRate)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

func loudSeconds(pcm []int16) float64 {
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

// TestBaresipHearsPlayback has baresip call the playback application; its sndfile module
// writes what it decoded, which must hold the prompt's audible length.
func TestBaresipHearsPlayback(t *testing.T) {
	bin := requireBinary(t, "baresip")
	fsdd := sharedData(t, "fsdd/recordings")
	var prompt []int16
	for _, name := range []string{"3_jackson_0.wav", "1_nicolas_0.wav", "4_theo_0.wav", "1_yweweler_0.wav", "5_george_0.wav"} {
		prompt = append(prompt, readMono(t, filepath.Join(fsdd, name))...)
		prompt = append(prompt, make([]int16, 2400)...) // 300 ms between digits
	}
	dir := t.TempDir()

	events := newEventLog()
	s := startServer(t, Config{}, Deps{Dialplan: Extensions{"playback": media.Playback{Prompt: audio.Frames(prompt)}}, Events: events})
	conf := filepath.Join(dir, "baresip")
	dumps := filepath.Join(dir, "dumps")
	for _, d := range []string{conf, dumps} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	config := strings.Join([]string{
		"module_path /usr/lib/baresip/modules",
		"sip_listen 127.0.0.1:" + itoa(freeUDPPort(t)),
		"net_interface 127.0.0.1",
		"audio_source aubridge,src",
		"audio_player aubridge,sink",
		"audio_alert aubridge,sink",
		"rtp_ports 40000-40999",
		"snd_path " + dumps,
		"module stdio.so",
		"module g711.so",
		"module aufile.so",
		"module aubridge.so",
		"module sndfile.so",
		"module_app account.so",
		"module_app menu.so",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(conf, "config"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "accounts"), []byte("<sip:caller@127.0.0.1>;regint=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", conf, "-e", "/dial sip:playback@127.0.0.1:"+itoa(s.Addr().Port), "-t", "8")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("baresip: %v\n%s", err, out.String())
	}
	hangup := events.wait(t, 5*time.Second, "hangup", func(e Event) bool { return e.Kind == EventHangup })
	if hangup.By != BySystem || hangup.Reason != "application finished" {
		t.Errorf("hangup = %+v, want the gateway hanging up after the prompt", hangup)
	}
	decoded, _ := filepath.Glob(filepath.Join(dumps, "*dec*.wav"))
	if len(decoded) != 1 {
		all, _ := filepath.Glob(filepath.Join(dumps, "*"))
		t.Fatalf("baresip wrote %v, want one decoded dump\n%s", all, out.String())
	}
	heard := readMono(t, decoded[0])
	want, got := loudSeconds(prompt), loudSeconds(heard)
	t.Logf("prompt %.2f s (%.2f s audible); baresip decoded %.2f s (%.2f s audible)", float64(len(prompt))/8000, want, float64(len(heard))/8000, got)
	if got < want*0.9 || got > want*1.1 {
		t.Fatalf("baresip heard %.2f s of audio, the prompt has %.2f s", got, want)
	}
}
