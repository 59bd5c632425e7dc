package knowledge

import (
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Section is a run of plain text under one heading path.
type Section struct {
	Headings []string // outermost first; empty before the first heading
	Text     string   // plain text, paragraphs separated by blank lines
}

// Extract turns a body in the given format into plain-text sections split at
// headings.
func Extract(body string, f Format) ([]Section, error) {
	switch f {
	case FormatMarkdown:
		return extractMarkdown(body), nil
	case FormatHTML:
		return extractHTML(body)
	case FormatText:
		return []Section{{Text: normalizeParagraphs(body)}}, nil
	}
	return nil, fmt.Errorf("extract: %w %q", ErrUnsupportedFormat, f)
}

// sectionBuilder accumulates text and cuts a section whenever a heading
// arrives, keeping a heading stack by level.
type sectionBuilder struct {
	stack    []heading
	text     strings.Builder
	sections []Section
}

type heading struct {
	level int
	text  string
}

func (b *sectionBuilder) flush() {
	t := normalizeParagraphs(b.text.String())
	b.text.Reset()
	if t == "" {
		return
	}
	hs := make([]string, len(b.stack))
	for i, h := range b.stack {
		hs[i] = h.text
	}
	b.sections = append(b.sections, Section{Headings: hs, Text: t})
}

func (b *sectionBuilder) heading(level int, text string) {
	b.flush()
	text = strings.Join(strings.Fields(text), " ")
	for len(b.stack) > 0 && b.stack[len(b.stack)-1].level >= level {
		b.stack = b.stack[:len(b.stack)-1]
	}
	if text != "" {
		b.stack = append(b.stack, heading{level, text})
	}
}

var (
	mdImage    = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	mdLink     = regexp.MustCompile(`\[([^\]]+)\]\([^)]*\)`)
	mdRefLink  = regexp.MustCompile(`\[([^\]]+)\]\[[^\]]*\]`)
	mdEmphasis = regexp.MustCompile("(\\*\\*|__|\\*|~~|`)")
	mdList     = regexp.MustCompile(`^\s*([-*+]|\d+[.)])\s+`)
	mdATX      = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	mdRule     = regexp.MustCompile(`^\s*([-*_]\s*){3,}$`)
)

func extractMarkdown(body string) []Section {
	var b sectionBuilder
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	inFence := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			inFence = !inFence
			b.text.WriteString("\n")
			continue
		}
		if inFence {
			b.text.WriteString(line + "\n")
			continue
		}
		if m := mdATX.FindStringSubmatch(trimmed); m != nil {
			b.heading(len(m[1]), inlineMarkdown(m[2]))
			continue
		}
		// Setext headings: a text line underlined with === or ---.
		if i+1 < len(lines) && trimmed != "" {
			next := strings.TrimSpace(lines[i+1])
			if len(next) >= 2 && strings.Trim(next, "=") == "" {
				b.heading(1, inlineMarkdown(trimmed))
				i++
				continue
			}
			if len(next) >= 2 && strings.Trim(next, "-") == "" {
				b.heading(2, inlineMarkdown(trimmed))
				i++
				continue
			}
		}
		if mdRule.MatchString(trimmed) {
			b.text.WriteString("\n\n")
			continue
		}
		trimmed = strings.TrimLeft(trimmed, "> ")
		isItem := looksLikeListItem(trimmed) && mdList.MatchString(trimmed)
		if isItem {
			trimmed = mdList.ReplaceAllString(trimmed, "")
		}
		if isItem {
			// List items are separate statements even without punctuation.
			b.text.WriteString("\n\n")
		}
		b.text.WriteString(inlineMarkdown(trimmed) + "\n")
	}
	b.flush()
	return b.sections
}

// looksLikeListItem is mdList's cheap precondition: a bullet or a digit
// first.
func looksLikeListItem(s string) bool {
	s = strings.TrimLeft(s, " \t")
	return s != "" && (strings.ContainsRune("-*+", rune(s[0])) || s[0] >= '0' && s[0] <= '9')
}

func inlineMarkdown(s string) string {
	// Most lines are plain prose: skip the regexps when no markup
	// character is present (they were a tenth of ingestion's CPU).
	if !strings.ContainsAny(s, "[*_~`") {
		return s
	}
	if strings.Contains(s, "](") || strings.Contains(s, "][") {
		s = mdImage.ReplaceAllString(s, "$1")
		s = mdLink.ReplaceAllString(s, "$1")
		s = mdRefLink.ReplaceAllString(s, "$1")
	}
	return mdEmphasis.ReplaceAllString(s, "")
}

func extractHTML(body string) ([]Section, error) {
	root, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse html: %w", err)
	}
	var b sectionBuilder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Head, atom.Svg:
				return
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				b.heading(int(n.Data[1]-'0'), nodeText(n))
				return
			case atom.Br:
				b.text.WriteString("\n")
				return
			}
		}
		if n.Type == html.TextNode {
			b.text.WriteString(n.Data)
		}
		block := n.Type == html.ElementNode && isBlock(n.DataAtom)
		if block {
			b.text.WriteString("\n\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if block {
			b.text.WriteString("\n\n")
		}
	}
	walk(root)
	b.flush()
	return b.sections, nil
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Li, atom.Ul, atom.Ol, atom.Table, atom.Tr, atom.Td, atom.Th,
		atom.Section, atom.Article, atom.Header, atom.Footer, atom.Blockquote, atom.Pre,
		atom.Dl, atom.Dt, atom.Dd, atom.Main, atom.Nav, atom.Aside, atom.Figure, atom.Figcaption, atom.Hr:
		return true
	}
	return false
}

func nodeText(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
			sb.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(sb.String()), " ")
}

// normalizeParagraphs collapses whitespace inside paragraphs and keeps a
// single blank line between them.
func normalizeParagraphs(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var paras []string
	for _, p := range strings.Split(s, "\n\n") {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			paras = append(paras, p)
		}
	}
	return strings.Join(paras, "\n\n")
}
