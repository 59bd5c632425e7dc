package nlu

import (
	"math"
	"math/rand/v2"
)

// trainSoftmax fits multinomial logistic regression by SGD with L2 weight
// decay (kept as a global scale so each step only touches the example's
// columns). It returns column-major weights like Model.weights.
func trainSoftmax(x []sparse, classOf []int, K, ncols int, lambda float64, epochs int, seed uint64) []float32 {
	v := make([]float64, ncols*K)
	scale := 1.0
	rng := rand.New(rand.NewPCG(seed, 0x51ed27))
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	p := make([]float64, K)
	lr0 := 0.5
	t := 0
	for range epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			lr := lr0 / (1 + lr0*lambda*float64(t))
			t++
			xi := x[i]
			for k := range p {
				p[k] = 0
			}
			for n, c := range xi.idx {
				row := v[int(c)*K : int(c)*K+K]
				xv := float64(xi.val[n]) * scale
				for k, w := range row {
					p[k] += xv * w
				}
			}
			hi := math.Inf(-1)
			for _, s := range p {
				hi = max(hi, s)
			}
			var z float64
			for k, s := range p {
				p[k] = math.Exp(s - hi)
				z += p[k]
			}
			for k := range p {
				p[k] /= z
			}
			p[classOf[i]] -= 1
			scale *= 1 - lr*lambda
			step := lr / scale
			for n, c := range xi.idx {
				row := v[int(c)*K : int(c)*K+K]
				g := step * float64(xi.val[n])
				for k := range row {
					row[k] -= g * p[k]
				}
			}
			if scale < 1e-6 {
				for j := range v {
					v[j] *= scale
				}
				scale = 1
			}
		}
	}
	// Center each column's weights: softmax is unchanged, and the summed
	// scores keep the SVM's meaning of 0 as "this intent does not claim it".
	out := make([]float32, len(v))
	for c := 0; c < ncols; c++ {
		row := v[c*K : c*K+K]
		var mean float64
		for _, w := range row {
			mean += w
		}
		mean /= float64(K)
		for k, w := range row {
			out[c*K+k] = float32((w - mean) * scale)
		}
	}
	return out
}
