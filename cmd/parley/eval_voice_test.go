package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/evals"
	"github.com/parley-cc/parley/evals/voice"
	httpapi "github.com/parley-cc/parley/gateway/http"
	asrlocal "github.com/parley-cc/parley/voicebot/asr/local"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
)

// requireSpeech skips without flite's kal16 voice or the pocketsphinx
// model (fails with CI=true).
func requireSpeech(t testing.TB) {
	t.Helper()
	_, terr := ttslocal.New(ttslocal.Config{Voice: "kal16"})
	r, aerr := asrlocal.New(asrlocal.Config{Mode: "lm", MaxDecoders: 1})
	if aerr == nil {
		r.Close()
	}
	if terr == nil && aerr == nil {
		return
	}
	msg := fmt.Sprintf("voice mode needs flite (kal16) and pocketsphinx-en-us: tts %v, asr %v (deploy/install-deps.sh)", terr, aerr)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// voiceRun is a voice-mode connector to a node started the way `parley
// eval run --mode voice` starts one (demo contact center, alice's baresip
// phone when installed). PARLEY_VOICE_LOG=FILE writes the node's log at
// debug level there (to find where a turn stalls).
type voiceRun struct {
	conn *voice.Connector
	api  string
	node *evalNode
}

func startVoiceRun(t testing.TB, warm int, suites ...*evals.Suite) *voiceRun {
	t.Helper()
	o := voiceOptions{suites: suites, asrMode: os.Getenv("PARLEY_VOICE_ASR_MODE"), decoders: 16}
	if path := os.Getenv("PARLEY_VOICE_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		o.logs, o.logLevel = f, slog.LevelDebug
	}
	n, err := startEvalNode(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	dep, err := loadDeployment("")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := voice.New(context.Background(), voice.Config{Target: n.target, API: n.api, Decoders: 16, WarmDecoders: warm,
		Deployment: dep, Staffed: o.staffed()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return &voiceRun{conn: conn, api: n.api, node: n}
}

// record reads a call's record from the run's node.
func (v *voiceRun) record(t *testing.T, callID string) (httpapi.CallTranscript, bool) {
	t.Helper()
	var rec httpapi.CallTranscript
	res, err := http.Get(v.api + "/api/v1/calls/" + callID)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return rec, false
	}
	return rec, json.NewDecoder(res.Body).Decode(&rec) == nil
}

// sipRecords reads call records from a test node.
type sipRecords struct{ n *sipNode }

func (s sipRecords) record(t *testing.T, callID string) (httpapi.CallTranscript, bool) {
	var rec httpapi.CallTranscript
	return rec, s.n.getJSON(t, "/api/v1/calls/"+callID, &rec) == 200
}

func voiceScenarios(sc *evals.Scenario) bool {
	for _, tag := range sc.Tags {
		if tag == "voice" {
			return true
		}
	}
	return false
}

// logScenario shows what was said and heard, for a failure.
func logScenario(t *testing.T, n interface {
	record(*testing.T, string) (httpapi.CallTranscript, bool)
}, r *evals.ScenarioResult) {
	t.Helper()
	t.Logf("%s %s %v", r.ID, r.Status, r.Reasons)
	for _, tu := range r.Transcript.Turns {
		b, _ := json.Marshal(tu)
		t.Logf("  %s", b)
	}
	if rec, ok := n.record(t, r.Transcript.CallID); ok {
		for _, tu := range rec.Turns {
			t.Logf("  record turn %s %q intent %s", tu.Speaker, tu.Text, tu.Intent)
		}
		for _, e := range rec.Events {
			t.Logf("  record event %s by %s %v", e.Type, e.By, e.Data)
		}
	}
}

// The demo suite's voice scenarios over real SIP: flite speech in, the
// bot's audio transcribed back, decisions read from the call record.
func TestEvalVoiceDemoSuiteOverSIP(t *testing.T) {
	requireSpeech(t)
	s, err := evals.Load(demoSuite)
	if err != nil {
		t.Fatal(err)
	}
	unstaffed, err := evals.Load(demoVoiceSuite)
	if err != nil {
		t.Fatal(err)
	}
	v := startVoiceRun(t, 2, s, unstaffed)
	only := os.Getenv("PARLEY_VOICE_SCENARIO")
	r := &evals.Runner{Connector: v.conn, Concurrency: 1, Seed: 1, MinTimeout: 3 * time.Minute,
		Filter: func(sc *evals.Scenario) bool { return voiceScenarios(sc) && (only == "" || sc.ID == only) }}
	// The unstaffed suite first: routing estimates the wait from the
	// handle time it has seen, and the staffed hand-off's short call would
	// bring that estimate under the callback offer's 3 minutes.
	rep2, err := r.Run(context.Background(), unstaffed)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "voice" || (only == "" && (rep.Total < 8 || rep2.Total < 1)) {
		t.Fatalf("mode %s, %d+%d scenarios: want the voice-tagged scenarios in voice mode", rep.Mode, rep.Total, rep2.Total)
	}
	rep.Scenarios = append(rep2.Scenarios, rep.Scenarios...)
	// Every voice-tagged scenario must pass over SIP as it does in text
	// (the lines the offline recognizer still gets wrong are kept out of
	// the subset: see evals/voice/README.md).
	for i := range rep.Scenarios {
		sr := &rep.Scenarios[i]
		if sr.Status != evals.StatusPassed || testing.Verbose() {
			logScenario(t, v, sr)
		}
		if sr.Status != evals.StatusPassed {
			t.Errorf("scenario %s %s: %s", sr.ID, sr.Status, strings.Join(sr.Reasons, "; "))
		}
		if sr.Status == evals.StatusErrored {
			t.Errorf("scenario %s errored (the harness could not score it): %s", sr.ID, strings.Join(sr.Reasons, "; "))
			continue
		}
		// Scored from the audio and the call record: the caller heard the
		// bot, the record's call id and intents were merged in.
		tr := sr.Transcript
		if len(tr.Turns) < 2 || tr.Turns[0].Heard == "" || strings.HasPrefix(tr.CallID, "eval-") {
			t.Errorf("scenario %s: transcript %+v lacks what the caller heard or the node's call id", sr.ID, tr)
		}
		// A staffed hand-off reaches the agent's phone: the record shows
		// the offer and the bridge.
		sc := scenarioByID(s, sr.ID)
		if sc == nil {
			sc = scenarioByID(unstaffed, sr.ID)
		}
		if sc != nil && slices.Contains(sc.Tags, StaffedTag) && v.node.phone != nil && sr.Status == evals.StatusPassed {
			rec, _ := v.record(t, tr.CallID)
			var kinds []string
			for _, e := range rec.Events {
				kinds = append(kinds, e.Type)
			}
			if !slices.Contains(kinds, "offered") || !slices.Contains(kinds, "bridged") {
				t.Errorf("staffed scenario %s: events %v, want the hand-off offered to alice and bridged to her phone", sr.ID, kinds)
			}
		}
	}
	merged := 0
	for _, sr := range rep.Scenarios {
		for _, tu := range sr.Transcript.Turns {
			if tu.Speaker == "caller" && tu.Intent != "" {
				merged++
			}
		}
	}
	if merged == 0 {
		t.Error("no caller turn carries an intent from the call record")
	}
	if p := rep.Metrics.Latency["first_audio"]; p.N == 0 {
		t.Errorf("no first_audio latency in the run's metrics: %+v", rep.Metrics.Latency)
	} else {
		t.Logf("first_audio over %d turns: p50 %.0f ms, p95 %.0f ms", p.N, p.P50, p.P95)
	}
}

// demoVoiceSuite holds the voice-only demo scenarios (nobody staffed).
const demoVoiceSuite = "../../deploy/demo/evals/lumen-voice.yaml"

func scenarioByID(s *evals.Suite, id string) *evals.Scenario {
	for i := range s.Scenarios {
		if s.Scenarios[i].ID == id {
			return &s.Scenarios[i]
		}
	}
	return nil
}

// Calls placed the way the voice end-to-end tests place them (SIPp with
// flite speech, and an RFC 4733 key) are scored by `parley eval replay`
// straight from the node's store: intent, citation and key turn come from
// the record the voicebot wrote.
func TestEvalReplayScoresVoiceE2ECalls(t *testing.T) {
	sippDir := requireData(t, "sipp")
	requirePeer(t, "sipp")
	requireSpeech(t)
	n := startSIPNode(t, func(c *Config) { c.Demo = true })
	dir := t.TempDir()

	// 1: the caller asks for the balance after the greeting (as in
	// TestVoicebotOverSIPAnswersFromTheKnowledgeBaseWithBargeIn, without the barge-in).
	speechULaw(t, dir, "I want to check my account balance", 14*time.Second, 12*time.Second)
	scenario := callerScenario(t, sippDir, dir, `<nop><action><exec rtp_stream="speech.ulaw,1,0"/></action></nop>
  <pause milliseconds="28000"/>`)
	runSIPp(t, dir, n, "-sf", scenario, "-s", "bot", "-m", "1", "-r", "1")
	spoken := n.endedCall(t, 30*time.Second)

	// 2: the caller presses 1 during the greeting (as in TestVoicebotOverSIPFollowsADTMFMenuChoice).
	dir2 := t.TempDir()
	scenario2 := callerScenario(t, sippDir, dir2, `<pause milliseconds="2000"/>
  <nop><action><exec play_pcap_audio="pcap/dtmf_2833_1.pcap"/></action></nop>
  <pause milliseconds="9000"/>`)
	runSIPp(t, dir2, n, "-sf", scenario2, "-s", "bot", "-m", "1", "-r", "1")
	var keyed httpapi.CallTranscript
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && keyed.Call.ID == "" {
		var list httpapi.CallList
		n.getJSON(t, "/api/v1/calls", &list)
		for _, c := range list.Calls {
			if c.ID != spoken.Call.ID && c.State == "ended" {
				n.getJSON(t, "/api/v1/calls/"+c.ID, &keyed)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if keyed.Call.ID == "" {
		t.Fatal("the key-press call did not end")
	}

	suite := fmt.Sprintf(`suite: voice-e2e-replay
compliance:
  greeting: ["thanks for calling lumen fibre"]
  personal_data: cards
scenarios:
  - id: spoken-balance
    call_id: %q
    caller:
      - say: I want to check my account balance
        expect: {intent: check_balance, cites: billing-balance, mention: [Lumen app]}
    expect: {intent: check_balance, handoff: false, cites: [billing-balance]}
  - id: key-billing-menu
    call_id: %q
    caller:
      - dtmf: "1"
        expect: {mention: [balance]}
    expect: {handoff: false}
  - id: wrong-expectation
    call_id: %q
    caller:
      - say: I want to check my account balance
    expect: {handoff: true, queue: billing}
`, spoken.Call.ID, keyed.Call.ID, spoken.Call.ID)
	path := dir + "/replay.yaml"
	if err := os.WriteFile(path, []byte(suite), 0o644); err != nil {
		t.Fatal(err)
	}
	js := dir + "/replay.json"
	code, stdout, stderr := evalCmd(t, "replay", path, "--db", n.dataDir+"/parley.db", "--json", js, "--quiet")
	t.Logf("%s%s", stdout, stderr)
	if code != 1 {
		t.Errorf("exit %d: want 1 (one scenario is made to fail)", code)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep evals.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	// The key press 2 s into the greeting cut it ("Thanks for calling
	// Lumen"): replay flags the greeting the caller never fully heard, and
	// nothing else about the key turn.
	want := map[string]string{"spoken-balance": evals.StatusPassed, "key-billing-menu": evals.StatusFailed, "wrong-expectation": evals.StatusFailed}
	reason := map[string]string{"key-billing-menu": "greeting: first bot turn must greet", "wrong-expectation": "expected a hand-off to queue billing"}
	for _, sr := range rep.Scenarios {
		if sr.Status != want[sr.ID] || (reason[sr.ID] != "" && (len(sr.Reasons) != 1 || !strings.Contains(sr.Reasons[0], reason[sr.ID]))) {
			t.Errorf("%s: %s %v, want %s (%s)", sr.ID, sr.Status, sr.Reasons, want[sr.ID], reason[sr.ID])
			logScenario(t, sipRecords{n}, &sr)
		}
	}
	if len(rep.Scenarios) != 3 || rep.Mode != "replay" {
		t.Fatalf("report: %d scenarios in mode %s", len(rep.Scenarios), rep.Mode)
	}
	// The key turn is one caller turn (the voicebot's "(pressed 1)", not
	// again from the gateway's dtmf event).
	var keys []string
	for _, tu := range rep.Scenarios[1].Transcript.Turns {
		if tu.Speaker == "caller" {
			keys = append(keys, tu.DTMF)
		}
	}
	if len(keys) != 1 || keys[0] != "1" {
		t.Errorf("key-press call: caller turns keyed %q, want one turn keying 1", keys)
	}
}

// BenchmarkVoiceConcurrentConversations runs N voice-mode conversations at
// once (each one greeting plus one KB question, caller ASR included) against
// one node on the same machine, and reports the bot's first-audio latency
// (end of the caller's audio on the wire to the bot's first voiced frame)
// and how many conversations still pass. Sizes: PARLEY_VOICE_BENCH_N
// (comma-separated, default 1,2,4,8).
func BenchmarkVoiceConcurrentConversations(b *testing.B) {
	requireSpeech(b)
	sizes := []int{1, 2, 4, 8}
	if v := os.Getenv("PARLEY_VOICE_BENCH_N"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			var n int
			fmt.Sscan(f, &n)
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			conn := startVoiceRun(b, n).conn // the caller side warmed for n calls: it is not what is measured
			for i := 0; i < b.N; i++ {
				s := &evals.Suite{Name: "voice-bench", Compliance: evals.Compliance{PersonalData: "off"}}
				for k := 0; k < n; k++ {
					s.Scenarios = append(s.Scenarios, evals.Scenario{ID: fmt.Sprintf("c%d", k),
						Caller: []evals.CallerTurn{{Say: "what are your opening hours"}}})
				}
				r := &evals.Runner{Connector: conn, Concurrency: n, Seed: 1, MinTimeout: 3 * time.Minute}
				rep, err := r.Run(context.Background(), s)
				if err != nil {
					b.Fatal(err)
				}
				var first []float64
				for _, sr := range rep.Scenarios {
					for _, tu := range sr.Transcript.Turns {
						if v, ok := tu.Latency["first_audio"]; ok && tu.Step >= 0 {
							first = append(first, v)
						}
					}
				}
				sort.Float64s(first)
				pct := func(q float64) float64 {
					if len(first) == 0 {
						return 0
					}
					return first[min(len(first)-1, int(q*float64(len(first))))]
				}
				b.ReportMetric(float64(rep.Passed)/float64(n), "passed/conv")
				b.ReportMetric(float64(len(first))/float64(n), "answers/conv")
				b.ReportMetric(pct(0.5), "first_audio_p50_ms")
				b.ReportMetric(pct(0.95), "first_audio_p95_ms")
				noInput := 0
				for _, sr := range rep.Scenarios {
					for _, tu := range sr.Transcript.Turns {
						if tu.Speaker == "caller" && tu.Heard == "(no input)" {
							noInput++
						}
					}
				}
				b.ReportMetric(float64(noInput), "no_input_turns")
				b.Logf("%d at once: %d/%d passed, answer first_audio %v ms", n, rep.Passed, n, first)
				// Where the answer's time goes: the node's own stage timings
				// (from the end of the caller's speech) merged from the record.
				for _, stage := range []string{"asr_final", "llm_first_token", "tts_first_audio", "first_rtp_out"} {
					var v []float64
					for _, sr := range rep.Scenarios {
						for _, tu := range sr.Transcript.Turns {
							if x, ok := tu.Latency[stage]; ok && tu.Step >= 0 {
								v = append(v, x)
							}
						}
					}
					if len(v) > 0 {
						sort.Float64s(v)
						b.ReportMetric(v[len(v)/2], stage+"_p50_ms")
					}
				}
				for _, sr := range rep.Scenarios {
					if sr.Status != evals.StatusPassed {
						b.Logf("  %s %s: %s", sr.ID, sr.Status, strings.Join(sr.Reasons, "; "))
					}
				}
			}
		})
	}
}
