package textproc

import (
	"reflect"
	"testing"
)

func TestStemPorterVocabulary(t *testing.T) {
	cases := map[string]string{
		"caresses": "caress", "ponies": "poni", "cats": "cat", "feed": "feed", "agreed": "agre",
		"plastered": "plaster", "motoring": "motor", "sing": "sing", "conflated": "conflat",
		"hopping": "hop", "falling": "fall", "filing": "file", "happy": "happi",
		"relational": "relat", "conditional": "condit", "digitizer": "digit", "operator": "oper",
		"hopefulness": "hope", "electrical": "electr", "adjustment": "adjust", "adoption": "adopt",
		"generalization": "gener", "connection": "connect", "connected": "connect", "connecting": "connect",
		"controll": "control", "rate": "rate", "deleting": "delet", "deleted": "delet", "delete": "delet",
	}
	for in, want := range cases {
		if got := Stem(in); got != want {
			t.Errorf("Stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTermsDropStopWordsAndStem(t *testing.T) {
	got := Terms("How can I delete my Facebook account? Don't wait: Deleting accounts!")
	want := []string{"delet", "facebook", "account", "wait", "delet", "account"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Terms = %q, want %q", got, want)
	}
}

func TestWordsUnicode(t *testing.T) {
	got := Words("Ça coûte 12€ — Überweisung")
	want := []string{"ça", "coûte", "12", "überweisung"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Words = %q, want %q", got, want)
	}
}
