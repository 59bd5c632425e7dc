package actors

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/parley-cc/parley/actors/pb"
	"github.com/parley-cc/parley/store"
)

// Method indexes of the generated grain services, read once from the
// descriptor at package init and never changed.
var (
	mCallStart       = methodIndex("Call", "Start")
	mCallRecordTurn  = methodIndex("Call", "RecordTurn")
	mCallRecordEvent = methodIndex("Call", "RecordEvent")
	mCallSetState    = methodIndex("Call", "SetState")
	mCallTranscript  = methodIndex("Call", "Transcript")
	mCallHangup      = methodIndex("Call", "Hangup")

	mAgentSetPresence = methodIndex("Agent", "SetPresence")
	mAgentSetSkills   = methodIndex("Agent", "SetSkills")
	mAgentGet         = methodIndex("Agent", "Get")
	mAgentAnswer      = methodIndex("Agent", "Answer")
	mAgentFinish      = methodIndex("Agent", "Finish")
	mAgentEndWrapUp   = methodIndex("Agent", "EndWrapUp")
	mAgentSubscribe   = methodIndex("Agent", "Subscribe")

	mQueueEnqueue      = methodIndex("Queue", "Enqueue")
	mQueueAbandon      = methodIndex("Queue", "Abandon")
	mQueuePosition     = methodIndex("Queue", "Position")
	mQueueCallback     = methodIndex("Queue", "Callback")
	mQueueSetSentiment = methodIndex("Queue", "SetSentiment")
	mQueueReconcile    = methodIndex("Queue", "Reconcile")
	mQueueStats        = methodIndex("Queue", "Stats")
	mQueueList         = methodIndex("Queue", "List")

	mCampaignStart  = methodIndex("Campaign", "Start")
	mCampaignPause  = methodIndex("Campaign", "Pause")
	mCampaignStop   = methodIndex("Campaign", "Stop")
	mCampaignStatus = methodIndex("Campaign", "Status")
)

// CallClient talks to Call grains from any member. Every method retries
// transient cluster failures (a member dying, a grain moving) until ctx
// ends; errors wrap ErrInvalidArgument, ErrFailedPrecondition,
// ErrUnavailable or store.ErrNotFound.
type CallClient struct{ n *Node }

// Start creates the call grain's record from c (ID, Direction, Channel,
// From, To and optionally ContactID, CampaignID, QueueID, StartedAt). It
// returns the stored call and whether this request created it; starting a
// started call returns it unchanged.
func (cc *CallClient) Start(ctx context.Context, c store.Call) (*store.Call, bool, error) {
	resp, err := invoke[*pb.StartCallResponse](ctx, cc.n, KindCall, c.ID, mCallStart, &pb.StartCallRequest{
		Direction: c.Direction, Channel: c.Channel, From: c.From, To: c.To,
		ContactId: c.ContactID, CampaignId: c.CampaignID, QueueId: c.QueueID, StartedAt: nanos(c.StartedAt),
	})
	if err != nil {
		return nil, false, err
	}
	call := callFromPB(resp.Call)
	return &call, resp.Created, nil
}

// RecordTurn appends a turn once it is stored and returns its seq. With
// t.Seq 0 the grain numbers the turn; give t.Seq (next expected number) to
// make retries of an ambiguous failure exactly-once.
func (cc *CallClient) RecordTurn(ctx context.Context, callID string, t store.Turn) (int, error) {
	resp, err := invoke[*pb.RecordTurnResponse](ctx, cc.n, KindCall, callID, mCallRecordTurn,
		&pb.RecordTurnRequest{Turn: turnToWire(t)})
	if err != nil {
		return 0, err
	}
	return int(resp.Seq), nil
}

// RecordEvent appends a call event once it is stored and returns its seq
// (numbering as in RecordTurn).
func (cc *CallClient) RecordEvent(ctx context.Context, callID string, e store.CallEvent) (int, error) {
	resp, err := invoke[*pb.RecordEventResponse](ctx, cc.n, KindCall, callID, mCallRecordEvent,
		&pb.RecordEventRequest{Event: eventToWire(e)})
	if err != nil {
		return 0, err
	}
	return int(resp.Seq), nil
}

// CallChange lists the call fields to change; empty fields keep their value.
type CallChange struct {
	State         string
	QueueID       string
	AgentID       string
	ContactID     string
	Disposition   string
	Summary       string
	RecordingPath string
}

// SetState changes the call's state and assignment fields. Entering bot or
// agent stamps AnsweredAt, entering ended or abandoned stamps EndedAt.
func (cc *CallClient) SetState(ctx context.Context, callID string, ch CallChange) (*store.Call, error) {
	resp, err := invoke[*pb.SetCallStateResponse](ctx, cc.n, KindCall, callID, mCallSetState, &pb.SetCallStateRequest{
		State: ch.State, QueueId: ch.QueueID, AgentId: ch.AgentID, ContactId: ch.ContactID,
		Disposition: ch.Disposition, Summary: ch.Summary, RecordingPath: ch.RecordingPath,
	})
	if err != nil {
		return nil, err
	}
	c := callFromPB(resp.Call)
	return &c, nil
}

// Transcript is a call with everything recorded on it.
type Transcript struct {
	Call   store.Call
	Turns  []store.Turn
	Events []store.CallEvent
	// Member is the address of the member hosting the Call grain.
	Member string
}

// Transcript returns the call, its turns and events; store.ErrNotFound when
// the call was never started.
func (cc *CallClient) Transcript(ctx context.Context, callID string) (*Transcript, error) {
	resp, err := invoke[*pb.TranscriptResponse](ctx, cc.n, KindCall, callID, mCallTranscript, &pb.TranscriptRequest{})
	if err != nil {
		return nil, err
	}
	tr := &Transcript{
		Call:   callFromPB(resp.Call),
		Turns:  make([]store.Turn, len(resp.Turns)),
		Events: make([]store.CallEvent, len(resp.Events)),
		Member: resp.Member,
	}
	for i, t := range resp.Turns {
		tr.Turns[i] = turnFromWire(callID, t)
	}
	for i, e := range resp.Events {
		tr.Events[i] = store.CallEvent{CallID: callID, Seq: int(e.Seq), Type: e.Type, By: e.By, Data: e.Data, At: fromNanos(e.At)}
	}
	return tr, nil
}

// Hangup ends the call (abandoned when the caller hangs up while queued) and
// records a hangup event; hanging up an ended call changes nothing.
func (cc *CallClient) Hangup(ctx context.Context, callID, by, disposition, reason string) (*store.Call, error) {
	resp, err := invoke[*pb.HangupResponse](ctx, cc.n, KindCall, callID, mCallHangup,
		&pb.HangupRequest{By: by, Disposition: disposition, Reason: reason})
	if err != nil {
		return nil, err
	}
	c := callFromPB(resp.Call)
	return &c, nil
}

// AgentClient talks to Agent grains (see CallClient for retries and errors).
type AgentClient struct{ n *Node }

// Offer is a contact reserved for an agent until Expires.
type Offer struct {
	ID        string            `json:"id"`
	Queue     string            `json:"queue"`
	ContactID string            `json:"contact_id"`
	CallID    string            `json:"call_id,omitempty"`
	Summary   string            `json:"summary,omitempty"` // hand-off summary, JSON
	Expires   time.Time         `json:"expires"`
	Callback  bool              `json:"callback,omitempty"`
	Attrs     map[string]string `json:"attrs,omitempty"`
	OfferedAt time.Time         `json:"offered_at"`
}

func offerFromPB(o *pb.HeldOffer) Offer {
	if o == nil {
		return Offer{}
	}
	return Offer{ID: o.OfferId, Queue: o.QueueId, ContactID: o.ContactId, CallID: o.CallId, Summary: o.Summary,
		Expires: fromNanos(o.Expires), Callback: o.Callback, Attrs: o.Attrs, OfferedAt: fromNanos(o.OfferedAt)}
}

// ActiveContact is a contact an agent accepted and handles.
type ActiveContact struct {
	ContactID string    `json:"contact_id"`
	Queue     string    `json:"queue"`
	CallID    string    `json:"call_id,omitempty"`
	OfferID   string    `json:"offer_id"`
	Summary   string    `json:"summary,omitempty"`
	Since     time.Time `json:"since"`
}

func activeFromPB(c *pb.ActiveContact) ActiveContact {
	if c == nil {
		return ActiveContact{}
	}
	return ActiveContact{ContactID: c.ContactId, Queue: c.QueueId, CallID: c.CallId, OfferID: c.OfferId, Summary: c.Summary, Since: fromNanos(c.Since)}
}

// AgentStatus is an agent's live state.
type AgentStatus struct {
	AgentID       string          `json:"agent_id"`
	Presence      string          `json:"presence"` // PresenceLoggedOut, PresenceAvailable, PresenceBreak
	BreakReason   string          `json:"break_reason,omitempty"`
	WorkState     string          `json:"work_state"` // WorkIdle, WorkOffered, WorkOnContact, WorkWrapUp
	CallID        string          `json:"call_id,omitempty"`
	Skills        []store.Skill   `json:"skills"`
	Languages     []string        `json:"languages"`
	Capacity      int             `json:"capacity"`
	Offers        []Offer         `json:"offers"`
	Active        []ActiveContact `json:"active"`
	WrapUntil     *time.Time      `json:"wrap_until,omitempty"`
	Misses        int             `json:"misses"`
	PresenceSince time.Time       `json:"presence_since"`
	WorkSince     time.Time       `json:"work_since"`
	UpdatedAt     time.Time       `json:"updated_at"`
	// Connected is true while a desktop is subscribed.
	Connected bool `json:"connected"`
}

func agentFromPB(s *pb.AgentState) *AgentStatus {
	if s == nil {
		return nil
	}
	a := &AgentStatus{
		AgentID: s.AgentId, Presence: s.Presence, BreakReason: s.BreakReason, WorkState: s.WorkState,
		CallID: s.CallId, Languages: s.Languages, Capacity: int(s.Capacity), Misses: int(s.Misses),
		PresenceSince: fromNanos(s.PresenceSince), WorkSince: fromNanos(s.WorkSince), UpdatedAt: fromNanos(s.UpdatedAt),
		WrapUntil: ptrFromNanos(s.WrapUntil), Connected: s.Subscriber != nil,
		Offers: []Offer{}, Active: []ActiveContact{}, Skills: []store.Skill{},
	}
	for _, sk := range s.Skills {
		a.Skills = append(a.Skills, store.Skill{Name: sk.Name, Proficiency: int(sk.Proficiency)})
	}
	for _, o := range s.Offers {
		a.Offers = append(a.Offers, offerFromPB(o))
	}
	for _, c := range s.Active {
		a.Active = append(a.Active, activeFromPB(c))
	}
	return a
}

func (ac *AgentClient) do(ctx context.Context, agentID string, method int32, req proto.Message) (*AgentStatus, error) {
	resp, err := invoke[*pb.AgentState](ctx, ac.n, KindAgent, agentID, method, req)
	if err != nil {
		return nil, err
	}
	return agentFromPB(resp), nil
}

// SetPresence sets the agent logged_out, available or on break (with a
// configured reason code); logging out during a contact fails with
// ErrFailedPrecondition. Offers held when leaving available return to their
// queues at their places.
func (ac *AgentClient) SetPresence(ctx context.Context, agentID, presence, reason string) (*AgentStatus, error) {
	return ac.do(ctx, agentID, mAgentSetPresence, &pb.SetPresenceRequest{Presence: presence, Reason: reason})
}

// SetSkills replaces the agent's skills and languages (skills must be in the
// routing configuration); capacity 0 keeps the current capacity.
func (ac *AgentClient) SetSkills(ctx context.Context, agentID string, skills []store.Skill, languages []string, capacity int) (*AgentStatus, error) {
	req := &pb.SetSkillsRequest{Languages: languages, Capacity: int32(capacity)}
	for _, s := range skills {
		req.Skills = append(req.Skills, &pb.AgentSkill{Name: s.Name, Proficiency: int32(s.Proficiency)})
	}
	return ac.do(ctx, agentID, mAgentSetSkills, req)
}

// Get returns the agent's live state (logged_out and idle if never set).
func (ac *AgentClient) Get(ctx context.Context, agentID string) (*AgentStatus, error) {
	return ac.do(ctx, agentID, mAgentGet, &pb.GetAgentRequest{})
}

// Answer is the outcome of accepting or rejecting an offer.
type Answer struct {
	State   *AgentStatus
	Contact *ActiveContact // the accepted contact
	// Duplicate is true when the offer had been accepted before.
	Duplicate bool
}

// Answer accepts or rejects an offer the agent holds. An offer that expired
// or was withdrawn fails with ErrFailedPrecondition; accepting twice returns
// the contact again with Duplicate set.
func (ac *AgentClient) Answer(ctx context.Context, agentID, offerID string, accept bool) (*Answer, error) {
	resp, err := invoke[*pb.AnswerResponse](ctx, ac.n, KindAgent, agentID, mAgentAnswer, &pb.AnswerRequest{OfferId: offerID, Accept: accept})
	if err != nil {
		return nil, err
	}
	a := &Answer{State: agentFromPB(resp.State), Duplicate: resp.Duplicate}
	if resp.Contact != nil {
		c := activeFromPB(resp.Contact)
		a.Contact = &c
	}
	return a, nil
}

// Finish ends the agent's contact (the call ended); wrap-up follows.
// Finishing a contact the agent no longer has changes nothing.
func (ac *AgentClient) Finish(ctx context.Context, agentID, contactID, reason string) (*AgentStatus, error) {
	return ac.do(ctx, agentID, mAgentFinish, &pb.FinishRequest{ContactId: contactID, Reason: reason})
}

// EndWrapUp ends the agent's wrap-up before its time.
func (ac *AgentClient) EndWrapUp(ctx context.Context, agentID string) (*AgentStatus, error) {
	return ac.do(ctx, agentID, mAgentEndWrapUp, &pb.EndWrapUpRequest{})
}

// QueueClient talks to Queue grains (see CallClient for retries and errors).
type QueueClient struct{ n *Node }

// WaitingContact is a contact to enqueue or waiting in a queue.
type WaitingContact struct {
	ContactID  string
	CallID     string
	EnqueuedAt time.Time // zero: now; earlier keeps an earlier place
	Summary    string    // hand-off summary (JSON) the agent gets with the offer
	Attrs      map[string]string
	Sentiment  float64
	Callback   bool
	Queue      string // the queue it is in now (after overflow)
}

func waitingFromPB(c *pb.QueuedContact) WaitingContact {
	return WaitingContact{ContactID: c.ContactId, CallID: c.CallId, EnqueuedAt: fromNanos(c.EnqueuedAt), Summary: c.Summary,
		Attrs: c.Attrs, Sentiment: c.Sentiment, Callback: c.Callback, Queue: c.QueueId}
}

// QueuePosition is where a contact is: Position counts from 1 (next to be
// served) and is 0 when it is not waiting (offered, connected or gone).
type QueuePosition struct {
	Position int
	Waiting  int
	EWT      time.Duration // estimated wait (position × AHT / staffed)
	Staffed  int
	State    string // queued, offered, connected, gone
	AgentID  string
	Callback bool
	// Already is true when Enqueue found the contact in the queue.
	Already bool
}

func positionFromPB(r *pb.PositionResponse) QueuePosition {
	return QueuePosition{Position: int(r.Position), Waiting: int(r.Waiting), EWT: time.Duration(r.EwtMs) * time.Millisecond,
		Staffed: int(r.Staffed), State: r.State, AgentID: r.AgentId, Callback: r.Callback}
}

// Enqueued is the outcome of Enqueue.
type Enqueued struct {
	QueuePosition
	Queued     bool   // false: a closed calendar's action applies
	Queue      string // the queue that took it
	AfterHours string // reject, voicemail, overflow, queue when a calendar was closed
}

// Enqueue adds the contact to the queue (idempotent by ContactID) and
// returns its place. An unknown queue is store.ErrNotFound.
func (qc *QueueClient) Enqueue(ctx context.Context, queueID string, c WaitingContact) (Enqueued, error) {
	return qc.enqueue(ctx, queueID, c, nil)
}

func (qc *QueueClient) enqueue(ctx context.Context, queueID string, c WaitingContact, waiter *pb.Subscriber) (Enqueued, error) {
	resp, err := invoke[*pb.EnqueueResponse](ctx, qc.n, KindQueue, queueID, mQueueEnqueue, &pb.EnqueueRequest{Contact: &pb.QueuedContact{
		ContactId: c.ContactID, CallId: c.CallID, EnqueuedAt: nanos(c.EnqueuedAt), Summary: c.Summary, Attrs: c.Attrs,
		Sentiment: c.Sentiment, Callback: c.Callback, Waiter: waiter,
	}})
	if err != nil {
		return Enqueued{}, err
	}
	e := Enqueued{Queued: resp.Queued, Queue: resp.QueueId, AfterHours: resp.AfterHours}
	e.Position, e.Waiting, e.Already = int(resp.Position), int(resp.Waiting), resp.Already
	e.EWT, e.Staffed = time.Duration(resp.EwtMs)*time.Millisecond, int(resp.Staffed)
	e.State = "queued"
	if e.Position == 0 {
		e.State = "offered"
	}
	return e, nil
}

// Abandon removes a contact whose caller hung up while waiting or being
// offered (counted as abandoned); found is false when it was not there.
func (qc *QueueClient) Abandon(ctx context.Context, queueID, contactID string) (found bool, err error) {
	resp, err := invoke[*pb.AbandonResponse](ctx, qc.n, KindQueue, queueID, mQueueAbandon, &pb.AbandonRequest{ContactId: contactID})
	if err != nil {
		return false, err
	}
	return resp.Found, nil
}

// Position returns where contactID is and its estimated wait.
func (qc *QueueClient) Position(ctx context.Context, queueID, contactID string) (QueuePosition, error) {
	resp, err := invoke[*pb.PositionResponse](ctx, qc.n, KindQueue, queueID, mQueuePosition, &pb.PositionRequest{ContactId: contactID})
	if err != nil {
		return QueuePosition{}, err
	}
	return positionFromPB(resp), nil
}

// Callback turns a waiting contact into a callback that keeps its place: the
// caller may hang up; the agent calls back when it reaches the head.
func (qc *QueueClient) Callback(ctx context.Context, queueID, contactID string) (QueuePosition, error) {
	resp, err := invoke[*pb.PositionResponse](ctx, qc.n, KindQueue, queueID, mQueueCallback, &pb.CallbackRequest{ContactId: contactID})
	if err != nil {
		return QueuePosition{}, err
	}
	return positionFromPB(resp), nil
}

// SetSentiment updates a waiting contact's sentiment (priority rules may
// move it up).
func (qc *QueueClient) SetSentiment(ctx context.Context, queueID, contactID string, sentiment float64) (QueuePosition, error) {
	resp, err := invoke[*pb.PositionResponse](ctx, qc.n, KindQueue, queueID, mQueueSetSentiment, &pb.SentimentRequest{ContactId: contactID, Sentiment: sentiment})
	if err != nil {
		return QueuePosition{}, err
	}
	return positionFromPB(resp), nil
}

// Reconcile clears the contacts in dead (their calls are gone) and returns
// those the queue held.
func (qc *QueueClient) Reconcile(ctx context.Context, queueID string, dead []string) ([]string, error) {
	resp, err := invoke[*pb.ReconcileResponse](ctx, qc.n, KindQueue, queueID, mQueueReconcile, &pb.ReconcileRequest{Dead: dead})
	if err != nil {
		return nil, err
	}
	return resp.Cleared, nil
}

// QueueContact is one live contact in QueueStats.
type QueueContact struct {
	ContactID string            `json:"contact_id"`
	CallID    string            `json:"call_id,omitempty"`
	State     string            `json:"state"` // queued, offered, connected
	Position  int               `json:"position,omitempty"`
	EWT       time.Duration     `json:"-"`
	EWTSecs   float64           `json:"ewt_secs"`
	Waited    time.Duration     `json:"-"`
	WaitSecs  float64           `json:"waited_secs"`
	AgentID   string            `json:"agent_id,omitempty"`
	OfferID   string            `json:"offer_id,omitempty"`
	Attrs     map[string]string `json:"attrs,omitempty"`
	Callback  bool              `json:"callback,omitempty"`
}

// QueueStats are a queue's live contacts and its counters since the Queue
// grain's activation (see routing.Metrics for the definitions).
type QueueStats struct {
	Queue        string
	Contacts     []QueueContact
	Waiting      int
	Staffed      int
	Idle         int // available agents a new contact would be offered to at once
	Offered      int // contacts that entered the queue
	Answered     int
	AnsweredInSL int
	Abandoned    int
	Overflowed   int
	Completed    int
	TotalWait    time.Duration
	AHT          time.Duration
	Threshold    time.Duration // service-level threshold
	Since        time.Time
}

// Stats returns the queue's live contacts and counters.
func (qc *QueueClient) Stats(ctx context.Context, queueID string) (*QueueStats, error) {
	r, err := invoke[*pb.QueueStats](ctx, qc.n, KindQueue, queueID, mQueueStats, &pb.QueueStatsRequest{})
	if err != nil {
		return nil, err
	}
	s := &QueueStats{Queue: r.QueueId, Waiting: int(r.Waiting), Staffed: int(r.Staffed), Idle: int(r.Idle), Offered: int(r.Offered), Answered: int(r.Answered),
		AnsweredInSL: int(r.AnsweredInSl), Abandoned: int(r.Abandoned), Overflowed: int(r.Overflowed), Completed: int(r.Completed),
		TotalWait: time.Duration(r.WaitMsTotal) * time.Millisecond, AHT: time.Duration(r.AhtMs) * time.Millisecond,
		Threshold: time.Duration(r.ServiceLevelMs) * time.Millisecond, Since: fromNanos(r.Since), Contacts: []QueueContact{}}
	for _, e := range r.Contacts {
		c := QueueContact{ContactID: e.ContactId, CallID: e.CallId, State: e.State, Position: int(e.Position),
			EWT: time.Duration(e.EwtMs) * time.Millisecond, Waited: time.Duration(e.WaitedMs) * time.Millisecond,
			AgentID: e.AgentId, OfferID: e.OfferId, Attrs: e.Attrs, Callback: e.Callback}
		c.EWTSecs, c.WaitSecs = c.EWT.Seconds(), c.Waited.Seconds()
		s.Contacts = append(s.Contacts, c)
	}
	return s, nil
}

// List returns the contacts the queue would restore, in service order.
func (qc *QueueClient) List(ctx context.Context, queueID string) ([]WaitingContact, error) {
	resp, err := invoke[*pb.QueueState](ctx, qc.n, KindQueue, queueID, mQueueList, &pb.ListQueueRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]WaitingContact, len(resp.Waiting))
	for i, c := range resp.Waiting {
		out[i] = waitingFromPB(c)
	}
	return out, nil
}

// CampaignClient talks to Campaign grains (see CallClient for retries and
// errors).
type CampaignClient struct{ n *Node }

// CampaignStatus is a campaign's run state.
type CampaignStatus struct {
	CampaignID string
	State      string // store.CampaignDraft, CampaignRunning, CampaignPaused, CampaignStopped
	Reason     string
	StartedAt  time.Time
	StoppedAt  time.Time
	UpdatedAt  time.Time
}

func (cc *CampaignClient) do(ctx context.Context, id string, method int32, req proto.Message) (*CampaignStatus, error) {
	s, err := invoke[*pb.CampaignState](ctx, cc.n, KindCampaign, id, method, req)
	if err != nil {
		return nil, err
	}
	return &CampaignStatus{
		CampaignID: s.CampaignId, State: s.State, Reason: s.Reason,
		StartedAt: fromNanos(s.StartedAt), StoppedAt: fromNanos(s.StoppedAt), UpdatedAt: fromNanos(s.UpdatedAt),
	}, nil
}

// Start runs a draft or paused campaign; a stopped one fails with
// ErrFailedPrecondition.
func (cc *CampaignClient) Start(ctx context.Context, campaignID string) (*CampaignStatus, error) {
	return cc.do(ctx, campaignID, mCampaignStart, &pb.StartCampaignRequest{})
}

// Pause pauses a running campaign.
func (cc *CampaignClient) Pause(ctx context.Context, campaignID, reason string) (*CampaignStatus, error) {
	return cc.do(ctx, campaignID, mCampaignPause, &pb.PauseCampaignRequest{Reason: reason})
}

// Stop ends the campaign for good.
func (cc *CampaignClient) Stop(ctx context.Context, campaignID, reason string) (*CampaignStatus, error) {
	return cc.do(ctx, campaignID, mCampaignStop, &pb.StopCampaignRequest{Reason: reason})
}

// Status returns the campaign's run state (draft if never started).
func (cc *CampaignClient) Status(ctx context.Context, campaignID string) (*CampaignStatus, error) {
	return cc.do(ctx, campaignID, mCampaignStatus, &pb.CampaignStatusRequest{})
}

// Unstaffed reports that no available agent can serve the queue now (the
// estimate then assumes one).
func (p QueuePosition) Unstaffed() bool { return p.Staffed == 0 }
