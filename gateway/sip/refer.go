package sip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// remoteTarget is the peer's Contact URI, where in-dialog requests go.
func (c *Call) remoteTarget() (siplib.Uri, error) {
	var contact *siplib.ContactHeader
	if c.uas != nil {
		contact = c.uas.InviteRequest.Contact()
	} else if c.uac != nil && c.uac.InviteResponse != nil {
		contact = c.uac.InviteResponse.Contact()
	}
	if contact == nil {
		return siplib.Uri{}, errors.New("peer sent no Contact")
	}
	return *contact.Address.Clone(), nil
}

func (c *Call) do(ctx context.Context, method siplib.RequestMethod, headers []siplib.Header, contentType string, body []byte) (*siplib.Response, error) {
	target, err := c.remoteTarget()
	if err != nil {
		return nil, err
	}
	req := siplib.NewRequest(method, target)
	for _, h := range headers {
		req.AppendHeader(h)
	}
	if contentType != "" {
		req.AppendHeader(siplib.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	return c.dialog().Do(ctx, req)
}

// Transfer blind-transfers the peer to target with REFER and waits for the NOTIFY that
// reports the outcome; on success the gateway leaves the call.
func (c *Call) Transfer(ctx context.Context, target string) error {
	var uri siplib.Uri
	if err := siplib.ParseUri(target, &uri); err != nil {
		return fmt.Errorf("transfer target %q: %w", target, err)
	}
	for len(c.referResult) > 0 {
		<-c.referResult
	}
	res, err := c.do(ctx, siplib.REFER, []siplib.Header{
		&siplib.ReferToHeader{Address: uri},
		siplib.NewHeader("Referred-By", "<"+c.contact.Address.String()+">"),
	}, "", nil)
	if err != nil {
		return fmt.Errorf("transfer to %q: REFER: %w", target, err)
	}
	if res.StatusCode != 202 && res.StatusCode != 200 {
		return fmt.Errorf("transfer to %q: %w", target, &DialError{StatusCode: res.StatusCode, Reason: res.Reason})
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("transfer to %q: waiting for NOTIFY: %w", target, ctx.Err())
		case <-c.done:
			return fmt.Errorf("transfer to %q: call ended before the outcome was reported", target)
		case frag := <-c.referResult:
			code, reason := parseSipfrag(frag)
			if code < 200 {
				continue
			}
			if code >= 300 {
				return fmt.Errorf("transfer to %q: %w", target, &DialError{StatusCode: code, Reason: reason})
			}
			c.endCtx(ctx, BySystem, "transferred", true)
			return nil
		}
	}
}

// parseSipfrag reads "SIP/2.0 200 OK" from a message/sipfrag body.
func parseSipfrag(body string) (int, string) {
	line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	parts := strings.SplitN(strings.TrimSpace(line), " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "SIP/") {
		return 0, ""
	}
	code, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, ""
	}
	reason := ""
	if len(parts) == 3 {
		reason = parts[2]
	}
	return code, reason
}

// readNotify takes refer-event NOTIFYs that report a transfer's progress.
func (c *Call) readNotify(req *siplib.Request) {
	if ev := req.GetHeader("Event"); ev == nil || !strings.HasPrefix(strings.TrimSpace(ev.Value()), "refer") {
		return
	}
	select {
	case c.referResult <- string(req.Body()):
	default:
	}
}

func (c *Call) notifyRefer(ctx context.Context, frag string, final bool) {
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	res, err := c.do(ctx, siplib.NOTIFY, []siplib.Header{
		siplib.NewHeader("Event", "refer"),
		siplib.NewHeader("Subscription-State", state),
	}, "message/sipfrag;version=2.0", []byte(frag+"\r\n"))
	if err != nil {
		c.srv.log.Warn("sip: NOTIFY for REFER failed", "call_id", c.id, "error", err)
		return
	}
	if res.StatusCode >= 300 {
		c.srv.log.Warn("sip: NOTIFY for REFER rejected", "call_id", c.id, "status", res.StatusCode)
	}
}

// onRefer accepts a blind transfer from the peer: it dials the Refer-To target,
// reports progress with NOTIFY, and gives the new leg the call's application.
func (s *Server) onRefer(req *siplib.Request, tx siplib.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		s.reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if !c.acceptCSeq(req) {
		s.reply(tx, req, 500, "Server Internal Error")
		return
	}
	referTo := req.ReferTo()
	if referTo == nil {
		s.reply(tx, req, 400, "Bad Request", siplib.NewHeader("Warning", fmt.Sprintf("399 %s \"missing Refer-To\"", s.publicIP)))
		return
	}
	target := referTo.Address
	target.Headers = nil // Replaces and other embedded headers are not supported
	s.reply(tx, req, 202, "Accepted")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// The referrer may hang up as soon as it has the 202: the new leg must not depend on its dialog.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c.notifyRefer(ctx, "SIP/2.0 100 Trying", false)
		leg, err := s.Dial(ctx, target.String(), DialOptions{Party: ByCaller, App: c.app})
		if err != nil {
			frag := "SIP/2.0 503 Service Unavailable"
			var de *DialError
			if errors.As(err, &de) {
				frag = fmt.Sprintf("SIP/2.0 %d %s", de.StatusCode, de.Reason)
			}
			s.log.Info("sip: transfer requested by peer failed", "call_id", c.id, "target", target.String(), "error", err)
			c.notifyRefer(ctx, frag, true)
			return
		}
		s.log.Info("sip: transfer requested by peer answered", "call_id", c.id, "new_call_id", leg.id, "target", target.String())
		c.notifyRefer(ctx, "SIP/2.0 200 OK", true)
	}()
}
