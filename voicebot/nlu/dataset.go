package nlu

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// textColumns and labelColumns are the header names accepted for the two
// columns of a training CSV (BANKING77 uses text,category).
var (
	textColumns  = []string{"text", "utterance"}
	labelColumns = []string{"label", "category", "intent"}
)

// ReadCSV reads labeled utterances from CSV with a header naming a text
// column (text|utterance) and a label column (label|category|intent); name
// is used in error messages.
func ReadCSV(r io.Reader, name string) ([]Example, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below with a clearer message
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file, want a header with columns text,label", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ti, li := -1, -1
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case ti < 0 && contains(textColumns, h):
			ti = i
		case li < 0 && contains(labelColumns, h):
			li = i
		}
	}
	if ti < 0 || li < 0 {
		return nil, fmt.Errorf("%s:1: header %q must name a text column (%s) and a label column (%s)",
			name, strings.Join(header, ","), strings.Join(textColumns, "|"), strings.Join(labelColumns, "|"))
	}
	var out []Example
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// csv.ParseError already carries the line and column.
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", name, line, len(rec), len(header))
		}
		text, label := strings.TrimSpace(rec[ti]), strings.TrimSpace(rec[li])
		if text == "" {
			return nil, fmt.Errorf("%s:%d: empty text", name, line)
		}
		if label == "" {
			return nil, fmt.Errorf("%s:%d: empty label for %q", name, line, text)
		}
		out = append(out, Example{Text: text, Intent: label})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no examples after the header", name)
	}
	return out, nil
}

// LoadCSV reads labeled utterances from a CSV file (see ReadCSV).
func LoadCSV(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open training data: %w", err)
	}
	defer f.Close()
	return ReadCSV(f, path)
}

// CLINC150 holds the splits of CLINC150's data_full.json; out-of-scope turns
// carry the intent "oos".
type CLINC150 struct {
	Train, Val, Test          []Example
	OOSTrain, OOSVal, OOSTest []Example
}

// CLINCOutOfScope is the label CLINC150 gives out-of-scope turns.
const CLINCOutOfScope = "oos"

// LoadCLINC150 reads CLINC150's data_full.json.
func LoadCLINC150(path string) (*CLINC150, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open CLINC150 data: %w", err)
	}
	var raw map[string][][]string
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: want an object of splits holding [text, label] pairs: %w", path, err)
	}
	c := &CLINC150{}
	for _, s := range []struct {
		key string
		dst *[]Example
	}{{"train", &c.Train}, {"val", &c.Val}, {"test", &c.Test}, {"oos_train", &c.OOSTrain}, {"oos_val", &c.OOSVal}, {"oos_test", &c.OOSTest}} {
		items, ok := raw[s.key]
		if !ok {
			return nil, fmt.Errorf("%s: missing split %q", path, s.key)
		}
		for i, it := range items {
			if len(it) != 2 || strings.TrimSpace(it[0]) == "" || strings.TrimSpace(it[1]) == "" {
				return nil, fmt.Errorf("%s: %s[%d]: want a non-empty [text, label] pair, got %q", path, s.key, i, it)
			}
			*s.dst = append(*s.dst, Example{Text: it[0], Intent: it[1]})
		}
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
