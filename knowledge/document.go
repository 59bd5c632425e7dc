// Package knowledge is Parley's knowledge base: documents, chunking,
// incremental indexing into a vector index and a BM25 index, hybrid search
// with citations and a feedback-driven ranking boost. It knows nothing of
// actors or transports.
package knowledge

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Format names the markup of a document body.
type Format string

// Body formats understood by the chunker.
const (
	FormatMarkdown Format = "markdown"
	FormatHTML     Format = "html"
	FormatText     Format = "text"
)

// Status is the editorial state of a document; only published documents are
// offered to callers unless a search asks for drafts.
type Status string

// Editorial states.
const (
	StatusDraft     Status = "draft"
	StatusPublished Status = "published"
)

// Document is one knowledge-base article.
type Document struct {
	ID       string
	Title    string
	Body     string
	Format   Format
	Category []string // path from product to problem type to solution, e.g. ["billing", "refunds", "card"]
	Language string   // BCP 47 tag such as "en" or "fr-CA"
	Tags     []string
	// ValidFrom and ValidUntil bound when the article applies; zero means unbounded.
	ValidFrom  time.Time
	ValidUntil time.Time
	Version    int
	Status     Status
}

// Limits bound what the knowledge base accepts.
type Limits struct {
	MaxBodyBytes int // largest body accepted; 0 means DefaultMaxBodyBytes
}

// DefaultMaxBodyBytes is the body size limit when Limits.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 2 << 20

// Validation errors, wrapped with the document id and detail.
var (
	ErrEmptyDocument     = errors.New("empty document")
	ErrDocumentTooLarge  = errors.New("document too large")
	ErrInvalidUTF8       = errors.New("invalid UTF-8")
	ErrUnsupportedFormat = errors.New("unsupported format")
	ErrInvalidDocument   = errors.New("invalid document")
)

// Validate reports the first reason why d cannot be indexed.
func (d Document) Validate(l Limits) error {
	limit := l.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	id := d.ID
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("%w: document id is empty", ErrInvalidDocument)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("document id: %w", ErrInvalidUTF8)
	}
	switch d.Format {
	case FormatMarkdown, FormatHTML, FormatText:
	case "":
		return fmt.Errorf("document %q: %w: format is empty (want markdown, html or text)", id, ErrUnsupportedFormat)
	default:
		return fmt.Errorf("document %q: %w %q (want markdown, html or text)", id, ErrUnsupportedFormat, d.Format)
	}
	if len(d.Body) > limit {
		return fmt.Errorf("document %q: %w: body is %d bytes, limit is %d", id, ErrDocumentTooLarge, len(d.Body), limit)
	}
	for field, v := range map[string]string{"title": d.Title, "body": d.Body, "language": d.Language} {
		if !utf8.ValidString(v) {
			return fmt.Errorf("document %q: %s: %w at byte %d", id, field, ErrInvalidUTF8, firstInvalid(v))
		}
	}
	if strings.TrimSpace(d.Title) == "" && strings.TrimSpace(d.Body) == "" {
		return fmt.Errorf("document %q: %w: title and body are blank", id, ErrEmptyDocument)
	}
	for i, c := range d.Category {
		if strings.TrimSpace(c) == "" || strings.Contains(c, "/") || !utf8.ValidString(c) {
			return fmt.Errorf("document %q: %w: category segment %d (%q) is blank, contains '/' or is not UTF-8", id, ErrInvalidDocument, i, c)
		}
	}
	for i, tag := range d.Tags {
		if strings.TrimSpace(tag) == "" || !utf8.ValidString(tag) {
			return fmt.Errorf("document %q: %w: tag %d is blank or not UTF-8", id, ErrInvalidDocument, i)
		}
	}
	switch d.Status {
	case StatusDraft, StatusPublished:
	default:
		return fmt.Errorf("document %q: %w: status %q (want draft or published)", id, ErrInvalidDocument, d.Status)
	}
	if !d.ValidFrom.IsZero() && !d.ValidUntil.IsZero() && !d.ValidUntil.After(d.ValidFrom) {
		return fmt.Errorf("document %q: %w: valid until %s is not after valid from %s", id, ErrInvalidDocument, d.ValidUntil, d.ValidFrom)
	}
	if d.Version < 0 {
		return fmt.Errorf("document %q: %w: negative version %d", id, ErrInvalidDocument, d.Version)
	}
	return nil
}

func firstInvalid(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}
