package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"

	"github.com/parley-cc/parley/gateway/rtp/media"
)

// ErrAtCapacity is returned by Dial when the node already carries Config.MaxCalls calls.
var ErrAtCapacity = errors.New("sip gateway at capacity")

// DialError is a final non-2xx answer to an outbound INVITE, e.g. 486 Busy Here.
type DialError struct {
	StatusCode int
	Reason     string
}

func (e *DialError) Error() string {
	return fmt.Sprintf("call rejected: %d %s", e.StatusCode, e.Reason)
}

// DialOptions controls an outbound call.
type DialOptions struct {
	// CallerID is the From user (default Trunk.CallerID, else "parley"); DisplayName its display name.
	CallerID, DisplayName string
	// Party is who answers: ByAgent for agent legs, ByCaller (default) for customers; a hangup from them is reported with it.
	Party Party
	// App runs on the call once answered (optional).
	App media.Application
	// NoRecording skips the call recording, for legs recorded elsewhere (an agent leg is in the caller's recording).
	NoRecording bool
	// Headers are extra headers for the INVITE, e.g. "X-Campaign".
	Headers map[string]string
	// OnProgress is called with each provisional status (180, 183).
	OnProgress func(statusCode int)
}

// route turns a dial target into a request-URI, the address to send to and digest credentials.
func (s *Server) route(target string) (uri siplib.Uri, dest string, user, pass string, err error) {
	if strings.HasPrefix(target, "sip:") || strings.HasPrefix(target, "sips:") {
		if err := siplib.ParseUri(target, &uri); err != nil {
			return uri, "", "", "", fmt.Errorf("dial target %q: %w", target, err)
		}
		return uri, "", "", "", nil
	}
	if s.registrar != nil {
		if b := s.registrar.Lookup(target); len(b) > 0 {
			if err := siplib.ParseUri(b[0].Contact, &uri); err != nil {
				return uri, "", "", "", fmt.Errorf("binding of agent %q: %w", target, err)
			}
			return uri, "", "", "", nil
		}
	}
	t := s.cfg.Trunk
	if t.Host == "" {
		return uri, "", "", "", fmt.Errorf("%w: %q is not a SIP URI or registered agent and no trunk is configured", ErrNoRoute, target)
	}
	if err := siplib.ParseUri("sip:"+target+"@"+t.Host, &uri); err != nil {
		return uri, "", "", "", fmt.Errorf("dial target %q via trunk %q: %w", target, t.Host, err)
	}
	if t.Transport == "tcp" {
		uri.UriParams = siplib.NewParams()
		uri.UriParams.Add("transport", "tcp")
	}
	return uri, t.Proxy, t.Username, t.Password, nil
}

// Dial places an outbound call and returns it once answered; cancelling ctx before the answer sends CANCEL.
// target is a SIP URI, a registered agent's extension, or a number sent through Config.Trunk.
func (s *Server) Dial(ctx context.Context, target string, opts DialOptions) (*Call, error) {
	if s.Addr() == nil {
		return nil, errors.New("dial: server is not listening")
	}
	if s.draining.Load() {
		return nil, fmt.Errorf("dial %q: %w (shutting down)", target, ErrAtCapacity)
	}
	uri, dest, user, pass, err := s.route(target)
	if err != nil {
		return nil, err
	}
	if !s.reserve() {
		return nil, fmt.Errorf("dial %q: %w", target, ErrAtCapacity)
	}
	party := opts.Party
	if party == "" {
		party = ByCaller
	}
	callerID := opts.CallerID
	if callerID == "" {
		callerID = s.cfg.Trunk.CallerID
	}
	if callerID == "" {
		callerID = "parley"
	}
	transport := "udp"
	if tp, ok := uri.UriParams.Get("transport"); ok && strings.EqualFold(tp, "tcp") {
		transport = "tcp"
	}
	req := siplib.NewRequest(siplib.INVITE, uri)
	callID := siplib.CallIDHeader(newCallID())
	from := &siplib.FromHeader{DisplayName: opts.DisplayName, Address: siplib.Uri{Scheme: "sip", User: callerID, Host: s.publicIP.String(), Port: s.udpAddr.Port}, Params: siplib.NewParams()}
	from.Params.Add("tag", siplib.GenerateTagN(16))
	to := &siplib.ToHeader{Address: siplib.Uri{Scheme: uri.Scheme, User: uri.User, Host: uri.Host, Port: uri.Port}, Params: siplib.NewParams()}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(siplib.NewHeader("Allow", allowedMethods))
	req.AppendHeader(siplib.NewHeader("User-Agent", s.cfg.UserAgent))
	for k, v := range opts.Headers {
		req.AppendHeader(siplib.NewHeader(k, v))
	}
	req.SetTransport(strings.ToUpper(transport))
	if dest != "" {
		req.SetDestination(dest)
	}
	c := newCall(s, "", string(callID), false, party)
	c.from, c.to, c.destination, c.app = from.Address.String(), uri.String(), target, opts.App
	c.agentLeg, c.noRecording = party == ByAgent, opts.NoRecording
	c.release = func() { s.slots.Add(-1) }
	c.contact = s.dialogUA[transport].ContactHDR
	fail := func(err error) (*Call, error) {
		c.closeMedia()
		c.cancel()
		c.release()
		return nil, err
	}
	if err := c.openMedia(); err != nil {
		return fail(fmt.Errorf("dial %q: %w", target, err))
	}
	offer, err := c.localOffer()
	if err != nil {
		return fail(fmt.Errorf("dial %q: %w", target, err))
	}
	req.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	dialog, err := s.dialogUA[transport].WriteInvite(ctx, req)
	if err != nil {
		return fail(fmt.Errorf("dial %q: send INVITE: %w", target, err))
	}
	c.uac = dialog
	err = dialog.WaitAnswer(ctx, sipgo.AnswerOptions{
		Username: user, Password: pass,
		OnResponse: func(res *siplib.Response) error {
			if res.IsProvisional() && res.StatusCode > 100 && opts.OnProgress != nil {
				opts.OnProgress(res.StatusCode)
			}
			return nil
		},
	})
	if err != nil {
		dialog.Close()
		var rejected *sipgo.ErrDialogResponse
		if errors.As(err, &rejected) {
			return fail(fmt.Errorf("dial %q: %w", target, &DialError{StatusCode: rejected.Res.StatusCode, Reason: rejected.Res.Reason}))
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("dial %q: cancelled before answer: %w", target, ctx.Err()))
		}
		return fail(fmt.Errorf("dial %q: %w", target, err))
	}
	c.dialogID = dialog.ID
	s.addCall(dialog.ID, c)
	if err := dialog.Ack(ctx); err != nil {
		c.end(BySystem, "ACK failed", true)
		return nil, fmt.Errorf("dial %q: ACK: %w", target, err)
	}
	m, err := ParseSDP(dialog.InviteResponse.Body())
	var a Agreement
	if err == nil {
		a, err = Negotiate(m, s.codecs)
	}
	if err == nil {
		_, err = c.setRemote(m, a, false)
	}
	if err != nil {
		c.end(BySystem, "unusable SDP answer", true)
		return nil, fmt.Errorf("dial %q: answer: %w", target, err)
	}
	c.start()
	return c, nil
}

func newCallID() string {
	return fmt.Sprintf("%016x%016x@parley", randomUint63(), randomUint63())
}
