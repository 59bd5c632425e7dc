package routing

import (
	"fmt"
	"math"
	"time"
)

// ErlangC is the M/M/n queue (no abandonment) for a traffic of
// Arrivals per second and an average handle time AHT.
type ErlangC struct {
	ArrivalsPerSecond float64
	AHT               time.Duration
}

// Load is the offered traffic in Erlangs (arrival rate × AHT).
func (m ErlangC) Load() float64 { return m.ArrivalsPerSecond * m.AHT.Seconds() }

// erlangB is the blocking probability with n servers, by the stable recursion.
func erlangB(n int, a float64) float64 {
	b := 1.0
	for k := 1; k <= n; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b
}

// ProbWait is the probability that a contact waits at all (the Erlang C
// formula); 1 when n agents cannot carry the load.
func (m ErlangC) ProbWait(n int) float64 {
	a := m.Load()
	if float64(n) <= a {
		return 1
	}
	b := erlangB(n, a)
	return float64(n) * b / (float64(n) - a*(1-b))
}

// ServiceLevel is the fraction of contacts answered within t. Without
// abandonment every offered contact is answered, so "within t out of offered"
// and "within t out of answered" coincide: 1 - C·e^(-(n-A)t/AHT).
func (m ErlangC) ServiceLevel(n int, t time.Duration) float64 {
	a := m.Load()
	if float64(n) <= a {
		return 0
	}
	return 1 - m.ProbWait(n)*math.Exp(-(float64(n)-a)*t.Seconds()/m.AHT.Seconds())
}

// ASA is the average speed of answer over all contacts: C·AHT/(n-A).
func (m ErlangC) ASA(n int) time.Duration {
	a := m.Load()
	if float64(n) <= a {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(m.ProbWait(n) * m.AHT.Seconds() / (float64(n) - a) * float64(time.Second))
}

// Occupancy is the fraction of staffed time agents spend handling: A/n.
func (m ErlangC) Occupancy(n int) float64 { return math.Min(1, m.Load()/float64(n)) }

// AgentsFor is the fewest agents reaching service level target within t.
func (m ErlangC) AgentsFor(target float64, t time.Duration) (int, error) {
	if target <= 0 || target >= 1 || m.ArrivalsPerSecond <= 0 || m.AHT <= 0 {
		return 0, fmt.Errorf("erlang c: target %v must be in (0,1), arrivals and AHT positive: %w", target, ErrInvalidArgument)
	}
	for n := int(m.Load()) + 1; n < 1_000_000; n++ {
		if m.ServiceLevel(n, t) >= target {
			return n, nil
		}
	}
	return 0, fmt.Errorf("erlang c: no staffing below a million agents reaches %v: %w", target, ErrInvalidArgument)
}

// ErlangA is the M/M/n+M queue: Erlang C plus callers who abandon after an
// exponential patience with mean Patience.
type ErlangA struct {
	ArrivalsPerSecond float64
	AHT               time.Duration
	Patience          time.Duration
}

// ErlangAResult is the steady state of an Erlang A queue.
type ErlangAResult struct {
	ProbWait    float64 // arrivals that find all agents busy
	ProbAbandon float64 // arrivals that abandon
	// ServiceLevel is answered within T out of all offered (abandons count
	// against it, the usual contact-center definition).
	ServiceLevel float64
	// ServiceLevelAnswered is answered within T out of answered.
	ServiceLevelAnswered float64
	ASA                  time.Duration // mean wait of answered contacts
	AvgWait              time.Duration // mean wait of all arrivals, abandoned included
	Occupancy            float64       // carried load / n
}

// Solve computes the Erlang A measures for n agents and threshold t.
func (m ErlangA) Solve(n int, t time.Duration) (ErlangAResult, error) {
	if n <= 0 || m.ArrivalsPerSecond <= 0 || m.AHT <= 0 || m.Patience <= 0 {
		return ErlangAResult{}, fmt.Errorf("erlang a: agents, arrivals, AHT and patience must be positive: %w", ErrInvalidArgument)
	}
	lam, mu, th := m.ArrivalsPerSecond, 1/m.AHT.Seconds(), 1/m.Patience.Seconds()
	// Unnormalized stationary probabilities of the birth-death chain, in
	// log space so large n does not overflow.
	var logp []float64
	lp := 0.0
	logp = append(logp, 0)
	for k := 1; ; k++ {
		d := float64(min(k, n))*mu + float64(max(0, k-n))*th
		lp += math.Log(lam / d)
		logp = append(logp, lp)
		if k > n && lp < logp[n]-50 {
			break
		}
	}
	top := math.Inf(-1)
	for _, v := range logp {
		top = math.Max(top, v)
	}
	p := make([]float64, len(logp))
	sum := 0.0
	for k, v := range logp {
		p[k] = math.Exp(v - top)
		sum += p[k]
	}
	var r ErlangAResult
	var served, within, waitServed float64
	nm := float64(n) * mu
	for k := range p {
		p[k] /= sum
		if k < n {
			served += p[k]
			within += p[k]
			continue
		}
		r.ProbWait += p[k]
		s, w, in := taggedWait(k-n, nm, th, t.Seconds())
		served += p[k] * s
		waitServed += p[k] * w
		within += p[k] * in
	}
	r.ProbAbandon = 1 - served
	r.ServiceLevel = within
	r.ServiceLevelAnswered = within / served
	r.ASA = time.Duration(waitServed / served * float64(time.Second))
	lq := 0.0
	for k := n; k < len(p); k++ {
		lq += float64(k-n) * p[k]
	}
	r.AvgWait = time.Duration(lq / lam * float64(time.Second))
	r.Occupancy = lam * served / nm
	return r, nil
}

// taggedWait follows an arrival with j contacts ahead: it returns the
// probability it is served, E[wait; served], and P(served within t).
func taggedWait(j int, nm, th, t float64) (served, wait, within float64) {
	// Served probability and partial expectation by the recursion over the
	// number ahead; rate out of "m ahead" toward service is nm + m·th.
	s, w := nm/(nm+th), nm/(nm+th)/(nm+th)
	for m := 1; m <= j; m++ {
		r := nm + float64(m)*th
		out := r + th
		w = s/out + r/out*w
		s = r / out * s
	}
	// Within t: uniformization over the states j..0 plus "served".
	lam := nm + float64(j)*th + th
	v := make([]float64, j+2) // v[m] = P(m ahead), v[j+1] unused; served tracked apart
	v[j] = 1
	pois := math.Exp(-lam * t)
	if pois == 0 {
		// lam·t is large: the answer is the limit.
		return s, w, s
	}
	acc, servedMass := 0.0, 0.0
	limit := int(lam*t+10*math.Sqrt(lam*t)) + 20
	for i := 0; i <= limit; i++ {
		acc += pois * servedMass
		// One uniformized step.
		nv := make([]float64, j+1)
		for m := 0; m <= j; m++ {
			if v[m] == 0 {
				continue
			}
			adv := nm
			if m > 0 {
				adv = nm + float64(m)*th
			}
			stay := 1 - (adv+th)/lam
			nv[m] += v[m] * stay
			if m == 0 {
				servedMass += v[m] * adv / lam
			} else {
				nv[m-1] += v[m] * adv / lam
			}
		}
		copy(v, nv)
		pois *= lam * t / float64(i+1)
	}
	return s, w, acc
}

// AgentsFor is the fewest agents whose service level (answered within t out
// of offered) reaches target.
func (m ErlangA) AgentsFor(target float64, t time.Duration) (int, error) {
	if target <= 0 || target >= 1 {
		return 0, fmt.Errorf("erlang a: target %v must be in (0,1): %w", target, ErrInvalidArgument)
	}
	load := m.ArrivalsPerSecond * m.AHT.Seconds()
	for n := 1; n < int(load)*4+100; n++ {
		r, err := m.Solve(n, t)
		if err != nil {
			return 0, err
		}
		if r.ServiceLevel >= target {
			return n, nil
		}
	}
	return 0, fmt.Errorf("erlang a: no staffing up to %d agents reaches %v: %w", int(load)*4+100, target, ErrInvalidArgument)
}
