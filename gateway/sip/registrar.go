package sip

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// ErrUnknownAgent is returned by an AgentDirectory for a username it does not know.
var ErrUnknownAgent = errors.New("unknown agent")

// AgentDirectory looks up the SIP credentials of agents' phones; the username is the agent's extension.
type AgentDirectory interface {
	SIPPassword(ctx context.Context, username string) (string, error)
}

// AgentPasswords is an in-memory AgentDirectory keyed by extension.
type AgentPasswords map[string]string

// SIPPassword returns the password of username or ErrUnknownAgent.
func (p AgentPasswords) SIPPassword(_ context.Context, username string) (string, error) {
	pw, ok := p[username]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownAgent, username)
	}
	return pw, nil
}

// Binding is a registered contact of an agent's phone.
type Binding struct {
	Extension string
	// Contact is the phone's Contact URI, e.g. "sip:1001@192.0.2.10:5062".
	Contact string
	// Source is the address the REGISTER came from.
	Source    string
	Transport string
	Expires   time.Time
}

const (
	defaultExpiry = time.Hour
	minExpiry     = 60 * time.Second
	maxExpiry     = 2 * time.Hour
	nonceLifetime = 5 * time.Minute
)

// Registrar accepts REGISTER requests authenticated with HTTP digest (MD5, RFC 2617/7616) and keeps bindings.
type Registrar struct {
	realm  string
	agents AgentDirectory
	secret []byte
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	bindings map[string]map[string]Binding // extension -> contact URI -> binding
}

// NewRegistrar returns a registrar for realm that checks passwords in agents.
func NewRegistrar(realm string, agents AgentDirectory, log *slog.Logger) (*Registrar, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("registrar nonce secret: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Registrar{realm: realm, agents: agents, secret: secret, log: log, now: time.Now, bindings: make(map[string]map[string]Binding)}, nil
}

// Lookup returns the unexpired bindings of an extension, most recent expiry first.
func (r *Registrar) Lookup(extension string) []Binding {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Binding
	for contact, b := range r.bindings[extension] {
		if !b.Expires.After(now) {
			delete(r.bindings[extension], contact)
			continue
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Expires.After(out[j].Expires) })
	return out
}

// nonce is "unix-seconds.mac" so it can be checked without server-side state.
func (r *Registrar) nonce(t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return ts + "." + r.mac(ts)
}

func (r *Registrar) mac(ts string) string {
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte(ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// checkNonce reports whether the nonce is ours and whether it is still fresh.
func (r *Registrar) checkNonce(n string) (valid, fresh bool) {
	ts, mac, ok := strings.Cut(n, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(r.mac(ts))) {
		return false, false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false, false
	}
	return true, r.now().Sub(time.Unix(sec, 0)) < nonceLifetime
}

func (r *Registrar) challenge(req *siplib.Request, tx siplib.ServerTransaction, stale bool) {
	chal := digest.Challenge{Realm: r.realm, Nonce: r.nonce(r.now()), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	res := siplib.NewResponseFromRequest(req, siplib.StatusUnauthorized, "Unauthorized", nil)
	res.AppendHeader(siplib.NewHeader("WWW-Authenticate", chal.String()))
	respond(r.log, tx, res)
}

// authenticate returns the authenticated username, or "" after it has answered the request itself.
func (r *Registrar) authenticate(ctx context.Context, req *siplib.Request, tx siplib.ServerTransaction) string {
	h := req.GetHeader("Authorization")
	if h == nil {
		r.challenge(req, tx, false)
		return ""
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		respond(r.log, tx, siplib.NewResponseFromRequest(req, siplib.StatusBadRequest, "Bad Authorization header: "+err.Error(), nil))
		return ""
	}
	if cred.Realm != r.realm {
		r.challenge(req, tx, false)
		return ""
	}
	valid, fresh := r.checkNonce(cred.Nonce)
	if !valid {
		r.challenge(req, tx, false)
		return ""
	}
	if alg := strings.ToUpper(cred.Algorithm); alg != "" && alg != "MD5" {
		r.challenge(req, tx, false)
		return ""
	}
	password, err := r.agents.SIPPassword(ctx, cred.Username)
	if err != nil {
		if !errors.Is(err, ErrUnknownAgent) {
			r.log.Error("registrar: agent directory lookup failed", "user", cred.Username, "error", err)
			respond(r.log, tx, siplib.NewResponseFromRequest(req, siplib.StatusInternalServerError, "Agent directory unavailable", nil))
			return ""
		}
		respond(r.log, tx, siplib.NewResponseFromRequest(req, siplib.StatusForbidden, "Forbidden", nil))
		return ""
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Opaque: cred.Opaque, Algorithm: cred.Algorithm}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	want, err := digest.Digest(chal, digest.Options{
		Method: req.Method.String(), URI: cred.URI, Username: cred.Username, Password: password,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil || subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 {
		respond(r.log, tx, siplib.NewResponseFromRequest(req, siplib.StatusForbidden, "Forbidden", nil))
		return ""
	}
	if !fresh {
		r.challenge(req, tx, true)
		return ""
	}
	return cred.Username
}

// ServeRegister answers one REGISTER request.
func (r *Registrar) ServeRegister(ctx context.Context, req *siplib.Request, tx siplib.ServerTransaction) {
	user := r.authenticate(ctx, req, tx)
	if user == "" {
		return
	}
	if to := req.To(); to == nil || to.Address.User != user {
		respond(r.log, tx, siplib.NewResponseFromRequest(req, siplib.StatusForbidden, "To user does not match credentials", nil))
		return
	}
	defaultTTL := defaultExpiry
	if h := req.GetHeader("Expires"); h != nil {
		secs, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || secs < 0 {
			respond(r.log, tx, siplib.NewResponseFromRequest(req, siplib.StatusBadRequest, "Bad Expires header", nil))
			return
		}
		defaultTTL = time.Duration(secs) * time.Second
	}
	now := r.now()
	contacts := req.GetHeaders("Contact")
	r.mu.Lock()
	if r.bindings[user] == nil {
		r.bindings[user] = make(map[string]Binding)
	}
	for _, h := range contacts {
		c, ok := h.(*siplib.ContactHeader)
		if !ok {
			continue
		}
		if c.Address.Wildcard {
			if defaultTTL != 0 {
				r.mu.Unlock()
				respond(r.log, tx, siplib.NewResponseFromRequest(req, siplib.StatusBadRequest, "Wildcard Contact needs Expires: 0", nil))
				return
			}
			clear(r.bindings[user])
			continue
		}
		ttl := defaultTTL
		if v, ok := c.Params.Get("expires"); ok {
			secs, err := strconv.Atoi(v)
			if err != nil || secs < 0 {
				r.mu.Unlock()
				respond(r.log, tx, siplib.NewResponseFromRequest(req, siplib.StatusBadRequest, "Bad Contact expires parameter", nil))
				return
			}
			ttl = time.Duration(secs) * time.Second
		}
		uri := c.Address.String()
		if ttl == 0 {
			delete(r.bindings[user], uri)
			continue
		}
		if ttl < minExpiry {
			r.mu.Unlock()
			res := siplib.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
			res.AppendHeader(siplib.NewHeader("Min-Expires", strconv.Itoa(int(minExpiry.Seconds()))))
			respond(r.log, tx, res)
			return
		}
		ttl = min(ttl, maxExpiry)
		r.bindings[user][uri] = Binding{Extension: user, Contact: uri, Source: req.Source(), Transport: req.Transport(), Expires: now.Add(ttl)}
	}
	current := make([]Binding, 0, len(r.bindings[user]))
	for _, b := range r.bindings[user] {
		if b.Expires.After(now) {
			current = append(current, b)
		}
	}
	r.mu.Unlock()
	res := siplib.NewResponseFromRequest(req, siplib.StatusOK, "OK", nil)
	for _, b := range current {
		res.AppendHeader(siplib.NewHeader("Contact", fmt.Sprintf("<%s>;expires=%d", b.Contact, int(b.Expires.Sub(now).Seconds()))))
	}
	res.AppendHeader(siplib.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	respond(r.log, tx, res)
	r.log.Info("agent phone registered", "extension", user, "bindings", len(current))
}

func respond(log *slog.Logger, tx siplib.ServerTransaction, res *siplib.Response) {
	if err := tx.Respond(res); err != nil {
		log.Warn("sip: sending response failed", "status", res.StatusCode, "error", err)
	}
}

// uint64 helper used for SDP session ids.
func randomUint63() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 1
}
