// Package g711 encodes and decodes ITU-T G.711 µ-law (PCMU) and A-law (PCMA)
// with lookup tables built from the reference segment algorithm, so results
// match ITU-T G.711 (and the widely used Sun reference code) bit for bit.
package g711

// tables holds the immutable lookup tables; it is a package-level value built
// once at init because the tables are pure functions of the standard and
// 96 KB is too much to rebuild per call or to spell out as literals.
var tables = buildTables()

type codecTables struct {
	ulawDecode [256]int16
	alawDecode [256]int16
	ulawEncode [1 << 14]uint8 // indexed by uint16(sample) >> 2
	alawEncode [1 << 13]uint8 // indexed by uint16(sample) >> 3
}

func buildTables() *codecTables {
	t := &codecTables{}
	for i := 0; i < 256; i++ {
		t.ulawDecode[i] = ulawToLinear(uint8(i))
		t.alawDecode[i] = alawToLinear(uint8(i))
	}
	for i := 0; i < 1<<14; i++ {
		t.ulawEncode[i] = linearToUlaw(int16(uint16(i << 2)))
	}
	for i := 0; i < 1<<13; i++ {
		t.alawEncode[i] = linearToAlaw(int16(uint16(i << 3)))
	}
	return t
}

// EncodeUlawSample returns the µ-law code of one linear sample.
func EncodeUlawSample(s int16) uint8 { return tables.ulawEncode[uint16(s)>>2] }

// DecodeUlawSample returns the linear value of one µ-law code.
func DecodeUlawSample(c uint8) int16 { return tables.ulawDecode[c] }

// EncodeAlawSample returns the A-law code of one linear sample.
func EncodeAlawSample(s int16) uint8 { return tables.alawEncode[uint16(s)>>3] }

// DecodeAlawSample returns the linear value of one A-law code.
func DecodeAlawSample(c uint8) int16 { return tables.alawDecode[c] }

// EncodeUlaw appends the µ-law encoding of src to dst and returns it.
func EncodeUlaw(dst []byte, src []int16) []byte {
	for _, s := range src {
		dst = append(dst, tables.ulawEncode[uint16(s)>>2])
	}
	return dst
}

// DecodeUlaw appends the linear decoding of µ-law src to dst and returns it.
func DecodeUlaw(dst []int16, src []byte) []int16 {
	for _, c := range src {
		dst = append(dst, tables.ulawDecode[c])
	}
	return dst
}

// EncodeAlaw appends the A-law encoding of src to dst and returns it.
func EncodeAlaw(dst []byte, src []int16) []byte {
	for _, s := range src {
		dst = append(dst, tables.alawEncode[uint16(s)>>3])
	}
	return dst
}

// DecodeAlaw appends the linear decoding of A-law src to dst and returns it.
func DecodeAlaw(dst []int16, src []byte) []int16 {
	for _, c := range src {
		dst = append(dst, tables.alawDecode[c])
	}
	return dst
}

// Silence codes: what a linear zero encodes to.
const (
	UlawSilence = 0xFF
	AlawSilence = 0xD5
)

const (
	signBit   = 0x80
	quantMask = 0x0F
	segShift  = 4
	segMask   = 0x70
	ulawBias  = 0x84
	ulawClip  = 8159
)

var (
	segUEnd = [8]int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}
	segAEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}
)

func segment(v int, ends *[8]int) int {
	for i, e := range ends {
		if v <= e {
			return i
		}
	}
	return 8
}

// linearToUlaw is the G.711 µ-law compressor on a 14-bit magnitude.
func linearToUlaw(pcm int16) uint8 {
	v := int(pcm) >> 2
	mask := 0xFF
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias >> 2
	seg := segment(v, &segUEnd)
	if seg >= 8 {
		return uint8(0x7F ^ mask)
	}
	u := (seg << 4) | ((v >> (seg + 1)) & 0xF)
	return uint8(u ^ mask)
}

func ulawToLinear(u uint8) int16 {
	v := int(^u)
	t := ((v & quantMask) << 3) + ulawBias
	t <<= (v & segMask) >> segShift
	if v&signBit != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// linearToAlaw is the G.711 A-law compressor on a 13-bit magnitude.
func linearToAlaw(pcm int16) uint8 {
	v := int(pcm) >> 3
	mask := 0xD5
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := segment(v, &segAEnd)
	if seg >= 8 {
		return uint8(0x7F ^ mask)
	}
	a := seg << segShift
	if seg < 2 {
		a |= (v >> 1) & quantMask
	} else {
		a |= (v >> seg) & quantMask
	}
	return uint8(a ^ mask)
}

func alawToLinear(a uint8) int16 {
	v := int(a ^ 0x55)
	t := (v & quantMask) << 4
	seg := (v & segMask) >> segShift
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if v&signBit != 0 {
		return int16(t)
	}
	return int16(-t)
}
