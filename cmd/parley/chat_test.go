package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-cc/parley/voicebot/openaitest"
)

func chat(t *testing.T, input string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runChat(context.Background(), args, strings.NewReader(input), &out, &errb, func(string) string { return "" })
	t.Logf("parley chat %v:\n%s%s", args, out.String(), errb.String())
	return code, out.String(), errb.String()
}

func TestChatOnTheDemoDeployment(t *testing.T) {
	code, out, _ := chat(t, "I want to check my account balance\n[2]\n[1]\n[3]\n/dtmf 2\nlet me talk to a person\nnever read\n")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"bot: Thanks for calling Lumen Fibre",
		"intent check_balance", "cites billing-balance",
		"bot: Technical support:", "bot: Broadband:", "bot: Router:", "cites tech-wifi-password",
		"TRANSFER to support (requested)", "[call handed to queue support]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "never read") {
		t.Error("chat went on after the transfer")
	}
}

func TestChatJSONTurns(t *testing.T) {
	code, out, _ := chat(t, "I'd like a callback\nthis number\nin two hours\nyes\nno thanks\n", "--json", "--from", "+441632960001")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var turns []chatTurn
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var tr chatTurn
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		turns = append(turns, tr)
	}
	if len(turns) != 6 {
		t.Fatalf("%d turns", len(turns))
	}
	if turns[1].Result.Intent != "request_callback" {
		t.Fatalf("intent %q", turns[1].Result.Intent)
	}
	cb := turns[4].Result.Action
	if cb == nil || cb.Kind != "callback" || cb.Number != "441632960001" || cb.CallbackID == "" {
		t.Fatalf("callback action %+v", cb)
	}
	if end := turns[5].Result.Action; end == nil || end.Kind != "end" {
		t.Fatalf("last turn %+v", turns[5])
	}
}

func TestChatRejectsABrokenDeployment(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "deployment.yaml"), []byte("greeting: Hi\nmenu: nowhere\n"), 0o644)
	code, _, errOut := chat(t, "", "--deployment", dir)
	if code != 1 || !strings.Contains(errOut, filepath.Join(dir, "deployment.yaml")) || !strings.Contains(errOut, "menu") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	code, _, _ = chat(t, "", "--llm", "gpt")
	if code != 1 {
		t.Fatalf("unknown engine: exit %d", code)
	}
}

func TestChatWithTheOpenAIEngine(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	srv.Script(openaitest.Reply{Text: "Fibre 900 costs £45 a month."})
	code, out, _ := chat(t, "how much is fibre 900\n", "--llm", "openai", "--openai-base-url", srv.URL, "--llm-model", "test-model", "--quiet")
	if code != 0 || !strings.Contains(out, "Fibre 900 costs £45 a month.") {
		t.Fatalf("exit %d out %q", code, out)
	}
	if reqs := srv.ChatRequests(); len(reqs) != 1 || reqs[0].Model != "test-model" {
		t.Fatalf("requests %+v", reqs)
	}
}
