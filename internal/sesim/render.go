package sesim

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A minimal Handlebars, enough to play SES's template rendering:
// {{var}}, {{nested.attr}}, {{{raw}}}, {{! comments }}, and the block
// helpers #if, #unless (with {{else}}), #each (this, @index, @key) and
// #with. As on SES, a variable missing from the data fails the rendering.

type tmplNode interface{}

type textNode string

type varNode struct {
	path string
	raw  bool // {{{triple}}}: not HTML-escaped
}

type blockNode struct {
	helper   string
	arg      string
	body     []tmplNode
	elseBody []tmplNode
}

// missingAttrError is SES's rendering failure for a variable without data.
type missingAttrError struct{ name string }

func (e *missingAttrError) Error() string {
	return fmt.Sprintf("Attribute '%s' is not present in the rendering data.", e.name)
}

func parseTemplate(src string) ([]tmplNode, error) {
	p := &tmplParser{src: src}
	nodes, end, err := p.parse("")
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, fmt.Errorf("unexpected {{%s}}", end)
	}
	return nodes, nil
}

type tmplParser struct {
	src string
	pos int
}

// parse reads nodes until the closing tag of block (or the end of input
// when block is ""). It returns "else" when it stopped at an {{else}}.
func (p *tmplParser) parse(block string) ([]tmplNode, string, error) {
	var nodes []tmplNode
	for p.pos < len(p.src) {
		i := strings.Index(p.src[p.pos:], "{{")
		if i < 0 {
			nodes = append(nodes, textNode(p.src[p.pos:]))
			p.pos = len(p.src)
			break
		}
		if i > 0 {
			nodes = append(nodes, textNode(p.src[p.pos:p.pos+i]))
		}
		p.pos += i
		raw := strings.HasPrefix(p.src[p.pos:], "{{{")
		open, closeTag := "{{", "}}"
		if raw {
			open, closeTag = "{{{", "}}}"
		}
		j := strings.Index(p.src[p.pos+len(open):], closeTag)
		if j < 0 {
			return nil, "", fmt.Errorf("unclosed %s at offset %d", open, p.pos)
		}
		tag := strings.TrimSpace(p.src[p.pos+len(open) : p.pos+len(open)+j])
		p.pos += len(open) + j + len(closeTag)
		switch {
		case raw:
			if !validPath(tag) {
				return nil, "", fmt.Errorf("invalid expression {{{%s}}}", tag)
			}
			nodes = append(nodes, varNode{path: tag, raw: true})
		case strings.HasPrefix(tag, "!"):
			// comment
		case strings.HasPrefix(tag, "#"):
			helper, arg, _ := strings.Cut(strings.TrimSpace(tag[1:]), " ")
			arg = strings.TrimSpace(arg)
			switch helper {
			case "if", "unless", "each", "with":
			default:
				return nil, "", fmt.Errorf("unsupported helper #%s", helper)
			}
			if !validPath(arg) {
				return nil, "", fmt.Errorf("{{#%s}} needs one argument", helper)
			}
			b := blockNode{helper: helper, arg: arg}
			body, end, err := p.parse(helper)
			if err != nil {
				return nil, "", err
			}
			b.body = body
			if end == "else" {
				if b.elseBody, end, err = p.parse(helper); err != nil {
					return nil, "", err
				}
				if end == "else" {
					return nil, "", fmt.Errorf("two {{else}} in {{#%s}}", helper)
				}
			}
			nodes = append(nodes, b)
		case strings.HasPrefix(tag, "/"):
			name := strings.TrimSpace(tag[1:])
			if name != block {
				return nil, "", fmt.Errorf("{{/%s}} does not close {{#%s}}", name, block)
			}
			return nodes, "/", nil
		case tag == "else":
			if block == "" {
				return nil, "", fmt.Errorf("{{else}} outside a block")
			}
			return nodes, "else", nil
		default:
			if !validPath(tag) {
				return nil, "", fmt.Errorf("unsupported expression {{%s}}", tag)
			}
			nodes = append(nodes, varNode{path: tag})
		}
	}
	if block != "" {
		return nil, "", fmt.Errorf("unclosed {{#%s}}", block)
	}
	return nodes, "", nil
}

func validPath(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\n{}") {
		return false
	}
	return true
}

type renderScope struct {
	ctx    any
	index  int
	key    string
	inLoop bool
}

func renderTemplate(src string, data map[string]any, escape bool) (string, error) {
	nodes, err := parseTemplate(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := renderNodes(&b, nodes, renderScope{ctx: data}, escape); err != nil {
		return "", err
	}
	return b.String(), nil
}

func renderNodes(b *strings.Builder, nodes []tmplNode, sc renderScope, escape bool) error {
	for _, n := range nodes {
		switch n := n.(type) {
		case textNode:
			b.WriteString(string(n))
		case varNode:
			v, ok := lookup(sc, n.path)
			if !ok {
				return &missingAttrError{n.path}
			}
			s := stringify(v)
			if escape && !n.raw {
				s = htmlEscaper.Replace(s)
			}
			b.WriteString(s)
		case blockNode:
			v, _ := lookup(sc, n.arg)
			if err := renderBlock(b, n, v, sc, escape); err != nil {
				return err
			}
		}
	}
	return nil
}

func renderBlock(b *strings.Builder, n blockNode, v any, sc renderScope, escape bool) error {
	switch n.helper {
	case "if":
		if truthy(v) {
			return renderNodes(b, n.body, sc, escape)
		}
		return renderNodes(b, n.elseBody, sc, escape)
	case "unless":
		if !truthy(v) {
			return renderNodes(b, n.body, sc, escape)
		}
		return renderNodes(b, n.elseBody, sc, escape)
	case "with":
		if truthy(v) {
			return renderNodes(b, n.body, renderScope{ctx: v}, escape)
		}
		return renderNodes(b, n.elseBody, sc, escape)
	case "each":
		switch v := v.(type) {
		case []any:
			if len(v) == 0 {
				break
			}
			for i, item := range v {
				if err := renderNodes(b, n.body, renderScope{ctx: item, index: i, inLoop: true}, escape); err != nil {
					return err
				}
			}
			return nil
		case map[string]any:
			if len(v) == 0 {
				break
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for i, k := range keys {
				if err := renderNodes(b, n.body, renderScope{ctx: v[k], index: i, key: k, inLoop: true}, escape); err != nil {
					return err
				}
			}
			return nil
		}
		return renderNodes(b, n.elseBody, sc, escape)
	}
	return nil
}

func lookup(sc renderScope, path string) (any, bool) {
	switch path {
	case "this", ".":
		return sc.ctx, true
	case "@index":
		return float64(sc.index), sc.inLoop
	case "@key":
		return sc.key, sc.inLoop && sc.key != ""
	}
	path = strings.TrimPrefix(path, "this.")
	cur := sc.ctx
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case float64:
		return v != 0
	case json.Number:
		return v.String() != "0"
	case []any:
		return len(v) > 0
	}
	return true
}

func stringify(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = stringify(x)
		}
		return strings.Join(parts, ",")
	}
	return "[object Object]"
}

var htmlEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;", "`", "&#x60;", "=", "&#x3D;",
)

// templateContent is an SES email template's parts.
type templateContent struct {
	Subject string `json:",omitempty"`
	Text    string `json:",omitempty"`
	Html    string `json:",omitempty"`
}

// renderedTemplate is a template rendered with data.
type renderedTemplate struct {
	subject, text, html string
}

// parseTemplateData decodes SES TemplateData: a JSON object.
func parseTemplateData(s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("template data must be a JSON object")
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var data map[string]any
	if err := d.Decode(&data); err != nil || data == nil {
		return nil, fmt.Errorf("template data must be a JSON object")
	}
	return data, nil
}

func (t templateContent) render(data map[string]any) (renderedTemplate, error) {
	var out renderedTemplate
	var err error
	if out.subject, err = renderTemplate(t.Subject, data, false); err != nil {
		return out, err
	}
	if out.text, err = renderTemplate(t.Text, data, false); err != nil {
		return out, err
	}
	if out.html, err = renderTemplate(t.Html, data, true); err != nil {
		return out, err
	}
	return out, nil
}
