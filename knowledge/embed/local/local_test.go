package local

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestDeterministicNormalisedAndSimilar(t *testing.T) {
	ctx := context.Background()
	texts := []string{"How do I reset my password?", "Resetting a forgotten password", "Roaming charges abroad", ""}
	a, err := New(Options{}).Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(Options{}).Embed(ctx, texts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two embedders with the same options disagree")
	}
	for i, v := range a[:3] {
		if len(v) != 256 || math.Abs(dot(v, v)-1) > 1e-5 {
			t.Fatalf("vector %d: len %d, |v|^2 %v", i, len(v), dot(v, v))
		}
	}
	if dot(a[3], a[3]) != 0 {
		t.Fatal("empty text must embed to the zero vector")
	}
	if same, other := dot(a[0], a[1]), dot(a[0], a[2]); same <= other+0.2 {
		t.Fatalf("paraphrase similarity %.3f not clearly above unrelated %.3f", same, other)
	}
}

func TestTrainWeighsRareTerms(t *testing.T) {
	ctx := context.Background()
	corpus := []string{
		"please contact support about your invoice", "please contact support about roaming",
		"please contact support about your password", "please contact support about the router",
	}
	e := New(Options{Dimension: 512, CharWeight: -1, BigramWeight: -1})
	before := e.Model()
	q, _ := e.Embed(ctx, []string{"please contact support invoice"})
	docs, _ := e.Embed(ctx, corpus)
	untrained := dot(q[0], docs[0]) - dot(q[0], docs[1])
	if err := e.Train(ctx, corpus); err != nil {
		t.Fatal(err)
	}
	if e.Model() == before {
		t.Fatal("training must change the model name so old vectors are not mixed in")
	}
	q, _ = e.Embed(ctx, []string{"please contact support invoice"})
	docs, _ = e.Embed(ctx, corpus)
	trained := dot(q[0], docs[0]) - dot(q[0], docs[1])
	if trained <= untrained {
		t.Fatalf("IDF should widen the margin of the rare matching term: untrained %.3f, trained %.3f", untrained, trained)
	}
}

func BenchmarkEmbed(b *testing.B) {
	e := New(Options{})
	text := "To request a refund, open the order in your account, choose Refund and confirm. The money returns to the original card within five working days; contact support if it does not."
	b.ReportAllocs()
	for b.Loop() {
		e.Embed(context.Background(), []string{text})
	}
}

func TestSaveLoadFileEmbedsAlike(t *testing.T) {
	ctx := context.Background()
	corpus := []string{"reset the router password", "refund a card payment", "roaming charges abroad", "router lights blink red"}
	a := New(Options{})
	if err := a.Train(ctx, corpus); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kb", "embedder.bin")
	if err := a.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	b := New(Options{})
	if b.Model() == a.Model() {
		t.Fatalf("untrained and trained embedders share model name %q", a.Model())
	}
	if err := b.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if b.Model() != a.Model() || b.Trained() != len(corpus) {
		t.Fatalf("loaded model %q (%d docs), want %q (%d)", b.Model(), b.Trained(), a.Model(), len(corpus))
	}
	va, _ := a.Embed(ctx, []string{"router password reset"})
	vb, _ := b.Embed(ctx, []string{"router password reset"})
	for i := range va[0] {
		if va[0][i] != vb[0][i] {
			t.Fatalf("coordinate %d differs after load: %v vs %v", i, va[0][i], vb[0][i])
		}
	}
	// Same size corpus, other words: another model name.
	c := New(Options{})
	_ = c.Train(ctx, []string{"a b c", "d e f", "g h i", "j k l"})
	if c.Model() == a.Model() {
		t.Fatalf("different corpora of equal size share model name %q", a.Model())
	}
	if err := New(Options{Dimension: 128}).LoadFile(path); !errors.Is(err, ErrOptionsChanged) {
		t.Fatalf("load with other options: %v, want ErrOptionsChanged", err)
	}
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 0xff
	_ = os.WriteFile(path, data, 0o644)
	if err := New(Options{}).LoadFile(path); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("corrupt file: %v, want a checksum error", err)
	}
	if err := New(Options{}).LoadFile(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}
}
