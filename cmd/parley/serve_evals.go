package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/parley-cc/parley/evals"
	"github.com/parley-cc/parley/evals/report"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store"
)

// The evals component serves the eval runs `parley eval run --db` stored:
// GET /api/v1/evals/runs, /api/v1/evals/runs/{id} (the whole report) and
// /api/v1/evals/runs/{id}/report.html.
func init() {
	registerComponent(component{name: "evals", order: orderEvals, start: func(_ context.Context, n *nodeEnv) (*running, error) {
		return &running{Routes: evalRoutes(n.Store)}, nil
	}})
}

// EvalRunSummary is one stored run in the list.
type EvalRunSummary struct {
	ID         string    `json:"id"`
	Suite      string    `json:"suite"`
	Mode       string    `json:"mode"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Total      int       `json:"total"`
	Passed     int       `json:"passed"`
	Failed     int       `json:"failed"`
	Errored    int       `json:"errored"`
}

// EvalRunList is the body of GET /api/v1/evals/runs.
type EvalRunList struct {
	Runs []EvalRunSummary `json:"runs"`
}

func evalRoutes(st store.EvalStore) []httpapi.Route {
	const tag = "evals"
	storeErr := func(err error, what string) error {
		if errors.Is(err, store.ErrNotFound) {
			return httpapi.Error(http.StatusNotFound, "id", "%s not found", what)
		}
		return httpapi.Unavailable(2, "the database", err)
	}
	load := func(r *http.Request) (*evals.Report, error) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		id := r.PathValue("id")
		run, err := st.GetEvalRun(ctx, id)
		if err != nil {
			return nil, storeErr(err, "eval run "+id)
		}
		var rep evals.Report
		if err := json.Unmarshal(run.Report, &rep); err != nil || rep.ID == "" {
			// A run stored without its report (or by another tool): the stored counts.
			rep = evals.Report{ID: run.ID, Suite: run.Suite, Mode: run.Mode, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt,
				Passed: run.Passed, Failed: run.Failed, Errored: run.Errored, Total: run.Passed + run.Failed + run.Errored}
		}
		return &rep, nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/evals/runs", OperationID: "listEvalRuns", Tag: tag, Summary: "Stored eval runs, newest first",
			Description: "Runs stored by `parley eval run --db`; suite narrows to one suite.",
			Query:       []httpapi.Param{{Name: "suite", Description: "only this suite's runs", Schema: map[string]any{"type": "string"}}},
			Status:      200, Response: EvalRunList{}, Errors: []int{503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
				defer cancel()
				runs, err := st.ListEvalRuns(ctx, r.URL.Query().Get("suite"))
				if err != nil {
					httpapi.WriteError(w, r, storeErr(err, "eval runs"))
					return
				}
				out := EvalRunList{Runs: []EvalRunSummary{}}
				for _, run := range runs {
					s := EvalRunSummary{ID: run.ID, Suite: run.Suite, Mode: run.Mode, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt,
						Passed: run.Passed, Failed: run.Failed, Errored: run.Errored, Total: run.Passed + run.Failed + run.Errored}
					var head struct {
						Total int `json:"total"`
					}
					if json.Unmarshal(run.Report, &head) == nil && head.Total > 0 {
						s.Total = head.Total
					}
					out.Runs = append(out.Runs, s)
				}
				httpapi.WriteJSON(w, http.StatusOK, out)
			}},
		{Method: "GET", Path: "/api/v1/evals/runs/{id}", OperationID: "getEvalRun", Tag: tag, Summary: "One eval run with every scenario, check, transcript and metric",
			Status: 200, Response: evals.Report{}, Errors: []int{404, 503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				rep, err := load(r)
				if err != nil {
					httpapi.WriteError(w, r, err)
					return
				}
				httpapi.WriteJSON(w, http.StatusOK, rep)
			}},
		{Method: "GET", Path: "/api/v1/evals/runs/{id}/report.html", OperationID: "getEvalRunReport", Tag: tag, Summary: "The run's self-contained HTML report with charts",
			Status: 200, ResponseType: "text/html", Errors: []int{404, 503},
			Handler: func(w http.ResponseWriter, r *http.Request) {
				rep, err := load(r)
				if err != nil {
					httpapi.WriteError(w, r, err)
					return
				}
				var b bytes.Buffer
				if err := report.HTML(&b, rep, nil, nil, nil); err != nil {
					httpapi.WriteError(w, r, err)
					return
				}
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = w.Write(b.Bytes())
			}},
	}
}
