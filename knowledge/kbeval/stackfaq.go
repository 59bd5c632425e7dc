package kbeval

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// StackFAQ converts the StackFAQ corpus (Karan & Šnajder 2018) into
// documents (one per thread: the question as title, the answers as text,
// ids "stackfaq-000"...) and queries (the <rephr> paraphrases). dir holds
// stackExchange-FAQ.xml. Thread i's queries have Thread(q) == i, for
// held-out splits.
func StackFAQ(dir string) ([]Doc, []Query, error) {
	path := filepath.Join(dir, "stackExchange-FAQ.xml")
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read StackFAQ: %w", err)
	}
	defer f.Close()
	var root struct {
		Pairs []struct {
			Rephr    []string `xml:"rephr"`
			Question string   `xml:"question"`
			Answers  []string `xml:"answer"`
		} `xml:"qapair"`
	}
	if err := xml.NewDecoder(f).Decode(&root); err != nil {
		return nil, nil, fmt.Errorf("parse StackFAQ %s: %w", path, err)
	}
	var docs []Doc
	var queries []Query
	for i, p := range root.Pairs {
		id := fmt.Sprintf("stackfaq-%03d", i)
		answers := make([]string, 0, len(p.Answers))
		for _, a := range p.Answers {
			if a = strings.Join(strings.Fields(a), " "); a != "" {
				answers = append(answers, a)
			}
		}
		docs = append(docs, Doc{ID: id, Title: strings.TrimSpace(p.Question), Text: strings.Join(answers, "\n\n")})
		for _, r := range p.Rephr {
			// "*" separates the two paraphrase sets of a thread; it is not a query.
			if r = strings.TrimSpace(r); r != "" && r != "*" {
				queries = append(queries, Query{Query: r, Relevant: []string{id}})
			}
		}
	}
	if len(docs) == 0 {
		return nil, nil, fmt.Errorf("parse StackFAQ %s: no <qapair> threads", path)
	}
	return docs, queries, nil
}

// Thread returns the StackFAQ thread index of a query's first relevant
// document, or -1 for other ids.
func Thread(q Query) int {
	var n int
	if len(q.Relevant) == 0 {
		return -1
	}
	if _, err := fmt.Sscanf(q.Relevant[0], "stackfaq-%d", &n); err != nil {
		return -1
	}
	return n
}

// FindData looks for the shared data folder: $PARLEY_DATA, else a
// "shared/data" folder beside the working directory or any of its parents.
func FindData() (string, bool) {
	if d := os.Getenv("PARLEY_DATA"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, true
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		cand := filepath.Join(dir, "shared", "data")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
