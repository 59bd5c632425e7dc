package dialog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parley-cc/parley/store"
)

// Callback is a caller's request to be called back, for an outbound
// campaign to place.
type Callback struct {
	ID         string
	CallID     string // the inbound call it was booked on
	Number     string
	Name       string
	WindowFrom time.Time
	WindowTo   time.Time
	Queue      string // whose agents call back
	Reason     string
	Summary    string // the conversation so far, for the agent who calls
}

// CallbackStore keeps booked callbacks.
type CallbackStore interface {
	ScheduleCallback(ctx context.Context, cb *Callback) error
}

// CallbackCampaignID is the campaign StoreCallbacks files callbacks under.
const CallbackCampaignID = "callbacks"

// StoreCallbacks files each callback as a pending contact of the
// "callbacks" campaign (Kind "callback"), created on first use: the
// campaign dialer places them within their window. The contact's Reason
// and Summary carry the why and the conversation; the campaign's QueueID is
// the default queue, a callback for another queue says so in its Reason.
type StoreCallbacks struct {
	Store store.CampaignStore
	Queue string // the campaign's queue when it has to be created

	once sync.Mutex
	made bool
}

// ScheduleCallback stores cb, giving it an ID when it has none.
func (s *StoreCallbacks) ScheduleCallback(ctx context.Context, cb *Callback) error {
	if cb.Number == "" {
		return errors.New("schedule callback: no number to call")
	}
	if err := s.ensureCampaign(ctx); err != nil {
		return err
	}
	if cb.ID == "" {
		cb.ID = newID("cb")
	}
	from, to := cb.WindowFrom, cb.WindowTo
	reason := cb.Reason
	if cb.Queue != "" && cb.Queue != s.Queue {
		reason = fmt.Sprintf("%s (queue %s)", reason, cb.Queue)
	}
	summary := cb.Summary
	if cb.CallID != "" {
		summary = fmt.Sprintf("Booked on call %s. %s", cb.CallID, summary)
	}
	c := store.CampaignContact{CampaignID: CallbackCampaignID, ID: cb.ID, Phone: cb.Number, Name: cb.Name, Status: "pending",
		WindowStart: &from, WindowEnd: &to, Reason: reason, Summary: summary}
	if err := s.Store.AddCampaignContacts(ctx, []store.CampaignContact{c}); err != nil {
		return fmt.Errorf("schedule callback %s: %w", cb.ID, err)
	}
	return nil
}

func (s *StoreCallbacks) ensureCampaign(ctx context.Context) error {
	s.once.Lock()
	defer s.once.Unlock()
	if s.made {
		return nil
	}
	_, err := s.Store.GetCampaign(ctx, CallbackCampaignID)
	if errors.Is(err, store.ErrNotFound) {
		err = s.Store.CreateCampaign(ctx, &store.Campaign{ID: CallbackCampaignID, Name: "Callbacks requested from the voicebot",
			Kind: "callback", State: store.CampaignRunning, QueueID: s.Queue, MaxLines: 2})
		if errors.Is(err, store.ErrConflict) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("schedule callback: campaign %q: %w", CallbackCampaignID, err)
	}
	s.made = true
	return nil
}

// MemoryCallbacks keeps callbacks in memory (parley chat, tests).
type MemoryCallbacks struct {
	mu   sync.Mutex
	list []Callback
}

// ScheduleCallback records cb.
func (m *MemoryCallbacks) ScheduleCallback(_ context.Context, cb *Callback) error {
	if cb.Number == "" {
		return errors.New("schedule callback: no number to call")
	}
	if cb.ID == "" {
		cb.ID = newID("cb")
	}
	m.mu.Lock()
	m.list = append(m.list, *cb)
	m.mu.Unlock()
	return nil
}

// List returns the callbacks booked so far.
func (m *MemoryCallbacks) List() []Callback {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Callback(nil), m.list...)
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
