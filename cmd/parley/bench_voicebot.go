package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/loadtest"
	"github.com/parley-cc/parley/voicebot/tts"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
	"github.com/parley-cc/parley/voicebot/turn"
)

func init() {
	registerBench("voicebot", "ramp concurrent voicebot calls on the offline stack and find where the platform overhead p99 passes a limit", benchVoicebot)
}

// benchCallerIntents are the demo intents a load caller asks about: each
// gets a spoken knowledge-base answer and the conversation goes on.
var benchCallerIntents = []string{"wifi_password", "slow_internet", "opening_hours", "router_help", "mobile_roaming", "check_balance", "plans_upgrade"}

// benchVoicebot runs calls of synthesized callers (flite kal16) against
// voicebots on the local stack (the recognizer serve runs: the deployment's
// grammar cross-checked by its trigram model; the local dialog engine;
// flite), in steps of more concurrent calls, and
// prints per step the platform overhead per turn (end of turn to first
// reply frame out, minus the time inside ASR, dialog and TTS) and voice to
// voice latency. The knee is the last step whose overhead p99 stays
// within --p99-limit.
func benchVoicebot(args []string, stdout, stderr io.Writer) int {
	fs := benchFlags("voicebot", stderr)
	steps := fs.String("calls", "1,2,4,8,12,16,24,32", "concurrent calls per step, comma-separated, ascending")
	step := fs.Duration("step", 60*time.Second, "how long each step runs")
	deployment := fs.String("deployment", "", "deployment directory (default: the built-in demo)")
	endOfTurn := fs.Duration("end-of-turn", 300*time.Millisecond, "endpointing silence (the demo grammar's partials read as complete: production waits 300 ms)")
	limit := fs.Duration("p99-limit", 20*time.Millisecond, "overhead p99 that marks the knee")
	listen := fs.Duration("listen", 4*time.Second, "how long a caller listens to an answer before asking the next thing (a barge-in: the demo's answers run 10-20 s); 0 waits for the end of each answer")
	keepGoing := fs.Bool("keep-going", false, "run every step even after the knee")
	production := fs.Bool("production-turns", false, "end turns with parley serve's rules (300 ms after a complete partial, 600 ms without one, 1.2 s mid-phrase) for voice-to-voice figures; the overhead columns are then not measured")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley bench voicebot: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var levels []int
	for _, f := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || (len(levels) > 0 && n <= levels[len(levels)-1]) {
			fmt.Fprintf(stderr, "parley bench voicebot: --calls %q: want ascending positive numbers\n", *steps)
			return 2
		}
		levels = append(levels, n)
	}
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dep, err := loadDeployment(*deployment)
	if err != nil {
		fmt.Fprintf(stderr, "parley bench voicebot: %v\n", err)
		return 1
	}
	kb, err := dialog.NewKnowledgeBase(ctx, dep)
	if err != nil {
		fmt.Fprintf(stderr, "parley bench voicebot: %v\n", err)
		return 1
	}
	engine, err := dialog.NewLocal(ctx, dialog.Options{Deployment: dep, KB: kb, Callbacks: &dialog.MemoryCallbacks{}, Logger: quiet})
	if err != nil {
		fmt.Fprintf(stderr, "parley bench voicebot: %v\n", err)
		return 1
	}
	if g, err := deploymentGrammar(dep, quiet); err != nil || g == "" {
		fmt.Fprintf(stderr, "parley bench voicebot: no ASR grammar from the deployment (%v)\n", err)
		return 1
	}
	synth, err := ttslocal.New(ttslocal.Config{})
	if err != nil {
		fmt.Fprintf(stderr, "parley bench voicebot: %v\n", err)
		return 1
	}
	callerTTS, err := ttslocal.New(ttslocal.Config{Voice: "kal16"})
	if err != nil {
		fmt.Fprintf(stderr, "parley bench voicebot: %v\n", err)
		return 1
	}
	var utterances [][]audio.Frame
	var said []string
	for _, in := range dep.Intents {
		for _, want := range benchCallerIntents {
			if in.Name == want && len(in.Examples) > 0 {
				f, err := tts.Collect(ctx, callerTTS, in.Examples[0])
				if err != nil {
					fmt.Fprintf(stderr, "parley bench voicebot: caller speech: %v\n", err)
					return 1
				}
				end := len(f)
				for end > 0 && f[end-1].Level() < -50 { // the caller's speech ends at its last loud frame
					end--
				}
				utterances = append(utterances, f[:end])
				said = append(said, in.Examples[0])
			}
		}
	}
	if len(utterances) == 0 {
		fmt.Fprintln(stderr, "parley bench voicebot: the deployment has none of the benchmark's intents to ask about")
		return 1
	}
	fmt.Fprintf(stdout, "parley bench voicebot: deployment %q, callers say %q; GOMAXPROCS %d; %s per step\n", dep.Name, said, runtime.GOMAXPROCS(0), *step)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	header := []string{"calls", "turns", "no-reply", "overhead-p50-ms", "overhead-p99-ms", "overhead-max-ms", "asr-p50-ms", "v2v-p50-ms", "cpu-cores", "load-avg-1/5/15"}
	var rows [][]string
	knee, passed := 0, false // the last step under the limit before the first one over it
	for _, calls := range levels {
		rec, err := localBotRecognizer(dep, "grammar", calls, quiet) // what serve runs
		if err != nil {
			fmt.Fprintf(stderr, "parley bench voicebot: %v\n", err)
			return 1
		}
		cpu0 := selfCPU()
		res, err := loadtest.Run(ctx, loadtest.Config{
			ASR: rec, TTS: synth, Engine: engine, Utterances: utterances, Calls: calls,
			Duration: *step, EndOfTurn: *endOfTurn, ListenMax: *listen, Stagger: min(*step/4, time.Duration(calls)*time.Second),
			Tweak: func(c *voicebot.Config) {
				if *production {
					c.Turn = turn.Config{Silence: DefaultConfig().EndOfTurnSilence}
				}
			},
		})
		rec.(interface{ Close() }).Close()
		if err != nil {
			fmt.Fprintf(stderr, "parley bench voicebot: %v\n", err)
			return 1
		}
		cores := float64(selfCPU()-cpu0) / float64(res.Elapsed)
		p99 := res.Percentile(0.99, loadtest.Overhead)
		over := []string{ms(res.Percentile(0.5, loadtest.Overhead)), ms(p99), ms(res.Percentile(1, loadtest.Overhead))}
		if *production {
			over = []string{"n/a", "n/a", "n/a"} // the runner finds the deciding frame only under fixed rules
		}
		rows = append(rows, []string{strconv.Itoa(calls), strconv.Itoa(len(res.Samples)), strconv.Itoa(res.NoReply),
			over[0], over[1], over[2],
			ms(res.Percentile(0.5, func(s loadtest.Sample) time.Duration { return s.ASR })),
			ms(res.Percentile(0.5, loadtest.V2V)), fmt.Sprintf("%.2f", cores), loadAvg()})
		fmt.Fprintf(stderr, "  step %d calls: %d turns, overhead p99 %s ms\n", calls, len(res.Samples), ms(p99))
		exceeded := len(res.Samples) == 0 || p99 > *limit
		if !exceeded && !passed {
			knee = calls
		}
		if exceeded {
			passed = true
			if !*keepGoing {
				break
			}
		}
	}
	table(stdout, header, rows)
	if knee == 0 {
		fmt.Fprintf(stdout, "knee: even %d call(s) passed the %s overhead p99 limit\n", levels[0], *limit)
	} else {
		fmt.Fprintf(stdout, "knee: %d concurrent calls, the last step with overhead p99 <= %s before the first one over it\n", knee, *limit)
	}
	return 0
}
