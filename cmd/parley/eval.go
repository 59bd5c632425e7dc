package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/parley-cc/parley/evals"
	"github.com/parley-cc/parley/evals/report"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/backend"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/nlu"
)

func init() {
	register("eval", "run eval suites, replay recorded calls, compare runs, import utterances", func(args []string) int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return runEval(ctx, args, os.Stdout, os.Stderr, os.Getenv)
	})
}

const evalUsage = `usage:
  parley eval run SUITE.yaml... [flags]       run suites in text (default) or voice mode
  parley eval replay [SUITE.yaml...] [flags]  score recorded calls: --db (stored calls) or --transcripts FILE.jsonl
  parley eval compare BASELINE CURRENT        list regressions; runs are report JSON files or run ids in --db
  parley eval import --csv FILE --out SUITE.yaml [--name NAME] [--limit N]
  parley eval list --db DSN [--suite NAME]    stored runs
Exit status: 0 all passed (or every --gate held), 1 a scenario failed or a gate did not hold, 2 bad usage or input.`

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, evalUsage)
		return 2
	}
	switch args[0] {
	case "run":
		return evalRun(ctx, "run", args[1:], stdout, stderr, getenv)
	case "replay":
		return evalRun(ctx, "replay", args[1:], stdout, stderr, getenv)
	case "compare":
		return evalCompare(ctx, args[1:], stdout, stderr)
	case "import":
		return evalImport(args[1:], stdout, stderr)
	case "list":
		return evalList(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, evalUsage)
		return 0
	}
	fmt.Fprintf(stderr, "parley eval: unknown subcommand %q\n%s\n", args[0], evalUsage)
	return 2
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// interleave lets flags follow positional arguments (suite files first).
func interleave(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

type evalOutputs struct {
	json, junit, html string
	quiet             bool
}

func evalRun(ctx context.Context, sub string, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("eval "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "text", "text (straight into the dialog engine) or voice (real SIP calls to --sip-target, or to a node started for the run)")
	if sub == "replay" {
		*mode = "replay"
	}
	engine := fs.String("engine", "local", "text mode's bot: local (deployment), openai (deployment with an LLM) or nlu (intents only, trained on --train)")
	depDir := fs.String("deployment", "", "deployment folder (default: the built-in demo)")
	train := fs.String("train", "", "with --engine nlu: training CSV (text,label)")
	llmURL := fs.String("openai-base-url", getenv("OPENAI_BASE_URL"), "OpenAI-compatible base URL for --engine openai (env OPENAI_BASE_URL)")
	llmKey := fs.String("openai-api-key", getenv("OPENAI_API_KEY"), "API key (env OPENAI_API_KEY)")
	judgeURL := fs.String("judge-url", getenv("PARLEY_JUDGE_URL"), "OpenAI-compatible base URL of the LLM judge and simulated callers (env PARLEY_JUDGE_URL)")
	judgeKey := fs.String("judge-key", getenv("PARLEY_JUDGE_KEY"), "API key of the judge endpoint (env PARLEY_JUDGE_KEY)")
	judgeModel := fs.String("judge-model", "gpt-4o-mini", "judge and simulated-caller model")
	conc := fs.Int("concurrency", 4, "scenarios in flight at once")
	seed := fs.Int64("seed", 1, "seed for simulated callers and judges: a rerun with the same seed gives the same result")
	timeout := fs.Duration("timeout", 30*time.Second, "per scenario, unless the suite sets one")
	db := fs.String("db", "", "store (SQLite path or postgres:// DSN): runs are saved there; replay reads calls from it")
	transcripts := fs.String("transcripts", "", "replay: JSONL transcript file instead of --db")
	callIDs := fs.String("calls", "", "replay without a suite: comma-separated call ids (default: every call in --transcripts, or the last 100 ended calls in --db)")
	baseline := fs.String("baseline", "", "baseline run (report JSON file or run id in --db) to compare with")
	var gates multiFlag
	fs.Var(&gates, "gate", "release gate, repeatable: task_success>=0.9, latency.first_token.p95<=300, regressions<=0 ...")
	tag := fs.String("tag", "", "run only scenarios with this tag")
	only := fs.String("scenario", "", "run only the scenarios with these comma-separated ids")
	var vo voiceOptions
	fs.StringVar(&vo.target, "sip-target", "", "voice mode: the bot's SIP URI or host:port of a running node (with --node-api); empty: start a node for the run")
	fs.StringVar(&vo.api, "node-api", "", "voice mode: that node's HTTP base URL, where the call records are read")
	fs.StringVar(&vo.asrMode, "asr-mode", "", "voice mode, started node: the bot's --asr-mode (default grammar)")
	fs.DurationVar(&vo.endOfTurn, "end-of-turn", 700*time.Millisecond, "voice mode: silence after the bot's speech that ends its turn")
	fs.IntVar(&vo.decoders, "asr-decoders", 8, "voice mode: pocketsphinx decoders transcribing the bot")
	voiceTimeout := fs.Duration("voice-timeout", 3*time.Minute, "voice mode: the least a scenario gets (conversations run in real time)")
	var out evalOutputs
	fs.StringVar(&out.json, "json", "", "write the report JSON here")
	fs.StringVar(&out.junit, "junit", "", "write JUnit XML here")
	fs.StringVar(&out.html, "html", "", "write the HTML report here")
	fs.BoolVar(&out.quiet, "quiet", false, "no progress bar")
	files, err := interleave(fs, args)
	if err != nil {
		return 2
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "parley eval %s: %v\n", sub, err)
		return code
	}
	parsedGates := make([]evals.Gate, 0, len(gates))
	for _, g := range gates {
		pg, err := evals.ParseGate(g)
		if err != nil {
			return fail(2, err)
		}
		parsedGates = append(parsedGates, pg)
	}
	var st store.Store
	if *db != "" {
		if st, err = backend.Open(ctx, *db); err != nil {
			return fail(2, fmt.Errorf("open --db: %w", err))
		}
		defer st.Close()
	}
	var base *evals.Report
	if *baseline != "" {
		if base, err = loadReport(ctx, st, *baseline); err != nil {
			return fail(2, fmt.Errorf("--baseline: %w", err))
		}
	}

	runner := &evals.Runner{Concurrency: *conc, Seed: *seed, Timeout: *timeout}
	if *tag != "" || *only != "" {
		ids := map[string]bool{}
		for _, id := range strings.Split(*only, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids[id] = true
			}
		}
		runner.Filter = func(sc *evals.Scenario) bool {
			if len(ids) > 0 && !ids[sc.ID] {
				return false
			}
			if *tag == "" {
				return true
			}
			for _, t := range sc.Tags {
				if t == *tag {
					return true
				}
			}
			return false
		}
	}
	if *judgeURL != "" {
		cfg := openai.DefaultConfig(*judgeKey)
		cfg.BaseURL = strings.TrimRight(*judgeURL, "/")
		client := openai.NewClientWithConfig(cfg)
		runner.Judge = &evals.LLMJudge{Client: client, Model: *judgeModel}
		runner.Simulator = &evals.Simulator{Client: client, Model: *judgeModel}
	}

	var suites []*evals.Suite
	for _, f := range files {
		s, err := evals.Load(f)
		if err != nil {
			return fail(2, err)
		}
		suites = append(suites, s)
	}

	switch *mode {
	case "text":
		if len(suites) == 0 {
			return fail(2, errors.New("no suite files given"))
		}
		eng, err := evalEngine(ctx, *engine, *depDir, *train, *llmURL, *llmKey)
		if err != nil {
			return fail(2, err)
		}
		runner.Connector = evals.TextConnector{Engine: eng}
	case "voice":
		if len(suites) == 0 {
			return fail(2, errors.New("no suite files given"))
		}
		vo.deployment, vo.logs, vo.suites = *depDir, stderr, suites
		conn, closeConn, err := voiceConnector(ctx, vo)
		if err != nil {
			return fail(2, err)
		}
		defer closeConn()
		runner.Connector = conn
		runner.MinTimeout = *voiceTimeout
	case "replay":
		switch {
		case *transcripts != "":
			src, err := evals.LoadJSONL(*transcripts)
			if err != nil {
				return fail(2, err)
			}
			runner.Replay = src
			if len(suites) == 0 {
				ids := src.Order
				if *callIDs != "" {
					ids = strings.Split(*callIDs, ",")
				}
				s, err := evals.ReplaySuite(strings.TrimSuffix(filepath.Base(*transcripts), filepath.Ext(*transcripts)), ids, evals.Compliance{})
				if err != nil {
					return fail(2, err)
				}
				suites = append(suites, s)
			}
		case st != nil:
			runner.Replay = evals.StoreReplay{Calls: st}
			if len(suites) == 0 {
				var ids []string
				if *callIDs != "" {
					ids = strings.Split(*callIDs, ",")
				} else {
					calls, err := st.ListCalls(ctx, store.CallFilter{State: store.CallEnded, Limit: 100})
					if err != nil {
						return fail(1, fmt.Errorf("list calls: %w", err))
					}
					for _, c := range calls {
						ids = append(ids, c.ID)
					}
				}
				s, err := evals.ReplaySuite("stored-calls", ids, evals.Compliance{})
				if err != nil {
					return fail(2, err)
				}
				suites = append(suites, s)
			}
		default:
			return fail(2, errors.New("replay needs --transcripts FILE.jsonl or --db"))
		}
	default:
		return fail(2, fmt.Errorf("--mode %q: want text, voice or replay", *mode))
	}

	code := 0
	for _, s := range suites {
		if !out.quiet {
			runner.Progress = (&report.Progress{W: stderr}).Update
		}
		rep, err := runner.Run(ctx, s)
		if err != nil {
			return fail(2, fmt.Errorf("%s: %w", s.Name, err))
		}
		report.Summary(stdout, rep)
		var cmp *evals.Comparison
		if base != nil {
			c := evals.Compare(base, rep, evals.Tolerance{})
			cmp = &c
			fmt.Fprintln(stdout)
			report.Comparison(stdout, c)
		}
		gr := evals.CheckGates(parsedGates, rep, cmp)
		report.Gates(stdout, gr)
		if err := writeOutputs(rep, base, cmp, gr, out, len(suites) > 1); err != nil {
			return fail(1, err)
		}
		if st != nil {
			if err := saveRun(ctx, st, rep); err != nil {
				return fail(1, err)
			}
			fmt.Fprintf(stdout, "stored run %s\n", rep.ID)
		}
		if len(parsedGates) > 0 {
			for _, g := range gr {
				if !g.Passed {
					code = 1
				}
			}
		} else if rep.Failed > 0 || rep.Errored > 0 {
			code = 1
		}
	}
	return code
}

// evalEngine builds text mode's bot.
func evalEngine(ctx context.Context, kind, depDir, train, llmURL, llmKey string) (dialog.Engine, error) {
	if kind == "nlu" {
		if train == "" {
			return nil, errors.New("--engine nlu needs --train FILE.csv")
		}
		ex, err := nlu.LoadCSV(train)
		if err != nil {
			return nil, err
		}
		m, err := nlu.Train(ctx, ex, nlu.DefaultOptions())
		if err != nil {
			return nil, err
		}
		return evals.IntentEngine{Model: m}, nil
	}
	dep, err := loadDeployment(depDir)
	if err != nil {
		return nil, err
	}
	kb, err := dialog.NewKnowledgeBase(ctx, dep)
	if err != nil {
		return nil, err
	}
	opts := dialog.Options{Deployment: dep, KB: kb, Callbacks: &dialog.MemoryCallbacks{}}
	switch kind {
	case "local":
		return dialog.NewLocal(ctx, opts)
	case "openai":
		return dialog.NewOpenAI(ctx, opts, dialog.LLMOptions{BaseURL: llmURL, APIKey: llmKey})
	}
	return nil, fmt.Errorf("--engine %q: want local, openai or nlu", kind)
}

func writeOutputs(rep, base *evals.Report, cmp *evals.Comparison, gates []evals.GateResult, out evalOutputs, many bool) error {
	name := func(p string) string {
		if !many || p == "" {
			return p
		}
		ext := filepath.Ext(p)
		return strings.TrimSuffix(p, ext) + "-" + rep.Suite + ext
	}
	write := func(path string, render func(io.Writer) error) error {
		if path == "" {
			return nil
		}
		var b bytes.Buffer
		if err := render(&b); err != nil {
			return err
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		return nil
	}
	if err := write(name(out.json), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}); err != nil {
		return err
	}
	if err := write(name(out.junit), func(w io.Writer) error { return report.JUnit(w, rep) }); err != nil {
		return err
	}
	return write(name(out.html), func(w io.Writer) error { return report.HTML(w, rep, base, cmp, gates) })
}

// saveRun stores the run with its report.
func saveRun(ctx context.Context, st store.EvalStore, rep *evals.Report) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	r := store.EvalRun{ID: rep.ID, Suite: rep.Suite, Mode: rep.Mode, StartedAt: rep.StartedAt, FinishedAt: rep.FinishedAt,
		Passed: rep.Passed, Failed: rep.Failed, Errored: rep.Errored, Report: body}
	if err := st.SaveEvalRun(ctx, &r); err != nil {
		return fmt.Errorf("store run %s: %w", rep.ID, err)
	}
	return nil
}

// loadReport reads a run from a report JSON file, or by id from the store.
func loadReport(ctx context.Context, st store.EvalStore, ref string) (*evals.Report, error) {
	var body []byte
	if data, err := os.ReadFile(ref); err == nil {
		body = data
	} else if st != nil {
		r, serr := st.GetEvalRun(ctx, ref)
		if serr != nil {
			return nil, fmt.Errorf("%s: not a readable file (%v) nor a stored run (%v)", ref, err, serr)
		}
		body = r.Report
	} else {
		return nil, fmt.Errorf("%s: %w (give a report JSON file, or --db to look up a run id)", ref, err)
	}
	var rep evals.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("%s: not an eval report: %w", ref, err)
	}
	if rep.ID == "" || rep.Scenarios == nil {
		return nil, fmt.Errorf("%s: not an eval report (no id or scenarios)", ref)
	}
	return &rep, nil
}

func evalCompare(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "store to look run ids up in")
	html := fs.String("html", "", "write the current run's HTML report against the baseline here")
	rate := fs.Float64("rate-tolerance", 0.01, "absolute drop in a rate that counts as a regression")
	lat := fs.Float64("latency-tolerance", 0.25, "relative rise in a latency percentile that counts as a regression")
	var gates multiFlag
	fs.Var(&gates, "gate", "release gate, repeatable (regressions<=0 is the default when none is given)")
	pos, err := interleave(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "usage: parley eval compare BASELINE CURRENT [--db DSN] [--gate ...] [--html FILE]")
		return 2
	}
	var st store.Store
	if *db != "" {
		if st, err = backend.Open(ctx, *db); err != nil {
			fmt.Fprintf(stderr, "parley eval compare: open --db: %v\n", err)
			return 2
		}
		defer st.Close()
	}
	var reps [2]*evals.Report
	for i, ref := range pos {
		if reps[i], err = loadReport(ctx, st, ref); err != nil {
			fmt.Fprintf(stderr, "parley eval compare: %v\n", err)
			return 2
		}
	}
	cmp := evals.Compare(reps[0], reps[1], evals.Tolerance{Rate: *rate, Latency: *lat})
	report.Comparison(stdout, cmp)
	if len(gates) == 0 {
		gates = multiFlag{"regressions<=0"}
	}
	var parsed []evals.Gate
	for _, g := range gates {
		pg, err := evals.ParseGate(g)
		if err != nil {
			fmt.Fprintf(stderr, "parley eval compare: %v\n", err)
			return 2
		}
		parsed = append(parsed, pg)
	}
	gr := evals.CheckGates(parsed, reps[1], &cmp)
	report.Gates(stdout, gr)
	if *html != "" {
		if err := writeOutputs(reps[1], reps[0], &cmp, gr, evalOutputs{html: *html}, false); err != nil {
			fmt.Fprintf(stderr, "parley eval compare: %v\n", err)
			return 1
		}
	}
	for _, g := range gr {
		if !g.Passed {
			return 1
		}
	}
	return 0
}

func evalImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	csvPath := fs.String("csv", "", "labelled utterances: CSV with text and label columns")
	outPath := fs.String("out", "", "suite file to write (default: stdout)")
	name := fs.String("name", "", "suite name (default: the CSV's base name)")
	limit := fs.Int("limit", 0, "import at most this many utterances (0: all)")
	if _, err := interleave(fs, args); err != nil {
		return 2
	}
	if *csvPath == "" {
		fmt.Fprintln(stderr, "usage: parley eval import --csv FILE [--out SUITE.yaml] [--name NAME] [--limit N]")
		return 2
	}
	ex, err := nlu.LoadCSV(*csvPath)
	if err != nil {
		fmt.Fprintf(stderr, "parley eval import: %v\n", err)
		return 2
	}
	if *limit > 0 && len(ex) > *limit {
		ex = ex[:*limit]
	}
	if *name == "" {
		*name = strings.TrimSuffix(filepath.Base(*csvPath), filepath.Ext(*csvPath))
		if dir := filepath.Base(filepath.Dir(*csvPath)); dir != "." && dir != "/" {
			*name = dir + "-" + *name
		}
	}
	s, err := evals.ImportUtterances(*name, ex)
	if err != nil {
		fmt.Fprintf(stderr, "parley eval import: %v\n", err)
		return 2
	}
	var b bytes.Buffer
	if err := s.WriteYAML(&b); err != nil {
		fmt.Fprintf(stderr, "parley eval import: %v\n", err)
		return 1
	}
	if *outPath == "" {
		_, _ = stdout.Write(b.Bytes())
		return 0
	}
	if err := os.WriteFile(*outPath, b.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "parley eval import: %v\n", err)
		return 1
	}
	intents := map[string]bool{}
	for _, e := range ex {
		intents[e.Intent] = true
	}
	fmt.Fprintf(stdout, "wrote %s: %d scenarios, %d intents\n", *outPath, len(ex), len(intents))
	return 0
}

func evalList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "store (SQLite path or postgres:// DSN)")
	suite := fs.String("suite", "", "only this suite's runs")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *db == "" {
		fmt.Fprintln(stderr, "usage: parley eval list --db DSN [--suite NAME]")
		return 2
	}
	st, err := backend.Open(ctx, *db)
	if err != nil {
		fmt.Fprintf(stderr, "parley eval list: open --db: %v\n", err)
		return 2
	}
	defer st.Close()
	runs, err := st.ListEvalRuns(ctx, *suite)
	if err != nil {
		fmt.Fprintf(stderr, "parley eval list: %v\n", err)
		return 1
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].StartedAt.After(runs[j].StartedAt) })
	for _, r := range runs {
		fmt.Fprintf(stdout, "%s  %-20s %-6s %s  passed %d failed %d errored %d\n", r.ID, r.Suite, r.Mode, r.StartedAt.Format(time.RFC3339), r.Passed, r.Failed, r.Errored)
	}
	return 0
}
