package hbs

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// renderCase is one template rendered with JSON data.
type renderCase struct {
	name    string
	src     string
	data    string // JSON; "" is {}
	want    string
	missing []string // "line:col path" of printed variables the data lacks
}

func runRender(t *testing.T, cases []renderCase, o Options) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := Parse("t", tc.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
			data := tc.data
			if data == "" {
				data = "{}"
			}
			d, err := DecodeJSON([]byte(data))
			if err != nil {
				t.Fatalf("DecodeJSON(%s): %v", data, err)
			}
			got, rep, err := tmpl.RenderWith(d, o)
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Render(%q)\n got %q\nwant %q", tc.src, got, tc.want)
			}
			var missing []string
			for _, m := range rep.Missing {
				missing = append(missing, fmt.Sprintf("%d:%d %s", m.Line, m.Col, m.Path))
			}
			if !reflect.DeepEqual(missing, tc.missing) {
				t.Errorf("Render(%q) missing = %q, want %q", tc.src, missing, tc.missing)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	runRender(t, []renderCase{
		{name: "plain", src: "Hello {{name}}!", data: `{"name":"Ana"}`, want: "Hello Ana!"},
		{name: "spaces inside", src: "{{ name }}", data: `{"name":"Ana"}`, want: "Ana"},
		{name: "this dot", src: "{{this.name}}/{{./name}}/{{this/name}}", data: `{"name":"Ana"}`, want: "Ana/Ana/Ana"},
		{name: "integer", src: "{{n}}", data: `{"n":3}`, want: "3"},
		{name: "decimal", src: "{{n}}", data: `{"n":1.50}`, want: "1.5"},
		{name: "large", src: "{{n}}", data: `{"n":1e21}`, want: "1e+21"},
		{name: "just below exponent", src: "{{n}}", data: `{"n":123456789012345678901}`, want: "123456789012345680000"},
		{name: "small", src: "{{n}}", data: `{"n":0.000001}`, want: "0.000001"},
		{name: "tiny", src: "{{n}}", data: `{"n":1.5e-7}`, want: "1.5e-7"},
		{name: "negative zero", src: "{{n}}", data: `{"n":-0}`, want: "0"},
		{name: "negative", src: "{{n}}", data: `{"n":-12.25}`, want: "-12.25"},
		{name: "booleans", src: "{{t}} {{f}}", data: `{"t":true,"f":false}`, want: "true false"},
		{name: "null prints nothing and is not missing", src: "[{{x}}]", data: `{"x":null}`, want: "[]"},
		{name: "array joins", src: "{{a}}", data: `{"a":[1,null,"x",[2,3]]}`, want: "1,,x,2,3"},
		{name: "object", src: "{{o}}", data: `{"o":{"a":1}}`, want: "[object Object]"},
		{name: "missing renders empty and is reported", src: "Hi {{name}}, {{code}}", data: `{"name":"Ana"}`, want: "Hi Ana, ", missing: []string{"1:16 code"}},
		{name: "missing in template order", src: "{{#each xs}}{{b}}{{/each}}\n{{a}}{{c}}", data: `{"xs":[1]}`, want: "\n", missing: []string{"1:15 b", "2:3 a", "2:8 c"}},
		{name: "names like literals", src: "{{trueish}} {{nullable}}", data: `{"trueish":1,"nullable":2}`, want: "1 2"},
		{name: "literal segment", src: "{{[first name]}}", data: `{"first name":"Ana"}`, want: "Ana"},
		{name: "dashes and unicode", src: "{{first-name}} {{prénom}}", data: `{"first-name":"Ana","prénom":"Zoé"}`, want: "Ana Zoé"},
		{name: "array length", src: "{{items.length}}", data: `{"items":[1,2,3]}`, want: "3"},
		{name: "array index", src: "{{items.[1]}} {{items.0.sku}}", data: `{"items":[{"sku":"A"},"B"]}`, want: "B A"},
		{name: "index out of range", src: "[{{items.[5]}}]", data: `{"items":[1]}`, want: "[]", missing: []string{"1:4 items.[5]"}},
		{name: "key named like a helper through this", src: "{{this.if}}", data: `{"if":"x"}`, want: "x"},
		{name: "triple stash", src: "{{{html}}}", data: `{"html":"<b>x</b>"}`, want: "<b>x</b>"},
	}, Options{})
}

func TestNested(t *testing.T) {
	t.Parallel()
	// The data of the SES guide's example, "Parsing nested attributes".
	const ses = `{"meta":{"userId":"51806220607"},"contact":{"firstName":"Anaya","lastName":"Iyengar","city":"Bengaluru","country":"India","postalCode":"560052"},"subscription":[{"interest":"Sports"},{"interest":"Travel"},{"interest":"Cooking"}]}`
	runRender(t, []renderCase{
		{name: "SES guide", src: "Hello {{contact.firstName}}!", data: ses, want: "Hello Anaya!"},
		{name: "deep", src: "{{a.b.c.d}}", data: `{"a":{"b":{"c":{"d":"deep"}}}}`, want: "deep"},
		{name: "slash separator", src: "{{a/b}}", data: `{"a":{"b":"x"}}`, want: "x"},
		{name: "missing in the middle", src: "[{{a.x.y}}]", data: `{"a":{"b":1}}`, want: "[]", missing: []string{"1:4 a.x.y"}},
		{name: "through a string", src: "[{{name.first}}]", data: `{"name":"Ana"}`, want: "[]", missing: []string{"1:4 name.first"}},
		{name: "through null", src: "[{{a.b}}]", data: `{"a":null}`, want: "[]", missing: []string{"1:4 a.b"}},
		{name: "case-sensitive", src: "[{{Contact.FirstName}}]", data: ses, want: "[]", missing: []string{"1:4 Contact.FirstName"}},
		{name: "SES guide each",
			src:  "<ul>{{#each subscription}}<li>{{interest}}</li>{{/each}}</ul><a href=https://www.example.com/prefererences/i.aspx?id={{meta.userId}}>",
			data: ses,
			want: "<ul><li>Sports</li><li>Travel</li><li>Cooking</li></ul><a href=https://www.example.com/prefererences/i.aspx?id=51806220607>"},
	}, Options{})
}

func TestIfElse(t *testing.T) {
	t.Parallel()
	const src = "{{#if v}}yes{{else}}no{{/if}}"
	var cases []renderCase
	for _, tc := range []struct {
		data string
		want string
	}{
		{`{"v":false}`, "no"},
		{`{"v":null}`, "no"},
		{`{}`, "no"},
		{`{"v":""}`, "no"},
		{`{"v":0}`, "no"},
		{`{"v":-0}`, "no"},
		{`{"v":[]}`, "no"},
		{`{"v":true}`, "yes"},
		{`{"v":"x"}`, "yes"},
		{`{"v":"0"}`, "yes"},
		{`{"v":"false"}`, "yes"},
		{`{"v":1}`, "yes"},
		{`{"v":-1}`, "yes"},
		{`{"v":[0]}`, "yes"},
		{`{"v":{}}`, "yes"},
	} {
		cases = append(cases, renderCase{name: "if " + tc.data, src: src, data: tc.data, want: tc.want})
		// unless renders its block when if would not: the same output here.
		cases = append(cases, renderCase{name: "unless " + tc.data, src: "{{#unless v}}no{{else}}yes{{/unless}}", data: tc.data, want: tc.want})
	}
	cases = append(cases,
		renderCase{name: "without else", src: "[{{#if v}}x{{/if}}]", data: `{"v":0}`, want: "[]"},
		renderCase{name: "if keeps the context", src: "{{#if contact}}{{contact.firstName}}{{/if}}", data: `{"contact":{"firstName":"Ana"}}`, want: "Ana"},
		renderCase{name: "nested", src: "{{#if a}}{{#if b}}ab{{else}}a{{/if}}{{else}}-{{/if}}", data: `{"a":1,"b":0}`, want: "a"},
		renderCase{name: "../ skips if", src: "{{#with c}}{{#if n}}{{../top}}{{/if}}{{/with}}", data: `{"top":"T","c":{"n":1}}`, want: "T"},
		renderCase{name: "missing condition is not a missing variable", src: "{{#if subscription}}x{{else}}none{{/if}}", want: "none"},
		renderCase{name: "loop variable", src: "{{#each xs}}{{#if @first}}[{{/if}}{{this}}{{#unless @last}},{{else}}]{{/unless}}{{/each}}", data: `{"xs":[1,2,3]}`, want: "[1,2,3]"},
	)
	runRender(t, cases, Options{})
}

func TestEach(t *testing.T) {
	t.Parallel()
	runRender(t, []renderCase{
		{name: "array of objects", src: "{{#each items}}{{@index}}:{{sku}};{{/each}}", data: `{"items":[{"sku":"A1"},{"sku":"B2"}]}`, want: "0:A1;1:B2;"},
		{name: "this", src: "{{#each tags}}<{{this}}>{{/each}}", data: `{"tags":["a","b"]}`, want: "<a><b>"},
		{name: "first last key on an array", src: "{{#each xs}}{{@key}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/each}}", data: `{"xs":["a","b","c"]}`, want: "0F 1 2L "},
		{name: "object in JavaScript order", src: "{{#each o}}{{@key}}={{this}}{{#if @first}}(first){{/if}}{{#if @last}}(last){{/if}};{{/each}}",
			data: `{"o":{"b":1,"a":2,"10":3,"2":4}}`, want: "2=4(first);10=3;b=1;a=2(last);"},
		{name: "else on empty", src: "{{#each xs}}x{{else}}none{{/each}}", data: `{"xs":[]}`, want: "none"},
		{name: "else on missing", src: "{{#each xs}}x{{else}}none{{/each}}", want: "none"},
		{name: "else on empty object", src: "{{#each xs}}x{{else}}none{{/each}}", data: `{"xs":{}}`, want: "none"},
		{name: "a string is not iterated", src: "{{#each xs}}x{{else}}none{{/each}}", data: `{"xs":"abc"}`, want: "none"},
		{name: "else sees the outer context", src: "{{#each xs}}x{{else}}{{name}}{{/each}}", data: `{"xs":[],"name":"Ana"}`, want: "Ana"},
		{name: "parent context", src: "{{#each xs}}{{../sep}}{{this}}{{/each}}", data: `{"xs":[1,2],"sep":"-"}`, want: "-1-2"},
		{name: "nested with parent index", src: "{{#each rows}}{{#each this}}{{@../index}}.{{@index}}={{this}} {{/each}}{{/each}}", data: `{"rows":[["a","b"],["c"]]}`, want: "0.0=a 0.1=b 1.0=c "},
		{name: "two levels up", src: "{{#each a}}{{#each b}}{{../../t}}{{../n}}{{this}}{{/each}}{{/each}}", data: `{"t":"T","a":[{"n":"N","b":[1,2]}]}`, want: "TN1TN2"},
		{name: "missing field of one item, reported once", src: "{{#each items}}{{sku}},{{/each}}", data: `{"items":[{"sku":"A"},{},{}]}`, want: "A,,,", missing: []string{"1:18 sku"}},
	}, Options{})
}

func TestWith(t *testing.T) {
	t.Parallel()
	runRender(t, []renderCase{
		{name: "object", src: "{{#with contact}}{{firstName}} {{lastName}}{{/with}}", data: `{"contact":{"firstName":"Ana","lastName":"Iyengar"}}`, want: "Ana Iyengar"},
		{name: "parent", src: "{{#with contact}}{{firstName}} #{{../meta.userId}}{{/with}}", data: `{"contact":{"firstName":"Ana"},"meta":{"userId":"42"}}`, want: "Ana #42"},
		{name: "missing takes else", src: "{{#with contact}}x{{else}}nobody{{/with}}", want: "nobody"},
		{name: "empty string takes else", src: "{{#with s}}x{{else}}empty{{/with}}", data: `{"s":""}`, want: "empty"},
		{name: "empty array takes else", src: "{{#with s}}x{{else}}empty{{/with}}", data: `{"s":[]}`, want: "empty"},
		{name: "zero is not empty", src: "{{#with n}}[{{this}}]{{/with}}", data: `{"n":0}`, want: "[0]"},
		{name: "empty object is not empty", src: "{{#with o}}yes{{/with}}", data: `{"o":{}}`, want: "yes"},
		{name: "nested", src: "{{#with a}}{{#with b}}{{c}}{{../x}}{{/with}}{{/with}}", data: `{"a":{"x":"X","b":{"c":"C"}}}`, want: "CX"},
		{name: "with this adds no level", src: "{{#with this}}[{{../name}}]{{/with}}", data: `{"name":"Ana"}`, want: "[]", missing: []string{"1:18 ../name"}},
	}, Options{})
}

func TestInlinePartials(t *testing.T) {
	t.Parallel()
	// The SES guide's example, "Creating inline partials", with its line
	// breaks removed as the guide says to.
	const data = `{"firstName":"Anaya","lastName":"Iyengar","friends":[{"firstName":"Shirley","lastName":"Rodriguez"},{"firstName":"Carlos"}]}`
	const def = `{{#* inline "fullName"}}{{firstName}}{{#if lastName}} {{lastName}}{{/if}}{{/inline~}}` + "\n"
	runRender(t, []renderCase{
		{name: "SES guide HTML part",
			src:  def + "<h1>Hello {{> fullName}}!</h1><p>You have listed the following people as your friends:</p><ul>{{#each friends}}<li>{{> fullName}}</li>{{/each}}</ul>",
			data: data,
			want: "<h1>Hello Anaya Iyengar!</h1><p>You have listed the following people as your friends:</p><ul><li>Shirley Rodriguez</li><li>Carlos</li></ul>"},
		{name: "SES guide text part",
			src:  def + "Hello {{> fullName}}! You have listed the following people as your friends:\n{{#each friends}}- {{> fullName}}\n{{/each}}",
			data: data,
			want: "Hello Anaya Iyengar! You have listed the following people as your friends:\n- Shirley Rodriguez\n- Carlos\n"},
		{name: "the newline after a definition is not rendered",
			src:  `{{#* inline "fullName"}}{{firstName}}{{#if lastName}} {{lastName}}{{/if}}{{/inline}}` + "\nHello {{> fullName}}",
			data: data, want: "Hello Anaya Iyengar"},
		{name: "used before its definition", src: `{{> p}}{{#*inline "p"}}P{{/inline}}`, want: "P"},
		{name: "string name", src: `{{#*inline "a b"}}AB{{/inline}}{{> "a b"}}`, want: "AB"},
		{name: "scoped to its block", src: `{{#*inline "p"}}outer{{/inline}}{{#if t}}{{#*inline "p"}}inner{{/inline}}{{> p}}{{/if}}{{> p}}`, data: `{"t":1}`, want: "innerouter"},
		{name: "a partial calls one defined where it is called", src: `{{#*inline "a"}}[{{> b}}]{{/inline}}{{#if t}}{{#*inline "b"}}B{{/inline}}{{> a}}{{/if}}`, data: `{"t":1}`, want: "[B]"},
		{name: "standalone call indents its lines", src: "{{#*inline \"row\"}}\nA\nB\n{{/inline}}\n<div>\n  {{> row}}\n</div>", want: "<div>\n  A\n  B\n</div>"},
		{name: "missing inside a partial", src: `{{#*inline "p"}}{{x}}{{/inline}}{{> p}}`, want: "", missing: []string{"1:19 x"}},
	}, Options{})
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	const data = `{"name":"Ana","v":"<a href=\"x\">'&'=` + "`" + `</a>"}`
	// As SES renders: no HTML escaping ("SES doesn't escape HTML content
	// when rendering the HTML template for a message", SES developer
	// guide, "Advanced email personalization").
	runRender(t, []renderCase{
		{name: "escaped mustache", src: `\{{name}}`, data: data, want: "{{name}}"},
		{name: "escaped then real", src: `\{{a}} {{name}}`, data: data, want: "{{a}} Ana"},
		{name: "two escaped", src: `\{{a}}\{{b}}`, data: data, want: "{{a}}{{b}}"},
		{name: "escaped backslash", src: `\\{{name}}`, data: data, want: `\Ana`},
		{name: "text before escape", src: `x \{{name}} y`, data: data, want: "x {{name}} y"},
		{name: "SES does not escape", src: "{{v}}", data: data, want: `<a href="x">'&'=` + "`" + `</a>`},
	}, Options{})
	// As Handlebars.js renders, on request.
	runRender(t, []renderCase{
		{name: "Handlebars escapes", src: "{{v}}", data: data, want: "&lt;a href&#x3D;&quot;x&quot;&gt;&#x27;&amp;&#x27;&#x3D;&#x60;&lt;/a&gt;"},
		{name: "triple stash is raw", src: "{{{v}}}", data: data, want: `<a href="x">'&'=` + "`" + `</a>`},
		{name: "numbers are not touched", src: "{{n}}", data: `{"n":1.5}`, want: "1.5"},
	}, Options{EscapeHTML: true})
	if got := EscapeHTML(`&<>"'` + "`=x"); got != "&amp;&lt;&gt;&quot;&#x27;&#x60;&#x3D;x" {
		t.Errorf("EscapeHTML = %q", got)
	}
}

func TestComments(t *testing.T) {
	t.Parallel()
	runRender(t, []renderCase{
		{name: "short", src: "a{{! a comment }}b", want: "ab"},
		{name: "long holds }}", src: "a{{!-- {{name}} }} --}}b", want: "ab"},
		{name: "long with dashes", src: "a{{!-- x ---}}b", want: "ab"},
		{name: "standalone line", src: "a\n  {{! note }}\nb", want: "a\nb"},
		{name: "strip", src: "a \n {{~! x ~}} \n b", want: "ab"},
		{name: "long strip", src: "a  {{~!-- x --~}}  b", want: "ab"},
		{name: "a short comment ends at the first }}", src: "{{! {{missing}} }}", want: " }}"},
	}, Options{})
}

func TestWhitespace(t *testing.T) {
	t.Parallel()
	const xs = `{"xs":["a","b"],"name":"Ana"}`
	runRender(t, []renderCase{
		{name: "standalone block lines", src: "<ul>\n  {{#each xs}}\n  <li>{{this}}</li>\n  {{/each}}\n</ul>", data: xs, want: "<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>"},
		{name: "standalone else", src: "{{#if no}}\nyes\n{{else}}\nno\n{{/if}}\n", want: "no\n"},
		{name: "CRLF", src: "a\r\n{{#if name}}\r\nx\r\n{{/if}}\r\nb", data: xs, want: "a\r\nx\r\nb"},
		{name: "tilde both sides", src: "a  {{~name~}}  b", data: xs, want: "aAnab"},
		{name: "tilde newlines", src: "<p>\n  {{~name}}\n</p>", data: xs, want: "<p>Ana\n</p>"},
		{name: "tilde inside block", src: "[{{#each xs~}}\n  {{this}}\n{{~/each}}]", data: xs, want: "[ab]"},
		{name: "tilde triple", src: "a {{~{name}~}} b", data: xs, want: "aAnab"},
		{name: "inline tag is not standalone", src: "a {{#if name}}x{{/if}} b", data: xs, want: "a x b"},
	}, Options{})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("{{#if a}}", MaxNesting+1)
	for _, tc := range []struct {
		src  string
		want string // "line:col: part of the message"
	}{
		{"Hi {{name", "1:4: {{ is not closed"},
		{"{{#if x}}open", "1:1: {{#if}} is not closed (expected {{/if}})"},
		{"{{#if a}}{{#each b}}", "1:10: {{#each}} is not closed"},
		{"{{/if}}", "1:1: {{/if}} closes nothing"},
		{"{{#if a}}\n  {{/each}}", "2:3: {{/each}} does not close {{#if}} (opened at 1:1)"},
		{"{{#each}}{{/each}}", "1:1: {{#each}} needs one argument"},
		{"{{#with}}{{/with}}", "1:1: {{#with}} needs one argument"},
		{"{{#if a b}}{{/if}}", "1:9: {{#if}} takes one argument"},
		{`{{#if "x"}}{{/if}}`, "1:7: {{#if}} takes a variable, not the literal x"},
		{"{{#if true}}{{/if}}", "1:7: {{#if}} takes a variable, not the literal true"},
		{"{{#with -1.5}}{{/with}}", "1:9: {{#with}} takes a variable, not the literal -1.5"},
		{"{{null}}", "1:3: {{…}} prints a variable, not the literal null"},
		{"{{#foo x}}{{/foo}}", `1:4: helper "foo" is not supported by SES`},
		{"line1\nline2 {{#bogus x}}{{/bogus}}", `2:10: helper "bogus" is not supported by SES`},
		{"{{lookup a b}}", `1:3: helper "lookup" is not supported by SES`},
		{"x\n  {{log a}}", `2:5: helper "log" is not supported by SES`},
		{"{{log}}", `1:3: helper "log" is not supported by SES`},
		{"{{a b}}", `1:3: helper "a" is not supported by SES`},
		{"{{if}}", "1:3: if is a block helper"},
		{"{{else}}", "1:1: {{else}} outside a block"},
		{"{{#if a}}{{else if b}}{{/if}}", "1:10: {{else if}} chains are not supported by SES"},
		{"{{#if a}}{{else}}{{else}}{{/if}}", "1:18: a second {{else}} in {{#if}} (the first is at 1:10)"},
		{"{{#if a includeZero=true}}{{/if}}", "1:9: hash arguments (includeZero=…) are not supported by SES"},
		{"{{#if (eq a b)}}{{/if}}", "1:7: sub-expressions ((…)) are not supported by SES"},
		{"{{#each xs as |x|}}{{/each}}", "1:12: block parameters (as |name|) are not supported by SES"},
		{"{{> footer}}", `1:1: partial "footer" is not defined here`},
		{`{{#each xs}}{{#*inline "p"}}x{{/inline}}{{/each}}{{> p}}`, `1:50: partial "p" is not defined here`},
		{`{{#*inline "p"}}x{{/inline}}{{> p ctx}}`, "1:35: partial contexts and parameters"},
		{`{{#*inline "p"}}x{{/inline}}{{> p a=b}}`, "1:35: hash arguments (a=…)"},
		{"{{> (which)}}", "1:5: sub-expressions"},
		{"{{#> layout}}x{{/layout}}", "1:1: partial blocks ({{#> name}}) are not supported by SES"},
		{`{{#*inline "a"}}x{{/inline}}{{#*inline "a"}}y{{/inline}}`, `1:29: inline partial "a" is already defined at 1:1`},
		{"{{#*inline name}}x{{/inline}}", `1:1: {{#*inline}} takes the partial's name as a string`},
		{`{{#*inline "a"}}x{{else}}y{{/inline}}`, "1:18: {{else}} inside {{#*inline}}"},
		{`{{#*decorate "a"}}x{{/decorate}}`, `1:5: decorator "decorate" is not supported by SES`},
		{"{{*decorate}}", "1:1: decorators ({{*…}}) are not supported by SES"},
		{"{{&name}}", "1:1: {{&…}} is not supported by SES"},
		{"{{^x}}y{{/x}}", "1:1: inverse sections ({{^name}}) are not supported by SES"},
		{"{{#if a}}x{{^}}y{{/if}}", "1:11: {{^}} is not supported by SES; write {{else}}"},
		{"{{{{raw}}}}x{{{{/raw}}}}", "1:1: raw blocks ({{{{raw}}}}) are not supported by SES"},
		{"{{@root.name}}", "1:3: @root is not supported by SES"},
		{"{{@foo}}", "1:3: data variable @foo is not supported by SES"},
		{"{{@index}}", "1:3: @index is only set inside {{#each}}"},
		{"{{#each a}}{{@../index}}{{/each}}", "1:14: @../index is only set inside {{#each}}"},
		{`{{#*inline "p"}}{{@index}}{{/inline}}{{> p}}`, "1:19: @index is only set inside {{#each}}"},
		{"{{items.0}}", "1:9: items.0: Handlebars reads 0 as a number here; write items.[0]"},
		{"{{a.}}", "1:3: invalid path a."},
		{"{{foo.this}}", "1:3: invalid path foo.this: this may only start a path"},
		{`{{"literal"}}`, "1:3: {{…}} prints a variable, not the literal literal"},
		{"{{1}}", "1:3: {{…}} prints a variable, not the literal 1"},
		{"{{}}", "1:1: empty {{…}}"},
		{"{{{a}}", "1:5: {{{ is closed by }}; expected }}}"},
		{"{{{a", "1:1: {{{ is not closed"},
		{"{{! unclosed", "1:1: comment {{! is not closed"},
		{"{{!-- unclosed }}", "1:1: comment {{!-- is not closed"},
		{"{{a;}}", `1:4: unexpected ';' after a`},
		{"{{[a}}", "1:3: [ is not closed"},
		{`{{#*inline "a}}`, "1:12: string \"… is not closed"},
		{"ok\xff", "1:3: the template is not valid UTF-8"},
		{deep, fmt.Sprintf("1:%d: blocks nest deeper than %d", 9*MaxNesting+1, MaxNesting)},
	} {
		_, err := Parse("t", tc.src)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%.60q) = %v, want an *Error %q", tc.src, err, tc.want)
			continue
		}
		if got := fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Parse(%.60q)\n got %q\nwant %q…", tc.src, got, tc.want)
		}
		if !strings.HasPrefix(err.Error(), "t:") {
			t.Errorf("Error() = %q, want it to start with the template's name", err.Error())
		}
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	// Partials that each call the next twice: 2^30 calls and no output.
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, `{{#*inline "p%d"}}{{> p%d}}{{> p%d}}{{/inline}}`, i, i+1, i+1)
	}
	b.WriteString(`{{#*inline "p30"}}{{/inline}}{{> p0}}`)
	exponential := b.String()

	for _, tc := range []struct {
		name string
		src  string
		data string
		lim  Limits
		want string
	}{
		{"output", "{{#each xs}}abcdef{{/each}}", `{"xs":[1,2]}`, Limits{MaxOutput: 10}, "1:13: the output would exceed 10 bytes"},
		{"iterations", "{{#each xs}}{{#each ../xs}}.{{/each}}{{/each}}", `{"xs":[1,2,3]}`, Limits{MaxIterations: 5}, "1:13: {{#each}} would iterate more than 5 times"},
		{"recursive partial", `{{#*inline "r"}}x{{> r}}{{/inline}}{{> r}}`, `{}`, Limits{}, "1:18: blocks and partials nest deeper than 100"},
		{"nesting", `{{#*inline "r"}}{{#if t}}{{> r}}{{/if}}{{/inline}}{{> r}}`, `{"t":1}`, Limits{MaxDepth: 7}, "blocks and partials nest deeper than 7"},
		{"steps", exponential, `{}`, Limits{}, "the render would take more than 2000000 steps"},
	} {
		start := time.Now()
		tmpl, err := Parse("t", tc.src)
		if err != nil {
			t.Fatalf("%s: Parse: %v", tc.name, err)
		}
		// Only the exponential partials are beyond the analysis's budget.
		if complete := tmpl.VariablesComplete(); complete != (tc.name != "steps") {
			t.Errorf("%s: VariablesComplete() = %v", tc.name, complete)
		}
		d, _ := DecodeJSON([]byte(tc.data))
		out, _, err := tmpl.RenderWith(d, Options{Limits: tc.lim})
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.want) || out != "" {
			t.Errorf("%s: Render = %q, %v; want no output and %q", tc.name, out, err, tc.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", tc.name, d)
		}
	}
}

func TestVariablesList(t *testing.T) {
	t.Parallel()
	src := "{{#each subscription}}{{interest}}{{/each}}\n" +
		"{{#with contact}}{{firstName}} {{../meta.userId}}{{/with}}\n" +
		"{{#if vip}}{{#each xs}}{{@index}}{{/each}}{{/if}}{{../../above}}\n" +
		`{{#*inline "n"}}{{name}}{{/inline}}{{> n}}{{#each friends}}{{> n}}{{/each}}`
	tmpl, err := Parse("t", src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range tmpl.Variables() {
		data := "-"
		if v.Data != nil {
			data = v.DataPath()
		}
		got = append(got, fmt.Sprintf("%d:%d %s %s %s", v.Line, v.Col, v.Kind, v.Expr, data))
	}
	want := []string{ // in the order the analysis meets them
		"1:9 each subscription subscription",
		"1:25 print interest subscription[].interest",
		"2:9 with contact contact",
		"2:20 print firstName contact.firstName",
		"2:34 print ../meta.userId meta.userId",
		"3:7 condition vip vip",
		"3:20 each xs xs",
		"3:26 print @index -",
		"3:52 print ../../above -",
		"4:19 print name name",
		"4:51 each friends friends",
		"4:19 print name friends[].name",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Variables:\n got %q\nwant %q", got, want)
	}
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	v, err := DecodeJSON([]byte(`{"b":1,"a":{"z":true,"y":null},"1":[1,"x"],"b":2}`))
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*Object)
	if got := o.Keys(); !reflect.DeepEqual(got, []string{"1", "b", "a"}) {
		t.Errorf("keys = %q", got)
	}
	if b, _ := o.Get("b"); b != 2.0 {
		t.Errorf("a repeated key keeps the last value: b = %v", b)
	}
	a, _ := o.Get("a")
	if got := a.(*Object).Keys(); !reflect.DeepEqual(got, []string{"z", "y"}) {
		t.Errorf("nested keys = %q", got)
	}
	for _, tc := range []struct{ src, want string }{
		{"{\n  \"a\": 1,\n  \"b\": }", "3:8: "},
		{`{"a":1} x`, "1:9: invalid character 'x' after top-level value"},
		{"{\n  \"a\": tru\n}", "2:11: invalid character '\\n' in literal true (expecting 'e')"},
		{`{"a":`, "1:6: unexpected end of JSON"},
		{strings.Repeat("[", MaxDataDepth+1) + strings.Repeat("]", MaxDataDepth+1), fmt.Sprintf("1:%d: data nests deeper than %d levels", MaxDataDepth+1, MaxDataDepth)},
	} {
		_, err := DecodeJSON([]byte(tc.src))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("DecodeJSON(%.40q) = %v, want %q…", tc.src, err, tc.want)
		}
	}
}

func TestGoData(t *testing.T) {
	t.Parallel()
	tmpl, err := Parse("t", "{{#each m}}{{@key}}={{this}};{{/each}} {{n}} {{nested.k}} {{#each list}}{{k}}{{/each}}")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := tmpl.Render(map[string]any{"m": map[string]any{"b": 1, "a": int64(2)}, "n": 7, "nested": map[string]any{"k": "v"},
		"list": []any{map[string]any{"k": "x"}, map[string]any{"k": "y"}}})
	if err != nil || got != "a=2;b=1; 7 v xy" {
		t.Errorf("Render(Go maps) = %q, %v", got, err)
	}
}

// A minified email is one long line; positions must not make parsing
// quadratic (it once took 10 s for this size, and 40 s for twice it).
func TestLongLine(t *testing.T) {
	t.Parallel()
	src := strings.Repeat(`<td class="x">{{#if a}}{{b.c}}{{else}}{{{d}}}{{/if}}</td>`, 18000) // 1 MB
	start := time.Now()
	tmpl, err := Parse("t", src)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("Parse of a %d-byte line took %v", len(src), d)
	}
	last := tmpl.Variables()[len(tmpl.Variables())-1]
	if want := (Pos{Line: 1, Col: len(src) - len(`}}}{{/if}}</td>`) - 1 + 1}); last.Pos != want {
		t.Errorf("last variable at %v, want %v", last.Pos, want)
	}
}
