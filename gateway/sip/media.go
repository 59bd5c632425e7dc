package sip

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// callMedia is the RTP side of one call leg.
type callMedia interface {
	// LocalAddr is the bound RTP address.
	LocalAddr() netip.AddrPort
	// SetRemote points the stream at the peer's current SDP.
	SetRemote(m Media, a Agreement) error
	// Idle is the time since the last RTP packet arrived (since the start when none did).
	Idle() time.Duration
	Close() error
}

// socketMedia binds an RTP port and only watches for incoming packets.
type socketMedia struct {
	conn  *net.UDPConn
	pool  *portPool
	start time.Time
	last  atomic.Int64
}

func (s *Server) openMedia(c *Call) (callMedia, error) {
	conn, err := s.ports.open()
	if err != nil {
		return nil, err
	}
	m := &socketMedia{conn: conn, pool: s.ports, start: time.Now()}
	m.last.Store(m.start.UnixNano())
	go m.read()
	return m, nil
}

func (m *socketMedia) read() {
	buf := make([]byte, 1500)
	for {
		if _, _, err := m.conn.ReadFromUDPAddrPort(buf); err != nil {
			return
		}
		m.last.Store(time.Now().UnixNano())
	}
}

func (m *socketMedia) LocalAddr() netip.AddrPort {
	return m.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (m *socketMedia) SetRemote(Media, Agreement) error { return nil }

func (m *socketMedia) Idle() time.Duration { return time.Since(time.Unix(0, m.last.Load())) }

func (m *socketMedia) Close() error {
	port := int(m.LocalAddr().Port())
	err := m.conn.Close()
	m.pool.release(port)
	return err
}
