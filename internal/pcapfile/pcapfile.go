// Package pcapfile reads UDP datagrams out of classic libpcap capture files
// (Ethernet or Linux cooked, IPv4 or IPv6), enough to replay RTP captures in tests.
package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Datagram is one captured UDP datagram.
type Datagram struct {
	Time    time.Time
	Src     netip.AddrPort
	Dst     netip.AddrPort
	Payload []byte
}

const (
	linkEthernet = 1
	linkRaw      = 101
	linkLinuxSLL = 113
)

// ReadUDP parses a pcap stream and returns its UDP datagrams in capture order;
// packets that are not UDP over IP are skipped.
func ReadUDP(r io.Reader) ([]Datagram, error) {
	var gh [24]byte
	if _, err := io.ReadFull(r, gh[:]); err != nil {
		return nil, fmt.Errorf("pcap: global header: %w", err)
	}
	var bo binary.ByteOrder
	nano := false
	switch binary.LittleEndian.Uint32(gh[0:4]) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	case 0x4d3cb2a1:
		bo, nano = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("pcap: bad magic %x (pcapng is not supported)", gh[0:4])
	}
	link := bo.Uint32(gh[20:24])
	var out []Datagram
	for i := 0; ; i++ {
		var ph [16]byte
		if _, err := io.ReadFull(r, ph[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("pcap: record %d header: %w", i, err)
		}
		sec, frac, incl := bo.Uint32(ph[0:4]), bo.Uint32(ph[4:8]), bo.Uint32(ph[8:12])
		if incl > 1<<18 {
			return nil, fmt.Errorf("pcap: record %d claims %d bytes", i, incl)
		}
		data := make([]byte, incl)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("pcap: record %d data: %w", i, err)
		}
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		d, ok := parseFrame(link, data)
		if !ok {
			continue
		}
		d.Time = time.Unix(int64(sec), ns).UTC()
		out = append(out, d)
	}
}

func parseFrame(link uint32, b []byte) (Datagram, bool) {
	var ethType uint16
	switch link {
	case linkEthernet:
		if len(b) < 14 {
			return Datagram{}, false
		}
		ethType, b = binary.BigEndian.Uint16(b[12:14]), b[14:]
		if ethType == 0x8100 && len(b) >= 4 { // 802.1Q VLAN tag
			ethType, b = binary.BigEndian.Uint16(b[2:4]), b[4:]
		}
	case linkLinuxSLL:
		if len(b) < 16 {
			return Datagram{}, false
		}
		ethType, b = binary.BigEndian.Uint16(b[14:16]), b[16:]
	case linkRaw:
		if len(b) == 0 {
			return Datagram{}, false
		}
		ethType = 0x0800
		if b[0]>>4 == 6 {
			ethType = 0x86DD
		}
	default:
		return Datagram{}, false
	}
	var src, dst netip.Addr
	switch ethType {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return Datagram{}, false
		}
		ihl := int(b[0]&0x0F) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if ihl < 20 || total < ihl || total > len(b) || b[9] != 17 {
			return Datagram{}, false
		}
		src, _ = netip.AddrFromSlice(b[12:16])
		dst, _ = netip.AddrFromSlice(b[16:20])
		b = b[ihl:total]
	case 0x86DD:
		if len(b) < 40 || b[6] != 17 {
			return Datagram{}, false
		}
		src, _ = netip.AddrFromSlice(b[8:24])
		dst, _ = netip.AddrFromSlice(b[24:40])
		b = b[40:]
	default:
		return Datagram{}, false
	}
	if len(b) < 8 {
		return Datagram{}, false
	}
	ulen := int(binary.BigEndian.Uint16(b[4:6]))
	if ulen < 8 || ulen > len(b) {
		return Datagram{}, false
	}
	return Datagram{
		Src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:2])),
		Dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:4])),
		Payload: append([]byte(nil), b[8:ulen]...),
	}, true
}
