package local

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
)

// The learned statistics are saved so a restarted node embeds exactly as
// before: chunks whose hash (which includes Model) is unchanged are then
// not re-embedded. Format: magic, options line, docs, non-zero buckets as
// (delta, df) uvarints, CRC-32 of everything before it.
const fileMagic = "parley-local-embedder-v1\n"

// SaveFile writes the learned statistics to path atomically.
func (e *Embedder) SaveFile(path string) error {
	e.mu.RLock()
	df, docs := e.df, e.docs
	e.mu.RUnlock()
	buf := []byte(fileMagic)
	buf = append(buf, e.optionsLine()...)
	buf = binary.AppendUvarint(buf, uint64(docs))
	prev := 0
	for i, d := range df {
		if d == 0 {
			continue
		}
		buf = binary.AppendUvarint(buf, uint64(i-prev))
		buf = binary.AppendUvarint(buf, uint64(d))
		prev = i
	}
	buf = binary.AppendUvarint(buf, 0) // (0, 0) ends the list: no bucket has df 0
	buf = binary.AppendUvarint(buf, 0)
	buf = binary.LittleEndian.AppendUint32(buf, crc32.ChecksumIEEE(buf))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save local embedder: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o644); err != nil {
		return fmt.Errorf("save local embedder: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save local embedder: %w", err)
	}
	return nil
}

func (e *Embedder) optionsLine() string {
	o := e.o
	return fmt.Sprintf("d%d g%d-%d w%.3f b%.3f c%.3f p%d\n", o.Dimension, o.MinGram, o.MaxGram, o.WordWeight, o.BigramWeight, o.CharWeight, o.Projections)
}

// ErrOptionsChanged reports a saved file made with other options; the
// caller should retrain.
var ErrOptionsChanged = errors.New("local embedder options differ from the saved ones")

// LoadFile restores statistics written by SaveFile. A missing file is
// reported with os.ErrNotExist, a file from other options with
// ErrOptionsChanged; a corrupt one names the problem.
func (e *Embedder) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("load local embedder: %w", err)
	}
	if len(data) < len(fileMagic)+4 || string(data[:len(fileMagic)]) != fileMagic {
		return fmt.Errorf("load local embedder %s: not a saved local embedder", path)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return fmt.Errorf("load local embedder %s: checksum mismatch (truncated or corrupt)", path)
	}
	r := bufio.NewReader(bytes.NewReader(body[len(fileMagic):]))
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("load local embedder %s: options line: %w", path, err)
	}
	if line != e.optionsLine() {
		return fmt.Errorf("load local embedder %s: %w (saved %q, now %q)", path, ErrOptionsChanged,
			strings.TrimSpace(line), strings.TrimSpace(e.optionsLine()))
	}
	docs, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("load local embedder %s: %w", path, err)
	}
	df := make([]uint32, idfBuckets)
	pos := 0
	for first := true; ; first = false {
		delta, err1 := binary.ReadUvarint(r)
		d, err2 := binary.ReadUvarint(r)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("load local embedder %s: bucket list: %w", path, err)
		}
		if d == 0 {
			break
		}
		if !first && delta == 0 || pos+int(delta) >= idfBuckets {
			return fmt.Errorf("load local embedder %s: bucket %d out of order", path, pos+int(delta))
		}
		pos += int(delta)
		df[pos] = uint32(d)
	}
	e.setDF(df, int(docs))
	return nil
}
