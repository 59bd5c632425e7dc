// Package embed defines how text becomes vectors for the knowledge base.
package embed

import "context"

// Embedder maps texts to fixed-size vectors; vectors of related texts have
// a high dot product. Implementations return L2-normalised vectors.
type Embedder interface {
	// Embed returns one vector per text, in order.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Dimension is the length of every vector.
	Dimension() int
	// Model names the vector space; vectors from different models must not be mixed.
	Model() string
}

// Trainer is an Embedder that learns corpus statistics (such as term
// weights); after Train every vector must be recomputed.
type Trainer interface {
	Embedder
	// Train replaces the learned statistics with those of corpus.
	Train(ctx context.Context, corpus []string) error
}
