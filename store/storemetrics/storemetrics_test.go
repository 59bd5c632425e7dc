package storemetrics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/store"
)

func TestWriteBehindCollector(t *testing.T) {
	ctx := context.Background()
	wb := store.NewWriteBehind(store.WriteBehindOptions{})
	if err := wb.Enqueue("call-1", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := wb.Enqueue("call-1", func(context.Context) error { return store.ErrConflict }); err != nil {
		t.Fatal(err)
	}
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(NewWriteBehindCollector(wb)); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			got[mf.GetName()] = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			got[mf.GetName()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"parley_store_writebehind_pending":                0,
		"parley_store_writebehind_oldest_pending_seconds": 0,
		"parley_store_writebehind_written_total":          1,
		"parley_store_writebehind_retries_total":          0,
		"parley_store_writebehind_failed_total":           1,
	}
	if len(got) != len(want) {
		t.Fatalf("gathered %v, want %v", got, want)
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
	if err := wb.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
