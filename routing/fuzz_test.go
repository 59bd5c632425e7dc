package routing

import "testing"

// FuzzParseConfig: any input is either rejected with an error or yields a
// configuration the engine accepts; nothing panics.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(testConfig))
	f.Add([]byte(propertyConfig))
	f.Add([]byte(strategyConfig))
	f.Add([]byte("skills: [a]\nqueues: [{id: q, steps: [{require: {any_of: [{skill: a, min: 9}]}}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if _, err := New(cfg); err != nil {
			t.Fatalf("validated config rejected by New: %v", err)
		}
	})
}
