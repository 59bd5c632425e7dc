package desk

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/parley-cc/parley/actors"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/routing"
	"github.com/parley-cc/parley/routing/acd"
	"github.com/parley-cc/parley/store"
)

// QueueView is a queue for supervisors and desktops. Counters run since the
// Queue grain's activation (Since). Definitions (routing.Metrics):
// service level = answered within the threshold / (answered + abandoned);
// ASA = total wait of answered / answered; AHT = (talk + wrap-up) / handled;
// abandon rate = abandoned / (answered + abandoned).
type QueueView struct {
	Queue                 string                `json:"queue"`
	Waiting               int                   `json:"waiting"`
	Staffed               int                   `json:"staffed"`
	Offered               int                   `json:"offered"`
	Answered              int                   `json:"answered"`
	AnsweredInSL          int                   `json:"answered_in_sl"`
	Abandoned             int                   `json:"abandoned"`
	Overflowed            int                   `json:"overflowed"`
	Completed             int                   `json:"completed"`
	ServiceLevel          float64               `json:"service_level"`
	ServiceLevelThreshold float64               `json:"service_level_threshold_secs"`
	ASASecs               float64               `json:"asa_secs"`
	AHTSecs               float64               `json:"aht_secs"`
	AbandonRate           float64               `json:"abandon_rate"`
	LongestWaitSecs       float64               `json:"longest_wait_secs"`
	Since                 time.Time             `json:"since"`
	Contacts              []actors.QueueContact `json:"contacts"`
	// Staffing is the Erlang C view at the observed arrival rate and AHT,
	// once there is a minute of history with arrivals.
	Staffing *Staffing `json:"staffing,omitempty"`
}

// Staffing is an Erlang C (M/M/n, no abandonment) calculation.
type Staffing struct {
	ArrivalsPerHour  float64 `json:"arrivals_per_hour"`
	AHTSecs          float64 `json:"aht_secs"`
	LoadErlangs      float64 `json:"load_erlangs"`
	TargetSL         float64 `json:"target_service_level"`
	ThresholdSecs    float64 `json:"threshold_secs"`
	AgentsNeeded     int     `json:"agents_needed"`
	Agents           int     `json:"agents"` // the staffing the predictions are for
	PredictedSL      float64 `json:"predicted_service_level"`
	PredictedASASecs float64 `json:"predicted_asa_secs"`
	Occupancy        float64 `json:"occupancy"`
}

func queueConfig(svc *acd.Service, id string) routing.QueueConfig {
	for _, q := range svc.Config().Queues {
		if q.ID == id {
			return q
		}
	}
	return routing.QueueConfig{}
}

func viewOf(svc *acd.Service, st *actors.QueueStats, now time.Time) QueueView {
	v := QueueView{Queue: st.Queue, Waiting: st.Waiting, Staffed: st.Staffed, Offered: st.Offered, Answered: st.Answered,
		AnsweredInSL: st.AnsweredInSL, Abandoned: st.Abandoned, Overflowed: st.Overflowed, Completed: st.Completed,
		ServiceLevelThreshold: st.Threshold.Seconds(), AHTSecs: st.AHT.Seconds(), Since: st.Since, Contacts: st.Contacts}
	if ended := st.Answered + st.Abandoned; ended > 0 {
		v.ServiceLevel = float64(st.AnsweredInSL) / float64(ended)
		v.AbandonRate = float64(st.Abandoned) / float64(ended)
	}
	if st.Answered > 0 {
		v.ASASecs = (st.TotalWait / time.Duration(st.Answered)).Seconds()
	}
	for _, c := range st.Contacts {
		if c.State == "queued" {
			v.LongestWaitSecs = math.Max(v.LongestWaitSecs, c.WaitSecs)
		}
	}
	elapsed := now.Sub(st.Since)
	if elapsed >= time.Minute && st.Offered > 0 {
		aht := st.AHT
		if aht == 0 {
			aht = queueConfig(svc, st.Queue).HandleHint
		}
		if aht == 0 {
			aht = 5 * time.Minute
		}
		if s, err := staffing(float64(st.Offered)/elapsed.Hours(), aht, 0.8, thresholdOr(st.Threshold), st.Staffed); err == nil {
			v.Staffing = s
		}
	}
	return v
}

func thresholdOr(t time.Duration) time.Duration {
	if t <= 0 {
		return 20 * time.Second
	}
	return t
}

// staffing computes agents needed for target within threshold and what
// agents (or that number when agents is 0) would achieve.
func staffing(perHour float64, aht time.Duration, target float64, threshold time.Duration, agents int) (*Staffing, error) {
	m := routing.ErlangC{ArrivalsPerSecond: perHour / 3600, AHT: aht}
	need, err := m.AgentsFor(target, threshold)
	if err != nil {
		return nil, err
	}
	if agents <= 0 {
		agents = need
	}
	s := &Staffing{ArrivalsPerHour: perHour, AHTSecs: aht.Seconds(), LoadErlangs: m.Load(), TargetSL: target,
		ThresholdSecs: threshold.Seconds(), AgentsNeeded: need, Agents: agents,
		PredictedSL: m.ServiceLevel(agents, threshold), PredictedASASecs: m.ASA(agents).Seconds(), Occupancy: m.Occupancy(agents)}
	if math.IsInf(s.PredictedASASecs, 0) || math.IsNaN(s.PredictedASASecs) {
		s.PredictedASASecs = -1
	}
	return s, nil
}

// PresenceInput changes an agent's presence.
type PresenceInput struct {
	Presence string `json:"presence"` // available, break, logged_out
	Reason   string `json:"reason,omitempty"`
}

// HandoffInput hands a call to a queue (what the voicebot does in process).
type HandoffInput struct {
	CallID     string            `json:"call_id"`
	Queue      string            `json:"queue"`
	Reason     string            `json:"reason,omitempty"`
	Intent     string            `json:"intent,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Facts      map[string]string `json:"facts,omitempty"`
}

// HandoffView is the result of a hand-off.
type HandoffView struct {
	CallID       string  `json:"call_id"`
	ContactID    string  `json:"contact_id"`
	Queue        string  `json:"queue"`
	Queued       bool    `json:"queued"`
	AfterHours   string  `json:"after_hours,omitempty"`
	Position     int     `json:"position"`
	EWTSecs      float64 `json:"ewt_secs"`
	Announcement string  `json:"announcement"`
	Summary      any     `json:"summary"`
}

// PositionView is a contact's place in a queue.
type PositionView struct {
	Queue        string  `json:"queue"`
	ContactID    string  `json:"contact_id"`
	State        string  `json:"state"`
	Position     int     `json:"position"`
	Waiting      int     `json:"waiting"`
	EWTSecs      float64 `json:"ewt_secs"`
	Staffed      int     `json:"staffed"`
	AgentID      string  `json:"agent_id,omitempty"`
	Callback     bool    `json:"callback"`
	Announcement string  `json:"announcement"`
}

func positionView(q, c string, p actors.QueuePosition) PositionView {
	return PositionView{Queue: q, ContactID: c, State: p.State, Position: p.Position, Waiting: p.Waiting, EWTSecs: p.EWT.Seconds(),
		Staffed: p.Staffed, AgentID: p.AgentID, Callback: p.Callback, Announcement: acd.Announce(p)}
}

// OfferView is a pending offer.
type OfferView struct {
	Agent string       `json:"agent"`
	Offer actors.Offer `json:"offer"`
}

// apiError maps service and grain errors onto API errors.
func apiError(err error, what string) error {
	switch {
	case errors.Is(err, acd.ErrUnknownQueue), errors.Is(err, store.ErrNotFound):
		return httpapi.Error(http.StatusNotFound, "", "%s: %v", what, err)
	case errors.Is(err, actors.ErrInvalidArgument):
		return httpapi.Error(http.StatusBadRequest, "", "%s: %v", what, err)
	case errors.Is(err, actors.ErrFailedPrecondition):
		return httpapi.Error(http.StatusConflict, "", "%s: %v", what, err)
	default:
		return httpapi.Unavailable(1, "routing", err)
	}
}

// Routes are the routing API endpoints under /api/v1/routing and the
// desktop WebSocket.
func (d *Desk) Routes() []httpapi.Route {
	svc := d.o.Service
	ctxOf := func(r *http.Request) (context.Context, context.CancelFunc) {
		return context.WithTimeout(r.Context(), 10*time.Second)
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/routing/queues", OperationID: "listRoutingQueues", Tag: "routing",
			Summary: "Live queue statistics", Description: "Every configured queue: waiting contacts with positions and estimated waits, service level, ASA, AHT, abandonment and an Erlang C staffing view at the observed load.",
			Status: 200, Response: []QueueView{}, Errors: []int{503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := ctxOf(r)
				defer cancel()
				out := []QueueView{}
				for _, q := range svc.Queues() {
					st, err := svc.Stats(ctx, q)
					if err != nil {
						httpapi.WriteError(w, r, apiError(err, "queue "+q))
						return
					}
					out = append(out, viewOf(svc, st, time.Now()))
				}
				httpapi.WriteJSON(w, 200, out)
			}},
		{Method: "GET", Path: "/api/v1/routing/queues/{id}", OperationID: "getRoutingQueue", Tag: "routing",
			Summary: "One queue's live statistics", Status: 200, Response: QueueView{}, Errors: []int{404, 503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := ctxOf(r)
				defer cancel()
				st, err := svc.Stats(ctx, r.PathValue("id"))
				if err != nil {
					httpapi.WriteError(w, r, apiError(err, "queue "+r.PathValue("id")))
					return
				}
				httpapi.WriteJSON(w, 200, viewOf(svc, st, time.Now()))
			}},
		{Method: "GET", Path: "/api/v1/routing/queues/{id}/staffing", OperationID: "getRoutingStaffing", Tag: "routing",
			Summary: "Erlang C staffing for a queue", Description: "Agents needed to answer target of contacts within threshold seconds at arrivals_per_hour and aht_secs (defaults: the queue's observed values, target 0.8, the queue's service-level threshold), and what agents would achieve.",
			Query: []httpapi.Param{
				{Name: "arrivals_per_hour", Description: "offered contacts per hour", Schema: map[string]any{"type": "number"}},
				{Name: "aht_secs", Description: "average handle time in seconds", Schema: map[string]any{"type": "number"}},
				{Name: "target", Description: "service-level target in (0,1)", Schema: map[string]any{"type": "number"}},
				{Name: "threshold_secs", Description: "service-level threshold", Schema: map[string]any{"type": "number"}},
				{Name: "agents", Description: "staffing to predict for (default: agents needed)", Schema: map[string]any{"type": "integer"}},
			},
			Status: 200, Response: Staffing{}, Errors: []int{400, 404, 503},
			Handler: func(w http.ResponseWriter, r *http.Request) { d.staffingHandler(w, r) }},
		{Method: "GET", Path: "/api/v1/routing/queues/{id}/contacts/{contact}", OperationID: "getRoutingPosition", Tag: "routing",
			Summary: "A contact's position and estimated wait", Status: 200, Response: PositionView{}, Errors: []int{404, 503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := ctxOf(r)
				defer cancel()
				q, c := r.PathValue("id"), r.PathValue("contact")
				p, err := svc.Position(ctx, q, c)
				if err != nil {
					httpapi.WriteError(w, r, apiError(err, "position"))
					return
				}
				if p.State == "gone" {
					httpapi.WriteError(w, r, httpapi.Error(404, "contact", "contact %q is not in queue %q", c, q))
					return
				}
				httpapi.WriteJSON(w, 200, positionView(q, c, p))
			}},
		{Method: "POST", Path: "/api/v1/routing/queues/{id}/contacts/{contact}/callback", OperationID: "requestRoutingCallback", Tag: "routing",
			Summary: "Turn a waiting contact into a callback that keeps its place", Status: 200, Response: PositionView{}, Errors: []int{404, 409, 503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := ctxOf(r)
				defer cancel()
				q, c := r.PathValue("id"), r.PathValue("contact")
				p, err := svc.Callback(ctx, q, c)
				if err != nil {
					httpapi.WriteError(w, r, apiError(err, "callback"))
					return
				}
				httpapi.WriteJSON(w, 200, positionView(q, c, p))
			}},
		{Method: "POST", Path: "/api/v1/routing/handoffs", OperationID: "createRoutingHandoff", Tag: "routing",
			Summary: "Hand a call to a queue with a summary", Description: "Summarises the call's transcript (LLM when configured, otherwise extractive), records a handoff event and enqueues the call. The voicebot does the same in process through the routing service.",
			Request: HandoffInput{}, Status: 201, Response: HandoffView{}, Errors: []int{400, 404, 409, 503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				var in HandoffInput
				if err := httpapi.DecodeJSON(r, &in); err != nil {
					httpapi.WriteError(w, r, err)
					return
				}
				if in.CallID == "" {
					httpapi.WriteError(w, r, httpapi.Error(400, "call_id", "call_id is required"))
					return
				}
				if !svc.HasQueue(in.Queue) {
					httpapi.WriteError(w, r, httpapi.Error(404, "queue", "queue %q is not configured", in.Queue))
					return
				}
				ctx, cancel := ctxOf(r)
				defer cancel()
				t, err := svc.Handoff(ctx, acd.Request{CallID: in.CallID, Queue: in.Queue, Reason: in.Reason, Intent: in.Intent, Attributes: in.Attributes, Facts: in.Facts})
				if err != nil {
					httpapi.WriteError(w, r, apiError(err, "handoff"))
					return
				}
				t.Close() // the REST caller polls the position instead
				httpapi.WriteJSON(w, 201, HandoffView{CallID: t.CallID, ContactID: t.ContactID, Queue: t.Queue, Queued: t.Queued, AfterHours: t.AfterHours,
					Position: t.Initial.Position, EWTSecs: t.Initial.EWT.Seconds(), Announcement: acd.Announce(t.Initial), Summary: t.Summary})
			}},
		{Method: "GET", Path: "/api/v1/routing/agents", OperationID: "listRoutingAgents", Tag: "routing",
			Summary: "Agents with live presence, work state, offers and contacts", Status: 200, Response: []actors.AgentStatus{}, Errors: []int{503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := ctxOf(r)
				defer cancel()
				out, err := d.agents(ctx)
				if err != nil {
					httpapi.WriteError(w, r, apiError(err, "agents"))
					return
				}
				httpapi.WriteJSON(w, 200, out)
			}},
		{Method: "GET", Path: "/api/v1/routing/agents/{id}", OperationID: "getRoutingAgent", Tag: "routing",
			Summary: "One agent's live state", Status: 200, Response: actors.AgentStatus{}, Errors: []int{503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := ctxOf(r)
				defer cancel()
				st, err := svc.Agent(ctx, r.PathValue("id"))
				if err != nil {
					httpapi.WriteError(w, r, apiError(err, "agent"))
					return
				}
				httpapi.WriteJSON(w, 200, st)
			}},
		{Method: "PUT", Path: "/api/v1/routing/agents/{id}/presence", OperationID: "setRoutingPresence", Tag: "routing",
			Summary: "Change an agent's presence", Description: "available, break (reason must be one of the configured break_reasons) or logged_out (refused during a contact). Offers pending when leaving available go back to their queues at their places.",
			Request: PresenceInput{}, Status: 200, Response: actors.AgentStatus{}, Errors: []int{400, 404, 409, 503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				var in PresenceInput
				if err := httpapi.DecodeJSON(r, &in); err != nil {
					httpapi.WriteError(w, r, err)
					return
				}
				ctx, cancel := ctxOf(r)
				defer cancel()
				id := r.PathValue("id")
				if _, err := svc.Login(ctx, id); err != nil {
					httpapi.WriteError(w, r, apiError(err, "agent "+id))
					return
				}
				st, err := svc.SetPresence(ctx, id, in.Presence, in.Reason)
				if err != nil {
					httpapi.WriteError(w, r, apiError(err, "presence"))
					return
				}
				httpapi.WriteJSON(w, 200, st)
			}},
		{Method: "GET", Path: "/api/v1/routing/offers", OperationID: "listRoutingOffers", Tag: "routing",
			Summary: "Offers pending at agents", Status: 200, Response: []OfferView{}, Errors: []int{503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := ctxOf(r)
				defer cancel()
				agents, err := d.agents(ctx)
				if err != nil {
					httpapi.WriteError(w, r, apiError(err, "agents"))
					return
				}
				out := []OfferView{}
				for _, a := range agents {
					for _, o := range a.Offers {
						out = append(out, OfferView{Agent: a.AgentID, Offer: o})
					}
				}
				httpapi.WriteJSON(w, 200, out)
			}},
		{Method: "GET", Path: "/ws/agent", OperationID: "agentDesktopSocket", Tag: "routing",
			Summary: "Agent desktop WebSocket", Description: "Upgrade to a WebSocket delivering offers with hand-off summaries, queue stats, live transcript and assist suggestions; takes accept, reject, presence, finish and end_wrap_up messages (see routing/desk). Auth: token per agent when routing-agent-tokens is set, else loopback clients only.",
			Query: []httpapi.Param{
				{Name: "agent", Description: "agent id", Schema: map[string]any{"type": "string"}},
				{Name: "token", Description: "the agent's desktop token (or Authorization: Bearer)", Schema: map[string]any{"type": "string"}},
			},
			Status: 101, ResponseType: "application/json", Errors: []int{400, 404, 503},
			Handler: d.ServeHTTP},
	}
}

func (d *Desk) agents(ctx context.Context) ([]actors.AgentStatus, error) {
	svc := d.o.Service
	out := []actors.AgentStatus{}
	list, err := d.o.Store.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		st, err := svc.Agent(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, *st)
	}
	return out, nil
}

func (d *Desk) staffingHandler(w http.ResponseWriter, r *http.Request) {
	svc := d.o.Service
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	st, err := svc.Stats(ctx, id)
	if err != nil {
		httpapi.WriteError(w, r, apiError(err, "queue "+id))
		return
	}
	num := func(name string, def float64) (float64, error) {
		v := r.URL.Query().Get(name)
		if v == "" {
			return def, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, httpapi.Error(400, name, "%s must be a non-negative number, got %q", name, v)
		}
		return f, nil
	}
	observed := 0.0
	if el := time.Since(st.Since); el > 0 {
		observed = float64(st.Offered) / el.Hours()
	}
	aht := st.AHT
	if aht == 0 {
		aht = queueConfig(svc, id).HandleHint
	}
	if aht == 0 {
		aht = 5 * time.Minute
	}
	perHour, err1 := num("arrivals_per_hour", observed)
	ahtSecs, err2 := num("aht_secs", aht.Seconds())
	target, err3 := num("target", 0.8)
	thr, err4 := num("threshold_secs", thresholdOr(st.Threshold).Seconds())
	agents, err5 := num("agents", 0)
	for _, err := range []error{err1, err2, err3, err4, err5} {
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
	}
	if target <= 0 || target >= 1 {
		httpapi.WriteError(w, r, httpapi.Error(400, "target", "target must be in (0,1), got %v", target))
		return
	}
	if perHour == 0 || ahtSecs == 0 {
		httpapi.WriteError(w, r, httpapi.Error(400, "arrivals_per_hour", "no load: give arrivals_per_hour and aht_secs (none observed yet)"))
		return
	}
	s, err := staffing(perHour, time.Duration(ahtSecs*float64(time.Second)), target, time.Duration(thr*float64(time.Second)), int(agents))
	if err != nil {
		httpapi.WriteError(w, r, httpapi.Error(400, "", "staffing: %v", err))
		return
	}
	httpapi.WriteJSON(w, 200, s)
}
