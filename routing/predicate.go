package routing

import (
	"fmt"
	"strings"
)

// Predicate is a declarative condition over an agent's skills and languages,
// written in configuration. Exactly one of its forms is set.
type Predicate struct {
	Skill    string      `yaml:"skill,omitempty" json:"skill,omitempty"`       // agent has Skill with proficiency >= Min
	Min      int         `yaml:"min,omitempty" json:"min,omitempty"`           // minimum proficiency 1-5 for Skill; 0 means 1
	Language string      `yaml:"language,omitempty" json:"language,omitempty"` // agent speaks Language
	AnyOf    []Predicate `yaml:"any_of,omitempty" json:"any_of,omitempty"`     // at least one sub-predicate holds
	AllOf    []Predicate `yaml:"all_of,omitempty" json:"all_of,omitempty"`     // every sub-predicate holds
	Any      bool        `yaml:"any,omitempty" json:"any,omitempty"`           // every agent qualifies
}

// String renders the predicate compactly for logs and error messages.
func (p Predicate) String() string {
	join := func(op string, ps []Predicate) string {
		parts := make([]string, len(ps))
		for i, c := range ps {
			parts[i] = c.String()
		}
		return op + "(" + strings.Join(parts, ", ") + ")"
	}
	switch {
	case p.Any:
		return "any"
	case p.Skill != "":
		m := p.Min
		if m == 0 {
			m = 1
		}
		return fmt.Sprintf("%s>=%d", p.Skill, m)
	case p.Language != "":
		return "lang=" + p.Language
	case p.AnyOf != nil:
		return join("any_of", p.AnyOf)
	default:
		return join("all_of", p.AllOf)
	}
}

type predOp uint8

const (
	opAny predOp = iota
	opSkill
	opLanguage
	opAnyOf
	opAllOf
)

// compiledPredicate is a Predicate with names resolved to dense indexes.
type compiledPredicate struct {
	op    predOp
	index int // skill or language index
	min   int8
	kids  []compiledPredicate
}

// agentAttrs are an agent's skills and languages as dense indexes.
type agentAttrs struct {
	skills []int8 // proficiency per skill index, 0 = lacks the skill
	langs  []bool // per language index
}

// names interns skill and language names to dense indexes.
type names struct {
	skills     map[string]int
	skillNames []string
	langs      map[string]int
	langNames  []string
	openLangs  bool // no language list configured: any language is accepted
}

func (n *names) lang(name string, add bool) (int, bool) {
	if i, ok := n.langs[name]; ok {
		return i, true
	}
	if !add || !n.openLangs {
		return 0, false
	}
	i := len(n.langNames)
	n.langs[name] = i
	n.langNames = append(n.langNames, name)
	return i, true
}

// compilePredicate validates p and resolves its names; path locates p in the
// configuration for error messages.
func compilePredicate(p Predicate, n *names, path string) (compiledPredicate, error) {
	forms := 0
	if p.Any {
		forms++
	}
	if p.Skill != "" {
		forms++
	}
	if p.Language != "" {
		forms++
	}
	if p.AnyOf != nil {
		forms++
	}
	if p.AllOf != nil {
		forms++
	}
	if forms != 1 {
		return compiledPredicate{}, fmt.Errorf("%s: a predicate needs exactly one of skill, language, any_of, all_of, any (found %d)", path, forms)
	}
	if p.Min != 0 && p.Skill == "" {
		return compiledPredicate{}, fmt.Errorf("%s: min is only valid with skill", path)
	}
	switch {
	case p.Any:
		return compiledPredicate{op: opAny}, nil
	case p.Skill != "":
		i, ok := n.skills[p.Skill]
		if !ok {
			return compiledPredicate{}, fmt.Errorf("%s: unknown skill %q (known: %s)", path, p.Skill, strings.Join(n.skillNames, ", "))
		}
		m := p.Min
		if m == 0 {
			m = 1
		}
		if m < 1 || m > 5 {
			return compiledPredicate{}, fmt.Errorf("%s: skill %q min %d is outside 1-5", path, p.Skill, p.Min)
		}
		return compiledPredicate{op: opSkill, index: i, min: int8(m)}, nil
	case p.Language != "":
		i, ok := n.lang(p.Language, true)
		if !ok {
			return compiledPredicate{}, fmt.Errorf("%s: unknown language %q (known: %s)", path, p.Language, strings.Join(n.langNames, ", "))
		}
		return compiledPredicate{op: opLanguage, index: i}, nil
	}
	op, kids, name := opAnyOf, p.AnyOf, "any_of"
	if p.AllOf != nil {
		op, kids, name = opAllOf, p.AllOf, "all_of"
	}
	if len(kids) == 0 {
		return compiledPredicate{}, fmt.Errorf("%s.%s: needs at least one predicate", path, name)
	}
	c := compiledPredicate{op: op, kids: make([]compiledPredicate, len(kids))}
	for i, k := range kids {
		ck, err := compilePredicate(k, n, fmt.Sprintf("%s.%s[%d]", path, name, i))
		if err != nil {
			return compiledPredicate{}, err
		}
		c.kids[i] = ck
	}
	return c, nil
}

// match reports whether an agent with attributes a satisfies the predicate.
func (c *compiledPredicate) match(a *agentAttrs) bool {
	switch c.op {
	case opAny:
		return true
	case opSkill:
		return c.index < len(a.skills) && a.skills[c.index] >= c.min
	case opLanguage:
		return c.index < len(a.langs) && a.langs[c.index]
	case opAnyOf:
		for i := range c.kids {
			if c.kids[i].match(a) {
				return true
			}
		}
		return false
	default:
		for i := range c.kids {
			if !c.kids[i].match(a) {
				return false
			}
		}
		return true
	}
}

// score sums the agent's proficiency over the skills the predicate names; the
// most-skilled strategy and weighted random selection rank agents by it.
func (c *compiledPredicate) score(a *agentAttrs) int {
	switch c.op {
	case opSkill:
		if c.index < len(a.skills) {
			return int(a.skills[c.index])
		}
		return 0
	case opAnyOf, opAllOf:
		s := 0
		for i := range c.kids {
			s += c.kids[i].score(a)
		}
		return s
	}
	return 0
}

// maxScore is the largest score any agent can reach (5 per named skill).
func (c *compiledPredicate) maxScore() int {
	switch c.op {
	case opSkill:
		return 5
	case opAnyOf, opAllOf:
		s := 0
		for i := range c.kids {
			s += c.kids[i].maxScore()
		}
		return s
	}
	return 0
}
