package routing

import "math/rand/v2"

// contactHeap is a binary heap of waiting contacts, best first, that knows
// each contact's position so a contact can leave from anywhere in O(log n).
type contactHeap struct{ items []*contact }

func (h *contactHeap) len() int           { return len(h.items) }
func (h *contactHeap) top() *contact      { return h.items[0] }
func (h *contactHeap) less(i, j int) bool { return contactBefore(h.items[i], h.items[j]) }

func (h *contactHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIdx = i
	h.items[j].heapIdx = j
}

func (h *contactHeap) push(c *contact) {
	c.heapIdx = len(h.items)
	h.items = append(h.items, c)
	h.up(c.heapIdx)
}

func (h *contactHeap) remove(c *contact) {
	i := c.heapIdx
	n := len(h.items) - 1
	if i != n {
		h.swap(i, n)
	}
	h.items[n] = nil
	h.items = h.items[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	c.heapIdx = -1
}

func (h *contactHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *contactHeap) down(i int) bool {
	start := i
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

// agentPool holds the available agents of one queue step in the order of the
// queue's strategy.
type agentPool interface {
	add(m *member)
	remove(m *member)
	best(rng *rand.Rand) *member
	size() int
	each(func(*member))
}

// heapPool orders members by a strategy's comparison.
type heapPool struct {
	items []*member
	less  func(a, b *member) bool
}

func (h *heapPool) size() int { return len(h.items) }

func (h *heapPool) best(*rand.Rand) *member {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0]
}

func (h *heapPool) each(f func(*member)) {
	for _, m := range h.items {
		f(m)
	}
}

func (h *heapPool) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].pos = i
	h.items[j].pos = j
}

func (h *heapPool) add(m *member) {
	m.pos = len(h.items)
	h.items = append(h.items, m)
	h.up(m.pos)
}

func (h *heapPool) remove(m *member) {
	i := m.pos
	n := len(h.items) - 1
	if i != n {
		h.swap(i, n)
	}
	h.items[n] = nil
	h.items = h.items[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	m.pos = -1
}

func (h *heapPool) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.items[i], h.items[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *heapPool) down(i int) bool {
	start := i
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(h.items[r], h.items[l]) {
			m = r
		}
		if !h.less(h.items[m], h.items[i]) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

// randomPool picks a member at random with weight 1 + its skill score, by
// rejection sampling: O(1) expected, since weights are within a known bound.
type randomPool struct {
	items     []*member
	maxWeight int
}

func (p *randomPool) size() int { return len(p.items) }

func (p *randomPool) each(f func(*member)) {
	for _, m := range p.items {
		f(m)
	}
}

func (p *randomPool) add(m *member) {
	m.pos = len(p.items)
	p.items = append(p.items, m)
}

func (p *randomPool) remove(m *member) {
	i, n := m.pos, len(p.items)-1
	p.items[i] = p.items[n]
	p.items[i].pos = i
	p.items[n] = nil
	p.items = p.items[:n]
	m.pos = -1
}

func (p *randomPool) best(rng *rand.Rand) *member {
	n := len(p.items)
	if n == 0 {
		return nil
	}
	for range 64 {
		m := p.items[rng.IntN(n)]
		if rng.IntN(p.maxWeight) < 1+m.score {
			return m
		}
	}
	// Rejection kept failing (all weights small): draw exactly in O(n).
	total := 0
	for _, m := range p.items {
		total += 1 + m.score
	}
	r := rng.IntN(total)
	for _, m := range p.items {
		r -= 1 + m.score
		if r < 0 {
			return m
		}
	}
	return p.items[n-1]
}

// timerKind says what a timer does when it fires.
type timerKind uint8

const (
	timerStep timerKind = iota
	timerOverflow
	timerOffer
	timerWrapUp
	timerHold
)

// timer is a deadline; gen guards against timers made stale by later changes.
type timer struct {
	at   int64
	seq  uint64
	kind timerKind
	step int
	gen  uint32
	c    *contact
	o    *offer
	a    *agent
}

type timerHeap struct{ items []timer }

func (h *timerHeap) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (h *timerHeap) push(t timer) {
	h.items = append(h.items, t)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *timerHeap) pop() timer {
	t := h.items[0]
	n := len(h.items) - 1
	h.items[0] = h.items[n]
	h.items[n] = timer{}
	h.items = h.items[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return t
}

// positionTree is a treap of a queue's waiting contacts in service order with
// subtree sizes, so a contact's position is found in O(log n).
type positionTree struct{ root *contact }

func tsize(c *contact) int {
	if c == nil {
		return 0
	}
	return c.tsize
}

func tfix(c *contact) { c.tsize = 1 + tsize(c.tl) + tsize(c.tr) }

// split returns the nodes ordered before c and the rest.
func tsplit(t, c *contact) (*contact, *contact) {
	if t == nil {
		return nil, nil
	}
	if contactBefore(t, c) {
		l, r := tsplit(t.tr, c)
		t.tr = l
		tfix(t)
		return t, r
	}
	l, r := tsplit(t.tl, c)
	t.tl = r
	tfix(t)
	return l, t
}

func tmerge(a, b *contact) *contact {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if a.tprio > b.tprio {
		a.tr = tmerge(a.tr, b)
		tfix(a)
		return a
	}
	b.tl = tmerge(a, b.tl)
	tfix(b)
	return b
}

func (t *positionTree) insert(c *contact) {
	c.tl, c.tr, c.tsize = nil, nil, 1
	c.tprio = splitmix(c.seq)
	l, r := tsplit(t.root, c)
	t.root = tmerge(tmerge(l, c), r)
}

func (t *positionTree) delete(c *contact) {
	t.root = tdelete(t.root, c)
	c.tl, c.tr, c.tsize = nil, nil, 0
}

func tdelete(t, c *contact) *contact {
	if t == nil {
		return nil
	}
	if t == c {
		return tmerge(t.tl, t.tr)
	}
	if contactBefore(c, t) {
		t.tl = tdelete(t.tl, c)
	} else {
		t.tr = tdelete(t.tr, c)
	}
	tfix(t)
	return t
}

// rank is the number of contacts ordered before c.
func (t *positionTree) rank(c *contact) int {
	r := 0
	n := t.root
	for n != nil {
		switch {
		case n == c:
			return r + tsize(n.tl)
		case contactBefore(c, n):
			n = n.tl
		default:
			r += tsize(n.tl) + 1
			n = n.tr
		}
	}
	return -1
}

func (t *positionTree) size() int { return tsize(t.root) }

// splitmix gives treap priorities that are random-looking yet deterministic.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
