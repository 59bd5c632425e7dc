package catalog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-cc/parley/knowledge"
)

// jsonLine is one line of an import file: an Article, or the evaluation
// format {id, title, text}.
type jsonLine struct {
	Article
	Text string `json:"text,omitempty"`
}

// ReadJSONL reads articles, one JSON object per line (status defaults to
// published); blank lines are skipped and errors name the line.
func ReadJSONL(r io.Reader) ([]Article, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var out []Article
	for n := 1; sc.Scan(); n++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		if !utf8.Valid(raw) {
			return nil, fmt.Errorf("line %d: %w", n, knowledge.ErrInvalidUTF8)
		}
		var l jsonLine
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if l.ID == "" {
			return nil, fmt.Errorf("line %d: id is empty", n)
		}
		if l.Body == "" && l.Text != "" {
			l.Body = l.Text
			if l.Format == "" {
				l.Format = knowledge.FormatText
			}
		}
		if l.Status == "" {
			l.Status = knowledge.StatusPublished // imported content is curated already
		}
		out = append(out, l.Article)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", len(out)+1, err)
	}
	return out, nil
}

// WriteJSONL writes articles one per line (re-importable with ReadJSONL).
func WriteJSONL(w io.Writer, arts []Article) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, a := range arts {
		if err := enc.Encode(a); err != nil {
			return fmt.Errorf("export %q: %w", a.ID, err)
		}
	}
	return nil
}

var formats = map[string]knowledge.Format{
	".md": knowledge.FormatMarkdown, ".markdown": knowledge.FormatMarkdown,
	".html": knowledge.FormatHTML, ".htm": knowledge.FormatHTML, ".txt": knowledge.FormatText,
}

// ReadFolder reads every .md, .markdown, .html, .htm and .txt file under
// dir. An article's id is its file name without extension and its
// category the folders between dir and the file (product/problem/...);
// an optional front matter block ("---" lines with key: value) may set id,
// title, category (a/b/c), language, tags (comma-separated), status,
// valid_from, valid_until (RFC 3339 or YYYY-MM-DD) and author. Without a
// title, the first heading (Markdown #, HTML <h1> or <title>) or the file
// name is used. Other files are listed in skipped.
func ReadFolder(dir string) (arts []Article, skipped []string, err error) {
	seen := map[string]string{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		f, ok := formats[strings.ToLower(filepath.Ext(path))]
		if !ok {
			skipped = append(skipped, rel)
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		a, err := parseFile(rel, string(data), f)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if prev, dup := seen[a.ID]; dup {
			return fmt.Errorf("%s: id %q is also used by %s", rel, a.ID, prev)
		}
		seen[a.ID] = rel
		arts = append(arts, a)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read folder %s: %w", dir, err)
	}
	return arts, skipped, nil
}

var (
	mdTitle   = regexp.MustCompile(`(?m)^#\s+(.+?)\s*#*\s*$`)
	htmlTitle = regexp.MustCompile(`(?is)<(h1|title)[^>]*>(.*?)</(h1|title)>`)
	htmlTag   = regexp.MustCompile(`<[^>]*>`)
)

func parseFile(rel, body string, f knowledge.Format) (Article, error) {
	if !utf8.ValidString(body) {
		return Article{}, knowledge.ErrInvalidUTF8
	}
	base := filepath.Base(rel)
	a := Article{ID: strings.TrimSuffix(base, filepath.Ext(base)), Format: f, Body: body, Status: knowledge.StatusPublished}
	if d := filepath.Dir(rel); d != "." {
		a.Category = strings.Split(filepath.ToSlash(d), "/")
	}
	if rest, ok := strings.CutPrefix(strings.TrimLeft(body, "\ufeff"), "---\n"); ok {
		head, after, found := strings.Cut(rest, "\n---\n")
		if !found {
			return Article{}, fmt.Errorf("front matter opened with --- is never closed")
		}
		a.Body = after
		for i, line := range strings.Split(head, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return Article{}, fmt.Errorf("front matter line %d: want key: value", i+2)
			}
			v = strings.Trim(strings.TrimSpace(v), `"'`)
			switch strings.TrimSpace(k) {
			case "id":
				a.ID = v
			case "title":
				a.Title = v
			case "category":
				a.Category = strings.Split(strings.Trim(v, "/"), "/")
			case "language":
				a.Language = v
			case "tags":
				a.Tags = nil
				for _, t := range strings.Split(v, ",") {
					if t = strings.TrimSpace(t); t != "" {
						a.Tags = append(a.Tags, t)
					}
				}
			case "status":
				a.Status = knowledge.Status(v)
			case "author":
				a.Author = v
			case "valid_from", "valid_until":
				t, err := parseDate(v)
				if err != nil {
					return Article{}, fmt.Errorf("front matter %s: %w", k, err)
				}
				if k == "valid_from" {
					a.ValidFrom = &t
				} else {
					a.ValidUntil = &t
				}
			default:
				return Article{}, fmt.Errorf("front matter line %d: unknown key %q", i+2, k)
			}
		}
	}
	if a.Title == "" {
		switch f {
		case knowledge.FormatMarkdown:
			if m := mdTitle.FindStringSubmatch(a.Body); m != nil {
				a.Title = m[1]
			}
		case knowledge.FormatHTML:
			if m := htmlTitle.FindStringSubmatch(a.Body); m != nil {
				a.Title = strings.Join(strings.Fields(htmlTag.ReplaceAllString(m[2], " ")), " ")
			}
		}
	}
	if a.Title == "" {
		a.Title = strings.ReplaceAll(a.ID, "-", " ")
	}
	return a, nil
}

func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", v)
	}
	return t, nil
}
