// Package local is an offline, deterministic embedder that needs no model:
// hashed word, word-bigram and character n-gram features with sublinear TF
// and corpus-learned IDF, folded into a few hundred dimensions by a sparse
// random projection and L2-normalised.
package local

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/parley-cc/parley/knowledge/textproc"
)

// Options shape the embedding; zero values take the defaults noted.
type Options struct {
	Dimension    int     // output size; default 256
	MinGram      int     // shortest character n-gram; default 3
	MaxGram      int     // longest character n-gram; default 5
	WordWeight   float64 // weight of the stemmed-word block; default 1
	BigramWeight float64 // weight of the word-bigram block; default 0.5 (negative disables)
	CharWeight   float64 // weight of the character n-gram block; default 0.8 (negative disables)
	Projections  int     // output coordinates each feature touches; default 4
}

func (o Options) withDefaults() Options {
	if o.Dimension <= 0 {
		o.Dimension = 256
	}
	if o.MinGram <= 0 {
		o.MinGram = 3
	}
	if o.MaxGram < o.MinGram {
		o.MaxGram = o.MinGram + 2
	}
	if o.WordWeight == 0 {
		o.WordWeight = 1
	}
	if o.BigramWeight == 0 {
		o.BigramWeight = 0.5
	}
	if o.CharWeight == 0 {
		o.CharWeight = 0.8
	}
	if o.Projections <= 0 {
		o.Projections = 4
	}
	return o
}

// idfBuckets is the size of the hashed document-frequency table.
const idfBuckets = 1 << 20

// Embedder is the offline embedder; safe for concurrent use.
type Embedder struct {
	o  Options
	mu sync.RWMutex
	// idf[h%idfBuckets] is the learned inverse document frequency; nil
	// before Train, when every feature weighs 1.
	idf   []float32
	df    []uint32 // document frequencies behind idf, kept for SaveFile
	docs  int
	fp    uint64 // fingerprint of df: two trainings with the same fingerprint embed alike
	model string
}

// New returns an untrained embedder.
func New(o Options) *Embedder {
	o = o.withDefaults()
	e := &Embedder{o: o}
	e.model = e.modelName()
	return e
}

func (e *Embedder) modelName() string {
	return fmt.Sprintf("local-hash-v1-d%d-g%d%d-w%.2f-b%.2f-c%.2f-p%d-n%d-f%016x",
		e.o.Dimension, e.o.MinGram, e.o.MaxGram, e.o.WordWeight, e.o.BigramWeight, e.o.CharWeight, e.o.Projections, e.docs, e.fp)
}

// Dimension returns the vector size.
func (e *Embedder) Dimension() int { return e.o.Dimension }

// Model names the options and the training corpus size, so vectors made
// before and after a Train are not mixed silently.
func (e *Embedder) Model() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.model
}

// Train learns IDF weights from corpus (one entry per indexed chunk).
func (e *Embedder) Train(ctx context.Context, corpus []string) error {
	df := make([]uint32, idfBuckets)
	seen := map[uint64]struct{}{}
	for i, text := range corpus {
		if i%256 == 0 && ctx.Err() != nil {
			return fmt.Errorf("train local embedder: %w", ctx.Err())
		}
		clear(seen)
		e.features(text, func(h uint64, _ int) {
			if _, ok := seen[h]; !ok {
				seen[h] = struct{}{}
				df[h%idfBuckets]++
			}
		})
	}
	e.setDF(df, len(corpus))
	return nil
}

// setDF installs learned document frequencies over docs texts.
func (e *Embedder) setDF(df []uint32, docs int) {
	n := float64(docs)
	idf := make([]float32, idfBuckets)
	fp := uint64(docs)
	for i, d := range df {
		idf[i] = float32(math.Log((n+1)/(float64(d)+1)) + 1)
		if d != 0 {
			fp = splitmix(fp ^ uint64(i)<<32 ^ uint64(d))
		}
	}
	e.mu.Lock()
	e.idf, e.df, e.docs, e.fp = idf, df, docs, fp
	e.model = e.modelName()
	e.mu.Unlock()
}

// Trained reports how many texts the embedder was trained on (0: untrained).
func (e *Embedder) Trained() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.docs
}

// Embed returns one L2-normalised vector per text.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.mu.RLock()
	idf := e.idf
	e.mu.RUnlock()
	out := make([][]float32, len(texts))
	blocks := [3]map[uint64]float64{{}, {}, {}}
	weights := [3]float64{e.o.WordWeight, e.o.BigramWeight, e.o.CharWeight}
	acc := make([]float64, e.o.Dimension)
	for i, text := range texts {
		if i%64 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("embed: %w", ctx.Err())
		}
		for _, b := range blocks {
			clear(b)
		}
		e.features(text, func(h uint64, kind int) { blocks[kind][h]++ })
		clear(acc)
		for kind, b := range blocks {
			if weights[kind] <= 0 || len(b) == 0 {
				continue
			}
			// Each block is normalised on its own so the weights, not the
			// feature counts, set the balance between words and n-grams.
			norm := 0.0
			for h, tf := range b {
				w := 1 + math.Log(tf)
				if idf != nil {
					w *= float64(idf[h%idfBuckets])
				}
				b[h] = w
				norm += w * w
			}
			scale := weights[kind] / math.Sqrt(norm)
			for h, w := range b {
				e.project(acc, h, w*scale)
			}
		}
		out[i] = normalize(acc)
	}
	return out, nil
}

// project adds value to Projections pseudo-random signed coordinates chosen
// by the feature hash (a sparse Johnson-Lindenstrauss projection).
func (e *Embedder) project(acc []float64, h uint64, value float64) {
	x := h
	d := uint64(len(acc))
	for p := 0; p < e.o.Projections; p++ {
		x = splitmix(x)
		v := value
		if x>>63 == 1 {
			v = -v
		}
		acc[(x&0x7fffffffffffffff)%d] += v
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func normalize(acc []float64) []float32 {
	norm := 0.0
	for _, v := range acc {
		norm += v * v
	}
	out := make([]float32, len(acc))
	if norm == 0 {
		return out
	}
	inv := 1 / math.Sqrt(norm)
	for i, v := range acc {
		out[i] = float32(v * inv)
	}
	return out
}

const (
	kindWord = iota
	kindBigram
	kindChar
)

// features calls emit for every feature occurrence of text with its hash
// and block kind.
func (e *Embedder) features(text string, emit func(h uint64, kind int)) {
	words := textproc.Words(text)
	prev := uint64(0)
	for _, w := range words {
		if textproc.IsStopWord(w) {
			continue
		}
		stem := textproc.Stem(w)
		hw := fnv(1, stem)
		emit(hw, kindWord)
		if prev != 0 && e.o.BigramWeight > 0 {
			emit(splitmix(prev^(hw*31)), kindBigram)
		}
		prev = hw
		if e.o.CharWeight > 0 {
			e.charGrams(w, emit)
		}
	}
}

func (e *Embedder) charGrams(w string, emit func(uint64, int)) {
	rs := make([]rune, 0, len(w)+2)
	rs = append(rs, '<')
	rs = append(rs, []rune(w)...)
	rs = append(rs, '>')
	for n := e.o.MinGram; n <= e.o.MaxGram; n++ {
		for i := 0; i+n <= len(rs); i++ {
			h := uint64(14695981039346656037) ^ uint64(n)<<56 ^ 2
			for _, r := range rs[i : i+n] {
				h ^= uint64(r)
				h *= 1099511628211
			}
			emit(h, kindChar)
		}
	}
}

func fnv(kind uint64, s string) uint64 {
	h := uint64(14695981039346656037) ^ kind
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
