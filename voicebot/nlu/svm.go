package nlu

import (
	"math"
	"math/rand/v2"
)

// trainBinarySVM fits an L2-regularized L2-loss linear SVM by dual coordinate
// descent with shrinking (Hsieh et al. 2008, the liblinear default solver).
// y holds +1/-1 per example, w (len = number of columns) receives the weights.
// cost scales the loss of positive and negative examples separately so rare
// intents are not drowned by the rest in one-vs-rest training.
func trainBinarySVM(x []sparse, sqnorm []float64, y []int8, costPos, costNeg, eps float64, maxIter int, seed uint64, w []float64) {
	l := len(x)
	for i := range w {
		w[i] = 0
	}
	alpha := make([]float64, l)
	diag := [2]float64{0.5 / costNeg, 0.5 / costPos} // indexed by y>0
	qd := make([]float64, l)
	index := make([]int, l)
	for i := range l {
		qd[i] = sqnorm[i] + diag[b2i(y[i] > 0)]
		index[i] = i
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	active := l
	pgMaxOld, pgMinOld := math.Inf(1), math.Inf(-1)
	for iter := 0; iter < maxIter; iter++ {
		pgMaxNew, pgMinNew := math.Inf(-1), math.Inf(1)
		for i := 0; i < active; i++ {
			j := i + rng.IntN(active-i)
			index[i], index[j] = index[j], index[i]
		}
		for s := 0; s < active; s++ {
			i := index[s]
			xi := x[i]
			yi := float64(y[i])
			var dot float64
			for k, c := range xi.idx {
				dot += w[c] * float64(xi.val[k])
			}
			g := yi*dot - 1 + alpha[i]*diag[b2i(y[i] > 0)]
			pg := 0.0
			if alpha[i] == 0 {
				if g > pgMaxOld {
					// Shrink: this example is safely outside the margin.
					active--
					index[s], index[active] = index[active], index[s]
					s--
					continue
				}
				if g < 0 {
					pg = g
				}
			} else {
				pg = g
			}
			pgMaxNew = max(pgMaxNew, pg)
			pgMinNew = min(pgMinNew, pg)
			if math.Abs(pg) > 1e-12 {
				old := alpha[i]
				alpha[i] = max(alpha[i]-g/qd[i], 0)
				d := (alpha[i] - old) * yi
				for k, c := range xi.idx {
					w[c] += d * float64(xi.val[k])
				}
			}
		}
		if pgMaxNew-pgMinNew <= eps {
			if active == l {
				return
			}
			// Converged on the shrunk set: check every example once more.
			active = l
			pgMaxOld, pgMinOld = math.Inf(1), math.Inf(-1)
			continue
		}
		pgMaxOld, pgMinOld = pgMaxNew, pgMinNew
		if pgMaxOld <= 0 {
			pgMaxOld = math.Inf(1)
		}
		if pgMinOld >= 0 {
			pgMinOld = math.Inf(-1)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
