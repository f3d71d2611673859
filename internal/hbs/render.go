package hbs

import (
	"fmt"
	"sort"
	"strings"
)

// Limits bound one render, so that no template and data can make it
// hang or exhaust memory. A render that would go beyond one fails with an
// *Error wrapping ErrLimit.
type Limits struct {
	MaxOutput     int // bytes of output
	MaxDepth      int // blocks and partial calls inside one another while rendering
	MaxIterations int // {{#each}} iterations, all loops together
	MaxSteps      int // nodes rendered, all together (bounds partials that call each other)
}

// DefaultLimits are generous for an email (SES sends messages of at most
// 10 MB; its templates are at most 500 KB and its data 256 KB) and keep
// a render within a fraction of a second.
var DefaultLimits = Limits{
	MaxOutput:     10 << 20,
	MaxDepth:      100,
	MaxIterations: 100_000,
	MaxSteps:      2_000_000,
}

// Options change how a template renders. The zero Options render as SES
// does.
type Options struct {
	// EscapeHTML escapes {{values}} as Handlebars.js does (EscapeHTML);
	// {{{values}}} never are. SES does not escape: "SES doesn't escape
	// HTML content when rendering the HTML template for a message" (the
	// SES guide, "Advanced email personalization").
	EscapeHTML bool
	// Limits; a zero field takes the DefaultLimits value.
	Limits Limits
}

// Report tells what a render found besides its output.
type Report struct {
	// Missing lists the variables printed ({{x}}, {{{x}}}) that the data
	// does not have, in template order, once per place. They render as
	// empty, as Handlebars renders them, but SES refuses to render such a
	// message: TestRenderTemplate answers MissingRenderingAttribute and a
	// send ends in a Rendering Failure event.
	Missing []Missing
}

// Missing is a printed variable the data lacks.
type Missing struct {
	Pos
	Path string // as written
}

// Render renders the template with data as SES would, data being what
// DecodeJSON returns (or Go maps, slices and scalars). Variables the data
// lacks render as empty and are listed in the report.
func (t *Template) Render(data any) (string, *Report, error) {
	return t.RenderWith(data, Options{})
}

// RenderWith renders the template with data and options.
func (t *Template) RenderWith(data any, o Options) (string, *Report, error) {
	lim := o.Limits
	def := DefaultLimits
	if lim.MaxOutput <= 0 {
		lim.MaxOutput = def.MaxOutput
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = def.MaxDepth
	}
	if lim.MaxIterations <= 0 {
		lim.MaxIterations = def.MaxIterations
	}
	if lim.MaxSteps <= 0 {
		lim.MaxSteps = def.MaxSteps
	}
	var out strings.Builder
	data, _ = deepNormal(data, 0)
	r := &renderer{t: t, esc: o.EscapeHTML, lim: lim, out: &out, ctxs: []any{data}, missing: map[Pos]string{}}
	if err := r.program(t.Root, t.defs); err != nil {
		return "", nil, err
	}
	rep := &Report{}
	for p, path := range r.missing {
		rep.Missing = append(rep.Missing, Missing{Pos: p, Path: path})
	}
	sort.Slice(rep.Missing, func(i, j int) bool { return less(rep.Missing[i].Pos, rep.Missing[j].Pos) })
	return out.String(), rep, nil
}

func less(a, b Pos) bool { return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col }

type renderer struct {
	t   *Template
	esc bool
	lim Limits
	out *strings.Builder

	written int
	ctxs    []any // the contexts ../ climbs, innermost last
	loops   []*loop
	scopes  []map[string]*Inline // inline partials in scope, innermost last
	depth   int
	steps   int
	iters   int
	missing map[Pos]string
}

// loop is the state of an {{#each}}, which @index, @key, @first and
// @last read.
type loop struct {
	index       int
	key         any
	first, last bool
}

func (r *renderer) limitf(p Pos, format string, args ...any) error {
	return &Error{Template: r.t.Name, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...), limit: true}
}

func (r *renderer) write(s string, p Pos) error {
	if r.written+len(s) > r.lim.MaxOutput {
		return r.limitf(p, "the output would exceed %d bytes", r.lim.MaxOutput)
	}
	r.out.WriteString(s)
	r.written += len(s)
	return nil
}

func (r *renderer) program(nodes []Node, defs map[string]*Inline) error {
	if defs != nil {
		r.scopes = append(r.scopes, defs)
		defer func() { r.scopes = r.scopes[:len(r.scopes)-1] }()
	}
	for _, n := range nodes {
		if err := r.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) node(n Node) error {
	r.steps++
	if r.steps > r.lim.MaxSteps {
		return r.limitf(n.Position(), "the render would take more than %d steps", r.lim.MaxSteps)
	}
	switch n := n.(type) {
	case *Text:
		return r.write(n.Value, n.Pos)
	case *Mustache:
		v, ok := r.lookup(n.Path)
		if !ok && !n.Path.Data {
			r.missing[n.Path.Pos] = n.Path.Original
		}
		s := stringify(v)
		if r.esc && !n.Raw {
			s = EscapeHTML(s)
		}
		return r.write(s, n.Pos)
	case *Block:
		return r.block(n)
	case *PartialCall:
		return r.partial(n)
	}
	return nil // comments and inline partial definitions render nothing
}

func (r *renderer) enter(p Pos) error {
	r.depth++
	if r.depth > r.lim.MaxDepth {
		return r.limitf(p, "blocks and partials nest deeper than %d", r.lim.MaxDepth)
	}
	return nil
}

func (r *renderer) block(b *Block) error {
	if err := r.enter(b.Pos); err != nil {
		return err
	}
	defer func() { r.depth-- }()
	v, _ := r.lookup(b.Arg)
	switch b.Helper {
	case "if", "unless":
		if truthy(v) == (b.Helper == "if") {
			return r.program(b.Body, b.bodyDefs)
		}
		return r.program(b.Else, b.elseDefs)
	case "with":
		if empty(v) {
			return r.program(b.Else, b.elseDefs)
		}
		return r.in(v, func() error { return r.program(b.Body, b.bodyDefs) })
	}
	// each: arrays and objects; anything else has no items.
	var n int
	var items func(yield func(int, any, any, int) error) error
	switch x := normal(v).(type) {
	case []any:
		n = len(x)
		items = func(yield func(int, any, any, int) error) error {
			for i, e := range x {
				if err := yield(i, float64(i), e, n); err != nil {
					return err
				}
			}
			return nil
		}
	case *Object:
		keys := x.Keys()
		n = len(keys)
		items = func(yield func(int, any, any, int) error) error {
			for i, k := range keys {
				e, _ := x.Get(k)
				if err := yield(i, k, e, n); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if n == 0 {
		return r.program(b.Else, b.elseDefs)
	}
	l := &loop{}
	r.loops = append(r.loops, l)
	defer func() { r.loops = r.loops[:len(r.loops)-1] }()
	return items(func(i int, key, e any, n int) error {
		r.iters++
		if r.iters > r.lim.MaxIterations {
			return r.limitf(b.Pos, "{{#each}} would iterate more than %d times", r.lim.MaxIterations)
		}
		*l = loop{index: i, key: key, first: i == 0, last: i == n-1}
		return r.in(e, func() error { return r.program(b.Body, b.bodyDefs) })
	})
}

// in runs fn with v as the context. As in Handlebars, a context that is
// the current one again adds no level for ../ to climb.
func (r *renderer) in(v any, fn func() error) error {
	if sameContext(v, r.ctxs[len(r.ctxs)-1]) {
		return fn()
	}
	r.ctxs = append(r.ctxs, v)
	defer func() { r.ctxs = r.ctxs[:len(r.ctxs)-1] }()
	return fn()
}

func (r *renderer) partial(c *PartialCall) error {
	var def *Inline
	for i := len(r.scopes) - 1; i >= 0 && def == nil; i-- {
		def = r.scopes[i][c.Name]
	}
	if def == nil {
		return &Error{Template: r.t.Name, Line: c.Line, Col: c.Col, Msg: fmt.Sprintf("partial %q is not defined here", c.Name)}
	}
	if err := r.enter(c.Pos); err != nil {
		return err
	}
	defer func() { r.depth-- }()
	if c.Indent == "" {
		return r.program(def.Body, def.defs)
	}
	// A standalone partial call: every line of its output is indented.
	saved := r.out
	var b strings.Builder
	r.out = &b
	err := r.program(def.Body, def.defs)
	r.out = saved
	if err != nil {
		return err
	}
	r.written -= b.Len()
	return r.write(indent(b.String(), c.Indent), c.Pos)
}

func indent(s, ind string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" && i == len(lines)-1 {
			break
		}
		lines[i] = ind + l
	}
	return strings.Join(lines, "\n")
}

// lookup resolves a path in the current contexts; ok is false when the
// data does not have it.
func (r *renderer) lookup(p *Path) (any, bool) {
	if p.Data {
		i := len(r.loops) - 1 - p.Depth
		if i < 0 {
			return nil, false
		}
		l := r.loops[i]
		switch p.Parts[0] {
		case "index":
			return float64(l.index), true
		case "key":
			return l.key, true
		case "first":
			return l.first, true
		default:
			return l.last, true
		}
	}
	i := len(r.ctxs) - 1 - p.Depth
	if i < 0 {
		return nil, false
	}
	cur := r.ctxs[i]
	for _, part := range p.Parts {
		var ok bool
		if cur, ok = property(cur, part); !ok {
			return nil, false
		}
	}
	return cur, true
}

// property is a value's own property, as Handlebars looks it up: an
// object's key, an array's index or length.
func property(v any, name string) (any, bool) {
	switch x := normal(v).(type) {
	case *Object:
		return x.Get(name)
	case []any:
		if name == "length" {
			return float64(len(x)), true
		}
		if i, ok := arrayIndex(name); ok && i < uint64(len(x)) {
			return x[i], true
		}
	}
	return nil, false
}
