package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
)

// allowedMethods is what the gateway answers, sent in Allow headers.
const allowedMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, REFER, NOTIFY"

// Deps are the collaborators a Server needs.
type Deps struct {
	// Dialplan routes inbound calls (required).
	Dialplan Dialplan
	// Events receives call events (optional).
	Events Events
	// Agents enables the registrar for agents' phones (optional; without it REGISTER gets 405).
	Agents AgentDirectory
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server is the SIP gateway of one node: it answers inbound calls, places outbound ones and registers agents' phones.
type Server struct {
	cfg       Config
	deps      Deps
	log       *slog.Logger
	publicIP  netip.Addr
	ua        *sipgo.UserAgent
	srv       *sipgo.Server
	client    *sipgo.Client
	registrar *Registrar
	bindIP    net.IP // RTP sessions bind here
	codecs    []Codec

	ready    chan struct{}
	udpAddr  *net.UDPAddr
	tcpAddr  *net.TCPAddr
	dialogUA map[string]*sipgo.DialogUA // by transport, set before ready closes

	slots    atomic.Int64 // calls ringing or up, for the capacity check
	draining atomic.Bool
	mu       sync.Mutex
	calls    map[string]*Call // by dialog ID
	wg       sync.WaitGroup   // call goroutines
	stop     context.CancelFunc
	stopped  chan struct{}
}

// New builds a Server; call ListenAndServe to start it.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Dialplan == nil {
		return nil, errors.New("sip gateway: Deps.Dialplan is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Events == nil {
		deps.Events = EventsFunc(func(context.Context, Event) {})
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sip gateway config: Addr %q: %w", cfg.Addr, err)
	}
	public := cfg.PublicIP
	if public == "" {
		public = host
	}
	ip, err := netip.ParseAddr(public)
	if err != nil || !ip.Is4() || ip.IsUnspecified() {
		ip = netip.MustParseAddr("127.0.0.1")
	}
	s := &Server{
		cfg: cfg, deps: deps, log: deps.Logger.With("component", "sip"), publicIP: ip,
		codecs: []Codec{CodecPCMU, CodecPCMA},
		ready:  make(chan struct{}), stopped: make(chan struct{}),
		calls: make(map[string]*Call), dialogUA: make(map[string]*sipgo.DialogUA),
	}
	bindIP := netip.IPv4Unspecified()
	if h, err := netip.ParseAddr(host); err == nil && h.Is4() {
		bindIP = h
	}
	s.bindIP = net.IP(bindIP.AsSlice())
	dropped := newDropLog(s.log)
	s.ua, err = sipgo.NewUA(sipgo.WithUserAgent(cfg.UserAgent), sipgo.WithUserAgentHostname(ip.String()),
		sipgo.WithUserAgentTransportLayerOptions(siplib.WithTransportLayerLogger(dropped)),
		sipgo.WithUserAgentTransactionLayerOptions(siplib.WithTransactionLayerLogger(dropped)))
	if err != nil {
		return nil, fmt.Errorf("sip gateway: user agent: %w", err)
	}
	s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(s.log))
	if err != nil {
		return nil, fmt.Errorf("sip gateway: server: %w", err)
	}
	s.client, err = sipgo.NewClient(s.ua, sipgo.WithClientHostname(ip.String()), sipgo.WithClientLogger(s.log))
	if err != nil {
		return nil, fmt.Errorf("sip gateway: client: %w", err)
	}
	if deps.Agents != nil {
		s.registrar, err = NewRegistrar(cfg.Realm, deps.Agents, s.log)
		if err != nil {
			return nil, err
		}
		s.srv.OnRegister(func(req *siplib.Request, tx siplib.ServerTransaction) {
			s.registrar.ServeRegister(context.Background(), req, tx)
		})
	}
	s.srv.OnInvite(s.onInvite)
	s.srv.OnAck(s.onAck)
	s.srv.OnBye(s.onBye)
	s.srv.OnCancel(s.onCancel)
	s.srv.OnOptions(s.onOptions)
	s.srv.OnRefer(s.onRefer)
	s.srv.OnNotify(s.onNotify)
	return s, nil
}

// Registrar returns the registrar of agents' phones, nil when Deps.Agents was not set.
func (s *Server) Registrar() *Registrar { return s.registrar }

// ActiveCalls returns the number of calls ringing or up, for metrics.
func (s *Server) ActiveCalls() int { return int(s.slots.Load()) }

// Ready is closed once the listeners are bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the bound UDP address (TCP uses the same port), nil before Ready.
func (s *Server) Addr() *net.UDPAddr {
	select {
	case <-s.ready:
		return s.udpAddr
	default:
		return nil
	}
}

// TCPAddr returns the bound TCP address, nil before Ready.
func (s *Server) TCPAddr() *net.TCPAddr {
	select {
	case <-s.ready:
		return s.tcpAddr
	default:
		return nil
	}
}

// listen binds UDP and TCP on the same port, retrying when port 0 gave a UDP port whose TCP twin is taken.
func (s *Server) listen() (*net.UDPConn, *net.TCPListener, error) {
	addr, err := net.ResolveUDPAddr("udp4", s.cfg.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("sip gateway: resolve %q: %w", s.cfg.Addr, err)
	}
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenUDP("udp4", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("sip gateway: listen udp %s: %w", addr, err)
		}
		bound := udp.LocalAddr().(*net.UDPAddr)
		tcp, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: bound.IP, Port: bound.Port})
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if addr.Port != 0 || attempt >= 20 {
			return nil, nil, fmt.Errorf("sip gateway: listen tcp %s: %w", bound, err)
		}
	}
}

// ListenAndServe serves SIP on UDP and TCP at Config.Addr until ctx ends or Shutdown finishes.
func (s *Server) ListenAndServe(ctx context.Context) error {
	udp, tcp, err := s.listen()
	if err != nil {
		return err
	}
	s.udpAddr = udp.LocalAddr().(*net.UDPAddr)
	s.tcpAddr = tcp.Addr().(*net.TCPAddr)
	for _, transport := range []string{"udp", "tcp"} {
		contact := siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", User: "parley", Host: s.publicIP.String(), Port: s.udpAddr.Port}}
		if transport == "tcp" {
			contact.Address.UriParams = siplib.NewParams()
			contact.Address.UriParams.Add("transport", "tcp")
		}
		s.dialogUA[transport] = &sipgo.DialogUA{Client: s.client, ContactHDR: contact}
	}
	ctx, cancel := context.WithCancel(ctx)
	s.stop = cancel
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- s.srv.ServeUDP(udp) }()
	go func() { errc <- s.srv.ServeTCP(tcp) }()
	close(s.ready)
	s.log.Info("sip gateway listening", "udp", s.udpAddr, "tcp", s.tcpAddr, "max_calls", s.cfg.MaxCalls)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.hangupAll("shutdown")
	udp.Close()
	tcp.Close()
	s.wg.Wait()
	s.ua.Close()
	close(s.stopped)
	if serveErr != nil && !errors.Is(serveErr, net.ErrClosed) {
		return fmt.Errorf("sip gateway: serve: %w", serveErr)
	}
	return nil
}

// Drain makes new INVITEs get 503 with Retry-After while calls in flight go on.
func (s *Server) Drain() { s.draining.Store(true) }

// Shutdown stops accepting calls (new INVITEs get 503), waits for calls to end until ctx is done,
// then hangs up the rest with BYE and stops the listeners.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for s.ActiveCalls() > 0 {
		select {
		case <-ctx.Done():
			break wait
		case <-tick.C:
		}
	}
	remaining := s.ActiveCalls()
	if remaining > 0 {
		s.log.Info("sip gateway shutdown: hanging up calls", "calls", remaining)
	}
	s.hangupAll("shutdown")
	if s.stop != nil {
		s.stop()
		<-s.stopped
	}
	return nil
}

func (s *Server) hangupAll(reason string) {
	s.mu.Lock()
	calls := make([]*Call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.end(BySystem, reason, true)
		}()
	}
	wg.Wait()
}

func (s *Server) reserve() bool {
	if s.slots.Add(1) > int64(s.cfg.MaxCalls) {
		s.slots.Add(-1)
		return false
	}
	return true
}

func (s *Server) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	s.deps.Events.CallEvent(context.Background(), e)
}

func (s *Server) addCall(id string, c *Call) {
	s.mu.Lock()
	s.calls[id] = c
	s.mu.Unlock()
}

func (s *Server) removeCall(id string) {
	s.mu.Lock()
	delete(s.calls, id)
	s.mu.Unlock()
}

// findCall matches an in-dialog request to a call whether the gateway was UAS or UAC of the dialog.
func (s *Server) findCall(req *siplib.Request) *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, err := siplib.DialogIDFromRequestUAS(req); err == nil {
		if c, ok := s.calls[id]; ok {
			return c
		}
	}
	if id, err := siplib.DialogIDFromRequestUAC(req); err == nil {
		if c, ok := s.calls[id]; ok {
			return c
		}
	}
	return nil
}

func (s *Server) reply(tx siplib.ServerTransaction, req *siplib.Request, code int, reason string, headers ...siplib.Header) {
	res := siplib.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	respond(s.log, tx, res)
}

func (s *Server) onOptions(req *siplib.Request, tx siplib.ServerTransaction) {
	s.reply(tx, req, 200, "OK",
		siplib.NewHeader("Allow", allowedMethods),
		siplib.NewHeader("Accept", "application/sdp"),
		siplib.NewHeader("Supported", "replaces, norefersub"),
		siplib.NewHeader("Server", s.cfg.UserAgent))
}

func (s *Server) onCancel(req *siplib.Request, tx siplib.ServerTransaction) {
	// The transaction layer answers CANCELs that match a pending INVITE (200, then 487);
	// anything reaching this handler matches nothing.
	s.reply(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (s *Server) onNotify(req *siplib.Request, tx siplib.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		s.reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	s.reply(tx, req, 200, "OK")
	c.readNotify(req)
}

func (s *Server) onBye(req *siplib.Request, tx siplib.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		s.reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	var err error
	if c.uas != nil {
		err = c.uas.ReadBye(req, tx)
	} else {
		err = c.uac.ReadBye(req, tx)
	}
	if err != nil {
		s.log.Warn("sip: BYE rejected", "call_id", c.id, "error", err)
		s.reply(tx, req, 400, "Bad Request")
		return
	}
	c.end(c.remoteParty, "bye", false)
}

func (s *Server) onAck(req *siplib.Request, tx siplib.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		return // a stray ACK has no response
	}
	c.readAck(req, tx)
}

func userOf(req *siplib.Request) string { return req.Recipient.User }

func (s *Server) onInvite(req *siplib.Request, tx siplib.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.onReinvite(req, tx)
		return
	}
	if s.draining.Load() {
		s.log.Info("sip: INVITE refused while draining", "call_id", callIDOf(req))
		s.reply(tx, req, 503, "Service Unavailable", siplib.NewHeader("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds()))))
		s.missed(req, "", 503, DispositionBusy, "node draining")
		return
	}
	if !s.reserve() {
		s.reply(tx, req, 503, "Service Unavailable", siplib.NewHeader("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds()))))
		s.missed(req, "", 503, DispositionBusy, "node at capacity")
		return
	}
	released := false
	release := func() {
		if !released {
			released = true
			s.slots.Add(-1)
		}
	}
	c, err := s.answer(req, tx, release)
	if err != nil {
		release()
		s.log.Debug("sip: inbound call not answered", "call_id", callIDOf(req), "error", err)
		return
	}
	c.start()
}

// missed reports an inbound call that was never answered (see EventMissed).
func (s *Server) missed(req *siplib.Request, destination string, code int, disposition, reason string) {
	id := callIDOf(req)
	e := Event{Kind: EventMissed, CallID: CallRef(id), SIPCallID: id, Inbound: true, Destination: destination,
		Code: code, Disposition: disposition, Reason: reason}
	if f := req.From(); f != nil {
		e.From = f.Address.String()
	}
	if t := req.To(); t != nil {
		e.To = t.Address.String()
	}
	s.log.Info("sip: call missed", "call_id", e.CallID, "code", code, "disposition", disposition, "reason", reason)
	s.emit(e)
}

func callIDOf(req *siplib.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// answer routes, negotiates and answers an initial INVITE; on error it has already responded.
func (s *Server) answer(req *siplib.Request, tx siplib.ServerTransaction, release func()) (*Call, error) {
	ctx := context.Background()
	in := Inbound{CallID: callIDOf(req), User: userOf(req), Source: req.Source()}
	if f := req.From(); f != nil {
		in.From = f.Address.String()
	}
	if t := req.To(); t != nil {
		in.To = t.Address.String()
	}
	dest, err := s.deps.Dialplan.Route(ctx, in)
	if err != nil {
		switch {
		case errors.Is(err, ErrNoRoute):
			s.reply(tx, req, 404, "Not Found")
		case errors.Is(err, ErrUnavailable):
			s.reply(tx, req, 480, "Temporarily Unavailable")
			s.missed(req, in.User, 480, DispositionUnavailable, err.Error())
		default:
			s.log.Error("sip: dialplan failed", "user", in.User, "error", err)
			s.reply(tx, req, 500, "Server Internal Error")
			s.missed(req, in.User, 500, DispositionFailed, "dialplan: "+err.Error())
		}
		return nil, fmt.Errorf("route %q: %w", in.User, err)
	}
	var offer *Media
	var agreement Agreement
	if len(req.Body()) > 0 {
		if ct := req.ContentType(); ct != nil && !strings.EqualFold(strings.TrimSpace(strings.Split(ct.Value(), ";")[0]), "application/sdp") {
			s.reply(tx, req, 415, "Unsupported Media Type", siplib.NewHeader("Accept", "application/sdp"))
			return nil, fmt.Errorf("body type %q", ct.Value())
		}
		m, err := ParseSDP(req.Body())
		if err == nil {
			agreement, err = Negotiate(m, s.codecs)
		}
		if err != nil {
			code, reason := 488, "Not Acceptable Here"
			if errors.Is(err, ErrMalformedSDP) {
				code, reason = 400, "Bad Request"
			}
			s.reply(tx, req, code, reason, siplib.NewHeader("Warning", fmt.Sprintf("399 %s %q", s.publicIP, truncate(err.Error(), 200))))
			if code == 488 {
				s.missed(req, dest.Name, 488, DispositionNoCodec, err.Error())
			}
			return nil, fmt.Errorf("offer: %w", err)
		}
		offer = &m
	}
	transport := strings.ToLower(req.Transport())
	dua := s.dialogUA[transport]
	if dua == nil {
		dua = s.dialogUA["udp"]
	}
	dialog, err := dua.ReadInvite(req, tx)
	if err != nil {
		s.reply(tx, req, 400, "Bad Request", siplib.NewHeader("Warning", fmt.Sprintf("399 %s %q", s.publicIP, err.Error())))
		return nil, fmt.Errorf("read invite: %w", err)
	}
	respond(s.log, tx, siplib.NewResponseFromRequest(req, 100, "Trying", nil))
	c := newCall(s, dialog.ID, in.CallID, true, ByCaller)
	c.uas, c.from, c.to, c.destination, c.app, c.release = dialog, in.From, in.To, dest.Name, dest.App, release
	c.remoteCSeq = req.CSeq().SeqNo // ReadInvite has checked that CSeq is present
	s.addCall(dialog.ID, c)
	fail := func(code int, reason string, err error) (*Call, error) {
		s.removeCall(dialog.ID)
		if code > 0 {
			_ = dialog.Respond(code, reason, nil)
			s.missed(req, dest.Name, code, DispositionFailed, err.Error())
		} else if dialog.Context().Err() != nil {
			// The transaction layer answered the CANCEL (200) and the INVITE (487).
			s.missed(req, dest.Name, 487, DispositionCancelled, "caller cancelled while ringing")
		}
		dialog.Close()
		c.closeMedia()
		c.cancel()
		return nil, err
	}
	if err := dialog.Respond(180, "Ringing", nil); err != nil {
		return fail(0, "", fmt.Errorf("180: %w", err))
	}
	if err := c.openMedia(); err != nil {
		s.log.Error("sip: no media for call", "call_id", c.id, "error", err)
		return fail(503, "Service Unavailable", err)
	}
	if s.cfg.RingTime > 0 {
		select {
		case <-time.After(s.cfg.RingTime):
		case <-dialog.Context().Done():
			return fail(0, "", fmt.Errorf("caller cancelled while ringing: %w", context.Cause(dialog.Context())))
		}
	}
	var body []byte
	if offer != nil {
		body, err = c.setRemote(*offer, agreement, true)
	} else {
		body, err = c.localOffer()
	}
	if err != nil {
		return fail(500, "Server Internal Error", err)
	}
	res := siplib.NewSDPResponseFromRequest(dialog.InviteRequest, body)
	res.AppendHeader(siplib.NewHeader("Allow", allowedMethods))
	if err := dialog.WriteResponse(res); err != nil {
		// Cancelled before the 200, or no ACK within 64*T1.
		if dialog.LoadState() >= siplib.DialogStateEstablished {
			c.end(BySystem, "no ACK", true)
			return nil, fmt.Errorf("200 OK: %w", err)
		}
		return fail(0, "", fmt.Errorf("200 OK: %w", err))
	}
	if offer == nil {
		ackBody := c.takeAckBody()
		m, err := ParseSDP(ackBody)
		var a Agreement
		if err == nil {
			a, err = Negotiate(m, s.codecs)
		}
		if err == nil {
			_, err = c.setRemote(m, a, false)
		}
		if err != nil {
			s.log.Warn("sip: late-offer answer in ACK unusable", "call_id", c.id, "error", err)
			c.end(BySystem, "bad SDP answer in ACK", true)
			return nil, fmt.Errorf("ACK answer: %w", err)
		}
	}
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// onReinvite answers a target-refresh INVITE: hold, resume or a new media address.
func (s *Server) onReinvite(req *siplib.Request, tx siplib.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		s.reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if !c.acceptCSeq(req) {
		s.reply(tx, req, 500, "Server Internal Error", siplib.NewHeader("Retry-After", "1"))
		return
	}
	var body []byte
	var err error
	if len(req.Body()) == 0 {
		body, err = c.localOffer() // answer arrives in the ACK
		c.expectAckAnswer(true)
	} else {
		var m Media
		m, err = ParseSDP(req.Body())
		var a Agreement
		if err == nil {
			a, err = Negotiate(m, s.codecs)
		}
		if err != nil {
			code, reason := 488, "Not Acceptable Here"
			if errors.Is(err, ErrMalformedSDP) {
				code, reason = 400, "Bad Request"
			}
			s.reply(tx, req, code, reason, siplib.NewHeader("Warning", fmt.Sprintf("399 %s %q", s.publicIP, truncate(err.Error(), 200))))
			return
		}
		body, err = c.setRemote(m, a, true)
	}
	if err != nil {
		s.reply(tx, req, 500, "Server Internal Error")
		return
	}
	res := siplib.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(siplib.HeaderClone(&c.contact))
	res.AppendHeader(siplib.NewHeader("Allow", allowedMethods))
	c.respond2xx(tx, res)
}
