package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/embed/local"
	"github.com/parley-cc/parley/knowledge/index/embedded"
	"github.com/parley-cc/parley/store/sqlite"
)

func newCatalog(t *testing.T, dir string) (*Catalog, func()) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	emb := local.New(local.Options{})
	idx, err := embedded.Open(embedded.Options{Dir: filepath.Join(dir, "kb"), Dimension: emb.Dimension()})
	if err != nil {
		t.Fatal(err)
	}
	kb := knowledge.New(knowledge.Config{Limits: knowledge.Limits{MaxBodyBytes: 4096}}, emb, idx)
	return New(st, kb, Options{Limits: knowledge.Limits{MaxBodyBytes: 4096}}), func() { idx.Close(); st.Close() }
}

func search(t *testing.T, c *Catalog, q string, drafts bool) []knowledge.Hit {
	t.Helper()
	hits, err := c.Base().Search(context.Background(), knowledge.Query{Text: q, K: 3, IncludeDrafts: drafts})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func TestVersionsDraftsAndPublish(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, closeAll := newCatalog(t, dir)
	a := Article{ID: "router-restart", Title: "Router will not connect", Category: []string{"internet", "router", "restart"},
		Language: "en", Body: "# Restart\n\nUnplug the router for 30 seconds. Plug it back in and wait for the green light.",
		Author: "ada", ChangeNote: "first draft"}
	s, err := c.Create(ctx, a)
	if err != nil || s.Version.Version != 1 || !s.Indexed || s.Status != knowledge.StatusDraft {
		t.Fatalf("create: %+v, %v", s, err)
	}
	if _, err := c.Create(ctx, a); !errors.Is(err, ErrConflict) {
		t.Fatalf("create twice: %v, want conflict", err)
	}
	if hits := search(t, c, "router unplug", false); len(hits) != 0 {
		t.Fatalf("draft found by a published-only search: %+v", hits)
	}
	if hits := search(t, c, "router unplug", true); len(hits) != 1 || hits[0].Version != 1 {
		t.Fatalf("draft search: %+v", hits)
	}
	p, err := c.Publish(ctx, "router-restart", 0, "grace", "")
	if err != nil || p.Version.Version != 2 || p.IndexedVersion != 2 || p.Author != "grace" || p.ChangeNote != "published version 1" {
		t.Fatalf("publish: %+v, %v", p, err)
	}
	// A draft edit leaves the published text live.
	a.Body = "Hold the reset button for 10 seconds."
	a.ChangeNote = "new procedure"
	d, err := c.Update(ctx, a, 2)
	if err != nil || d.Version.Version != 3 || d.IndexedVersion != 2 {
		t.Fatalf("draft update: %+v, %v", d, err)
	}
	if _, err := c.Update(ctx, a, 2); !errors.Is(err, ErrConflict) {
		t.Fatalf("update from a stale version: %v, want conflict", err)
	}
	if hits := search(t, c, "unplug router", false); len(hits) != 1 || hits[0].Version != 2 || !strings.Contains(hits[0].Passage, "Unplug") {
		t.Fatalf("published version not live during the draft: %+v", hits)
	}
	if _, err := c.Publish(ctx, "router-restart", 3, "grace", "ok"); err != nil {
		t.Fatal(err)
	}
	hits := search(t, c, "hold reset button", false)
	if len(hits) != 1 || hits[0].Version != 4 || !strings.Contains(hits[0].Passage, "reset button") {
		t.Fatalf("after publishing the draft: %+v", hits)
	}
	vs, err := c.Versions(ctx, "router-restart")
	if err != nil || len(vs) != 4 || vs[2].ChangeNote != "new procedure" || vs[2].Author != "ada" {
		t.Fatalf("versions: %+v, %v", vs, err)
	}
	// Bad input never reaches the store.
	for name, bad := range map[string]Article{
		"huge":     {ID: "big", Title: "Big", Body: strings.Repeat("word ", 2000)},
		"empty":    {ID: "empty"},
		"format":   {ID: "pdf", Title: "x", Body: "x", Format: "pdf"},
		"utf8":     {ID: "bin", Title: "x", Body: "caf\xe9"},
		"category": {ID: "cat", Title: "x", Body: "x", Category: []string{"a/b"}},
	} {
		if _, err := c.Create(ctx, bad); err == nil {
			t.Errorf("%s article accepted", name)
		}
		if _, err := c.Get(ctx, bad.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s article stored: %v", name, err)
		}
	}
	tree, err := c.Categories(ctx)
	if err != nil || len(tree) != 1 || tree[0].Name != "internet" || tree[0].Children[0].Children[0].Name != "restart" || tree[0].Articles != 1 {
		t.Fatalf("categories: %+v, %v", tree, err)
	}
	closeAll()

	// A restarted node reindexes from the store without re-embedding.
	c2, closeAll2 := newCatalog(t, dir)
	defer closeAll2()
	r, err := c2.Reindex(ctx, ReindexOptions{})
	if err != nil || r.Articles != 1 || r.Upserted != 0 || r.Unchanged == 0 {
		t.Fatalf("reindex after restart: %+v, %v (want every chunk unchanged)", r, err)
	}
	if hits := search(t, c2, "hold reset button", false); len(hits) != 1 || hits[0].Version != 4 {
		t.Fatalf("after restart: %+v", hits)
	}
	if err := c2.Delete(ctx, "router-restart"); err != nil {
		t.Fatal(err)
	}
	if hits := search(t, c2, "hold reset button", true); len(hits) != 0 {
		t.Fatalf("deleted article still found: %+v", hits)
	}
}

func TestImportFolderAndJSONL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	write := func(rel, body string) {
		p := filepath.Join(src, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("billing/refunds/card-refund.md", "# Refund to a card\n\nRefunds reach the card within 5 working days.")
	write("internet/wifi.html", "<html><head><title>Wi-Fi drops</title></head><body><h1>Wi-Fi drops</h1><p>Move the router away from the microwave.</p></body></html>")
	write("notes.txt", "---\nid: opening-hours\ntitle: Opening hours\ntags: hours, shop\nlanguage: en\n---\nWe are open 9 to 5.")
	write("logo.png", "\x89PNG")
	arts, skipped, err := ReadFolder(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 3 || len(skipped) != 1 || skipped[0] != "logo.png" {
		t.Fatalf("read folder: %d articles, skipped %v", len(arts), skipped)
	}
	byID := map[string]Article{}
	for _, a := range arts {
		byID[a.ID] = a
	}
	if a := byID["card-refund"]; a.Title != "Refund to a card" || strings.Join(a.Category, "/") != "billing/refunds" {
		t.Fatalf("markdown article %+v", a)
	}
	if a := byID["wifi"]; a.Title != "Wi-Fi drops" || a.Format != knowledge.FormatHTML {
		t.Fatalf("html article %+v", a)
	}
	if a := byID["opening-hours"]; a.Title != "Opening hours" || len(a.Tags) != 2 || a.Body != "We are open 9 to 5." {
		t.Fatalf("front matter article %+v", a)
	}
	c, closeAll := newCatalog(t, dir)
	defer closeAll()
	r, err := c.Import(ctx, arts, nil)
	if err != nil || r.Created != 3 {
		t.Fatalf("import: %+v, %v", r, err)
	}
	r, _ = c.Import(ctx, arts, nil)
	if r.Unchanged != 3 || r.Created+r.Updated != 0 {
		t.Fatalf("re-import: %+v, want all unchanged", r)
	}
	if hits := search(t, c, "microwave", false); len(hits) == 0 || hits[0].DocumentID != "wifi" {
		t.Fatalf("search imported: %+v", hits)
	}
	// JSONL: eval format and article format; errors name the line.
	in := `{"id":"a","title":"A","text":"plain text"}` + "\n\n" + `{"id":"b","title":"B","body":"# B\nbody","status":"published"}` + "\n"
	got, err := ReadJSONL(strings.NewReader(in))
	if err != nil || len(got) != 2 || got[0].Format != knowledge.FormatText || got[0].Body != "plain text" {
		t.Fatalf("jsonl: %+v, %v", got, err)
	}
	if _, err := ReadJSONL(strings.NewReader(in + `{"id":"c","title":`)); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("malformed jsonl error %v, want line 4", err)
	}
	r, _ = c.Import(ctx, append(got, Article{ID: "bad", Title: "x", Body: "x", Format: "pdf"}), nil)
	if r.Created != 2 || len(r.Failed) != 1 || !strings.Contains(r.Failed[0], "bad") {
		t.Fatalf("import with one bad article: %+v", r)
	}
}
