// Package assist turns what is said on a live call into knowledge-base
// suggestions for the agent: each final utterance (caller or agent) is
// searched, and the top passages with a suggested reply are pushed to the
// call's subscribers (the agent desktop) within a time bound. A suggestion
// that repeats the previous one for the call is suppressed.
package assist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/index"
)

// Utterance is one transcribed turn of a live call.
type Utterance struct {
	CallID  string    `json:"call_id"`
	Speaker string    `json:"speaker"` // caller or agent
	Text    string    `json:"text"`
	Final   bool      `json:"final"` // only final transcripts produce suggestions
	At      time.Time `json:"at"`
}

// Passage is a suggested knowledge-base passage with its citation.
type Passage struct {
	knowledge.Citation
	Text  string  `json:"text"`
	Score float64 `json:"score"`
}

// Suggestion is what the agent desktop shows.
type Suggestion struct {
	CallID    string    `json:"call_id"`
	Seq       int       `json:"seq"` // 1, 2, ... per call
	Speaker   string    `json:"speaker"`
	Utterance string    `json:"utterance"`
	Passages  []Passage `json:"passages"`
	Reply     string    `json:"reply"` // quoted from the top passage; the agent adapts it
	At        time.Time `json:"at"`
	// LatencyMs is the time from receiving the utterance to publishing.
	LatencyMs float64 `json:"latency_ms"`
}

// Options tune the assistant; zero values take the defaults noted.
type Options struct {
	K        int           // passages per suggestion; default 3
	Timeout  time.Duration // bound on the search per utterance; default 150ms
	MinTerms int           // utterances with fewer words ("yes", "ok thanks") are skipped; default 3
	// Filter narrows the search, e.g. to the call's language.
	Filter func(callID string) index.Filter
	Buffer int // suggestions buffered per subscriber; default 16 (the oldest is dropped when full)
}

// Service produces suggestions; safe for concurrent use.
type Service struct {
	kb *knowledge.Base
	o  Options

	mu    sync.Mutex
	calls map[string]*callState
}

type callState struct {
	mu   sync.Mutex // orders the utterances of one call
	last []string   // document ids of the last published suggestion
	seq  int
	subs map[int]chan Suggestion
	next int
}

// New returns an assistant over kb.
func New(kb *knowledge.Base, o Options) *Service {
	if o.K <= 0 {
		o.K = 3
	}
	if o.Timeout <= 0 {
		o.Timeout = 150 * time.Millisecond
	}
	if o.MinTerms <= 0 {
		o.MinTerms = 3
	}
	if o.Buffer <= 0 {
		o.Buffer = 16
	}
	return &Service{kb: kb, o: o, calls: map[string]*callState{}}
}

func (s *Service) call(id string) *callState {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[id]
	if c == nil {
		c = &callState{subs: map[int]chan Suggestion{}}
		s.calls[id] = c
	}
	return c
}

// Subscribe returns the suggestions of a call as they are made; cancel
// stops them and closes the channel.
func (s *Service) Subscribe(callID string) (<-chan Suggestion, func()) {
	c := s.call(callID)
	ch := make(chan Suggestion, s.o.Buffer)
	c.mu.Lock()
	id := c.next
	c.next++
	c.subs[id] = ch
	c.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			c.mu.Lock()
			if _, ok := c.subs[id]; ok {
				delete(c.subs, id)
				close(ch)
			}
			c.mu.Unlock()
		})
	}
}

// EndCall forgets a call and closes its subscriptions.
func (s *Service) EndCall(callID string) {
	s.mu.Lock()
	c := s.calls[callID]
	delete(s.calls, callID)
	s.mu.Unlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	for id, ch := range c.subs {
		delete(c.subs, id)
		close(ch)
	}
	c.mu.Unlock()
}

// Why an utterance produced no suggestion.
var (
	ErrNotFinal    = errors.New("interim transcript")
	ErrTooShort    = errors.New("too few words to search")
	ErrNothing     = errors.New("nothing relevant in the knowledge base")
	ErrDuplicate   = errors.New("same suggestion as the previous utterance")
	ErrInvalidTurn = errors.New("invalid utterance")
	// ErrLate: the search did not finish within Options.Timeout; a late
	// suggestion would be about what was said before, so none is pushed.
	ErrLate = errors.New("suggestion over the time bound")
)

// Utterance searches for u and publishes a suggestion to the call's
// subscribers. It returns the suggestion, or an error saying why none was
// published (ErrNotFinal, ErrTooShort, ErrNothing, ErrDuplicate, ErrLate
// or a search failure).
func (s *Service) Utterance(ctx context.Context, u Utterance) (Suggestion, error) {
	start := time.Now()
	if strings.TrimSpace(u.CallID) == "" {
		return Suggestion{}, fmt.Errorf("%w: call_id is empty", ErrInvalidTurn)
	}
	if !u.Final {
		return Suggestion{}, ErrNotFinal
	}
	if len(strings.Fields(u.Text)) < s.o.MinTerms {
		return Suggestion{}, ErrTooShort
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	q := knowledge.Query{Text: u.Text, K: s.o.K}
	if s.o.Filter != nil {
		q.Filter = s.o.Filter(u.CallID)
	}
	ans, err := s.kb.Answer(ctx, q)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Suggestion{}, fmt.Errorf("assist call %s: %w (%s): %w", u.CallID, ErrLate, s.o.Timeout, err)
	}
	if err != nil {
		return Suggestion{}, fmt.Errorf("assist call %s: %w", u.CallID, err)
	}
	if !ans.Found {
		return Suggestion{}, ErrNothing
	}
	docs := make([]string, len(ans.Passages))
	passages := make([]Passage, len(ans.Passages))
	for i, h := range ans.Passages {
		docs[i] = h.DocumentID
		passages[i] = Passage{Citation: knowledge.Citation{DocumentID: h.DocumentID, Title: h.Title, Version: h.Version,
			ChunkID: h.ChunkID, Chunk: h.Chunk, Headings: h.Headings}, Text: h.Passage, Score: h.Score}
	}
	c := s.call(u.CallID)
	c.mu.Lock()
	defer c.mu.Unlock()
	// The same top article as last time means the conversation is still on
	// the same topic: the agent already has it on screen.
	if len(c.last) > 0 && c.last[0] == docs[0] {
		return Suggestion{}, ErrDuplicate
	}
	c.last = docs
	c.seq++
	sg := Suggestion{CallID: u.CallID, Seq: c.seq, Speaker: u.Speaker, Utterance: u.Text, Passages: passages, Reply: ans.Text, At: time.Now()}
	sg.LatencyMs = float64(time.Since(start).Microseconds()) / 1000
	for _, ch := range c.subs {
		select {
		case ch <- sg:
		default: // a slow desktop loses its oldest suggestion, never blocks the call
			select {
			case <-ch:
			default:
			}
			ch <- sg
		}
	}
	return sg, nil
}
