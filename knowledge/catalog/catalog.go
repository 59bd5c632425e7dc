// Package catalog is the editors' side of the knowledge base: articles with
// versions (author, change note), draft and published states, kept in the
// store, and the version callers should see indexed in a knowledge.Base.
//
// Which version is indexed: the latest published one; an article never
// published has its latest draft indexed as a draft (found only by searches
// that ask for drafts). Editing a published article as a draft therefore
// leaves the published text live until the draft is published.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/store"
)

// Documents is the part of the store the catalog uses.
type Documents interface {
	SaveDocument(ctx context.Context, d *store.Document) error
	GetDocument(ctx context.Context, id string) (*store.Document, error)
	GetDocumentVersion(ctx context.Context, id string, version int) (*store.Document, error)
	ListDocuments(ctx context.Context) ([]store.Document, error)
	ListDocumentVersions(ctx context.Context, id string) ([]store.Document, error)
	DeleteDocument(ctx context.Context, id string) error
}

// Options tune the catalog.
type Options struct {
	Limits knowledge.Limits
	Logger *slog.Logger
	// AfterReindex runs after a full Reindex (e.g. to save the embedder).
	AfterReindex func(ctx context.Context) error
}

// Catalog keeps articles in the store and the base in step with it.
type Catalog struct {
	st  Documents
	kb  *knowledge.Base
	o   Options
	mu  sync.Mutex // serialises edits so versions are numbered in order on this node
	now func() time.Time
}

// New returns a catalog over st indexing into kb.
func New(st Documents, kb *knowledge.Base, o Options) *Catalog {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Catalog{st: st, kb: kb, o: o, now: time.Now}
}

// Base returns the knowledge base the catalog indexes into.
func (c *Catalog) Base() *knowledge.Base { return c.kb }

// Article is what an editor writes: one version's content and metadata.
type Article struct {
	ID         string           `json:"id"`
	Title      string           `json:"title"`
	Body       string           `json:"body"`
	Format     knowledge.Format `json:"format"`
	Category   []string         `json:"category,omitempty"` // product, problem type, solution
	Language   string           `json:"language,omitempty"`
	Tags       []string         `json:"tags,omitempty"`
	ValidFrom  *time.Time       `json:"valid_from,omitempty"`
	ValidUntil *time.Time       `json:"valid_until,omitempty"`
	Status     knowledge.Status `json:"status"` // draft (default) or published
	Author     string           `json:"author,omitempty"`
	ChangeNote string           `json:"change_note,omitempty"`
}

// Version is a stored version of an article.
type Version struct {
	Article
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Saved reports a write: the stored version and whether the base was
// updated (IndexError says why not; a Reindex retries).
type Saved struct {
	Version
	Indexed        bool   `json:"indexed"`
	IndexedVersion int    `json:"indexed_version,omitempty"` // the version callers now see
	IndexError     string `json:"index_error,omitempty"`
}

// ErrNotFound and ErrConflict wrap the store's errors.
var (
	ErrNotFound = store.ErrNotFound
	ErrConflict = store.ErrConflict
)

func (a Article) document(version int) knowledge.Document {
	d := knowledge.Document{ID: a.ID, Title: a.Title, Body: a.Body, Format: a.Format, Category: a.Category,
		Language: a.Language, Tags: a.Tags, Version: version, Status: a.Status}
	if a.ValidFrom != nil {
		d.ValidFrom = *a.ValidFrom
	}
	if a.ValidUntil != nil {
		d.ValidUntil = *a.ValidUntil
	}
	return d
}

func (a Article) record(version int) *store.Document {
	return &store.Document{ID: a.ID, Title: a.Title, Category: strings.Join(a.Category, "/"), Language: a.Language,
		Tags: a.Tags, Format: string(a.Format), State: string(a.Status), Version: version, Author: a.Author,
		ChangeNote: a.ChangeNote, Body: a.Body, ValidFrom: a.ValidFrom, ValidTo: a.ValidUntil}
}

func fromRecord(d *store.Document) Version {
	var cat []string
	if d.Category != "" {
		cat = strings.Split(d.Category, "/")
	}
	return Version{Article: Article{ID: d.ID, Title: d.Title, Body: d.Body, Format: knowledge.Format(d.Format), Category: cat,
		Language: d.Language, Tags: d.Tags, ValidFrom: d.ValidFrom, ValidUntil: d.ValidTo, Status: knowledge.Status(d.State),
		Author: d.Author, ChangeNote: d.ChangeNote}, Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func (a *Article) normalize() {
	a.ID = strings.TrimSpace(a.ID)
	if a.Status == "" {
		a.Status = knowledge.StatusDraft
	}
	if a.Format == "" {
		a.Format = knowledge.FormatMarkdown
	}
}

// Validate reports why a cannot be stored, with the same rules the base
// applies when indexing, so nothing is stored that cannot be indexed.
func (c *Catalog) Validate(a Article) error {
	a.normalize()
	return a.document(1).Validate(c.o.Limits)
}

// Create stores version 1 of a new article; an existing id is ErrConflict.
func (c *Catalog) Create(ctx context.Context, a Article) (Saved, error) {
	return c.save(ctx, a, 0, true)
}

// Update stores a new version of an existing article. base, when not 0, is
// the version the editor started from: a newer stored version is
// ErrConflict (someone else edited meanwhile).
func (c *Catalog) Update(ctx context.Context, a Article, base int) (Saved, error) {
	return c.save(ctx, a, base, false)
}

func (c *Catalog) save(ctx context.Context, a Article, base int, create bool) (Saved, error) {
	a.normalize()
	if err := c.Validate(a); err != nil {
		return Saved{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	latest, err := c.st.GetDocument(ctx, a.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if !create {
			return Saved{}, fmt.Errorf("update article %q: %w", a.ID, err)
		}
		latest = nil
	case err != nil:
		return Saved{}, fmt.Errorf("save article %q: %w", a.ID, err)
	case create:
		return Saved{}, fmt.Errorf("create article %q: %w (version %d exists; update it instead)", a.ID, ErrConflict, latest.Version)
	}
	next := 1
	if latest != nil {
		next = latest.Version + 1
		if base != 0 && base != latest.Version {
			return Saved{}, fmt.Errorf("update article %q from version %d: %w: version %d is the latest", a.ID, base, ErrConflict, latest.Version)
		}
	}
	rec := a.record(next)
	if err := c.st.SaveDocument(ctx, rec); err != nil {
		return Saved{}, fmt.Errorf("save article %q version %d: %w", a.ID, next, err)
	}
	return c.index(ctx, fromRecord(rec)), nil
}

// Publish stores a new version copying version (0: the latest) with state
// published, by author with note.
func (c *Catalog) Publish(ctx context.Context, id string, version int, author, note string) (Saved, error) {
	c.mu.Lock()
	latest, err := c.st.GetDocument(ctx, id)
	if err != nil {
		c.mu.Unlock()
		return Saved{}, fmt.Errorf("publish article %q: %w", id, err)
	}
	src := latest
	if version != 0 && version != latest.Version {
		if src, err = c.st.GetDocumentVersion(ctx, id, version); err != nil {
			c.mu.Unlock()
			return Saved{}, fmt.Errorf("publish article %q version %d: %w", id, version, err)
		}
	}
	a := fromRecord(src).Article
	c.mu.Unlock()
	a.Status = knowledge.StatusPublished
	if author != "" {
		a.Author = author
	}
	if note == "" {
		note = fmt.Sprintf("published version %d", src.Version)
	}
	a.ChangeNote = note
	return c.save(ctx, a, latest.Version, false)
}

// index brings the base to the version callers should see after v was
// stored.
func (c *Catalog) index(ctx context.Context, v Version) Saved {
	s := Saved{Version: v}
	show, err := c.visible(ctx, v.ID, &v)
	if err != nil {
		s.IndexError = err.Error()
		return s
	}
	if cur, ok := c.kb.Document(v.ID); ok && cur.Version == show.Version && show.Version != v.Version {
		// A draft on top of an indexed published version changes nothing live.
		s.Indexed, s.IndexedVersion = true, cur.Version
		return s
	}
	if _, err := c.kb.Ingest(ctx, show.document(show.Version)); err != nil {
		c.o.Logger.Warn("article stored but not indexed; a reindex will retry", "article", v.ID, "version", v.Version, "err", err)
		s.IndexError = err.Error()
		return s
	}
	s.Indexed, s.IndexedVersion = true, show.Version
	return s
}

// visible picks the version to index: latest published, else latest.
// latest, when known, saves a read.
func (c *Catalog) visible(ctx context.Context, id string, latest *Version) (Version, error) {
	if latest == nil {
		d, err := c.st.GetDocument(ctx, id)
		if err != nil {
			return Version{}, fmt.Errorf("read article %q: %w", id, err)
		}
		v := fromRecord(d)
		latest = &v
	}
	if latest.Status == knowledge.StatusPublished || latest.Version == 1 {
		return *latest, nil
	}
	all, err := c.st.ListDocumentVersions(ctx, id)
	if err != nil {
		return Version{}, fmt.Errorf("read versions of article %q: %w", id, err)
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].State == string(knowledge.StatusPublished) {
			return fromRecord(&all[i]), nil
		}
	}
	return *latest, nil
}

// Delete removes every version of an article and its chunks.
func (c *Catalog) Delete(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.st.DeleteDocument(ctx, id); err != nil {
		return fmt.Errorf("delete article %q: %w", id, err)
	}
	if err := c.kb.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete article %q: removed from the store but not from the index: %w", id, err)
	}
	return nil
}

// Get returns the latest version of an article.
func (c *Catalog) Get(ctx context.Context, id string) (Version, error) {
	d, err := c.st.GetDocument(ctx, id)
	if err != nil {
		return Version{}, fmt.Errorf("get article %q: %w", id, err)
	}
	return fromRecord(d), nil
}

// GetVersion returns one version of an article.
func (c *Catalog) GetVersion(ctx context.Context, id string, version int) (Version, error) {
	d, err := c.st.GetDocumentVersion(ctx, id, version)
	if err != nil {
		return Version{}, fmt.Errorf("get article %q version %d: %w", id, version, err)
	}
	return fromRecord(d), nil
}

// Versions lists every version of an article, oldest first.
func (c *Catalog) Versions(ctx context.Context, id string) ([]Version, error) {
	ds, err := c.st.ListDocumentVersions(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("list versions of article %q: %w", id, err)
	}
	out := make([]Version, len(ds))
	for i := range ds {
		out[i] = fromRecord(&ds[i])
	}
	return out, nil
}

// Filter narrows List; zero fields match everything.
type Filter struct {
	CategoryPrefix []string
	Language       string
	Tag            string
	Status         knowledge.Status
}

// List returns the latest version of each article passing f, by id.
func (c *Catalog) List(ctx context.Context, f Filter) ([]Version, error) {
	ds, err := c.st.ListDocuments(ctx)
	if err != nil {
		return nil, fmt.Errorf("list articles: %w", err)
	}
	out := []Version{}
	for i := range ds {
		v := fromRecord(&ds[i])
		if len(f.CategoryPrefix) > len(v.Category) || !slices.Equal(v.Category[:len(f.CategoryPrefix)], f.CategoryPrefix) ||
			f.Language != "" && v.Language != f.Language || f.Tag != "" && !slices.Contains(v.Tags, f.Tag) ||
			f.Status != "" && v.Status != f.Status {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// Category is a node of the category tree with the number of articles at
// or below it.
type Category struct {
	Name     string     `json:"name"`
	Path     []string   `json:"path"`
	Articles int        `json:"articles"`
	Children []Category `json:"children,omitempty"`
}

// Categories returns the category tree of the latest versions.
func (c *Catalog) Categories(ctx context.Context) ([]Category, error) {
	vs, err := c.List(ctx, Filter{})
	if err != nil {
		return nil, err
	}
	root := &Category{}
	for _, v := range vs {
		node := root
		node.Articles++
		for i, seg := range v.Category {
			j := slices.IndexFunc(node.Children, func(c Category) bool { return c.Name == seg })
			if j < 0 {
				node.Children = append(node.Children, Category{Name: seg, Path: append([]string(nil), v.Category[:i+1]...)})
				j = len(node.Children) - 1
			}
			node = &node.Children[j]
			node.Articles++
		}
	}
	var sortTree func([]Category)
	sortTree = func(cs []Category) {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
		for i := range cs {
			sortTree(cs[i].Children)
		}
	}
	sortTree(root.Children)
	if root.Children == nil {
		return []Category{}, nil
	}
	return root.Children, nil
}

// ReindexResult counts what a Reindex did.
type ReindexResult struct {
	Articles  int      `json:"articles"`
	Upserted  int      `json:"chunks_upserted"`
	Unchanged int      `json:"chunks_unchanged"`
	Deleted   int      `json:"chunks_deleted"`
	Removed   int      `json:"articles_removed"` // indexed but no longer stored
	Retrained int      `json:"chunks_retrained"` // re-embedded after the embedder learned the corpus
	Failed    []string `json:"failed,omitempty"` // "id: reason"
}

// ReindexOptions tune Reindex.
type ReindexOptions struct {
	// Retrain re-teaches a corpus-learning embedder and re-embeds every
	// chunk; otherwise only changed chunks are embedded.
	Retrain  bool
	Progress func(done, total int)
}

// Reindex brings the base in line with the store: every article's visible
// version is ingested (unchanged chunks are skipped by content hash) and
// articles no longer stored are removed. Failures are collected, not fatal.
func (c *Catalog) Reindex(ctx context.Context, o ReindexOptions) (ReindexResult, error) {
	var r ReindexResult
	ds, err := c.st.ListDocuments(ctx)
	if err != nil {
		return r, fmt.Errorf("reindex: %w", err)
	}
	stored := map[string]bool{}
	for i := range ds {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("reindex: %w", err)
		}
		latest := fromRecord(&ds[i])
		stored[latest.ID] = true
		v, err := c.visible(ctx, latest.ID, &latest)
		if err == nil {
			var res knowledge.IngestResult
			res, err = c.kb.Ingest(ctx, v.document(v.Version))
			r.Upserted += res.Upserted
			r.Unchanged += res.Unchanged
			r.Deleted += res.Deleted
		}
		if err != nil {
			r.Failed = append(r.Failed, fmt.Sprintf("%s: %v", latest.ID, err))
		} else {
			r.Articles++
		}
		if o.Progress != nil {
			o.Progress(i+1, len(ds))
		}
	}
	for _, id := range c.kb.DocumentIDs() {
		if !stored[id] {
			if err := c.kb.Delete(ctx, id); err != nil {
				r.Failed = append(r.Failed, fmt.Sprintf("%s: remove: %v", id, err))
				continue
			}
			r.Removed++
		}
	}
	if o.Retrain {
		n, err := c.kb.Retrain(ctx)
		r.Retrained = n
		if err != nil {
			return r, fmt.Errorf("reindex: %w", err)
		}
	}
	if c.o.AfterReindex != nil {
		if err := c.o.AfterReindex(ctx); err != nil {
			return r, fmt.Errorf("reindex: %w", err)
		}
	}
	return r, nil
}

// Import stores each article unless its latest version already has the
// same content (re-importing a folder is a no-op); new ids get version 1,
// changed ones a new version. It reports counts and per-article errors.
func (c *Catalog) Import(ctx context.Context, arts []Article, progress func(done, total int)) (ImportResult, error) {
	var r ImportResult
	for i, a := range arts {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("import: %w", err)
		}
		a.normalize()
		cur, err := c.st.GetDocument(ctx, a.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, err = c.Create(ctx, a)
			if err == nil {
				r.Created++
			}
		case err != nil:
		case sameContent(fromRecord(cur).Article, a):
			r.Unchanged++
		default:
			_, err = c.Update(ctx, a, cur.Version)
			if err == nil {
				r.Updated++
			}
		}
		if err != nil {
			r.Failed = append(r.Failed, fmt.Sprintf("%s: %v", a.ID, err))
		}
		if progress != nil {
			progress(i+1, len(arts))
		}
	}
	return r, nil
}

// ImportResult counts what an Import did.
type ImportResult struct {
	Created   int      `json:"created"`
	Updated   int      `json:"updated"`
	Unchanged int      `json:"unchanged"`
	Failed    []string `json:"failed,omitempty"`
}

func sameContent(a, b Article) bool {
	eqTime := func(x, y *time.Time) bool { return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) }
	return a.Title == b.Title && a.Body == b.Body && a.Format == b.Format && slices.Equal(a.Category, b.Category) &&
		a.Language == b.Language && slices.Equal(a.Tags, b.Tags) && a.Status == b.Status &&
		eqTime(a.ValidFrom, b.ValidFrom) && eqTime(a.ValidUntil, b.ValidUntil)
}
