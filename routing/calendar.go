package routing

import (
	"fmt"
	"strings"
	"time"
)

// CalendarConfig describes business hours: weekly opening spans in a time
// zone, minus holidays.
type CalendarConfig struct {
	Name     string              `yaml:"name" json:"name"`
	TimeZone string              `yaml:"time_zone" json:"time_zone"` // IANA name, e.g. Europe/Paris
	Weekly   map[string][]string `yaml:"weekly" json:"weekly"`       // mon..sun -> ["09:00-12:30", "13:30-18:00"]
	Holidays []string            `yaml:"holidays" json:"holidays"`   // closed all day, YYYY-MM-DD in the calendar's zone
}

// Calendar answers whether a queue is open at an instant.
type Calendar struct {
	name     string
	loc      *time.Location
	weekly   [7][]span // indexed by time.Weekday
	holidays map[string]bool
}

// span is an opening interval in minutes since local midnight, [from, to).
type span struct{ from, to int }

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// NewCalendar validates cfg and builds a Calendar; path locates it in the
// configuration for error messages.
func NewCalendar(cfg CalendarConfig, path string) (*Calendar, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("%s.name: empty", path)
	}
	tz := cfg.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%s.time_zone: %w", path, err)
	}
	c := &Calendar{name: cfg.Name, loc: loc, holidays: map[string]bool{}}
	for day, spans := range cfg.Weekly {
		wd, ok := weekdays[strings.ToLower(day)]
		if !ok {
			return nil, fmt.Errorf("%s.weekly: unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", path, day)
		}
		for i, s := range spans {
			sp, err := parseSpan(s)
			if err != nil {
				return nil, fmt.Errorf("%s.weekly.%s[%d]: %w", path, day, i, err)
			}
			c.weekly[wd] = append(c.weekly[wd], sp)
		}
	}
	for i, h := range cfg.Holidays {
		d, err := time.Parse("2006-01-02", h)
		if err != nil {
			return nil, fmt.Errorf("%s.holidays[%d]: %q is not YYYY-MM-DD", path, i, h)
		}
		c.holidays[d.Format("2006-01-02")] = true
	}
	return c, nil
}

func parseSpan(s string) (span, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return span{}, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	f, err1 := parseClock(strings.TrimSpace(from))
	t, err2 := parseClock(strings.TrimSpace(to))
	if err1 != nil || err2 != nil {
		return span{}, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	if t <= f {
		return span{}, fmt.Errorf("%q ends before it starts", s)
	}
	return span{f, t}, nil
}

func parseClock(s string) (int, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || len(s) != 5 {
		return 0, fmt.Errorf("bad clock %q", s)
	}
	if h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("bad clock %q", s)
	}
	return h*60 + m, nil
}

// Name is the calendar's configured name.
func (c *Calendar) Name() string { return c.name }

// IsOpen reports whether t falls inside business hours.
func (c *Calendar) IsOpen(t time.Time) bool {
	lt := t.In(c.loc)
	if c.holidays[lt.Format("2006-01-02")] {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	for _, s := range c.weekly[lt.Weekday()] {
		if m >= s.from && m < s.to {
			return true
		}
	}
	return false
}
