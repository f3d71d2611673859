package templates

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"

	"sendops/internal/hbs"
)

// SES's limits, from its documentation.
const (
	// MaxTemplateSize is the most SES takes for a stored template's text
	// and HTML parts together: "Each template can be up to 500 KB in size,
	// including both the text and HTML parts" (SES developer guide, "Using
	// templates to send personalized email with the Amazon SES API").
	// Counted as 500,000 bytes, the stricter reading of KB.
	MaxTemplateSize = 500_000
	// MaxDataLength is the most SES takes for TemplateData: "Length
	// Constraints: Maximum length of 262144" (SES API, TestRenderEmailTemplate
	// and SendEmail's Template).
	MaxDataLength = 262_144
)

// nameRE is what SES takes as a template's name: ASCII letters, digits,
// underscores and dashes, at most 64 characters (SES API, Template).
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// partSpec names a template's parts in the order they are checked.
type partSpec struct {
	label string
	part  Part
}

func (t Template) parts() []partSpec {
	return []partSpec{{"subject", t.Subject}, {"html", t.HTML}, {"text", t.Text}}
}

type checker struct {
	t     Template
	probs []Problem
}

func (c *checker) add(file string, line, col int, sev Severity, format string, args ...any) {
	c.probs = append(c.probs, Problem{File: file, Line: line, Col: col, Severity: sev, Template: c.t.Name, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) addAt(at Place, sev Severity, format string, args ...any) {
	c.add(at.File, at.Line, at.Col, sev, format, args...)
}

// parse parses the template's parts; a part that does not parse is
// reported and left out.
func (c *checker) parse() map[string]*hbs.Template {
	out := map[string]*hbs.Template{}
	for _, p := range c.t.parts() {
		if !p.part.Present() {
			continue
		}
		tm, err := hbs.Parse(c.t.Name+" "+p.label, p.part.Source)
		if err != nil {
			var e *hbs.Error
			if errors.As(err, &e) {
				line, col := p.part.at(e.Line, e.Col)
				c.add(p.part.File, line, col, Error, "%s", e.Msg)
			} else {
				c.add(p.part.File, p.part.Line, p.part.Col, Error, "%v", err)
			}
			continue
		}
		out[p.label] = tm
	}
	return out
}

// data decodes template data from a part, checking what SES checks.
func (c *checker) data(p Part) (*hbs.Object, bool) {
	if n := utf8.RuneCountInString(p.Source); n > MaxDataLength {
		c.add(p.File, p.Line, p.Col, Error, "the data is %d characters; SES takes template data of at most %d", n, MaxDataLength)
		return nil, false
	}
	v, err := hbs.DecodeJSON([]byte(p.Source))
	if err != nil {
		var de *hbs.DataError
		if errors.As(err, &de) {
			line, col := p.at(de.Line, de.Col)
			c.add(p.File, line, col, Error, "the data is not valid JSON: %s", de.Msg)
		} else {
			c.add(p.File, p.Line, p.Col, Error, "the data is not valid JSON: %v", err)
		}
		return nil, false
	}
	obj, ok := v.(*hbs.Object)
	if !ok {
		c.add(p.File, p.Line, p.Col, Error, "the data must be a JSON object, as SES's template data is")
		return nil, false
	}
	return obj, true
}

// Lint checks a template: that each part parses as SES's Handlebars
// (errors with their line and column), SES's limits and name rules, a
// subject and a text part, the sample data against the variables the
// parts use (both ways), and the HTML for images without alt text and
// links that are not https.
func Lint(t Template) []Problem {
	c := &checker{t: t}
	if !nameRE.MatchString(t.Name) {
		c.addAt(t.NameAt, Error, "template name %q is not one SES takes: 1 to 64 ASCII letters, digits, _ and -", t.Name)
	}
	switch {
	case !t.HTML.Present() && !t.Text.Present():
		c.addAt(t.NameAt, Error, "template %q has neither an HTML nor a text part", t.Name)
	case !t.Text.Present():
		c.addAt(t.NameAt, Warning, "template %q has no text part; mail clients that show only text get nothing", t.Name)
	}
	if !t.Subject.Present() {
		c.addAt(t.NameAt, Error, "template %q has no subject (give it in the front matter as subject: or in %s)", t.Name, ManifestFile)
	}
	if n := len(t.HTML.Source) + len(t.Text.Source); n > MaxTemplateSize {
		at := t.HTML
		if !at.Present() {
			at = t.Text
		}
		c.add(at.File, at.Line, at.Col, Error, "the HTML and text parts are %d bytes; SES takes templates of at most 500 KB", n)
	}
	parsed := c.parse()
	if t.HTML.Present() {
		for _, is := range checkHTML(t.HTML.Source) {
			line, col := t.HTML.at(is.line, is.col)
			c.add(t.HTML.File, line, col, Warning, "%s", is.msg)
		}
	}
	if !t.Data.Present() {
		c.addAt(t.NameAt, Warning, "template %q has no sample data, so its variables are not checked", t.Name)
		return c.probs
	}
	data, ok := c.data(t.Data)
	if !ok {
		return c.probs
	}
	var all []hbs.Variable
	for _, p := range t.parts() {
		tm := parsed[p.label]
		if tm == nil {
			continue
		}
		vars := tm.Variables()
		all = append(all, vars...)
		for _, v := range vars {
			if v.Data == nil || has(data, v.Data) != no {
				continue
			}
			line, col := p.part.at(v.Line, v.Col)
			what := strconv.Quote(v.Expr)
			if dp := v.DataPath(); dp != v.Expr {
				what += " (" + dp + ")"
			}
			if v.Kind == hbs.Print {
				c.add(p.part.File, line, col, Warning, "%s is not in the sample data; SES refuses to send a message whose data lacks a variable it prints", what)
			} else {
				c.add(p.part.File, line, col, Warning, "%s is not in the sample data", what)
			}
		}
		// Render with the sample data: what a preview would show, and the
		// render's limits.
		if _, _, err := tm.Render(data); err != nil {
			var e *hbs.Error
			if errors.As(err, &e) {
				line, col := p.part.at(e.Line, e.Col)
				c.add(p.part.File, line, col, Error, "rendering with the sample data: %s", e.Msg)
			}
		}
	}
	for _, p := range t.parts() {
		if p.part.Present() && (parsed[p.label] == nil || !parsed[p.label].VariablesComplete()) {
			return c.probs // a part uses fields we cannot all see
		}
	}
	offs := jsonOffsets([]byte(t.Data.Source))
	reported := map[string]bool{}
	for _, leaf := range leaves(data, nil, "") {
		if used(leaf.segs, all) || reported[leaf.shape] {
			continue
		}
		reported[leaf.shape] = true
		line, col := 1, 1
		if off, ok := offs[leaf.key]; ok {
			line, col = lineCol(t.Data.Source, off)
		}
		line, col = t.Data.at(line, col)
		c.add(t.Data.File, line, col, Warning, "sample field %s is never used", leaf.shape)
	}
	return c.probs
}

// presence is whether data has a path: yes, no, or unknown (the path goes
// through an empty list).
type presence int

const (
	yes presence = iota
	no
	unknown
)

// has reports whether data has path, "[]" standing for any item.
func has(v any, path []string) presence {
	if len(path) == 0 {
		return yes
	}
	seg, rest := path[0], path[1:]
	switch x := v.(type) {
	case *hbs.Object:
		if seg == "[]" {
			return anyItem(x.Len(), func(i int) any { e, _ := x.Get(x.Keys()[i]); return e }, rest)
		}
		e, ok := x.Get(seg)
		if !ok {
			return no
		}
		return has(e, rest)
	case []any:
		switch {
		case seg == "[]":
			return anyItem(len(x), func(i int) any { return x[i] }, rest)
		case seg == "length":
			if len(rest) == 0 {
				return yes
			}
		default:
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) && strconv.Itoa(i) == seg {
				return has(x[i], rest)
			}
		}
	}
	return no
}

func anyItem(n int, item func(int) any, rest []string) presence {
	if n == 0 {
		return unknown
	}
	result := no
	for i := range n {
		switch has(item(i), rest) {
		case yes:
			return yes
		case unknown:
			result = unknown
		}
	}
	return result
}

// leaf is a value of the sample data with nothing inside it: a scalar,
// or an empty object or list.
type leaf struct {
	segs  []seg
	key   string // the path as jsonOffsets writes it
	shape string // the path with indices as [] (subscription[].interest)
}

type seg struct {
	text  string
	index bool
}

func leaves(v any, at []seg, key string) []leaf {
	var out []leaf
	switch x := v.(type) {
	case *hbs.Object:
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			out = append(out, leaves(e, append(at[:len(at):len(at)], seg{text: k}), joinJSON(key, k))...)
		}
		if x.Len() > 0 || len(at) == 0 {
			return out
		}
	case []any:
		for i, e := range x {
			out = append(out, leaves(e, append(at[:len(at):len(at)], seg{text: strconv.Itoa(i), index: true}), joinJSON(key, strconv.Itoa(i)))...)
		}
		if len(x) > 0 {
			return out
		}
	}
	var shape []string
	for _, s := range at {
		if s.index {
			shape = append(shape, "[]")
		} else {
			shape = append(shape, s.text)
		}
	}
	return append(out, leaf{segs: at, key: key, shape: hbs.JoinPath(shape)})
}

// used reports whether some variable uses the leaf at path: names it,
// names something inside it (an empty list's items), prints or counts
// something that holds it, or iterates over it.
func used(path []seg, vars []hbs.Variable) bool {
	for _, v := range vars {
		if v.Data == nil {
			continue
		}
		data, holds := v.Data, v.Kind == hbs.Print
		switch {
		case v.Kind == hbs.Each:
			// Iterating uses the items themselves: how many there are.
			data = append(data[:len(data):len(data)], "[]")
		case len(data) > 0 && data[len(data)-1] == "length":
			// So does counting them.
			data, holds = data[:len(data)-1], true
		}
		n := min(len(path), len(data))
		match := true
		for i := range n {
			p, s := data[i], path[i]
			if p != "[]" && p != s.text {
				match = false
				break
			}
		}
		if match && (len(data) >= len(path) || holds) {
			return true
		}
	}
	return false
}

// Rendered is a template rendered with data.
type Rendered struct {
	Subject, HTML, Text string
}

// Render renders a template as SES would with data (a JSON object; the
// template's sample data when data is not present). Problems are errors
// when it cannot render (a part that does not parse, data that is not a
// JSON object SES takes, a limit), and warnings for the variables it
// prints that the data lacks: they render as empty here, but SES refuses
// to send such a message.
func Render(t Template, data Part) (Rendered, []Problem) {
	c := &checker{t: t}
	parsed := c.parse()
	if !data.Present() {
		data = t.Data
	}
	obj := hbs.NewObject()
	if data.Present() {
		var ok bool
		if obj, ok = c.data(data); !ok {
			return Rendered{}, c.probs
		}
	}
	if len(c.probs) > 0 {
		return Rendered{}, c.probs
	}
	var out Rendered
	for _, p := range t.parts() {
		tm := parsed[p.label]
		if tm == nil {
			continue
		}
		s, rep, err := tm.Render(obj)
		if err != nil {
			var e *hbs.Error
			if errors.As(err, &e) {
				line, col := p.part.at(e.Line, e.Col)
				c.add(p.part.File, line, col, Error, "%s", e.Msg)
			}
			continue
		}
		for _, m := range rep.Missing {
			line, col := p.part.at(m.Line, m.Col)
			c.add(p.part.File, line, col, Warning, "%q is not in the data: it renders as empty here, but SES refuses to send the message", m.Path)
		}
		switch p.label {
		case "subject":
			out.Subject = s
		case "html":
			out.HTML = s
		default:
			out.Text = s
		}
	}
	if HasErrors(c.probs) {
		return Rendered{}, c.probs
	}
	return out, c.probs
}

// HasErrors reports whether any of the problems is an error.
func HasErrors(ps []Problem) bool {
	for _, p := range ps {
		if p.Severity == Error {
			return true
		}
	}
	return false
}
