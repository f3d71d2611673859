package hbs

import (
	"fmt"
	"slices"
	"strings"
)

// VarKind is how a template uses a variable.
type VarKind int

const (
	Print     VarKind = iota // {{x}} or {{{x}}}
	Condition                // {{#if x}}, {{#unless x}}
	Each                     // {{#each x}}
	With                     // {{#with x}}
)

func (k VarKind) String() string {
	return [...]string{"print", "condition", "each", "with"}[k]
}

// Variable is a use of a variable in a template.
type Variable struct {
	Pos
	Expr string // as written: contact.firstName, ../name, this, @index
	Kind VarKind
	// Data is where the variable is in the data, from its root: keys,
	// with "[]" standing for any item of what an {{#each}} iterates (an
	// array's elements or an object's values). Nil for @index, @key,
	// @first and @last, and for a ../ that climbs above the root.
	Data []string
}

// DataPath returns Data as text: contact.firstName, subscription[].interest.
func (v Variable) DataPath() string { return JoinPath(v.Data) }

// JoinPath writes a data path as text, with "[]" after the key it
// belongs to.
func JoinPath(p []string) string {
	var b strings.Builder
	for i, s := range p {
		if s != "[]" && i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// Variables returns every use of a variable, in every branch, with where
// it is in the data. A use inside an inline partial is listed once for
// each context the partial is called in.
func (t *Template) Variables() []Variable {
	return append([]Variable(nil), t.vars...)
}

// VariablesComplete reports whether Variables lists every use: false
// only for a template whose partials call each other in too many ways to
// follow (more than analyzeBudget nodes).
func (t *Template) VariablesComplete() bool { return t.varsComplete }

// analyzeBudget bounds the nodes the analysis visits; a template whose
// partials call each other in more ways than that has its variables
// listed only in part.
const analyzeBudget = 200_000

type frame struct {
	path  []string
	known bool
}

type analyzer struct {
	t      *Template
	ctxs   []frame
	loops  int
	scopes []map[string]*Inline
	calls  []*Inline
	visits int
	seen   map[string]bool
	err    error
}

// analyze walks every branch of the template as a render would, with
// the data unknown: it lists the variables with where they are in the
// data, and refuses a partial call that no definition in scope answers
// (SES refuses such a template: "a template refers to a partial that
// does not exist") and a loop variable used outside {{#each}}.
func (t *Template) analyze() error {
	a := &analyzer{t: t, ctxs: []frame{{path: []string{}, known: true}}, seen: map[string]bool{}}
	t.varsComplete = true
	a.program(t.Root, t.defs)
	return a.err
}

func (a *analyzer) fail(p Pos, format string, args ...any) {
	if a.err == nil {
		a.err = &Error{Template: a.t.Name, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
	}
}

func (a *analyzer) program(nodes []Node, defs map[string]*Inline) {
	if defs != nil {
		a.scopes = append(a.scopes, defs)
		defer func() { a.scopes = a.scopes[:len(a.scopes)-1] }()
	}
	for _, n := range nodes {
		a.visits++
		if a.err != nil {
			return
		}
		if a.visits > analyzeBudget {
			a.t.varsComplete = false
			return
		}
		switch n := n.(type) {
		case *Mustache:
			a.use(n.Path, Print)
		case *Block:
			a.block(n)
		case *PartialCall:
			a.partial(n)
		}
	}
}

func (a *analyzer) block(b *Block) {
	switch b.Helper {
	case "if", "unless":
		a.use(b.Arg, Condition)
		a.program(b.Body, b.bodyDefs)
	case "with":
		f := a.use(b.Arg, With)
		if b.Arg.isThis() && b.Arg.Depth == 0 {
			a.program(b.Body, b.bodyDefs) // the same context: no new level
		} else {
			a.ctxs = append(a.ctxs, f)
			a.program(b.Body, b.bodyDefs)
			a.ctxs = a.ctxs[:len(a.ctxs)-1]
		}
	case "each":
		f := a.use(b.Arg, Each)
		if f.known {
			f.path = append(f.path, "[]")
		}
		a.ctxs = append(a.ctxs, f)
		a.loops++
		a.program(b.Body, b.bodyDefs)
		a.loops--
		a.ctxs = a.ctxs[:len(a.ctxs)-1]
	}
	a.program(b.Else, b.elseDefs)
}

func (a *analyzer) partial(c *PartialCall) {
	var def *Inline
	for i := len(a.scopes) - 1; i >= 0 && def == nil; i-- {
		def = a.scopes[i][c.Name]
	}
	if def == nil {
		a.fail(c.Pos, "partial %q is not defined here (define it with {{#*inline %q}})", c.Name, c.Name)
		return
	}
	for _, d := range a.calls {
		if d == def {
			return // a recursive call: its variables are already listed
		}
	}
	a.calls = append(a.calls, def)
	a.program(def.Body, def.defs)
	a.calls = a.calls[:len(a.calls)-1]
}

// use records a variable and returns where it is in the data.
func (a *analyzer) use(p *Path, kind VarKind) frame {
	var f frame
	if p.Data {
		if a.loops <= p.Depth {
			a.fail(p.Pos, "%s is only set inside {{#each}}", p.Original)
		}
	} else if i := len(a.ctxs) - 1 - p.Depth; i >= 0 && a.ctxs[i].known {
		f.known = true
		f.path = append(append([]string{}, a.ctxs[i].path...), p.Parts...)
	}
	key := fmt.Sprintf("%d:%d:%d:%t:%s", p.Line, p.Col, kind, f.known, strings.Join(f.path, "\x00"))
	if !a.seen[key] {
		a.seen[key] = true
		v := Variable{Pos: p.Pos, Expr: p.Original, Kind: kind}
		if f.known {
			v.Data = slices.Clone(f.path)
		}
		a.t.vars = append(a.t.vars, v)
	}
	return f
}
