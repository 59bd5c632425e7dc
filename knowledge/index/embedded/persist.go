package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/parley-cc/parley/knowledge/index"
)

// fileName is the index file inside Options.Dir.
const fileName = "index.bin"

// File layout (little endian): "PKVX", format u32, dim u32, nlist u32,
// builtAt u64, count u64, nlist centroids (dim f32 each, absent when
// exhaustive), count points (list u32, payload, dim f32), CRC-32 (IEEE) of
// everything before it.
const (
	magic         = "PKVX"
	formatVersion = 1
)

func (x *Index) encodeLocked() []byte {
	dim := x.o.Dimension
	b := make([]byte, 0, 64+len(x.byID)*(dim*4+96))
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, formatVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(dim))
	nlist := 0
	if len(x.lists) > 1 {
		nlist = len(x.lists)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(nlist))
	b = binary.LittleEndian.AppendUint64(b, uint64(x.builtAt))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(x.byID)))
	if nlist > 0 {
		for _, l := range x.lists {
			b = appendFloats(b, l.centroid)
		}
	}
	for li, l := range x.lists {
		for i, e := range l.entries {
			b = binary.LittleEndian.AppendUint32(b, uint32(li))
			b = appendPayload(b, &e.p)
			b = appendFloats(b, l.vecs[i*dim:(i+1)*dim])
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func appendFloats(b []byte, v []float32) []byte {
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendPayload(b []byte, p *index.Point) []byte {
	b = appendString(b, p.ID)
	b = appendString(b, p.DocumentID)
	b = appendString(b, p.Hash)
	b = appendString(b, p.Language)
	b = binary.AppendVarint(b, int64(p.Version))
	b = binary.AppendVarint(b, int64(p.Chunk))
	b = binary.AppendUvarint(b, uint64(len(p.Category)))
	for _, c := range p.Category {
		b = appendString(b, c)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Tags)))
	for _, t := range p.Tags {
		b = appendString(b, t)
	}
	b = binary.AppendVarint(b, p.ValidFrom)
	b = binary.AppendVarint(b, p.ValidUntil)
	if p.Published {
		return append(b, 1)
	}
	return append(b, 0)
}

// writeAtomic writes data to a temporary file, syncs it and renames it over
// path, so a crash leaves either the old or the new index, never a mix.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".index-*.tmp")
	if err != nil {
		return fmt.Errorf("write index: create temp file in %s: %w", dir, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write index %s: %w", path, werr)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: make the rename durable
		d.Close()
	}
	return nil
}

// errCorrupt wraps every decoding failure.
var errCorrupt = errors.New("corrupt index file")

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or invalid %s at byte %d", errCorrupt, what, r.off)
	}
}

func (r *reader) u32(what string) uint32 {
	if r.err != nil || r.off+4 > len(r.b) {
		r.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64(what string) uint64 {
	if r.err != nil || r.off+8 > len(r.b) {
		r.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) str(what string) string {
	n := r.uvarint(what)
	if r.err != nil || uint64(len(r.b)-r.off) < n {
		r.fail(what)
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

func (r *reader) floats(dst []float32, what string) {
	if r.err != nil || r.off+4*len(dst) > len(r.b) {
		r.fail(what)
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.b[r.off+4*i:]))
	}
	r.off += 4 * len(dst)
}

func (x *Index) load(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load index %s: %w", path, err)
	}
	if len(data) < 36 || string(data[:4]) != magic {
		return fmt.Errorf("load index %s: %w: bad header", path, errCorrupt)
	}
	body := data[:len(data)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return fmt.Errorf("load index %s: %w: checksum mismatch", path, errCorrupt)
	}
	r := &reader{b: body, off: 4}
	if v := r.u32("format"); v != formatVersion {
		return fmt.Errorf("load index %s: unsupported format version %d", path, v)
	}
	dim := int(r.u32("dimension"))
	if dim != x.o.Dimension {
		return fmt.Errorf("load index %s: %w: file has %d, index opened with %d", path, index.ErrDimension, dim, x.o.Dimension)
	}
	nlist := int(r.u32("list count"))
	builtAt := int(r.u64("build size"))
	count := r.u64("point count")
	if r.err == nil && (uint64(nlist)*uint64(dim)*4 > uint64(len(body)) || count*uint64(dim)*4 > uint64(len(body))) {
		return fmt.Errorf("load index %s: %w: counts exceed file size", path, errCorrupt)
	}
	lists := []*list{{}}
	if nlist > 0 {
		lists = make([]*list, nlist)
		for i := range lists {
			lists[i] = &list{centroid: make([]float32, dim)}
			r.floats(lists[i].centroid, "centroid")
		}
	}
	x.lists = lists
	x.gen++
	vec := make([]float32, dim)
	for i := uint64(0); i < count && r.err == nil; i++ {
		li := int(r.u32("list"))
		var p index.Point
		p.ID = r.str("id")
		p.DocumentID = r.str("document id")
		p.Hash = r.str("hash")
		p.Language = r.str("language")
		p.Version = int(r.varint("version"))
		p.Chunk = int(r.varint("chunk"))
		nc := r.uvarint("category count")
		for j := uint64(0); j < nc && r.err == nil; j++ {
			p.Category = append(p.Category, r.str("category"))
		}
		nt := r.uvarint("tag count")
		for j := uint64(0); j < nt && r.err == nil; j++ {
			p.Tags = append(p.Tags, r.str("tag"))
		}
		p.ValidFrom = r.varint("valid from")
		p.ValidUntil = r.varint("valid until")
		if r.err == nil && r.off < len(r.b) {
			p.Published = r.b[r.off] == 1
			r.off++
		} else {
			r.fail("published flag")
		}
		r.floats(vec, "vector")
		if r.err != nil {
			break
		}
		if li >= len(lists) {
			return fmt.Errorf("load index %s: %w: point %q in list %d of %d", path, errCorrupt, p.ID, li, len(lists))
		}
		l := lists[li]
		e := &entry{p: p, list: li, pos: len(l.entries)}
		l.entries = append(l.entries, e)
		l.vecs = append(l.vecs, vec...)
		l.codes = appendCode(l.codes, vec)
		x.byID[p.ID] = e
		d := x.byDoc[p.DocumentID]
		if d == nil {
			d = map[string]*entry{}
			x.byDoc[p.DocumentID] = d
		}
		d[p.ID] = e
	}
	if r.err != nil {
		return fmt.Errorf("load index %s: %w", path, r.err)
	}
	x.builtAt = builtAt
	return nil
}
