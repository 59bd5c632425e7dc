package nlu

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// modelFormat versions the saved model; Load refuses other versions.
const modelFormat = 1

// savedModel is the on-disk form of a Model.
type savedModel struct {
	Format      int
	Labels      []string
	OOS         int
	Features    FeatureOptions
	Keys        []uint64 // feature hash of columns 1..n, in column order
	IDF         []float32
	Weights     []float32
	Calibration calibration
	Alts        int
}

// Save writes m so a deployment can ship a trained model.
func (m *Model) Save(w io.Writer) error {
	keys := make([]uint64, m.vec.ncols-1)
	for k, col := range m.vec.cols {
		keys[col-1] = k
	}
	bw := bufio.NewWriter(w)
	err := gob.NewEncoder(bw).Encode(savedModel{
		Format: modelFormat, Labels: m.labels, OOS: m.oos, Features: m.vec.opts, Keys: keys, IDF: m.vec.idf,
		Weights: m.weights, Calibration: m.calib, Alts: m.nalt,
	})
	if err != nil {
		return fmt.Errorf("nlu: save model: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("nlu: save model: %w", err)
	}
	return nil
}

// Load reads a model written by Save.
func Load(r io.Reader) (*Model, error) {
	var s savedModel
	if err := gob.NewDecoder(bufio.NewReader(r)).Decode(&s); err != nil {
		return nil, fmt.Errorf("nlu: load model: %w", err)
	}
	if s.Format != modelFormat {
		return nil, fmt.Errorf("nlu: load model: format %d, this build reads %d", s.Format, modelFormat)
	}
	K, ncols := len(s.Labels), len(s.Keys)+1
	switch {
	case K < 2 || !slices.IsSorted(s.Labels):
		return nil, errors.New("nlu: load model: corrupt intent list")
	case len(s.IDF) != ncols || len(s.Weights) != ncols*K:
		return nil, fmt.Errorf("nlu: load model: %d columns but %d idf values and %d weights", ncols, len(s.IDF), len(s.Weights))
	case s.OOS < -1 || s.OOS >= K || !(s.Calibration.Temperature > 0):
		return nil, errors.New("nlu: load model: corrupt calibration")
	}
	v := &vectorizer{opts: s.Features, cols: make(map[uint64]int32, len(s.Keys)), idf: s.IDF, ncols: ncols}
	for i, k := range s.Keys {
		v.cols[k] = int32(i + 1)
	}
	return &Model{labels: s.Labels, oos: s.OOS, vec: v, weights: s.Weights, calib: s.Calibration, nalt: max(s.Alts, 1)}, nil
}

// SaveFile writes m to path.
func SaveFile(m *Model, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("nlu: save model: %w", err)
	}
	if err := m.Save(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("nlu: save model: %w", err)
	}
	return nil
}

// LoadFile reads a model from path.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nlu: load model: %w", err)
	}
	defer f.Close()
	return Load(f)
}
