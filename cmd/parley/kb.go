package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/catalog"
	"github.com/parley-cc/parley/knowledge/kbeval"
	"github.com/parley-cc/parley/store/backend"
)

func init() {
	register("kb", "knowledge base: import, export, reindex, search, eval", func(args []string) int {
		return runKB(context.Background(), args, os.Stdout, os.Stderr)
	})
}

const kbUsage = `usage: parley kb <command> [flags]

  import FOLDER|FILE.jsonl   store and index articles (folder: .md .html .txt, category = sub-folders)
  export [--out FILE]        write the latest version of every article as JSONL
  reindex [--retrain]        re-index every stored article (only changed chunks are embedded)
  search QUERY               hybrid search (--mode lexical|vector, --limit N)
  eval --docs F --queries F  Recall@1/5/10 and MRR (docs JSONL {id,title,text}; queries JSONL {query,relevant:[ids]})
  eval --stackfaq DIR        the same on the StackFAQ corpus (one document per thread, paraphrases as queries)

import, export, reindex and search work on the node's store and index (--data-dir, --db, --vector-store,
--embedder, or PARLEY_* variables and --config as for parley serve); stop the node first when it uses the
embedded index, or use the REST API (/api/v1/kb/...) against the running node.`

func runKB(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, kbUsage)
		return 2
	}
	switch args[0] {
	case "eval":
		return kbEval(ctx, args[1:], stdout, stderr)
	case "import", "export", "reindex", "search":
		return kbNodeCommand(ctx, args[0], args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, kbUsage)
		return 0
	}
	fmt.Fprintf(stderr, "parley kb: unknown command %q\n%s\n", args[0], kbUsage)
	return 2
}

func kbEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kb eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	docs := fs.String("docs", "", "documents JSONL {id,title,text}")
	queries := fs.String("queries", "", "queries JSONL {query,relevant:[ids]}")
	stackfaq := fs.String("stackfaq", "", "StackFAQ folder (stackExchange-FAQ.xml) instead of --docs/--queries")
	writeDir := fs.String("write-jsonl", "", "with --stackfaq: also write docs.jsonl and queries.jsonl here")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	start := time.Now()
	var rep kbeval.Report
	var err error
	switch {
	case *stackfaq != "":
		var d []kbeval.Doc
		var q []kbeval.Query
		if d, q, err = kbeval.StackFAQ(*stackfaq); err == nil && *writeDir != "" {
			err = writeEvalJSONL(*writeDir, d, q)
		}
		if err == nil {
			rep, err = kbeval.Run(ctx, d, q, kbeval.Options{})
		}
	case *docs != "" && *queries != "":
		rep, err = kbeval.RunFiles(ctx, *docs, *queries, kbeval.Options{})
	default:
		fmt.Fprintln(stderr, "parley kb eval: give --docs FILE --queries FILE (or --stackfaq DIR)")
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley kb eval:", err)
		return 1
	}
	fmt.Fprint(stdout, rep.String())
	fmt.Fprintf(stdout, "(offline local embedder; %s)\n", time.Since(start).Round(time.Millisecond))
	return 0
}

func writeEvalJSONL(dir string, docs []kbeval.Doc, queries []kbeval.Query) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var d, q bytes.Buffer
	for _, x := range docs {
		b, _ := json.Marshal(x)
		d.Write(append(b, '\n'))
	}
	for _, x := range queries {
		b, _ := json.Marshal(x)
		q.Write(append(b, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, "docs.jsonl"), d.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "queries.jsonl"), q.Bytes(), 0o644)
}

// progressBar draws "[#####.....] done/total" on w, redrawn in place.
func progressBar(w io.Writer, what string) func(done, total int) {
	last := time.Time{}
	return func(done, total int) {
		if done != total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		const width = 30
		fill := 0
		if total > 0 {
			fill = done * width / total
		}
		fmt.Fprintf(w, "\r%s [%s%s] %d/%d", what, strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

func kbNodeCommand(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kb "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def, err := LoadConfig("parley kb", nil, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "parley kb:", err)
		return 2
	}
	dataDir := fs.String("data-dir", def.DataDir, "node data directory")
	db := fs.String("db", def.DB, "SQLite file or postgres:// DSN (default: parley.db under --data-dir)")
	vs := fs.String("vector-store", def.VectorStore, "embedded, or a Qdrant host:port")
	embedder := fs.String("embedder", def.Embedder, "local or openai")
	out := fs.String("out", "", "export: output file (default stdout)")
	retrain := fs.Bool("retrain", false, "reindex: re-teach the local embedder and re-embed every chunk")
	mode := fs.String("mode", "hybrid", "search: hybrid, lexical or vector")
	limit := fs.Int("limit", 5, "search: hits")
	drafts := fs.Bool("drafts", false, "search: include drafts")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := def
	cfg.DataDir, cfg.DB, cfg.VectorStore, cfg.Embedder = *dataDir, *db, *vs, *embedder
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "parley kb:", err)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "parley kb %s: %v\n", cmd, err)
		return 1
	}
	if (cmd == "import" || cmd == "search") && fs.NArg() == 0 {
		fmt.Fprintf(stderr, "parley kb %s: missing argument\n%s\n", cmd, kbUsage)
		return 2
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fail(err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := backend.Open(ctx, cfg.DBPath())
	if err != nil {
		return fail(fmt.Errorf("open store %s: %w", redactDSN(cfg.DBPath()), err))
	}
	defer st.Close()
	s, err := openKB(ctx, cfg, log, st)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := s.close(context.Background()); err != nil {
			fmt.Fprintln(stderr, "parley kb: close:", err)
		}
	}()
	switch cmd {
	case "import":
		src := fs.Arg(0)
		var arts []catalog.Article
		if fi, err := os.Stat(src); err != nil {
			return fail(err)
		} else if fi.IsDir() {
			var skipped []string
			if arts, skipped, err = catalog.ReadFolder(src); err != nil {
				return fail(err)
			}
			if len(skipped) > 0 {
				fmt.Fprintf(stderr, "skipped %d files of other types (e.g. %s)\n", len(skipped), skipped[0])
			}
		} else {
			f, err := os.Open(src)
			if err != nil {
				return fail(err)
			}
			arts, err = catalog.ReadJSONL(f)
			f.Close()
			if err != nil {
				return fail(fmt.Errorf("%s: %w", src, err))
			}
		}
		// Index what is already stored first, so unchanged articles cost nothing.
		if _, err := s.load(ctx, log, nil); err != nil {
			return fail(err)
		}
		start := time.Now()
		r, err := s.cat.Import(ctx, arts, progressBar(stderr, "import"))
		if err != nil {
			return fail(err)
		}
		if _, err := s.load(ctx, log, nil); err != nil { // retrains the local embedder if the corpus grew
			return fail(err)
		}
		fmt.Fprintf(stdout, "imported %d articles in %s: %d created, %d updated, %d unchanged, %d failed\n",
			len(arts), time.Since(start).Round(time.Millisecond), r.Created, r.Updated, r.Unchanged, len(r.Failed))
		for _, f := range r.Failed {
			fmt.Fprintln(stderr, "  failed:", f)
		}
		if len(r.Failed) > 0 {
			return 1
		}
	case "export":
		vs, err := s.cat.List(ctx, catalog.Filter{})
		if err != nil {
			return fail(err)
		}
		w := stdout
		if *out != "" {
			f, err := os.Create(*out)
			if err != nil {
				return fail(err)
			}
			defer f.Close()
			w = f
		}
		arts := make([]catalog.Article, len(vs))
		for i, v := range vs {
			arts[i] = v.Article
		}
		if err := catalog.WriteJSONL(w, arts); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stderr, "exported %d articles\n", len(arts))
	case "reindex":
		start := time.Now()
		r, err := s.cat.Reindex(ctx, catalog.ReindexOptions{Retrain: *retrain, Progress: progressBar(stderr, "reindex")})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "reindexed %d articles in %s: %d chunks embedded, %d unchanged, %d removed, %d retrained, %d failed\n",
			r.Articles, time.Since(start).Round(time.Millisecond), r.Upserted, r.Unchanged, r.Deleted, r.Retrained, len(r.Failed))
	case "search":
		if _, err := s.load(ctx, log, nil); err != nil {
			return fail(err)
		}
		q := knowledge.Query{Text: strings.Join(fs.Args(), " "), K: *limit, IncludeDrafts: *drafts}
		switch *mode {
		case "hybrid":
		case "lexical":
			q.Mode = knowledge.LexicalOnly
		case "vector":
			q.Mode = knowledge.VectorOnly
		default:
			return fail(fmt.Errorf("--mode %q: want hybrid, lexical or vector", *mode))
		}
		hits, err := s.kb.Search(ctx, q)
		if err != nil {
			return fail(err)
		}
		for i, h := range hits {
			fmt.Fprintf(stdout, "%d. %s v%d  %q  score %.4f\n   %s\n", i+1, h.DocumentID, h.Version, h.Title, h.Score, truncateText(h.Passage, 200))
		}
		if len(hits) == 0 {
			fmt.Fprintln(stdout, "nothing found")
		}
	}
	return 0
}

func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
