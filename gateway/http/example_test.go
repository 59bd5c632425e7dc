package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store/sqlite"
)

// Example wires the API to an in-memory SQLite store and creates a queue.
func Example() {
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	srv := httpapi.New(httpapi.Options{
		Store:      st,
		Checks:     []httpapi.ReadinessCheck{httpapi.StoreCheck(st)},
		Gatherer:   reg,
		Registerer: reg,
	})

	req := httptest.NewRequest("POST", "/api/v1/queues", strings.NewReader(`{"id":"support","name":"Support","strategy":"most_skilled"}`))
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Location"))

	req = httptest.NewRequest("GET", "/readyz", nil)
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	fmt.Println(rec.Code, http.StatusText(rec.Code))
	// Output:
	// 201 /api/v1/queues/support
	// 200 OK
}
