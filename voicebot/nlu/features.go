package nlu

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// FeatureOptions chooses the sparse features an utterance is turned into.
type FeatureOptions struct {
	// WordNGrams is the longest word n-gram (1 = unigrams only).
	WordNGrams int
	// CharMin and CharMax bound the character n-grams taken inside each
	// space-padded word; CharMax 0 disables them.
	CharMin, CharMax int
	// Stem makes word n-grams use lightly stemmed words.
	Stem bool
	// WordWeight and CharWeight scale the two L2-normalized blocks.
	WordWeight, CharWeight float64
	// SkipWindow adds unordered pairs of stemmed words at most this many
	// words apart beyond adjacency ("card ... arrive"); 0 disables them.
	SkipWindow int
	// MinDF drops features seen in fewer training utterances.
	MinDF int
}

// DefaultFeatureOptions returns the features tuned on a split of BANKING77
// train (never on its test set).
func DefaultFeatureOptions() FeatureOptions {
	return FeatureOptions{WordNGrams: 2, CharMin: 2, CharMax: 5, Stem: true, WordWeight: 1, CharWeight: 1, MinDF: 1}
}

func (o FeatureOptions) validate() error {
	switch {
	case o.WordNGrams < 0 || o.CharMin < 0 || o.CharMax < 0 || o.SkipWindow < 0 || o.MinDF < 0:
		return fmt.Errorf("nlu: features %+v: negative size", o)
	case o.CharMax > 0 && (o.CharMin < 1 || o.CharMin > o.CharMax):
		return fmt.Errorf("nlu: features: character n-grams %d-%d, want 1 <= min <= max", o.CharMin, o.CharMax)
	case o.WordWeight < 0 || o.CharWeight < 0:
		return fmt.Errorf("nlu: features: negative block weight (word %v, char %v)", o.WordWeight, o.CharWeight)
	case o.WordWeight == 0 && (o.CharWeight == 0 || o.CharMax == 0):
		return errors.New("nlu: features: both the word and the character block are disabled")
	}
	return nil
}

// sparse is one utterance as sorted column indices and TF-IDF values.
type sparse struct {
	idx []int32
	val []float32
}

func (s sparse) norm2() float64 {
	var n float64
	for _, v := range s.val {
		n += float64(v) * float64(v)
	}
	return n
}

// vectorizer maps utterances to TF-IDF vectors over a vocabulary fixed at
// training time; it is read-only afterwards and safe for concurrent use.
type vectorizer struct {
	opts  FeatureOptions
	cols  map[uint64]int32 // feature hash -> column; column 0 is the bias
	idf   []float32        // per column
	ncols int
}

const (
	blockWord = 'w'
	blockChar = 'c'
	blockSkip = 's'
)

// FNV-1a, inlined so hashing an n-gram allocates nothing.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

// terms returns the hashed word and character features of text, with repeats.
func (o FeatureOptions) terms(text string) (word, char []uint64) {
	toks := tokenize(text)
	wtoks := toks
	if o.Stem {
		wtoks = make([]string, len(toks))
		for i, t := range toks {
			wtoks[i] = stem(t)
		}
	}
	sum := func(block byte, parts ...string) uint64 {
		h := fnvByte(fnvOffset, block)
		for i, p := range parts {
			if i > 0 {
				h = fnvByte(h, ' ')
			}
			for j := 0; j < len(p); j++ {
				h = fnvByte(h, p[j])
			}
		}
		return h
	}
	for n := 1; n <= max(o.WordNGrams, 1); n++ {
		for i := 0; i+n <= len(wtoks); i++ {
			word = append(word, sum(blockWord, wtoks[i:i+n]...))
		}
	}
	for i := range wtoks {
		for j := i + 2; j < len(wtoks) && j <= i+o.SkipWindow; j++ {
			a, b := wtoks[i], wtoks[j]
			if a > b {
				a, b = b, a
			}
			word = append(word, sum(blockSkip, a, b))
		}
	}
	if o.CharMax > 0 {
		var padded []byte
		for _, t := range toks {
			padded = append(append(append(padded[:0], ' '), t...), ' ')
			for n := o.CharMin; n <= o.CharMax; n++ {
				if n > len(padded) {
					break
				}
				for i := 0; i+n <= len(padded); i++ {
					h := fnvByte(fnvOffset, blockChar)
					for _, b := range padded[i : i+n] {
						h = fnvByte(h, b)
					}
					char = append(char, h)
				}
			}
		}
	}
	return word, char
}

// fitVectorizer builds the vocabulary and inverse document frequencies.
func fitVectorizer(texts []string, opts FeatureOptions) *vectorizer {
	df := map[uint64]int32{}
	for _, t := range texts {
		w, c := opts.terms(t)
		all := append(w, c...)
		slices.Sort(all)
		all = slices.Compact(all)
		for _, k := range all {
			df[k]++
		}
	}
	keys := make([]uint64, 0, len(df))
	for k, n := range df {
		if int(n) >= max(opts.MinDF, 1) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // column order must not depend on map iteration
	v := &vectorizer{opts: opts, cols: make(map[uint64]int32, len(keys)), idf: make([]float32, len(keys)+1), ncols: len(keys) + 1}
	v.idf[0] = 1
	N := float64(len(texts))
	for i, k := range keys {
		v.cols[k] = int32(i + 1)
		v.idf[i+1] = float32(math.Log((1+N)/(1+float64(df[k]))) + 1)
	}
	return v
}

// vector turns text into a bias feature plus one L2-normalized TF-IDF block
// per feature kind, each scaled by its weight.
func (v *vectorizer) vector(text string) sparse {
	w, c := v.opts.terms(text)
	out := sparse{idx: make([]int32, 0, 1+len(w)+len(c)), val: make([]float32, 0, 1+len(w)+len(c))}
	out.idx = append(out.idx, 0)
	out.val = append(out.val, 1)
	v.appendBlock(&out, w, v.opts.WordWeight)
	v.appendBlock(&out, c, v.opts.CharWeight)
	// Sort by column so weight reads walk memory forward.
	order := make([]int, len(out.idx))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return int(out.idx[a] - out.idx[b]) })
	s := sparse{idx: make([]int32, len(order)), val: make([]float32, len(order))}
	for i, o := range order {
		s.idx[i], s.val[i] = out.idx[o], out.val[o]
	}
	return s
}

func (v *vectorizer) appendBlock(out *sparse, keys []uint64, weight float64) {
	if len(keys) == 0 || weight == 0 {
		return
	}
	slices.Sort(keys)
	start := len(out.val)
	for i := 0; i < len(keys); {
		j := i
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		if col, ok := v.cols[keys[i]]; ok {
			tf := 1 + math.Log(float64(j-i)) // sublinear term frequency
			out.idx = append(out.idx, col)
			out.val = append(out.val, float32(tf*float64(v.idf[col])))
		}
		i = j
	}
	var n float64
	for _, x := range out.val[start:] {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return
	}
	scale := float32(weight / math.Sqrt(n))
	for i := start; i < len(out.val); i++ {
		out.val[i] *= scale
	}
}
