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
	mAgentSetWork     = methodIndex("Agent", "SetWork")
	mAgentSetSkills   = methodIndex("Agent", "SetSkills")
	mAgentGet         = methodIndex("Agent", "Get")

	mQueueEnqueue  = methodIndex("Queue", "Enqueue")
	mQueueDequeue  = methodIndex("Queue", "Dequeue")
	mQueuePosition = methodIndex("Queue", "Position")
	mQueueList     = methodIndex("Queue", "List")

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

// AgentStatus is an agent's live state.
type AgentStatus struct {
	AgentID       string
	Presence      string // PresenceLoggedOut, PresenceAvailable, PresenceBreak
	BreakReason   string
	WorkState     string // WorkIdle, WorkOffered, WorkOnContact, WorkWrapUp
	CallID        string
	Skills        []store.Skill
	Languages     []string
	Capacity      int
	PresenceSince time.Time
	WorkSince     time.Time
	UpdatedAt     time.Time
}

func agentFromPB(s *pb.AgentState) *AgentStatus {
	a := &AgentStatus{
		AgentID: s.AgentId, Presence: s.Presence, BreakReason: s.BreakReason, WorkState: s.WorkState,
		CallID: s.CallId, Languages: s.Languages, Capacity: int(s.Capacity),
		PresenceSince: fromNanos(s.PresenceSince), WorkSince: fromNanos(s.WorkSince), UpdatedAt: fromNanos(s.UpdatedAt),
	}
	for _, sk := range s.Skills {
		a.Skills = append(a.Skills, store.Skill{Name: sk.Name, Proficiency: int(sk.Proficiency)})
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
// reason); logging out during a contact fails with ErrFailedPrecondition.
func (ac *AgentClient) SetPresence(ctx context.Context, agentID, presence, reason string) (*AgentStatus, error) {
	return ac.do(ctx, agentID, mAgentSetPresence, &pb.SetPresenceRequest{Presence: presence, Reason: reason})
}

// SetWork sets the agent's work state; offered and on_contact need a call id.
func (ac *AgentClient) SetWork(ctx context.Context, agentID, workState, callID string) (*AgentStatus, error) {
	return ac.do(ctx, agentID, mAgentSetWork, &pb.SetWorkRequest{WorkState: workState, CallId: callID})
}

// SetSkills replaces the agent's skills snapshot and languages; capacity 0
// keeps the current capacity.
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

// QueueClient talks to Queue grains (see CallClient for retries and errors).
type QueueClient struct{ n *Node }

// WaitingContact is a contact waiting in a queue.
type WaitingContact struct {
	ContactID  string
	CallID     string
	Priority   int // higher is served first
	EnqueuedAt time.Time
	Summary    string
	Attrs      map[string]string
}

func waitingFromPB(c *pb.QueuedContact) WaitingContact {
	return WaitingContact{
		ContactID: c.ContactId, CallID: c.CallId, Priority: int(c.Priority),
		EnqueuedAt: fromNanos(c.EnqueuedAt), Summary: c.Summary, Attrs: c.Attrs,
	}
}

// QueuePosition is where a contact waits: Position counts from 1 (next to
// be served), 0 when not waiting; Waiting is the queue length.
type QueuePosition struct {
	Position int
	Waiting  int
	// Already is true when Enqueue found the contact waiting.
	Already bool
}

// Enqueue adds the contact (idempotent by ContactID) and returns its position.
func (qc *QueueClient) Enqueue(ctx context.Context, queueID string, c WaitingContact) (QueuePosition, error) {
	resp, err := invoke[*pb.EnqueueResponse](ctx, qc.n, KindQueue, queueID, mQueueEnqueue, &pb.EnqueueRequest{Contact: &pb.QueuedContact{
		ContactId: c.ContactID, CallId: c.CallID, Priority: int32(c.Priority),
		EnqueuedAt: nanos(c.EnqueuedAt), Summary: c.Summary, Attrs: c.Attrs,
	}})
	if err != nil {
		return QueuePosition{}, err
	}
	return QueuePosition{Position: int(resp.Position), Waiting: int(resp.Waiting), Already: resp.Already}, nil
}

// Dequeue removes contactID, or the next contact when contactID is empty;
// found is false when there was none.
func (qc *QueueClient) Dequeue(ctx context.Context, queueID, contactID string) (c WaitingContact, found bool, err error) {
	resp, err := invoke[*pb.DequeueResponse](ctx, qc.n, KindQueue, queueID, mQueueDequeue, &pb.DequeueRequest{ContactId: contactID})
	if err != nil || !resp.Found {
		return WaitingContact{}, false, err
	}
	return waitingFromPB(resp.Contact), true, nil
}

// Position returns where contactID waits.
func (qc *QueueClient) Position(ctx context.Context, queueID, contactID string) (QueuePosition, error) {
	resp, err := invoke[*pb.PositionResponse](ctx, qc.n, KindQueue, queueID, mQueuePosition, &pb.PositionRequest{ContactId: contactID})
	if err != nil {
		return QueuePosition{}, err
	}
	return QueuePosition{Position: int(resp.Position), Waiting: int(resp.Waiting)}, nil
}

// List returns the waiting contacts in service order.
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
