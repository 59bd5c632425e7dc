package asr

import "testing"

func TestWordErrors(t *testing.T) {
	cases := []struct {
		ref, hyp string
		errs, n  int
	}{
		{"I want to check my account balance", "i want to check my account balance", 0, 7},
		{"check my account balance", "check my account talent believe", 2, 4},
		{"a b c", "", 3, 3},
		{"", "noise", 1, 0},
		{"She saw a cat in the neighbor's house.", "she saw the cat in the neighbor's house", 1, 8},
	}
	for _, c := range cases {
		e, n := WordErrors(c.ref, c.hyp)
		if e != c.errs || n != c.n {
			t.Errorf("WordErrors(%q, %q) = %d/%d, want %d/%d", c.ref, c.hyp, e, n, c.errs, c.n)
		}
	}
}
