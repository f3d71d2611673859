package templates

import (
	"fmt"
	"reflect"
	"testing"
)

func TestFrontMatter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		src      string
		fields   map[string]string // key: "line:col value"
		body     string
		bodyLine int
		problems []string
	}{
		{
			name: "all keys",
			src:  "---\nname: welcome\nsubject: \"Hi {{name}}\"\ntext: welcome.txt\ndata: 'sample.json'\n---\n<h1>",
			fields: map[string]string{
				"name": "2:7 welcome", "subject": "3:11 Hi {{name}}", "text": "4:7 welcome.txt", "data": "5:8 sample.json",
			},
			body: "<h1>", bodyLine: 7,
		},
		{name: "none", src: "<h1>\n---\n", fields: map[string]string{}, body: "<h1>\n---\n", bodyLine: 1},
		{name: "a rule, not front matter", src: "----\nname: x\n---\n", fields: map[string]string{}, body: "----\nname: x\n---\n", bodyLine: 1},
		{name: "CRLF", src: "---\r\nname: a\r\n---\r\n<p>", fields: map[string]string{"name": "2:7 a"}, body: "<p>", bodyLine: 4},
		{name: "BOM, comments and blank lines", src: "\ufeff---\n# a comment\n\nsubject:   Hello  \n---\nx", fields: map[string]string{"subject": "4:12 Hello"}, body: "x", bodyLine: 6},
		{name: "ends at the closing line", src: "---\nname: a\n---", fields: map[string]string{"name": "2:7 a"}, body: "", bodyLine: 4},
		{
			name:   "strict",
			src:    "---\nlayout: post\nname: a\nname: b\njust text\nsubject:\n text: indented\n---\n",
			fields: map[string]string{"name": "3:7 a"}, body: "", bodyLine: 9,
			problems: []string{
				`2:1: unknown front matter key "layout" (keys: name, subject, text, data)`,
				`4:1: front matter key "name" is given twice (first on line 3)`,
				`5:1: front matter lines are key: value, not "just text"`,
				`6:1: front matter key "subject" has no value`,
				`7:1: front matter lines are key: value, not " text: indented"`,
			},
		},
		{
			name: "not closed", src: "---\nname: a\n<h1>\n", fields: map[string]string{}, body: "---\nname: a\n<h1>\n", bodyLine: 1,
			problems: []string{"1:1: the front matter that starts here is not closed (no line --- follows)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fm, probs := parseFrontMatter("f.html", tc.src)
			fields := map[string]string{}
			for k, v := range fm.fields {
				fields[k] = fmt.Sprintf("%d:%d %s", v.line, v.col, v.value)
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Errorf("fields = %q, want %q", fields, tc.fields)
			}
			if body := tc.src[fm.bodyOff:]; body != tc.body || fm.bodyLine != tc.bodyLine {
				t.Errorf("body = %q at line %d, want %q at line %d", body, fm.bodyLine, tc.body, tc.bodyLine)
			}
			var got []string
			for _, p := range probs {
				if p.File != "f.html" || p.Severity != Error {
					t.Errorf("problem %+v: want an error in f.html", p)
				}
				got = append(got, fmt.Sprintf("%d:%d: %s", p.Line, p.Col, p.Message))
			}
			if !reflect.DeepEqual(got, tc.problems) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.problems)
			}
		})
	}
}
