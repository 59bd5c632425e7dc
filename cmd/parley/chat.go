package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/parley-cc/parley/voicebot/dialog"
)

func init() {
	register("chat", "talk to the bot in the terminal (text in, text out)", func(args []string) int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return runChat(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	})
}

// chatTurn is one line of `parley chat --json`.
type chatTurn struct {
	Caller string        `json:"caller,omitempty"`
	DTMF   string        `json:"dtmf,omitempty"`
	Bot    string        `json:"bot"`
	Result dialog.Result `json:"result"`
	Ms     float64       `json:"ms"`
}

// runChat holds a text conversation with the deployment's bot: each input
// line is a caller turn; "/dtmf 12" (or "[12]") presses keys; "/quit" or
// end of input hangs up. The reply streams as it is generated, followed by
// what the engine made of the turn.
func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	depDir := fs.String("deployment", "", "deployment folder (default: the built-in demo)")
	engine := fs.String("llm", "local", "dialog engine: local or openai")
	baseURL := fs.String("openai-base-url", getenv("OPENAI_BASE_URL"), "OpenAI-compatible base URL (env OPENAI_BASE_URL)")
	apiKey := fs.String("openai-api-key", getenv("OPENAI_API_KEY"), "API key (env OPENAI_API_KEY)")
	model := fs.String("llm-model", "", "chat model (default: the deployment's llm.model)")
	from := fs.String("from", "+447700900123", "caller number")
	asJSON := fs.Bool("json", false, "print one JSON object per turn instead of text")
	quiet := fs.Bool("quiet", false, "print only the bot's words")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "parley chat: %v\n", err)
		return 1
	}
	dep, err := loadDeployment(*depDir)
	if err != nil {
		return fail(err)
	}
	kb, err := dialog.NewKnowledgeBase(ctx, dep)
	if err != nil {
		return fail(err)
	}
	callbacks := &dialog.MemoryCallbacks{}
	opts := dialog.Options{Deployment: dep, KB: kb, Callbacks: callbacks}
	var bot *dialog.Bot
	switch *engine {
	case "local":
		bot, err = dialog.NewLocal(ctx, opts)
	case "openai":
		bot, err = dialog.NewOpenAI(ctx, opts, dialog.LLMOptions{BaseURL: *baseURL, APIKey: *apiKey, Model: *model})
	default:
		err = fmt.Errorf("--llm %q: want local or openai", *engine)
	}
	if err != nil {
		return fail(err)
	}
	conv, err := bot.NewConversation(ctx, dialog.CallInfo{CallID: fmt.Sprintf("chat-%d", time.Now().UnixNano()), Channel: "text", From: *from, Language: dep.Language})
	if err != nil {
		return fail(err)
	}
	enc := json.NewEncoder(stdout)
	show := func(in dialog.Input, res dialog.Result, took time.Duration) {
		if *asJSON {
			_ = enc.Encode(chatTurn{Caller: in.Text, DTMF: in.DTMF, Bot: res.Text, Result: res, Ms: float64(took.Microseconds()) / 1000})
			return
		}
		fmt.Fprintln(stdout)
		if *quiet {
			return
		}
		var meta []string
		if res.Intent != "" {
			meta = append(meta, fmt.Sprintf("intent %s %.2f", res.Intent, res.Confidence))
		}
		if in.Text != "" {
			meta = append(meta, fmt.Sprintf("sentiment %+.2f (trend %+.2f)", res.Sentiment, res.SentimentTrend))
		}
		for _, c := range res.Citations {
			meta = append(meta, "cites "+c.DocumentID)
		}
		if len(res.Slots) > 0 {
			meta = append(meta, fmt.Sprintf("slots %v", res.Slots))
		}
		if a := res.Action; a != nil {
			switch a.Kind {
			case dialog.ActionTransfer:
				meta = append(meta, fmt.Sprintf("TRANSFER to %s (%s)", a.Queue, a.Reason))
			case dialog.ActionCallback:
				meta = append(meta, fmt.Sprintf("CALLBACK %s to %s, %s-%s", a.CallbackID, a.Number, a.WindowFrom.Format("Mon 15:04"), a.WindowTo.Format("15:04")))
			case dialog.ActionEnd:
				meta = append(meta, "END")
			}
		}
		if len(meta) > 0 {
			fmt.Fprintf(stdout, "      [%s, %s]\n", strings.Join(meta, ", "), took.Round(10*time.Microsecond))
		}
	}
	emit := func(s string) {
		if !*asJSON {
			fmt.Fprint(stdout, s)
		}
	}
	if !*asJSON {
		fmt.Fprint(stdout, "bot: ")
	}
	start := time.Now()
	res, err := conv.Greet(ctx, emit)
	if err != nil {
		return fail(err)
	}
	show(dialog.Input{}, res, time.Since(start))
	sc := bufio.NewScanner(stdin)
	for {
		if !*asJSON && !*quiet {
			fmt.Fprint(stdout, "you: ")
		}
		if !sc.Scan() {
			break
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line == "/quit" || line == "/hangup" {
			break
		}
		in := dialog.Input{Text: line, Confidence: 1, At: time.Now()}
		switch {
		case strings.HasPrefix(line, "/dtmf"):
			in = dialog.Input{DTMF: strings.TrimSpace(strings.TrimPrefix(line, "/dtmf")), At: time.Now()}
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			in = dialog.Input{DTMF: strings.Trim(line, "[] "), At: time.Now()}
		}
		if in.DTMF != "" && strings.Trim(in.DTMF, "0123456789*#") != "" {
			fmt.Fprintf(stderr, "parley chat: %q: keys are 0-9, * and #\n", in.DTMF)
			continue
		}
		if !*asJSON {
			fmt.Fprint(stdout, "bot: ")
		}
		start := time.Now()
		res, err := conv.Respond(ctx, in, emit)
		if err != nil {
			return fail(err)
		}
		show(in, res, time.Since(start))
		if res.Action != nil && res.Action.Kind != dialog.ActionCallback {
			if !*asJSON && !*quiet {
				fmt.Fprintf(stdout, "[call %s]\n", map[dialog.ActionKind]string{dialog.ActionTransfer: "handed to queue " + res.Action.Queue, dialog.ActionEnd: "ended"}[res.Action.Kind])
			}
			return 0
		}
	}
	if err := sc.Err(); err != nil {
		return fail(err)
	}
	return 0
}
