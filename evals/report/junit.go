package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/parley-cc/parley/evals"
)

// JUnit XML as CI systems read it (the Jenkins/Ant schema): one testsuite
// per run, one testcase per scenario; a failed scenario has a <failure>, an
// errored one an <error>, a skipped one <skipped>.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Failures  int             `xml:"failures,attr"`
	Errors    int             `xml:"errors,attr"`
	Skipped   int             `xml:"skipped,attr"`
	Time      string          `xml:"time,attr"`
	Timestamp string          `xml:"timestamp,attr"`
	Props     []junitProperty `xml:"properties>property"`
	Cases     []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// JUnit writes the run as JUnit XML.
func JUnit(w io.Writer, r *evals.Report) error {
	s := junitSuite{Name: r.Suite, Tests: r.Total, Failures: r.Failed, Errors: r.Errored, Skipped: r.Skipped,
		Time: fmt.Sprintf("%.3f", r.FinishedAt.Sub(r.StartedAt).Seconds()), Timestamp: r.StartedAt.Format("2006-01-02T15:04:05")}
	s.Props = []junitProperty{{"run", r.ID}, {"mode", r.Mode}, {"seed", fmt.Sprint(r.Seed)},
		{"task_success", fmt.Sprintf("%.4f", r.Metrics.TaskSuccess)}, {"containment", fmt.Sprintf("%.4f", r.Metrics.Containment)}}
	for _, sc := range r.Scenarios {
		c := junitCase{Name: sc.ID, ClassName: r.Suite + "." + r.Mode, Time: fmt.Sprintf("%.3f", sc.DurationMs/1000),
			SystemOut: evals.FormatTranscript(&sc.Transcript)}
		msg := ""
		if len(sc.Reasons) > 0 {
			msg = sc.Reasons[0]
		}
		body := strings.Join(sc.Reasons, "\n")
		switch sc.Status {
		case evals.StatusFailed:
			c.Failure = &junitProblem{Message: msg, Type: "failed", Body: body}
		case evals.StatusErrored:
			c.Error = &junitProblem{Message: msg, Type: "errored", Body: body}
		case evals.StatusSkipped:
			c.Skipped = &junitProblem{Message: msg}
		}
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
