package sip

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// portPool hands out even RTP ports from a range, binding each so no other process takes it.
type portPool struct {
	ip       netip.Addr
	min, max int

	mu   sync.Mutex
	next int
	used map[int]bool
}

func newPortPool(ip netip.Addr, min, max int) *portPool {
	if min%2 == 1 {
		min++
	}
	return &portPool{ip: ip, min: min, max: max, next: min, used: make(map[int]bool)}
}

// open binds a UDP socket on the next free even port of the range.
func (p *portPool) open() (*net.UDPConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	span := (p.max-p.min)/2 + 1
	for range span {
		port := p.next
		p.next += 2
		if p.next > p.max {
			p.next = p.min
		}
		if p.used[port] {
			continue
		}
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			continue // taken by another process: try the next one
		}
		p.used[port] = true
		return conn, nil
	}
	return nil, fmt.Errorf("no free RTP port in %d-%d", p.min, p.max)
}

// release returns a port taken by open; the caller closes the socket.
func (p *portPool) release(port int) {
	p.mu.Lock()
	delete(p.used, port)
	p.mu.Unlock()
}
