package hbs

import "strings"

// Pos is a place in a template's source: 1-based line and column, the
// column counted in characters.
type Pos struct {
	Line, Col int
}

// Node is one piece of a parsed template.
type Node interface {
	Position() Pos
}

// Position returns where the node starts.
func (p Pos) Position() Pos { return p }

// Strip records the ~ whitespace-control marks of a tag: Open for {{~,
// Close for ~}}.
type Strip struct {
	Open, Close bool
}

// Text is literal template text, after whitespace control.
type Text struct {
	Pos
	Value    string
	Original string // as written, before whitespace control

	leftStripped, rightStripped bool
}

// Comment is {{! … }} or {{!-- … --}}; it renders nothing.
type Comment struct {
	Pos
	Value string
	Strip Strip
}

// Path is a variable reference: contact.firstName, this, ../name, @index.
type Path struct {
	Pos
	Original string   // as written
	Data     bool     // @index, @key, @first, @last
	Depth    int      // leading ../ segments
	Parts    []string // keys after this/../ ("" parts never occur)
}

// String returns the path as written.
func (p *Path) String() string { return p.Original }

// isThis reports whether the path is the context itself (this, ., ../).
func (p *Path) isThis() bool { return !p.Data && len(p.Parts) == 0 }

// Mustache prints a variable: {{path}} or, Raw, {{{path}}}.
type Mustache struct {
	Pos
	Path  *Path
	Raw   bool
	Strip Strip
}

// Block is {{#helper arg}}…{{else}}…{{/helper}} for the helpers if,
// unless, each and with.
type Block struct {
	Pos
	Helper  string // "if", "unless", "each" or "with"
	Arg     *Path
	Body    []Node
	Else    []Node // nil without {{else}}
	HasElse bool
	ElsePos Pos
	EndPos  Pos

	OpenStrip, ElseStrip, CloseStrip Strip

	bodyDefs, elseDefs map[string]*Inline
}

// Inline defines an inline partial: {{#*inline "name"}}…{{/inline}}. It
// renders nothing where it stands; {{> name}} renders its body.
type Inline struct {
	Pos
	Name   string
	Body   []Node
	EndPos Pos

	OpenStrip, CloseStrip Strip

	defs map[string]*Inline
}

// PartialCall is {{> name}}: the inline partial's body, rendered with the
// current context. Indent is the whitespace before a partial call that
// stands alone on its line; Handlebars indents every line of the
// partial's output with it.
type PartialCall struct {
	Pos
	Name   string
	Indent string
	Strip  Strip
}

// defsOf returns the inline partials a list of nodes defines at its own
// level, or nil.
func defsOf(nodes []Node) map[string]*Inline {
	var m map[string]*Inline
	for _, n := range nodes {
		if in, ok := n.(*Inline); ok {
			if m == nil {
				m = map[string]*Inline{}
			}
			if _, dup := m[in.Name]; !dup { // the parser refuses duplicates
				m[in.Name] = in
			}
		}
	}
	return m
}

// isJSSpace is JavaScript's \s.
func isJSSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func trimLeftSpace(s string) string  { return strings.TrimLeftFunc(s, isJSSpace) }
func trimRightSpace(s string) string { return strings.TrimRightFunc(s, isJSSpace) }
