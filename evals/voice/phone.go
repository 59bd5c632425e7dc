package voice

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/voicebot/tts"
)

// AgentPhone is a staffed agent's SIP phone: baresip (a real softphone)
// registered at the node as the agent's extension with digest auth, which
// answers every call at once and says Line, so a hand-off in voice mode
// ends with the caller bridged to a phone that talks.
type AgentPhone struct {
	cmd  *exec.Cmd
	dir  string
	out  *syncBuffer
	done chan struct{}
}

// AgentPhoneConfig says where to register and as whom.
type AgentPhoneConfig struct {
	Baresip   string // the binary [baresip on PATH]
	Registrar string // the node's SIP host:port
	Extension string // the agent's extension, e.g. 1001
	Password  string // its SIP password (--sip-agent-passwords)
	// Line is what the agent says on answering, synthesized with Voice.
	Line  string
	Voice tts.Synthesizer
	// RTPPorts is baresip's media port range [50000-50999, apart from the callers'].
	RTPPorts string
}

// StartAgentPhone starts the phone; Registered tells when the node knows it.
func StartAgentPhone(ctx context.Context, cfg AgentPhoneConfig) (*AgentPhone, error) {
	if cfg.Baresip == "" {
		p, err := exec.LookPath("baresip")
		if err != nil {
			return nil, fmt.Errorf("agent phone: baresip not installed (deploy/install-deps.sh): %w", err)
		}
		cfg.Baresip = p
	}
	if cfg.RTPPorts == "" {
		cfg.RTPPorts = "50000-50999"
	}
	dir, err := os.MkdirTemp("", "parley-eval-agent-phone-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*AgentPhone, error) { os.RemoveAll(dir); return nil, err }
	speech := filepath.Join(dir, "agent.wav")
	frames, err := tts.Collect(ctx, cfg.Voice, cfg.Line)
	if err != nil {
		return fail(fmt.Errorf("agent phone: synthesize %q: %w", cfg.Line, err))
	}
	frames = append(frames, make([]audio.Frame, 50*30)...) // then silence
	if err := writeWAV(speech, frames); err != nil {
		return fail(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	listen := pc.LocalAddr().String()
	pc.Close()
	conf := strings.Join([]string{
		"module_path /usr/lib/baresip/modules",
		"sip_listen " + listen,
		"net_interface 127.0.0.1",
		"audio_source aufile," + speech,
		"audio_player aubridge,sink",
		"audio_alert aubridge,sink",
		"rtp_ports " + cfg.RTPPorts,
		"module stdio.so", "module g711.so", "module aufile.so", "module aubridge.so",
		"module_app account.so", "module_app menu.so",
	}, "\n") + "\n"
	account := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;answermode=auto;regint=300\n", cfg.Extension, cfg.Registrar, cfg.Password)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(conf), 0o644); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o600); err != nil {
		return fail(err)
	}
	p := &AgentPhone{dir: dir, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(cfg.Baresip, "-f", dir)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return fail(fmt.Errorf("agent phone: %w", err))
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// Output is what baresip printed (for a failure).
func (p *AgentPhone) Output() string { return p.out.String() }

// Close stops the phone.
func (p *AgentPhone) Close() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	os.RemoveAll(p.dir)
}

func writeWAV(path string, frames []audio.Frame) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := wav.NewWriter(f, wav.Format{Channels: 1, SampleRate: audio.SampleRate})
	if err != nil {
		f.Close()
		return err
	}
	for i := range frames {
		if err := w.Write(frames[i][:]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncBuffer is a bytes.Buffer baresip's output goes to from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
