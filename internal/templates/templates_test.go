package templates

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

// summary describes loaded templates compactly: name, origin and where
// each part comes from.
func summary(ts []Template) []string {
	var out []string
	for _, t := range ts {
		part := func(p Part) string {
			if !p.Present() {
				return "-"
			}
			return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
		}
		out = append(out, fmt.Sprintf("%s [%s] name@%s:%d:%d subject=%s html=%s text=%s data=%s",
			t.Name, t.Origin, t.NameAt.File, t.NameAt.Line, t.NameAt.Col, part(t.Subject), part(t.HTML), part(t.Text), part(t.Data)))
	}
	return out
}

func problems(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func TestLoadFrontMatter(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"emails/welcome.html":     file("---\nsubject: Welcome {{name}}\n---\n<p>Hi {{name}}</p>\n"),
		"emails/welcome.txt":      file("Hi {{name}}\n"),
		"emails/welcome.json":     file(`{"name":"Ana"}`),
		"emails/reset.htm":        file("---\nname: password-reset\nsubject: Your code\ntext: text/reset.txt\ndata: /samples/reset.json\n---\n<p>{{code}}</p>"),
		"emails/text/reset.txt":   file("{{code}}"),
		"samples/reset.json":      file(`{"code":"123"}`),
		"emails/fragment.html":    file("<p>no front matter: not a template</p>"),
		"site/page.html":          file("---\nlayout: post\ntitle: A page\n---\n<p>a static site's page</p>"),
		".git/hooks/x.html":       file("---\nname: hidden\n---\n"),
		"node_modules/y/in.html":  file("---\nname: vendored\n---\n"),
		"emails/broken.html":      file("---\nsubject: Broken\nlayout: x\n---\n"),
		"emails/missing-txt.html": file("---\nsubject: s\ntext: nope.txt\n---\n"),
	}
	ts, probs := Load(fsys, nil)
	want := []string{
		"broken [front matter] name@emails/broken.html:1:1 subject=emails/broken.html:2:10 html=emails/broken.html:5:1 text=- data=-",
		"missing-txt [front matter] name@emails/missing-txt.html:1:1 subject=emails/missing-txt.html:2:10 html=emails/missing-txt.html:5:1 text=- data=-",
		"password-reset [front matter] name@emails/reset.htm:2:7 subject=emails/reset.htm:3:10 html=emails/reset.htm:7:1 text=emails/text/reset.txt:1:1 data=samples/reset.json:1:1",
		"welcome [front matter] name@emails/welcome.html:1:1 subject=emails/welcome.html:2:10 html=emails/welcome.html:4:1 text=emails/welcome.txt:1:1 data=emails/welcome.json:1:1",
	}
	if got := summary(ts); !reflect.DeepEqual(got, want) {
		t.Errorf("templates:\n got %q\nwant %q", got, want)
	}
	wantProbs := []string{
		`emails/broken.html:3:1: error: unknown front matter key "layout" (keys: name, subject, text, data)`,
		"emails/missing-txt.html:3:7: error: emails/nope.txt does not exist",
	}
	if got := problems(probs); !reflect.DeepEqual(got, wantProbs) {
		t.Errorf("problems:\n got %q\nwant %q", got, wantProbs)
	}
	if ts[3].HTML.Source != "<p>Hi {{name}}</p>\n" || ts[3].Subject.Source != "Welcome {{name}}" {
		t.Errorf("welcome: HTML %q, subject %q", ts[3].HTML.Source, ts[3].Subject.Source)
	}
}

const manifest = `{
  "templates": [
    {"name": "reset", "subject": "Reset: {{code}}", "html": "mail/reset.html", "data": "mail/reset-sample.json"},
    {"name": "plain", "subject": "Plain", "text": "mail/plain.txt"}
  ],
  "rules": [
    {"html": "emails/**/*.html", "name": "{dir}-{name}"}
  ]
}`

func TestLoadManifest(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"sendops.json":                file(manifest),
		"mail/reset.html":             file("---\nname: other\ntext: reset.txt\n---\n<p>{{code}}</p>"),
		"mail/reset.txt":              file("{{code}}"),
		"mail/reset-sample.json":      file(`{"code":"1"}`),
		"mail/plain.txt":              file("plain"),
		"emails/welcome.html":         file("<p>welcome</p>"),
		"emails/welcome.txt":          file("welcome"),
		"emails/billing/invoice.html": file("---\nsubject: Invoice\n---\n<p>invoice</p>"),
		"emails/billing/receipt.html": file("---\nname: receipt-v2\n---\n<p>receipt</p>"),
		"other/fm.html":               file("---\nname: loose\nsubject: s\n---\n"),
	}
	ts, probs := Load(fsys, nil)
	want := []string{
		"billing-invoice [rule \"emails/**/*.html\"] name@emails/billing/invoice.html:1:1 subject=emails/billing/invoice.html:2:10 html=emails/billing/invoice.html:4:1 text=- data=-",
		"loose [front matter] name@other/fm.html:2:7 subject=other/fm.html:3:10 html=other/fm.html:5:1 text=- data=-",
		"plain [sendops.json] name@sendops.json:4:6 subject=sendops.json:4:35 html=- text=mail/plain.txt:1:1 data=-",
		"receipt-v2 [rule \"emails/**/*.html\"] name@emails/billing/receipt.html:2:7 subject=- html=emails/billing/receipt.html:4:1 text=- data=-",
		"reset [sendops.json] name@sendops.json:3:6 subject=sendops.json:3:35 html=mail/reset.html:5:1 text=mail/reset.txt:1:1 data=mail/reset-sample.json:1:1",
		"welcome [rule \"emails/**/*.html\"] name@emails/welcome.html:1:1 subject=- html=emails/welcome.html:1:1 text=emails/welcome.txt:1:1 data=-",
	}
	if got := summary(ts); !reflect.DeepEqual(got, want) {
		t.Errorf("templates:\n got %q\nwant %q", got, want)
	}
	wantProbs := []string{`mail/reset.html:2:7: warning: the front matter names this template "other"; sendops.json names it "reset", which wins`}
	if got := problems(probs); !reflect.DeepEqual(got, wantProbs) {
		t.Errorf("problems:\n got %q\nwant %q", got, wantProbs)
	}
	// A mapping given by the caller replaces the manifest.
	ts, probs = Load(fsys, &Mapping{Rules: []Rule{{HTML: "mail/*.html"}}})
	// Files whose front matter declares them still count.
	want = []string{
		"invoice [front matter] name@emails/billing/invoice.html:1:1 subject=emails/billing/invoice.html:2:10 html=emails/billing/invoice.html:4:1 text=- data=-",
		"loose [front matter] name@other/fm.html:2:7 subject=other/fm.html:3:10 html=other/fm.html:5:1 text=- data=-",
		"other [rule \"mail/*.html\"] name@mail/reset.html:2:7 subject=- html=mail/reset.html:5:1 text=mail/reset.txt:1:1 data=-",
		"receipt-v2 [front matter] name@emails/billing/receipt.html:2:7 subject=- html=emails/billing/receipt.html:4:1 text=- data=-",
	}
	if got := summary(ts); !reflect.DeepEqual(got, want) || len(probs) != 0 {
		t.Errorf("with a mapping:\n got %q, %q\nwant %q", got, problems(probs), want)
	}
}

func TestLoadProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want []string
	}{
		{
			name: "collision",
			fsys: fstest.MapFS{
				"sendops.json": file(`{"rules": [{"html": "**/*.html"}]}`),
				"a/x.html":     file("<p>a</p>"),
				"b/x.html":     file("<p>b</p>"),
				"c/y.html":     file("---\nname: x\n---\n"),
			},
			want: []string{
				`a/x.html:1:1: error: template name "x" is also mapped from b/x.html:1:1 (rule "**/*.html"), c/y.html:2:7 (rule "**/*.html")`,
				`b/x.html:1:1: error: template name "x" is also mapped from a/x.html:1:1 (rule "**/*.html"), c/y.html:2:7 (rule "**/*.html")`,
				`c/y.html:2:7: error: template name "x" is also mapped from a/x.html:1:1 (rule "**/*.html"), b/x.html:1:1 (rule "**/*.html")`,
			},
		},
		{
			name: "not JSON",
			fsys: fstest.MapFS{"sendops.json": file("{\n  \"templates\": [\n    {\"name\": \"a\",}\n  ]\n}")},
			want: []string{`sendops.json:3:18: error: sendops.json is not a valid manifest: invalid character '}' looking for beginning of object key string`},
		},
		{
			name: "unknown key",
			fsys: fstest.MapFS{"sendops.json": file(`{"templates": [{"name": "a", "htm": "a.html"}]}`)},
			want: []string{`sendops.json:1:30: error: sendops.json is not a valid manifest: unknown field "htm"`},
		},
		{
			name: "wrong type",
			fsys: fstest.MapFS{"sendops.json": file(`{"rules": {"html": "x"}}`)},
			want: []string{`sendops.json:1:12: error: sendops.json is not a valid manifest: cannot unmarshal object into Go struct field Mapping.rules of type []templates.Rule`},
		},
		{
			name: "entries",
			fsys: fstest.MapFS{
				"sendops.json": file("{\"templates\": [\n" +
					"  {\"subject\": \"s\", \"html\": \"a.html\"},\n" +
					"  {\"name\": \"b\"},\n" +
					"  {\"name\": \"c\", \"html\": \"missing.html\"},\n" +
					"  {\"name\": \"d\", \"html\": \"../outside.html\"},\n" +
					"  {\"name\": \"e\", \"text\": \"e.txt\", \"data\": \"nope.json\"}\n" +
					"]}"),
				"e.txt": file("e"),
			},
			want: []string{
				"sendops.json:2:3: error: a template in sendops.json needs a name",
				`sendops.json:3:3: error: template "b" names neither an html nor a text file`,
				"sendops.json:4:17: error: missing.html does not exist",
				`sendops.json:5:17: error: html: "../outside.html" is not a file in the repository`,
				"sendops.json:6:34: error: nope.json does not exist",
			},
		},
		{
			name: "rules",
			fsys: fstest.MapFS{
				"sendops.json": file(`{"rules": [{"html": "a/**b/*.html"}, {"html": "*.html", "name": "{path}"}, {"html": "none/*.html"}]}`),
			},
			want: []string{
				`sendops.json:1:13: error: rule 1: pattern "a/**b/*.html": ** must be a whole segment, as in a/**/b`,
				`sendops.json:1:57: error: rule 2: name pattern "{path}": unknown placeholder {path} (use {dir} and {name})`,
				"sendops.json:1:76: warning: rule 3 (none/*.html) matches no file",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, probs := Load(tc.fsys, nil)
			SortProblems(probs)
			if got := problems(probs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// lintOne loads the repository, which must map exactly one template, and
// lints it.
func lintOne(t *testing.T, fsys fstest.MapFS) []string {
	t.Helper()
	ts, probs := Load(fsys, nil)
	if len(ts) != 1 || len(probs) != 0 {
		t.Fatalf("Load: %q, %q; want one template and no problem", summary(ts), problems(probs))
	}
	ps := Lint(ts[0])
	SortProblems(ps)
	return problems(ps)
}

func TestLint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want []string
	}{
		{
			name: "clean",
			fsys: fstest.MapFS{
				"w.html": file("---\nsubject: Hi {{name}}\n---\n<p>Hi {{name}}</p><img src=\"https://x/l.png\" alt=\"\"><a href=\"https://x\">x</a><a href=\"mailto:a@b\">m</a><a href=\"{{url}}\">u</a>"),
				"w.txt":  file("Hi {{name}}, {{url}}"),
				"w.json": file(`{"name":"Ana","url":"https://x"}`),
			},
		},
		{
			name: "syntax errors, placed in their files",
			fsys: fstest.MapFS{
				"sendops.json": file("{\"templates\": [\n  {\"name\": \"w\", \"subject\": \"Hi {{#if}}\", \"html\": \"w.html\", \"text\": \"w.txt\"}\n]}"),
				"w.html":       file("---\ntext: w.txt\n---\n<p>\n  {{#each items}}\n    {{name}\n</p>"),
				"w.txt":        file("line one\n{{#each items}}{{/if}}"),
			},
			want: []string{
				`sendops.json:2:4: warning: template "w" has no sample data, so its variables are not checked`,
				"sendops.json:2:32: error: {{#if}} needs one argument",
				"w.html:6:11: error: unexpected '}'",
				"w.txt:2:16: error: {{/if}} does not close {{#each}} (opened at 2:1)",
			},
		},
		{
			name: "no unused-field guesses when a part does not parse",
			fsys: fstest.MapFS{
				"w.html": file("---\nsubject: s\n---\n{{a}}"),
				"w.txt":  file("{{#each b}}{{c}}"),
				"w.json": file(`{"a": 1, "b": [{"c": 2}]}`),
			},
			want: []string{"w.txt:1:1: error: {{#each}} is not closed (expected {{/each}})"},
		},
		{
			name: "unclosed block and unsupported helper",
			fsys: fstest.MapFS{
				"w.html": file("---\nsubject: s\n---\n{{#if a}}\n{{#each b}}x{{/each}}"),
				"w.txt":  file("{{#lookup a}}{{/lookup}}"),
			},
			want: []string{
				`w.html:1:1: warning: template "w" has no sample data, so its variables are not checked`,
				"w.html:4:1: error: {{#if}} is not closed (expected {{/if}})",
				`w.txt:1:4: error: helper "lookup" is not supported by SES (block helpers: #if, #unless, #each, #with)`,
			},
		},
		{
			name: "sample data both ways",
			fsys: fstest.MapFS{
				"w.html": file("---\nsubject: Hi {{contact.firstName}}\n---\n{{#each subscription}}<li>{{interest}} {{tag}}</li>{{/each}}\n{{#with contact}}{{fristName}}{{/with}}{{#if vip}}VIP{{/if}}{{items.length}}"),
				"w.txt":  file("{{#each empty}}{{x}}{{/each}}{{meta}}"),
				"w.json": file("{\n  \"contact\": {\"firstName\": \"Ana\", \"city\": \"Pune\"},\n  \"subscription\": [{\"interest\": \"Sports\", \"level\": 1}, {\"interest\": \"Travel\", \"level\": 2}],\n  \"unused\": true,\n  \"empty\": [],\n  \"items\": [1, 2],\n  \"meta\": {\"a\": [1, {\"b\": null}]}\n}"),
			},
			want: []string{
				`w.html:4:42: warning: "tag" (subscription[].tag) is not in the sample data; SES refuses to send a message whose data lacks a variable it prints`,
				`w.html:5:20: warning: "fristName" (contact.fristName) is not in the sample data; SES refuses to send a message whose data lacks a variable it prints`,
				`w.html:5:46: warning: "vip" is not in the sample data`,
				"w.json:2:35: warning: sample field contact.city is never used",
				"w.json:3:43: warning: sample field subscription[].level is never used",
				"w.json:4:3: warning: sample field unused is never used",
			},
		},
		{
			name: "HTML",
			fsys: fstest.MapFS{
				"w.html": file("---\nsubject: s\n---\n<img src=\"https://x/a.png\">\n  <a href=\"http://example.com\">x</a> <a href=\"/path\">p</a> <a href=\"//cdn\">c</a> <a href=\"javascript:x()\">j</a> <area href=\"http://x\"> <a href=\"HTTPS://OK\">ok</a> <a href=\"#top\">t</a>"),
				"w.txt":  file("t"),
				"w.json": file("{}"),
			},
			want: []string{
				`w.html:4:1: warning: <img> has no alt text; describe the image, or write alt="" if it is decoration`,
				`w.html:5:3: warning: <a href="http://example.com">: the link is not https`,
				`w.html:5:38: warning: <a href="/path">: a relative link goes nowhere in an email; write an absolute https:// address`,
				`w.html:5:60: warning: <a href="//cdn">: a protocol-relative link; write https://`,
				`w.html:5:82: warning: <a href="javascript:x()">: the link is not https`,
				`w.html:5:113: warning: <area href="http://x">: the link is not https`,
			},
		},
		{
			name: "subject, text and name",
			fsys: fstest.MapFS{"bad name!.html": file("---\nname: bad name!\n---\n<p>x</p>")},
			want: []string{
				`bad name!.html:2:7: error: template name "bad name!" is not one SES takes: 1 to 64 ASCII letters, digits, _ and -`,
				`bad name!.html:2:7: warning: template "bad name!" has no text part; mail clients that show only text get nothing`,
				`bad name!.html:2:7: error: template "bad name!" has no subject (give it in the front matter as subject: or in sendops.json)`,
				`bad name!.html:2:7: warning: template "bad name!" has no sample data, so its variables are not checked`,
			},
		},
		{
			name: "size",
			fsys: fstest.MapFS{
				"w.html": file("---\nsubject: s\n---\n" + strings.Repeat("<p>padding</p>\n", 30000)),
				"w.txt":  file(strings.Repeat("x", 50001)),
				"w.json": file("{}"),
			},
			want: []string{"w.html:4:1: error: the HTML and text parts are 500001 bytes; SES takes templates of at most 500 KB"},
		},
		{
			name: "data not an object",
			fsys: fstest.MapFS{"w.html": file("---\nsubject: s\n---\nx"), "w.txt": file("x"), "w.json": file("[1]")},
			want: []string{"w.json:1:1: error: the data must be a JSON object, as SES's template data is"},
		},
		{
			name: "data not JSON",
			fsys: fstest.MapFS{"w.html": file("---\nsubject: s\n---\nx"), "w.txt": file("x"), "w.json": file("{\n  \"a\": tru\n}")},
			want: []string{"w.json:2:11: error: the data is not valid JSON: invalid character '\\n' in literal true (expecting 'e')"},
		},
		{
			name: "data too long",
			fsys: fstest.MapFS{"w.html": file("---\nsubject: s\n---\nx"), "w.txt": file("x"), "w.json": file(`{"a":"` + strings.Repeat("é", MaxDataLength) + `"}`)},
			want: []string{"w.json:1:1: error: the data is 262152 characters; SES takes template data of at most 262144"},
		},
		{
			name: "render limit with the sample",
			fsys: fstest.MapFS{
				"w.html": file("---\nsubject: s\n---\n{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}{{#each ../../../../a}}.{{/each}}{{/each}}{{/each}}{{/each}}{{/each}}"),
				"w.txt":  file("x"),
				"w.json": file(`{"a":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]}`),
			},
			want: []string{"w.html:4:63: error: rendering with the sample data: {{#each}} would iterate more than 100000 times"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := lintOne(t, tc.fsys); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Lint:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"w.html": file("---\nsubject: Hi {{name}}\n---\n<p>Hi {{name}} {{{html}}}</p>\n{{#if code}}<b>{{code}}</b>{{/if}}"),
		"w.txt":  file("Hi {{name}}, {{code}}"),
		"w.json": file(`{"name":"Ana & Bo","html":"<i>x</i>","code":"42"}`),
	}
	ts, probs := Load(fsys, nil)
	if len(ts) != 1 || len(probs) != 0 {
		t.Fatalf("Load: %q, %q", summary(ts), problems(probs))
	}
	w := ts[0]

	// With the sample data; SES does not escape.
	got, probs := Render(w, Part{})
	want := Rendered{Subject: "Hi Ana & Bo", HTML: "<p>Hi Ana & Bo <i>x</i></p>\n<b>42</b>", Text: "Hi Ana & Bo, 42"}
	if got != want || len(probs) != 0 {
		t.Errorf("Render(sample) = %+v, %q; want %+v", got, problems(probs), want)
	}

	// With other data, which lacks variables.
	got, probs = Render(w, Part{File: "other.json", Line: 1, Col: 1, Source: `{"name":"Bo"}`})
	want = Rendered{Subject: "Hi Bo", HTML: "<p>Hi Bo </p>\n", Text: "Hi Bo, "}
	wantProbs := []string{
		`w.html:4:19: warning: "html" is not in the data: it renders as empty here, but SES refuses to send the message`,
		`w.txt:1:16: warning: "code" is not in the data: it renders as empty here, but SES refuses to send the message`,
	}
	if got != want || !reflect.DeepEqual(problems(probs), wantProbs) {
		t.Errorf("Render(other) = %+v, %q; want %+v, %q", got, problems(probs), want, wantProbs)
	}

	// Data SES would refuse, and a template that does not parse.
	got, probs = Render(w, Part{File: "bad.json", Line: 1, Col: 1, Source: `["x"]`})
	if got != (Rendered{}) || !reflect.DeepEqual(problems(probs), []string{"bad.json:1:1: error: the data must be a JSON object, as SES's template data is"}) {
		t.Errorf("Render(array) = %+v, %q", got, problems(probs))
	}
	w.Text.Source = "{{#if}}"
	got, probs = Render(w, Part{})
	if got != (Rendered{}) || !reflect.DeepEqual(problems(probs), []string{"w.txt:1:1: error: {{#if}} needs one argument"}) {
		t.Errorf("Render(broken) = %+v, %q", got, problems(probs))
	}
}

func TestLoadRefusesSymlinks(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "page.html"), []byte("---\nname: linked\nsubject: s\n---\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	for name, content := range map[string]string{
		"sendops.json": `{"templates": [{"name": "x", "subject": "s", "html": "x.html", "text": "link.txt"}, {"name": "y", "subject": "s", "text": "dir/secret.txt"}]}`,
		"x.html":       "<p>x</p>",
	} {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(repo, "link.txt")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if err := os.Symlink(outside, filepath.Join(repo, "dir")); err != nil {
		t.Fatal(err)
	}
	ts, probs := Load(os.DirFS(repo), nil)
	want := []string{
		"sendops.json:1:64: error: link.txt is a symbolic link; only the repository's own files are read",
		"sendops.json:1:115: error: dir is a symbolic link; only the repository's own files are read",
	}
	if got := problems(probs); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	for _, tm := range ts {
		if strings.Contains(tm.Text.Source, "secret") || tm.Name == "linked" {
			t.Errorf("template %q read a file outside the repository", tm.Name)
		}
	}
}

func TestReadManifest(t *testing.T) {
	t.Parallel()
	m, probs := ReadManifest(fstest.MapFS{"sendops.json": file(manifest)})
	want := &Mapping{
		Templates: []Entry{
			{Name: "reset", Subject: "Reset: {{code}}", HTML: "mail/reset.html", Data: "mail/reset-sample.json"},
			{Name: "plain", Subject: "Plain", Text: "mail/plain.txt"},
		},
		Rules: []Rule{{HTML: "emails/**/*.html", Name: "{dir}-{name}"}},
	}
	if !reflect.DeepEqual(m, want) || len(probs) != 0 {
		t.Errorf("ReadManifest = %+v, %q", m, problems(probs))
	}
	if m, probs := ReadManifest(fstest.MapFS{}); m != nil || probs != nil {
		t.Errorf("ReadManifest(no manifest) = %+v, %q; want nil", m, problems(probs))
	}
}
