package dialog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	goopenai "github.com/sashabaranov/go-openai"
	"github.com/sashabaranov/go-openai/jsonschema"

	"github.com/parley-cc/parley/knowledge"
)

// The LLM's tools.
var llmTools = []goopenai.Tool{
	tool("kb_search", "Search the company's help articles. Use it before answering any question about products, prices, policies or troubleshooting, and answer only from what it returns.",
		map[string]jsonschema.Definition{"query": {Type: jsonschema.String, Description: "what to look for, in the caller's words"}}, "query"),
	tool("transfer_to_human", "Hand the caller to a human agent. Use it when the caller asks for a person, is upset, or you cannot help.",
		map[string]jsonschema.Definition{
			"reason": {Type: jsonschema.String, Description: "why, in a few words, for the agent"},
			"queue":  {Type: jsonschema.String, Description: "support or billing; default support"},
		}, "reason"),
	tool("schedule_callback", "Book a callback from an agent when the caller prefers to be called back.",
		map[string]jsonschema.Definition{
			"number": {Type: jsonschema.String, Description: "phone number to call; default the caller's number"},
			"when":   {Type: jsonschema.String, Description: "when the caller wants the call, e.g. 'tomorrow morning', 'after 5'"},
			"reason": {Type: jsonschema.String, Description: "what the callback is about"},
		}, "reason"),
	tool("lookup_customer", "Find the caller's customer record (name, tier, account facts) by phone number.",
		map[string]jsonschema.Definition{"phone": {Type: jsonschema.String, Description: "phone number; default the caller's number"}}),
	tool("end_call", "End the call after saying goodbye, when the caller has nothing more.",
		map[string]jsonschema.Definition{"reason": {Type: jsonschema.String}}),
}

func tool(name, desc string, props map[string]jsonschema.Definition, required ...string) goopenai.Tool {
	return goopenai.Tool{Type: goopenai.ToolTypeFunction, Function: &goopenai.FunctionDefinition{
		Name: name, Description: desc,
		Parameters: jsonschema.Definition{Type: jsonschema.Object, Properties: props, Required: required},
	}}
}

// systemPrompt is the deployment's prompt, its guardrails and the call's
// facts.
func (c *conversation) systemPrompt() string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(c.dep.LLM.SystemPrompt))
	if len(c.dep.LLM.Guardrails) > 0 {
		b.WriteString("\n\nRules you must always follow:\n")
		for _, g := range c.dep.LLM.Guardrails {
			fmt.Fprintf(&b, "- %s\n", strings.TrimSpace(g))
		}
	}
	fmt.Fprintf(&b, "\nYou are speaking on the phone: reply in one to three short sentences of plain text, no lists or markdown.\nToday is %s.", c.e.o.Now().Format("Monday 2 January 2006, 15:04"))
	if c.info.From != "" {
		fmt.Fprintf(&b, " The caller's number is %s.", c.info.From)
	}
	// Knowledge-base passages reach the model only fenced as quoted data,
	// and this rule says never to follow instructions inside them.
	return knowledge.GroundedSystemPrompt(b.String())
}

// errStalled is a provider that stopped sending.
var errStalled = errors.New("LLM stream stalled")

// llmTurn answers with the LLM; a failure is apologised for and retried
// once, a second failure hands the caller to a person. Never silence.
func (c *conversation) llmTurn(ctx context.Context, r *reply) error {
	c.llmMsgs = append(c.llmMsgs, goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleUser, Content: c.lastText})
	for attempt := 0; ; attempt++ {
		err := c.llmRounds(ctx, r)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err() // the call is gone
		}
		c.e.log.Warn("LLM failed", "call", c.info.CallID, "attempt", attempt+1, "err", err)
		c.tried = append(c.tried, "LLM failed: "+err.Error())
		if attempt == 0 {
			r.say(c.dep.Prompts.Apology)
			continue
		}
		c.transfer(c.dep.Handoff.Queue, "provider_error", c.dep.Prompts.ProviderDown, r)
		return nil
	}
}

// llmRounds runs completions until the model answers without tools, a
// terminal tool (transfer, end) runs, or the round limit is reached.
func (c *conversation) llmRounds(ctx context.Context, r *reply) error {
	// What was said before this attempt (an apology after a failed one)
	// does not make an empty answer from this one count as an answer.
	before := len(r.parts)
	for round := 0; round <= c.dep.LLM.MaxToolRounds; round++ {
		msgs := append([]goopenai.ChatCompletionMessage{{Role: goopenai.ChatMessageRoleSystem, Content: c.systemPrompt()}}, c.llmMsgs...)
		req := goopenai.ChatCompletionRequest{Model: c.e.llmOpt.Model, Messages: msgs, Stream: true, Temperature: c.dep.LLM.Temperature}
		if round < c.dep.LLM.MaxToolRounds {
			req.Tools = llmTools
		}
		content, calls, err := c.stream(ctx, req, r)
		if err != nil {
			return err
		}
		c.llmMsgs = append(c.llmMsgs, goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleAssistant, Content: content, ToolCalls: calls})
		if len(calls) == 0 {
			if strings.TrimSpace(content) == "" && len(r.parts) == before {
				return errors.New("LLM returned neither text nor tool calls")
			}
			return nil
		}
		terminal := false
		for _, call := range calls {
			out, term := c.runTool(ctx, call, r)
			c.llmMsgs = append(c.llmMsgs, goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleTool, ToolCallID: call.ID, Name: call.Function.Name, Content: out})
			terminal = terminal || term
		}
		if terminal {
			return nil
		}
	}
	return nil
}

// stream runs one streamed completion, emitting content tokens as they
// come, and reassembles tool calls from their deltas. It gives up when the
// first chunk or any later one is overdue.
func (c *conversation) stream(ctx context.Context, req goopenai.ChatCompletionRequest, r *reply) (string, []goopenai.ToolCall, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	timer := time.AfterFunc(c.e.llmOpt.FirstTokenTimeout, func() { stalled.Store(true); cancel() })
	defer timer.Stop()
	fail := func(err error) (string, []goopenai.ToolCall, error) {
		r.endStream()
		if stalled.Load() {
			return "", nil, errStalled
		}
		return "", nil, err
	}
	st, err := c.e.llm.CreateChatCompletionStream(sctx, req)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	var calls []goopenai.ToolCall
	for {
		chunk, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		timer.Reset(c.e.llmOpt.StallTimeout)
		for _, ch := range chunk.Choices {
			if ch.Delta.Content != "" {
				r.token(ch.Delta.Content)
			}
			for _, tc := range ch.Delta.ToolCalls {
				i := len(calls)
				if tc.Index != nil {
					i = *tc.Index
				}
				for len(calls) <= i {
					calls = append(calls, goopenai.ToolCall{Type: goopenai.ToolTypeFunction})
				}
				if tc.ID != "" {
					calls[i].ID = tc.ID
				}
				calls[i].Function.Name += tc.Function.Name
				calls[i].Function.Arguments += tc.Function.Arguments
			}
		}
	}
	if stalled.Load() {
		return fail(errStalled)
	}
	return r.endStream(), calls, nil
}

var queueRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,40}$`)

// runTool executes one tool call; its result goes back to the model as
// JSON. Invalid arguments are reported to the model, never executed.
// terminal says the turn ends here (a transfer or the end of the call).
func (c *conversation) runTool(ctx context.Context, call goopenai.ToolCall, r *reply) (result string, terminal bool) {
	var args map[string]any
	if a := strings.TrimSpace(call.Function.Arguments); a != "" {
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			return toolErr("invalid JSON arguments for %s: %v", call.Function.Name, err), false
		}
	}
	str := func(k string) (string, error) {
		v, ok := args[k]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("argument %q must be a string, got %T", k, v)
		}
		return strings.TrimSpace(s), nil
	}
	get := func(keys ...string) ([]string, string) {
		out := make([]string, len(keys))
		for i, k := range keys {
			v, err := str(k)
			if err != nil {
				return nil, toolErr("%s: %v", call.Function.Name, err)
			}
			out[i] = v
		}
		return out, ""
	}
	c.tried = append(c.tried, "tool "+call.Function.Name)
	switch call.Function.Name {
	case "kb_search":
		v, bad := get("query")
		if bad != "" {
			return bad, false
		}
		if v[0] == "" {
			return toolErr("kb_search: query is required"), false
		}
		if c.e.ans.kb == nil {
			return `{"results":[],"note":"no knowledge base"}`, false
		}
		hits, err := c.e.ans.search(ctx, v[0], nil, c.dep.Language, 3)
		if err != nil {
			return toolErr("kb_search failed: %v", err), false
		}
		var used []knowledge.Hit
		for i, h := range hits {
			if i > 0 && !c.e.ans.relevant(h) {
				break
			}
			used = append(used, h)
			r.res.Citations = append(r.res.Citations, Citation{DocumentID: h.DocumentID, Version: h.Version, Passage: h.Passage, Score: h.Score})
		}
		// Passages go back fenced as quoted data (an article cannot close
		// its fence), never as text the model could take for instructions.
		return knowledge.SearchToolResult(used), false
	case "transfer_to_human":
		v, bad := get("reason", "queue")
		if bad != "" {
			return bad, false
		}
		if v[0] == "" {
			return toolErr("transfer_to_human: reason is required"), false
		}
		queue := v[1]
		if !queueRE.MatchString(queue) {
			queue = c.dep.Handoff.Queue
		}
		say := ""
		if len(r.parts) == 0 && r.stream.Len() == 0 {
			say = c.dep.Prompts.Transfer
		}
		c.transfer(queue, v[0], say, r)
		return `{"status":"transferring"}`, true
	case "schedule_callback":
		v, bad := get("number", "when", "reason")
		if bad != "" {
			return bad, false
		}
		number := ExtractDigits(v[0])
		if number == "" {
			number = ExtractDigits(c.info.From)
		}
		if number == "" {
			return toolErr("schedule_callback: no number: ask the caller for one"), false
		}
		now := c.e.o.Now()
		from, to := ParseWindow(v[1], now, time.Duration(c.dep.Callback.Window))
		cb := &Callback{CallID: c.info.CallID, Number: number, WindowFrom: from, WindowTo: to, Queue: c.dep.Handoff.Queue, Reason: v[2], Summary: c.summary("")}
		if err := c.e.o.Callbacks.ScheduleCallback(ctx, cb); err != nil {
			return toolErr("schedule_callback failed: %v", err), false
		}
		r.res.Action = &Action{Kind: ActionCallback, CallbackID: cb.ID, Number: number, WindowFrom: from, WindowTo: to, Queue: cb.Queue, Reason: cb.Reason, Summary: cb.Summary}
		b, _ := json.Marshal(map[string]any{"callback_id": cb.ID, "window": speakWindow(from, to, now)})
		return string(b), false
	case "lookup_customer":
		v, bad := get("phone")
		if bad != "" {
			return bad, false
		}
		phone := v[0]
		if phone == "" {
			phone = c.info.From
		}
		if c.e.o.Customers == nil || phone == "" {
			return `{"found":false}`, false
		}
		ct, err := c.e.o.Customers.FindContactByPhone(ctx, phone)
		if err != nil || ct == nil {
			return `{"found":false}`, false
		}
		b, _ := json.Marshal(map[string]any{"found": true, "name": ct.Name, "tier": ct.Tier, "language": ct.Language, "facts": ct.Attrs})
		return string(b), false
	case "end_call":
		if len(r.parts) == 0 && r.stream.Len() == 0 {
			r.say(c.dep.Prompts.Goodbye)
		}
		r.res.Action = &Action{Kind: ActionEnd}
		return `{"status":"ending"}`, true
	}
	return toolErr("unknown tool %q", call.Function.Name), false
}

func toolErr(format string, a ...any) string {
	b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf(format, a...)})
	return string(b)
}
