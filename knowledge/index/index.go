// Package index defines the vector index the knowledge base writes chunks to
// and searches, with the payload filters every backend must honour.
package index

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Point is one indexed chunk: its vector and the payload used for filters
// and citations.
type Point struct {
	ID         string // unique chunk id, e.g. "doc-7#3"
	DocumentID string
	Version    int
	Chunk      int    // position of the chunk in its document
	Hash       string // content hash; unchanged hash means nothing to re-index
	Category   []string
	Language   string
	Tags       []string
	ValidFrom  int64 // unix seconds, 0 = since always
	ValidUntil int64 // unix seconds, 0 = forever
	Published  bool
	Vector     []float32
}

// Filter restricts a search; zero fields do not filter.
type Filter struct {
	CategoryPrefix []string  // the point's category must start with these segments
	Language       string    // exact language tag
	Tags           []string  // the point must carry every one of these tags
	At             time.Time // the point must be valid at this instant
	PublishedOnly  bool      // drafts are excluded
}

// Match reports whether p passes f.
func (f Filter) Match(p *Point) bool {
	if len(f.CategoryPrefix) > len(p.Category) {
		return false
	}
	for i, c := range f.CategoryPrefix {
		if p.Category[i] != c {
			return false
		}
	}
	if f.Language != "" && f.Language != p.Language {
		return false
	}
	for _, t := range f.Tags {
		if !slices.Contains(p.Tags, t) {
			return false
		}
	}
	if !f.At.IsZero() {
		at := f.At.Unix()
		if p.ValidFrom != 0 && at < p.ValidFrom {
			return false
		}
		if p.ValidUntil != 0 && at >= p.ValidUntil {
			return false
		}
	}
	if f.PublishedOnly && !p.Published {
		return false
	}
	return true
}

// CategoryKeys returns the category path prefixes joined by '/', e.g.
// ["billing", "billing/refunds"]: a prefix filter becomes one exact keyword
// match, which every backend supports.
func CategoryKeys(category []string) []string {
	keys := make([]string, len(category))
	for i := range category {
		keys[i] = strings.Join(category[:i+1], "/")
	}
	return keys
}

// Hit is a search result; Point.Vector is not filled in.
type Hit struct {
	Point
	Score float32 // dot product with the query vector
}

// ChunkRef names an indexed chunk and its content hash.
type ChunkRef struct {
	ID   string
	Hash string
}

// Index stores chunk vectors and finds the nearest ones to a query.
type Index interface {
	// Upsert inserts or replaces points by ID.
	Upsert(ctx context.Context, points []Point) error
	// Delete removes points by ID; unknown IDs are ignored.
	Delete(ctx context.Context, ids []string) error
	// DeleteDocument removes every point of a document.
	DeleteDocument(ctx context.Context, documentID string) error
	// Chunks lists the indexed chunks of a document.
	Chunks(ctx context.Context, documentID string) ([]ChunkRef, error)
	// Search returns up to k points passing f, best dot product first.
	Search(ctx context.Context, vector []float32, k int, f Filter) ([]Hit, error)
	// Close releases resources, persisting pending state.
	Close() error
}

// ErrDimension reports a vector whose length does not match the index.
var ErrDimension = errors.New("vector dimension mismatch")

// ErrUnavailable marks a backend that cannot be reached right now; the
// caller may retry or degrade.
var ErrUnavailable = errors.New("vector index unavailable")
