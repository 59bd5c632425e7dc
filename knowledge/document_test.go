package knowledge

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func validDoc() Document {
	return Document{ID: "d1", Title: "Refunds", Body: "Text.", Format: FormatText, Status: StatusPublished}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Document)
		want   error
		where  string
	}{
		{"ok", func(*Document) {}, nil, ""},
		{"empty", func(d *Document) { d.Title, d.Body = " ", "\n" }, ErrEmptyDocument, "blank"},
		{"too large", func(d *Document) { d.Body = strings.Repeat("x", 101) }, ErrDocumentTooLarge, "101 bytes, limit is 100"},
		{"bad utf8", func(d *Document) { d.Body = "ok\xffbad" }, ErrInvalidUTF8, "body"},
		{"format", func(d *Document) { d.Format = "pdf" }, ErrUnsupportedFormat, `"pdf"`},
		{"no format", func(d *Document) { d.Format = "" }, ErrUnsupportedFormat, "format is empty"},
		{"no id", func(d *Document) { d.ID = "" }, ErrInvalidDocument, "id is empty"},
		{"category slash", func(d *Document) { d.Category = []string{"a/b"} }, ErrInvalidDocument, "category segment 0"},
		{"status", func(d *Document) { d.Status = "live" }, ErrInvalidDocument, "status"},
		{"validity", func(d *Document) { d.ValidFrom, d.ValidUntil = time.Unix(10, 0), time.Unix(5, 0) }, ErrInvalidDocument, "not after"},
	}
	for _, c := range cases {
		d := validDoc()
		c.mutate(&d)
		err := d.Validate(Limits{MaxBodyBytes: 100})
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: unexpected error %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.where) || !strings.Contains(err.Error(), `"`+d.ID+`"`) && d.ID != "" {
			t.Errorf("%s: got %v, want %v mentioning %q and the document id", c.name, err, c.want, c.where)
		}
	}
}

func TestExtractMarkdown(t *testing.T) {
	md := "Intro line.\n\n# Billing\nSee [the portal](https://x.example) for **bills**.\n\n## Refunds\n- Open the order\n- Choose `Refund`\n\n```\ncode stays\n```\n\nRoaming\n=======\nOutside the EU."
	secs, err := Extract(md, FormatMarkdown)
	if err != nil {
		t.Fatal(err)
	}
	want := []Section{
		{Headings: []string{}, Text: "Intro line."},
		{Headings: []string{"Billing"}, Text: "See the portal for bills."},
		{Headings: []string{"Billing", "Refunds"}, Text: "Open the order\n\nChoose Refund\n\ncode stays"},
		{Headings: []string{"Roaming"}, Text: "Outside the EU."},
	}
	if len(secs) != len(want) {
		t.Fatalf("got %d sections %q, want %d", len(secs), secs, len(want))
	}
	for i := range want {
		if strings.Join(secs[i].Headings, ">") != strings.Join(want[i].Headings, ">") || secs[i].Text != want[i].Text {
			t.Errorf("section %d = %q, want %q", i, secs[i], want[i])
		}
	}
}

func TestExtractHTML(t *testing.T) {
	h := `<html><head><title>t</title><style>p{}</style></head><body><script>alert(1)</script>
<h1>Router</h1><p>Restart it.</p><p>Wait <b>two</b> minutes.</p><h2>Lights</h2><ul><li>Red: no line</li><li>Green: ok</li></ul></body></html>`
	secs, err := Extract(h, FormatHTML)
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) != 2 {
		t.Fatalf("got %d sections: %q", len(secs), secs)
	}
	if secs[0].Text != "Restart it.\n\nWait two minutes." || strings.Join(secs[0].Headings, ">") != "Router" {
		t.Errorf("section 0 = %q", secs[0])
	}
	if secs[1].Text != "Red: no line\n\nGreen: ok" || strings.Join(secs[1].Headings, ">") != "Router>Lights" {
		t.Errorf("section 1 = %q", secs[1])
	}
	for _, s := range secs {
		if strings.Contains(s.Text, "alert") || strings.Contains(s.Text, "p{}") {
			t.Errorf("script or style leaked: %q", s.Text)
		}
	}
}

func TestSplitSentences(t *testing.T) {
	got := SplitSentences(`Call us at 3.5 p.m. today. It works! Does it? "Yes." e.g. this stays. 2 items left.`)
	want := []string{"Call us at 3.5 p.m. today.", "It works!", "Does it?", `"Yes." e.g. this stays.`, "2 items left."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestChunkSectionsBoundsAndOverlap(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 40; i++ {
		sb.WriteString("Sentence number ")
		sb.WriteString(strings.Repeat("x", i%7))
		sb.WriteString(" ends here. ")
	}
	long := strings.Repeat("y", 250) // one token longer than a chunk
	secs := []Section{{Headings: []string{"A"}, Text: sb.String()}, {Headings: []string{"B"}, Text: "Short one. " + long}}
	ps := ChunkSections(secs, ChunkOptions{MaxChars: 200, OverlapChars: 60})
	if len(ps) < 6 {
		t.Fatalf("only %d passages", len(ps))
	}
	for i, p := range ps {
		if n := utf8.RuneCountInString(p.Text); n > 200 {
			t.Errorf("passage %d has %d runes > 200", i, n)
		}
		if p.Headings[0] == "A" && !strings.HasSuffix(p.Text, "ends here.") {
			t.Errorf("passage %d does not end at a sentence: %q", i, p.Text)
		}
	}
	overlapped := 0
	for i := 1; i < len(ps); i++ {
		if ps[i].Headings[0] != ps[i-1].Headings[0] {
			continue
		}
		prev := SplitSentences(ps[i-1].Text)
		if strings.HasPrefix(ps[i].Text, prev[len(prev)-1]) {
			overlapped++
		}
	}
	if overlapped == 0 {
		t.Error("no passage starts with the previous passage's last sentence")
	}
	var sawB bool
	for _, p := range ps {
		if p.Headings[0] == "B" {
			sawB = true
			if strings.Contains(p.Text, "ends here") {
				t.Errorf("passage crosses a heading: %q", p.Text)
			}
		}
	}
	if !sawB {
		t.Error("section B lost")
	}
}
