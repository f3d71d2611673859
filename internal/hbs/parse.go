package hbs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Parse limits: a template is refused beyond them.
const (
	MaxSource  = 4 << 20 // bytes of source; SES itself takes 500 KB
	MaxNesting = 100     // blocks and inline partials inside one another
)

// Error is a template that cannot be parsed or rendered, and where.
type Error struct {
	Template  string
	Line, Col int
	Msg       string

	limit bool
}

func (e *Error) Error() string {
	if e.Template == "" {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Template, e.Line, e.Col, e.Msg)
}

// ErrLimit is what a render that went beyond its Limits wraps.
var ErrLimit = errors.New("render limit exceeded")

func (e *Error) Unwrap() error {
	if e.limit {
		return ErrLimit
	}
	return nil
}

// Template is a parsed template.
type Template struct {
	Name string
	Root []Node

	defs map[string]*Inline
	vars []Variable
	// varsComplete is false when the template was too intricate to
	// follow every partial call for Variables.
	varsComplete bool
}

// Parse parses src, one part of an SES template (subject, HTML or text),
// named name in errors. It refuses, with the line and column, anything
// SES's Handlebars does not document (see the package comment).
func Parse(name, src string) (*Template, error) {
	p := &parser{name: name, src: src, lastLine: -1}
	p.lines = []int{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	if len(src) > MaxSource {
		return nil, p.errf(0, "the template is %d bytes; at most %d are parsed", len(src), MaxSource)
	}
	if !utf8.ValidString(src) {
		i := 0
		for i < len(src) {
			r, size := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		return nil, p.errf(i, "the template is not valid UTF-8")
	}
	p.body = &p.root
	if err := p.parse(); err != nil {
		return nil, err
	}
	ws := &whitespace{}
	ws.program(p.root, true)
	dropNewlineAfterInline(p.root)
	t := &Template{Name: name, Root: p.root}
	var err error
	if t.defs, err = p.collectDefs(p.root); err != nil {
		return nil, err
	}
	if err := t.analyze(); err != nil {
		return nil, err
	}
	return t, nil
}

type parser struct {
	name  string
	src   string
	lines []int // byte offset of each line's start
	root  []Node
	body  *[]Node // where nodes go now
	stack []*openTag

	lastLine, lastOff, lastCol int // pos's cursor; lastLine is 0-based, -1 before the first
}

// openTag is a block or inline partial waiting for its close.
type openTag struct {
	block  *Block
	inline *Inline
	outer  *[]Node // the body the opener belongs to
	name   string
	off    int
}

// pos returns the line and column of a byte offset. Offsets mostly come
// in increasing order, so it counts on from the last one it computed on
// the same line: long single-line templates (minified HTML) stay linear.
func (p *parser) pos(off int) Pos {
	l := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off }) - 1
	var col int
	switch {
	case p.lastLine == l && p.lastOff <= off:
		col = p.lastCol + utf8.RuneCountInString(p.src[p.lastOff:off])
	case p.lastLine == l:
		col = p.lastCol - utf8.RuneCountInString(p.src[off:p.lastOff])
	default:
		col = 1 + utf8.RuneCountInString(p.src[p.lines[l]:off])
	}
	p.lastLine, p.lastOff, p.lastCol = l, off, col
	return Pos{Line: l + 1, Col: col}
}

func (p *parser) errf(off int, format string, args ...any) error {
	ps := p.pos(off)
	return &Error{Template: p.name, Line: ps.Line, Col: ps.Col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) add(n Node) { *p.body = append(*p.body, n) }

func (p *parser) text(off int, s string) {
	p.add(&Text{Pos: p.pos(off), Value: s, Original: s})
}

// parse splits the source into text and tags as Handlebars's lexer does,
// including its backslash escapes: \{{ starts literal text (the {{ and
// what follows up to the next {{), and \\{{ is a backslash followed by a
// tag.
func (p *parser) parse() error {
	src := p.src
	i := 0
	for i < len(src) {
		j := strings.Index(src[i:], "{{")
		if j < 0 {
			p.text(i, src[i:])
			break
		}
		j += i
		switch {
		case j-i >= 2 && src[j-2:j] == `\\`:
			p.text(i, src[i:j-1])
		case j-i >= 1 && src[j-1] == '\\':
			if j-1 > i {
				p.text(i, src[i:j-1])
			}
			k := len(src)
			if m := strings.Index(src[j+2:], "{{"); m >= 0 {
				k = j + 2 + m
				for n := 0; n < 2 && k-1 >= j+2 && src[k-1] == '\\'; n++ {
					k--
				}
			}
			p.text(j, src[j:k])
			i = k
			continue
		case j > i:
			p.text(i, src[i:j])
		}
		end, err := p.tag(j)
		if err != nil {
			return err
		}
		i = end
	}
	if n := len(p.stack); n > 0 {
		o := p.stack[n-1]
		return p.errf(o.off, "{{#%s}} is not closed (expected {{/%s}})", o.name, o.name)
	}
	return nil
}

// Token kinds inside a tag.
const (
	tokPath = iota
	tokString
	tokNumber
	tokLiteral // true, false, null, undefined
)

type token struct {
	kind int
	off  int
	text string // the string's value, or the literal as written
	path *Path
}

// tag parses the tag at src[j:] (which starts with {{) and returns the
// offset after it.
func (p *parser) tag(j int) (int, error) {
	src := p.src
	k := j + 2
	if strings.HasPrefix(src[k:], "{{") {
		return 0, p.errf(j, "raw blocks ({{{{raw}}}}) are not supported by SES")
	}
	var st Strip
	if k < len(src) && src[k] == '~' {
		st.Open = true
		k++
	}
	if k < len(src) && src[k] == '{' {
		toks, closeStrip, end, err := p.lexTag(j, k+1, true)
		if err != nil {
			return 0, err
		}
		st.Close = closeStrip
		path, err := p.mustachePath(j, toks, "{{{…}}}")
		if err != nil {
			return 0, err
		}
		p.add(&Mustache{Pos: p.pos(j), Path: path, Raw: true, Strip: st})
		return end, nil
	}
	if k < len(src) && src[k] == '!' {
		return p.comment(j, k, st)
	}
	kind := byte(0)
	if k < len(src) {
		switch src[k] {
		case '#', '/', '^', '>', '&', '*':
			kind = src[k]
			k++
		}
	}
	decorator := false
	if kind == '#' && k < len(src) {
		switch src[k] {
		case '*':
			decorator = true
			k++
		case '>':
			return 0, p.errf(j, "partial blocks ({{#> name}}) are not supported by SES; define the partial with {{#*inline}}")
		}
	}
	toks, closeStrip, end, err := p.lexTag(j, k, false)
	if err != nil {
		return 0, err
	}
	st.Close = closeStrip
	switch kind {
	case '&':
		return 0, p.errf(j, "{{&…}} is not supported by SES; write {{{…}}} for a value that is not to be escaped")
	case '^':
		if len(toks) == 0 {
			return 0, p.errf(j, "{{^}} is not supported by SES; write {{else}}")
		}
		return 0, p.errf(j, "inverse sections ({{^name}}) are not supported by SES; write {{#unless name}}")
	case '*':
		return 0, p.errf(j, "decorators ({{*…}}) are not supported by SES")
	case '>':
		return end, p.partial(j, toks, st)
	case '/':
		return end, p.close(j, toks, st)
	case '#':
		if decorator {
			return end, p.openInline(j, toks, st)
		}
		return end, p.openBlock(j, toks, st)
	}
	if len(toks) > 0 && toks[0].kind == tokPath && toks[0].path.Original == "else" {
		if len(toks) > 1 {
			return 0, p.errf(j, "{{else %s}} chains are not supported by SES; put a block inside {{else}}", toks[1].text)
		}
		return end, p.elseTag(j, st)
	}
	path, err := p.mustachePath(j, toks, "{{…}}")
	if err != nil {
		return 0, err
	}
	p.add(&Mustache{Pos: p.pos(j), Path: path, Strip: st})
	return end, nil
}

func (p *parser) comment(j, k int, st Strip) (int, error) {
	src := p.src
	if strings.HasPrefix(src[k:], "!--") {
		s := k + 3
		for {
			i := strings.Index(src[s:], "--")
			if i < 0 {
				return 0, p.errf(j, "comment {{!-- is not closed (expected --}})")
			}
			t := s + i
			switch {
			case strings.HasPrefix(src[t+2:], "}}"):
				p.add(&Comment{Pos: p.pos(j), Value: src[k+3 : t], Strip: st})
				return t + 4, nil
			case strings.HasPrefix(src[t+2:], "~}}"):
				st.Close = true
				p.add(&Comment{Pos: p.pos(j), Value: src[k+3 : t], Strip: st})
				return t + 5, nil
			}
			s = t + 1
		}
	}
	i := strings.Index(src[k+1:], "}}")
	if i < 0 {
		return 0, p.errf(j, "comment {{! is not closed (expected }})")
	}
	v := src[k+1 : k+1+i]
	if strings.HasSuffix(v, "~") {
		st.Close = true
		v = v[:len(v)-1]
	}
	p.add(&Comment{Pos: p.pos(j), Value: v, Strip: st})
	return k + 1 + i + 2, nil
}

// lexTag reads the tokens of the tag opened at j, from k up to its close
// (}} or, triple, }}}), with ~ before the close setting closeStrip.
func (p *parser) lexTag(j, k int, triple bool) (toks []token, closeStrip bool, end int, err error) {
	src := p.src
	for {
		for k < len(src) {
			r, size := utf8.DecodeRuneInString(src[k:])
			if !isJSSpace(r) {
				break
			}
			k += size
		}
		if k >= len(src) {
			if triple {
				return nil, false, 0, p.errf(j, "{{{ is not closed (expected }}})")
			}
			return nil, false, 0, p.errf(j, "{{ is not closed (expected }})")
		}
		rest := src[k:]
		if triple {
			switch {
			case strings.HasPrefix(rest, "}~}}"):
				return toks, true, k + 4, nil
			case strings.HasPrefix(rest, "}}}"):
				return toks, false, k + 3, nil
			case strings.HasPrefix(rest, "}}"), strings.HasPrefix(rest, "~}}"):
				return nil, false, 0, p.errf(k, "{{{ is closed by }}; expected }}}")
			}
		} else {
			switch {
			case strings.HasPrefix(rest, "~}}"):
				return toks, true, k + 3, nil
			case strings.HasPrefix(rest, "}}"):
				return toks, false, k + 2, nil
			}
		}
		c := src[k]
		switch {
		case c == '(':
			return nil, false, 0, p.errf(k, "sub-expressions ((…)) are not supported by SES")
		case c == '|' || (strings.HasPrefix(rest, "as") && len(rest) > 2 && isSpaceByte(rest[2]) && strings.HasPrefix(strings.TrimLeft(rest[2:], " \t\r\n"), "|")):
			return nil, false, 0, p.errf(k, "block parameters (as |name|) are not supported by SES")
		case c == '"' || c == '\'':
			s, n, err := p.lexString(k)
			if err != nil {
				return nil, false, 0, err
			}
			toks = append(toks, token{kind: tokString, off: k, text: s})
			k = n
			continue
		}
		if n := literalLen(rest); n > 0 {
			kind := tokNumber
			if c < '0' || c > '9' {
				if c != '-' {
					kind = tokLiteral
				}
			}
			toks = append(toks, token{kind: kind, off: k, text: rest[:n]})
			k += n
			continue
		}
		path, n, err := p.lexPath(k)
		if err != nil {
			return nil, false, 0, err
		}
		if n < len(src) && src[n] == '=' {
			return nil, false, 0, p.errf(k, "hash arguments (%s=…) are not supported by SES", src[k:n])
		}
		toks = append(toks, token{kind: tokPath, off: k, text: path.Original, path: path})
		k = n
	}
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// literalLen returns the length of the number or keyword literal (true,
// false, null, undefined) at the start of s, or 0. A literal must be
// followed by ~, }, a space or ), as in Handlebars's lexer.
func literalLen(s string) int {
	n := 0
	for _, kw := range []string{"true", "false", "null", "undefined"} {
		if strings.HasPrefix(s, kw) {
			n = len(kw)
			break
		}
	}
	if n == 0 {
		i := 0
		if i < len(s) && s[i] == '-' {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return 0
		}
		if i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
			i++
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		}
		n = i
	}
	if n < len(s) && !literalFollow(s[n]) {
		return 0
	}
	return n
}

func literalFollow(c byte) bool { return c == '~' || c == '}' || c == ')' || isSpaceByte(c) }

func (p *parser) lexString(k int) (string, int, error) {
	src := p.src
	q := src[k]
	var b strings.Builder
	for i := k + 1; i < len(src); i++ {
		switch {
		case src[i] == '\\' && i+1 < len(src) && src[i+1] == q:
			b.WriteByte(q)
			i++
		case src[i] == q:
			return b.String(), i + 1, nil
		default:
			b.WriteByte(src[i])
		}
	}
	return "", 0, p.errf(k, "string %c… is not closed", q)
}

// isIDChar reports whether r may appear in a Handlebars identifier: not
// a space nor one of !"#%&'()*+,./;<=>@[\]^`{|}~.
func isIDChar(r rune) bool {
	if isJSSpace(r) {
		return false
	}
	return !strings.ContainsRune("!\"#%&'()*+,./;<=>@[\\]^`{|}~", r)
}

type segment struct {
	text    string
	literal bool // [written in brackets]
}

// lexPath reads a path at src[k:]: an optional @, then segments (names,
// [literal names], this, ., ..) separated by . or /.
func (p *parser) lexPath(k int) (*Path, int, error) {
	src := p.src
	start := k
	data := false
	if src[k] == '@' {
		data = true
		k++
	}
	var segs []segment
	for {
		segStart := k
		switch {
		case k < len(src) && src[k] == '[':
			i := k + 1
			var b strings.Builder
			for ; i < len(src) && src[i] != ']'; i++ {
				if src[i] == '\\' && i+1 < len(src) && (src[i+1] == ']' || src[i+1] == '\\') {
					i++
				}
				b.WriteByte(src[i])
			}
			if i >= len(src) {
				return nil, 0, p.errf(k, "[ is not closed (expected ])")
			}
			segs = append(segs, segment{text: b.String(), literal: true})
			k = i + 1
		case strings.HasPrefix(src[k:], ".."):
			segs = append(segs, segment{text: ".."})
			k += 2
		case k < len(src) && src[k] == '.':
			segs = append(segs, segment{text: "."})
			k++
		default:
			for k < len(src) {
				r, size := utf8.DecodeRuneInString(src[k:])
				if !isIDChar(r) {
					break
				}
				k += size
			}
			if k == segStart {
				r, _ := utf8.DecodeRuneInString(src[k:])
				return nil, 0, p.errf(k, "unexpected %q", r)
			}
			text := src[segStart:k]
			// Handlebars's lexer reads a number, not a name, after a
			// separator when the path ends there: a.0 is a syntax error.
			if len(segs) > 0 && allDigits(text) && (k >= len(src) || literalFollow(src[k])) {
				return nil, 0, p.errf(segStart, "%s: Handlebars reads %s as a number here; write %s[%s]",
					src[start:k], text, src[start:segStart], text)
			}
			segs = append(segs, segment{text: text})
		}
		if k < len(src) && (src[k] == '.' || src[k] == '/') {
			// A separator, which must lead to another segment.
			if k+1 < len(src) && startsSegment(src[k+1:]) {
				k++
				continue
			}
			return nil, 0, p.errf(start, "invalid path %s", src[start:k+1])
		}
		break
	}
	if k < len(src) {
		c := src[k]
		if !(literalFollow(c) || c == '|' || c == '=') {
			r, _ := utf8.DecodeRuneInString(src[k:])
			return nil, 0, p.errf(k, "unexpected %q after %s", r, src[start:k])
		}
	}
	path := &Path{Pos: p.pos(start), Original: src[start:k], Data: data}
	for _, s := range segs {
		if !s.literal && (s.text == ".." || s.text == "." || s.text == "this") {
			if len(path.Parts) > 0 {
				return nil, 0, p.errf(start, "invalid path %s: %s may only start a path", path.Original, s.text)
			}
			if s.text == ".." {
				path.Depth++
			}
			continue
		}
		if s.text == "" {
			return nil, 0, p.errf(start, "invalid path %s: empty name", path.Original)
		}
		path.Parts = append(path.Parts, s.text)
	}
	if data {
		switch {
		case len(path.Parts) > 0 && path.Parts[0] == "root":
			return nil, 0, p.errf(start, "@root is not supported by SES")
		case len(path.Parts) != 1:
			return nil, 0, p.errf(start, "invalid data variable %s", path.Original)
		}
		switch path.Parts[0] {
		case "index", "key", "first", "last":
		default:
			return nil, 0, p.errf(start, "data variable %s is not supported by SES (only @index, @key, @first and @last inside {{#each}})", path.Original)
		}
	}
	return path, k, nil
}

func startsSegment(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '[' || r == '.' || isIDChar(r)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var blockHelpers = map[string]bool{"if": true, "unless": true, "each": true, "with": true}

// simpleName returns the name a path calls as a helper: a single plain
// name, without this, ./, ../ or @.
func simpleName(t token) (string, bool) {
	if t.kind != tokPath {
		return "", false
	}
	pa := t.path
	if pa.Data || pa.Depth > 0 || len(pa.Parts) != 1 || strings.HasPrefix(pa.Original, ".") || strings.HasPrefix(pa.Original, "this") {
		return "", false
	}
	return pa.Parts[0], true
}

// mustachePath checks the tokens of {{…}} or {{{…}}}: one variable.
func (p *parser) mustachePath(j int, toks []token, what string) (*Path, error) {
	if len(toks) == 0 {
		return nil, p.errf(j, "empty %s", what)
	}
	t := toks[0]
	if t.kind != tokPath {
		return nil, p.errf(t.off, "%s prints a variable, not the literal %s", what, t.text)
	}
	name, simple := simpleName(t)
	if len(toks) > 1 {
		return nil, p.errf(t.off, "helper %q is not supported by SES", t.text)
	}
	if simple {
		switch {
		case blockHelpers[name]:
			return nil, p.errf(t.off, "%s is a block helper: write {{#%s …}}…{{/%s}}", name, name, name)
		case name == "lookup" || name == "log" || name == "helperMissing" || name == "blockHelperMissing":
			return nil, p.errf(t.off, "helper %q is not supported by SES", name)
		}
	}
	if t.path.Data && !p.inEach() && !p.inInline() {
		return nil, p.errf(t.off, "%s is only set inside {{#each}}", t.path.Original)
	}
	return t.path, nil
}

func (p *parser) inEach() bool {
	for _, o := range p.stack {
		if o.block != nil && o.block.Helper == "each" {
			return true
		}
	}
	return false
}

func (p *parser) inInline() bool {
	for _, o := range p.stack {
		if o.inline != nil {
			return true
		}
	}
	return false
}

func (p *parser) push(o *openTag, body *[]Node) error {
	if len(p.stack) >= MaxNesting {
		return p.errf(o.off, "blocks nest deeper than %d", MaxNesting)
	}
	o.outer = p.body
	p.stack = append(p.stack, o)
	p.body = body
	return nil
}

func (p *parser) openBlock(j int, toks []token, st Strip) error {
	if len(toks) == 0 {
		return p.errf(j, "{{#}} needs a helper name")
	}
	name, simple := simpleName(toks[0])
	if !simple || !blockHelpers[name] {
		if simple {
			return p.errf(toks[0].off, "helper %q is not supported by SES (block helpers: #if, #unless, #each, #with)", name)
		}
		return p.errf(toks[0].off, "{{#%s}}: a block starts with a helper: #if, #unless, #each or #with", toks[0].text)
	}
	switch {
	case len(toks) == 1:
		return p.errf(j, "{{#%s}} needs one argument", name)
	case len(toks) > 2:
		return p.errf(toks[2].off, "{{#%s}} takes one argument", name)
	case toks[1].kind != tokPath:
		return p.errf(toks[1].off, "{{#%s}} takes a variable, not the literal %s", name, toks[1].text)
	}
	arg := toks[1].path
	if arg.Data && !p.inEach() && !p.inInline() {
		return p.errf(toks[1].off, "%s is only set inside {{#each}}", arg.Original)
	}
	b := &Block{Pos: p.pos(j), Helper: name, Arg: arg, OpenStrip: st}
	return p.push(&openTag{block: b, name: name, off: j}, &b.Body)
}

func (p *parser) openInline(j int, toks []token, st Strip) error {
	if len(toks) == 0 {
		return p.errf(j, "{{#*}} needs a decorator name")
	}
	if name, ok := simpleName(toks[0]); !ok || name != "inline" {
		return p.errf(toks[0].off, "decorator %q is not supported by SES; only {{#*inline \"name\"}}", toks[0].text)
	}
	if len(toks) != 2 || toks[1].kind != tokString {
		return p.errf(j, `{{#*inline}} takes the partial's name as a string: {{#*inline "name"}}`)
	}
	if toks[1].text == "" {
		return p.errf(toks[1].off, "an inline partial needs a name")
	}
	in := &Inline{Pos: p.pos(j), Name: toks[1].text, OpenStrip: st}
	return p.push(&openTag{inline: in, name: "inline", off: j}, &in.Body)
}

func (p *parser) close(j int, toks []token, st Strip) error {
	name, ok := "", len(toks) == 1
	if ok {
		name, ok = simpleName(toks[0])
	}
	if !ok {
		return p.errf(j, "{{/…}} closes a block by its helper's name, as in {{/if}}")
	}
	if len(p.stack) == 0 {
		return p.errf(j, "{{/%s}} closes nothing", name)
	}
	o := p.stack[len(p.stack)-1]
	if name != o.name {
		op := p.pos(o.off)
		return p.errf(j, "{{/%s}} does not close {{#%s}} (opened at %d:%d)", name, o.name, op.Line, op.Col)
	}
	p.stack = p.stack[:len(p.stack)-1]
	p.body = o.outer
	if o.block != nil {
		o.block.EndPos, o.block.CloseStrip = p.pos(j), st
		p.add(o.block)
	} else {
		o.inline.EndPos, o.inline.CloseStrip = p.pos(j), st
		p.add(o.inline)
	}
	return nil
}

func (p *parser) elseTag(j int, st Strip) error {
	if len(p.stack) == 0 {
		return p.errf(j, "{{else}} outside a block")
	}
	o := p.stack[len(p.stack)-1]
	if o.block == nil {
		return p.errf(j, "{{else}} inside {{#*inline}}")
	}
	if o.block.HasElse {
		return p.errf(j, "a second {{else}} in {{#%s}} (the first is at %d:%d)", o.name, o.block.ElsePos.Line, o.block.ElsePos.Col)
	}
	o.block.HasElse, o.block.ElsePos, o.block.ElseStrip = true, p.pos(j), st
	o.block.Else = []Node{}
	p.body = &o.block.Else
	return nil
}

func (p *parser) partial(j int, toks []token, st Strip) error {
	if len(toks) == 0 {
		return p.errf(j, "{{>}} needs a partial's name")
	}
	t := toks[0]
	var name string
	switch {
	case t.kind == tokString:
		name = t.text
	case t.kind == tokPath && !t.path.Data:
		name = t.path.Original
	default:
		return p.errf(t.off, "partial %s is not supported by SES; call an inline partial by name", t.text)
	}
	if len(toks) > 1 {
		return p.errf(toks[1].off, "partial contexts and parameters ({{> %s %s}}) are not supported by SES", name, toks[1].text)
	}
	p.add(&PartialCall{Pos: p.pos(j), Name: name, Strip: st})
	return nil
}

// collectDefs records, for every list of nodes, the inline partials it
// defines, refusing a name defined twice in one list.
func (p *parser) collectDefs(nodes []Node) (map[string]*Inline, error) {
	seen := map[string]*Inline{}
	for _, n := range nodes {
		var err error
		switch n := n.(type) {
		case *Inline:
			if first, dup := seen[n.Name]; dup {
				return nil, &Error{Template: p.name, Line: n.Line, Col: n.Col,
					Msg: fmt.Sprintf("inline partial %q is already defined at %d:%d", n.Name, first.Line, first.Col)}
			}
			seen[n.Name] = n
			n.defs, err = p.collectDefs(n.Body)
		case *Block:
			if n.bodyDefs, err = p.collectDefs(n.Body); err == nil {
				n.elseDefs, err = p.collectDefs(n.Else)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return defsOf(nodes), nil
}

// whitespace applies Handlebars's whitespace control: the ~ marks, and
// the removal of lines that hold only a block tag, {{else}}, a comment or
// a partial call ("standalone" lines), following Handlebars.js's
// compiler step of the same name.
type whitespace struct{}

type stripInfo struct {
	open, close                                     bool
	openStandalone, closeStandalone, inlineStandale bool
}

func (w *whitespace) program(body []Node, isRoot bool) {
	for i, n := range body {
		st, ok := w.accept(n)
		if !ok {
			continue
		}
		prevWS := isPrevWhitespace(body, i, isRoot)
		nextWS := isNextWhitespace(body, i, isRoot)
		openStandalone := st.openStandalone && prevWS
		closeStandalone := st.closeStandalone && nextWS
		inlineStandalone := st.inlineStandale && prevWS && nextWS
		if st.close {
			omitRight(body, i+1, true)
		}
		if st.open {
			omitLeft(body, i-1, true)
		}
		if inlineStandalone {
			omitRight(body, i+1, false)
			if omitLeft(body, i-1, false) {
				if pc, ok := n.(*PartialCall); ok {
					orig := body[i-1].(*Text).Original
					pc.Indent = orig[len(strings.TrimRight(orig, " \t")):]
				}
			}
		}
		if openStandalone {
			first := firstBody(n)
			omitRight(first, 0, false)
			omitLeft(body, i-1, false)
		}
		if closeStandalone {
			omitRight(body, i+1, false)
			last := lastBody(n)
			omitLeft(last, len(last)-1, false)
		}
	}
}

func firstBody(n Node) []Node {
	switch n := n.(type) {
	case *Block:
		return n.Body
	case *Inline:
		return n.Body
	}
	return nil
}

func lastBody(n Node) []Node {
	switch n := n.(type) {
	case *Block:
		if n.HasElse {
			return n.Else
		}
		return n.Body
	case *Inline:
		return n.Body
	}
	return nil
}

func (w *whitespace) accept(n Node) (stripInfo, bool) {
	switch n := n.(type) {
	case *Mustache:
		return stripInfo{open: n.Strip.Open, close: n.Strip.Close}, true
	case *Comment:
		return stripInfo{open: n.Strip.Open, close: n.Strip.Close, inlineStandale: true}, true
	case *PartialCall:
		return stripInfo{open: n.Strip.Open, close: n.Strip.Close, inlineStandale: true}, true
	case *Inline:
		w.program(n.Body, false)
		return w.block(n.Body, nil, false, n.OpenStrip, Strip{}, n.CloseStrip), true
	case *Block:
		w.program(n.Body, false)
		if n.HasElse {
			w.program(n.Else, false)
		}
		return w.block(n.Body, n.Else, n.HasElse, n.OpenStrip, n.ElseStrip, n.CloseStrip), true
	}
	return stripInfo{}, false
}

func (w *whitespace) block(program, inverse []Node, hasElse bool, openStrip, elseStrip, closeStrip Strip) stripInfo {
	last := program
	if hasElse {
		last = inverse
	}
	st := stripInfo{
		open:            openStrip.Open,
		close:           closeStrip.Close,
		openStandalone:  isNextWhitespace(program, -1, false),
		closeStandalone: isPrevWhitespace(last, len(last), false),
	}
	if openStrip.Close {
		omitRight(program, 0, true)
	}
	if hasElse {
		if elseStrip.Open {
			omitLeft(program, len(program)-1, true)
		}
		if elseStrip.Close {
			omitRight(inverse, 0, true)
		}
		if closeStrip.Open {
			omitLeft(inverse, len(inverse)-1, true)
		}
		// A standalone {{else}}.
		if isPrevWhitespace(program, len(program), false) && isNextWhitespace(inverse, -1, false) {
			omitLeft(program, len(program)-1, false)
			omitRight(inverse, 0, false)
		}
	} else if closeStrip.Open {
		omitLeft(program, len(program)-1, true)
	}
	return st
}

// isPrevWhitespace reports whether what precedes body[i] on its line is
// only whitespace (the start of the template counts, at its root).
func isPrevWhitespace(body []Node, i int, isRoot bool) bool {
	if i-1 < 0 {
		return isRoot
	}
	prev, ok := body[i-1].(*Text)
	if !ok {
		return false
	}
	tail := prev.Original[len(trimRightSpace(prev.Original)):]
	if strings.Contains(tail, "\n") {
		return true
	}
	return i-2 < 0 && isRoot && tail == prev.Original
}

// isNextWhitespace reports whether what follows body[i] on its line is
// only whitespace (the end of the template counts, at its root).
func isNextWhitespace(body []Node, i int, isRoot bool) bool {
	if i+1 >= len(body) {
		return isRoot
	}
	next, ok := body[i+1].(*Text)
	if !ok {
		return false
	}
	head := next.Original[:len(next.Original)-len(trimLeftSpace(next.Original))]
	if strings.Contains(head, "\n") {
		return true
	}
	return i+2 >= len(body) && isRoot && head == next.Original
}

// omitRight strips the start of body[i] when it is text: all whitespace
// (multiple) or the rest of the line.
func omitRight(body []Node, i int, multiple bool) {
	if i < 0 || i >= len(body) {
		return
	}
	t, ok := body[i].(*Text)
	if !ok || (!multiple && t.rightStripped) {
		return
	}
	orig := t.Value
	if multiple {
		t.Value = trimLeftSpace(t.Value)
	} else {
		v := strings.TrimLeft(t.Value, " \t")
		if strings.HasPrefix(v, "\r\n") {
			v = v[2:]
		} else if strings.HasPrefix(v, "\n") {
			v = v[1:]
		}
		t.Value = v
	}
	t.rightStripped = t.Value != orig
}

// omitLeft strips the end of body[i] when it is text: all whitespace
// (multiple) or spaces and tabs; it reports whether it stripped any.
func omitLeft(body []Node, i int, multiple bool) bool {
	if i < 0 || i >= len(body) {
		return false
	}
	t, ok := body[i].(*Text)
	if !ok || (!multiple && t.leftStripped) {
		return false
	}
	orig := t.Value
	if multiple {
		t.Value = trimRightSpace(t.Value)
	} else {
		t.Value = strings.TrimRight(t.Value, " \t")
	}
	t.leftStripped = t.Value != orig
	return t.leftStripped
}

// dropNewlineAfterInline removes the line break right after an inline
// partial's definition. SES's guide ("Creating inline partials"): "The
// newline character (\n) is required to separate the {{inline}} block
// from the content in your template. The newline isn't rendered in the
// final output." Handlebars.js drops it only when the definition stands
// alone on its lines or ends with ~}}; SES documents it always.
func dropNewlineAfterInline(body []Node) {
	for i, n := range body {
		switch n := n.(type) {
		case *Inline:
			dropNewlineAfterInline(n.Body)
			if i+1 < len(body) {
				if t, ok := body[i+1].(*Text); ok && !t.rightStripped {
					switch {
					case strings.HasPrefix(t.Value, "\r\n"):
						t.Value, t.rightStripped = t.Value[2:], true
					case strings.HasPrefix(t.Value, "\n"):
						t.Value, t.rightStripped = t.Value[1:], true
					}
				}
			}
		case *Block:
			dropNewlineAfterInline(n.Body)
			dropNewlineAfterInline(n.Else)
		}
	}
}
