package evals

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// LoadError is a suite that cannot be loaded: where (file:line), which field
// (a path such as scenarios[3].caller[1].expect.latency) and why.
type LoadError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Duration is a time.Duration written as "800ms" or "2s" in YAML and JSON.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if s, err := strconv.Unquote(string(b)); err == nil {
		v, err := time.ParseDuration(s)
		*d = Duration(v)
		return err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	*d = Duration(n)
	return err
}

// Strings is a list of strings that may be written as a single string.
type Strings []string

// decoder walks yaml nodes into Go values by their `yaml` tags, so every
// error can name the file, line and field path, and remembers each path's
// line for the validation that follows.
type decoder struct {
	file  string
	lines map[string]int
}

func (d *decoder) errf(n *yaml.Node, path, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &LoadError{File: d.file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)}
}

// at returns an error at the line recorded for path.
func (d *decoder) at(path, format string, args ...any) error {
	return &LoadError{File: d.file, Line: d.lines[path], Field: path, Msg: fmt.Sprintf(format, args...)}
}

var (
	durationType = reflect.TypeOf(Duration(0))
	stringsType  = reflect.TypeOf(Strings(nil))
)

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.lines != nil {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch {
	case v.Type() == durationType:
		if n.Kind != yaml.ScalarNode {
			return d.errf(n, path, "want a duration such as 800ms or 2s")
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			if ms, err2 := strconv.Atoi(n.Value); err2 == nil {
				dur = time.Duration(ms) * time.Millisecond
			} else {
				return d.errf(n, path, "invalid duration %q: want a duration such as 800ms or 2s", n.Value)
			}
		}
		if dur < 0 {
			return d.errf(n, path, "duration %q is negative", n.Value)
		}
		v.SetInt(int64(dur))
		return nil
	case v.Type() == stringsType:
		if n.Kind == yaml.ScalarNode {
			v.Set(reflect.ValueOf(Strings{n.Value}))
			return nil
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.decode(n, v.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return d.errf(n, path, "want a mapping of %s", strings.Join(fieldNames(v.Type()), ", "))
		}
		fields := map[string]int{}
		for i := 0; i < v.NumField(); i++ {
			if name := yamlName(v.Type().Field(i)); name != "" {
				fields[name] = i
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			fp := join(path, k.Value)
			idx, ok := fields[k.Value]
			if !ok {
				return d.errf(k, fp, "unknown field %q (known: %s)", k.Value, strings.Join(fieldNames(v.Type()), ", "))
			}
			if seen[k.Value] {
				return d.errf(k, fp, "field given twice")
			}
			seen[k.Value] = true
			if err := d.decode(val, v.Field(idx), fp); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errf(n, path, "want a list")
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.errf(n, path, "want a mapping")
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := d.decode(val, ev, join(path, k.Value)); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k.Value), ev)
		}
		v.Set(m)
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return d.errf(n, path, "want a single %s value", v.Kind())
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			return d.errf(n, path, "invalid boolean %q: want true or false", n.Value)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return d.errf(n, path, "invalid integer %q", n.Value)
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return d.errf(n, path, "invalid number %q", n.Value)
		}
		v.SetFloat(f)
	default:
		return d.errf(n, path, "unsupported type %s", v.Type())
	}
	return nil
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if n := yamlName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
