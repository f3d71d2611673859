package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (slash-separated paths) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTemplatesLint(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	clean := t.TempDir()
	writeTree(t, clean, map[string]string{
		"emails/welcome.html": "---\nsubject: Welcome, {{name}}\n---\n<p>Hi {{name}}</p>\n",
		"emails/welcome.txt":  "Hi {{name}}\n",
		"emails/welcome.json": `{"name": "Ana"}`,
		"README.md":           "not a template",
	})
	status, out, errOut := sendops(ctx, nil, "templates", "lint", clean)
	if status != 0 || out != "1 template: 0 errors, 0 warnings\n" || errOut != "" {
		t.Errorf("lint clean = %d, %q, %q", status, out, errOut)
	}

	broken := t.TempDir()
	writeTree(t, broken, map[string]string{
		"sendops.json": `{"templates": [{"name": "reset", "subject": "Code {{code}}", "text": "mail/reset.txt", "data": "mail/reset.json"}],
 "rules": [{"html": "emails/**/*.html", "name": "{dir}-{name}"}]}`,
		"mail/reset.txt":              "Your code: {{code}}\n{{#each tries}}\n",
		"mail/reset.json":             `{"code": "123", "tries": [1]}`,
		"emails/billing/invoice.html": "---\nsubject: Invoice {{number}}\ntext: invoice.txt\n---\n<p>{{#if paid}}Paid{{/if}}</p>\n<img src=\"https://x/logo.png\">\n",
		"emails/billing/invoice.txt":  "Invoice {{number}}",
	})
	status, out, errOut = sendops(ctx, nil, "templates", "lint", broken)
	j := func(p string) string { return filepath.Join(broken, filepath.FromSlash(p)) }
	want := j("emails/billing/invoice.html") + ":1:1: warning: template \"billing-invoice\" has no sample data, so its variables are not checked\n" +
		j("emails/billing/invoice.html") + ":6:1: warning: <img> has no alt text; describe the image, or write alt=\"\" if it is decoration\n" +
		j("mail/reset.txt") + ":2:1: error: {{#each}} is not closed (expected {{/each}})\n"
	if status != 1 || out != want || errOut != "sendops: 2 templates: 1 error, 2 warnings\n" {
		t.Errorf("lint broken = %d\nstdout:\n%s\nstderr: %q\nwant stdout:\n%s", status, out, errOut, want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, broken+string(filepath.Separator)) || strings.Count(line, ":") < 4 {
			t.Errorf("lint line %q is not file:line:col: severity: message under the directory", line)
		}
	}

	empty := t.TempDir()
	writeTree(t, empty, map[string]string{"site/page.html": "---\nlayout: post\n---\n"})
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"templates", "lint", empty}, 1, "sendops: no templates in " + empty + ": no sendops.json, and no HTML file whose front matter names it or gives its subject\n"},
		{[]string{"templates", "lint", filepath.Join(empty, "nope")}, 1, "sendops: stat " + filepath.Join(empty, "nope") + ": no such file or directory\n"},
		{[]string{"templates", "lint"}, 2, "sendops: templates lint needs one DIR\n"},
		{[]string{"templates", "lint", "a", "b"}, 2, "sendops: templates lint needs one DIR\n"},
		{[]string{"templates"}, 2, "sendops: templates needs lint DIR or render DIR NAME [--data FILE]\n"},
		{[]string{"templates", "push"}, 2, "sendops: unknown command \"templates push\" (sendops templates help lists them)\n"},
	} {
		status, _, errOut := sendops(ctx, nil, tc.args...)
		if status != tc.status || errOut != tc.stderr {
			t.Errorf("sendops %q = %d, %q; want %d, %q", tc.args, status, errOut, tc.status, tc.stderr)
		}
	}
}

func TestTemplatesRender(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"sendops.json": `{"templates": [{"name": "prefs", "subject": "Preferences for {{contact.firstName}}", "html": "prefs.html", "text": "prefs.txt", "data": "prefs.json"}]}`,
		"prefs.html": "{{#* inline \"item\"}}<li>{{interest}}</li>{{/inline}}\n" +
			"<p>Dear {{contact.firstName}},</p>\n{{#if subscription}}\n<ul>{{#each subscription}}{{> item}}{{/each}}</ul>\n{{else}}\n<p>No interests.</p>\n{{/if}}\n",
		"prefs.txt":   "Dear {{contact.firstName}},\n{{#each subscription}}\n- {{interest}}\n{{/each}}\n",
		"prefs.json":  `{"contact": {"firstName": "Anaya"}, "subscription": [{"interest": "Sports"}, {"interest": "Travel"}]}`,
		"broken.html": "---\nsubject: s\n---\n{{#unless x}}",
	})
	other := filepath.Join(t.TempDir(), "shirley.json")
	writeTree(t, filepath.Dir(other), map[string]string{"shirley.json": `{"contact": {"firstName": "Shirley"}}`})

	status, out, errOut := sendops(ctx, nil, "templates", "render", dir, "prefs")
	want := "=== subject\nPreferences for Anaya\n" +
		"=== text\nDear Anaya,\n- Sports\n- Travel\n" +
		"=== html\n<p>Dear Anaya,</p>\n<ul><li>Sports</li><li>Travel</li></ul>\n"
	if status != 0 || out != want || errOut != "" {
		t.Errorf("render sample = %d\n%s\nstderr %q; want\n%s", status, out, errOut, want)
	}

	// Other data, with the flag before or after the arguments.
	for _, args := range [][]string{
		{"templates", "render", dir, "prefs", "--data", other},
		{"templates", "render", "--data=" + other, dir, "prefs"},
	} {
		status, out, errOut = sendops(ctx, nil, args...)
		want = "=== subject\nPreferences for Shirley\n=== text\nDear Shirley,\n=== html\n<p>Dear Shirley,</p>\n<p>No interests.</p>\n"
		if status != 0 || out != want || errOut != "" {
			t.Errorf("render %q = %d\n%s\nstderr %q; want\n%s", args, status, out, errOut, want)
		}
	}

	// Data lacking a printed variable: rendered, with a warning.
	lacking := filepath.Join(filepath.Dir(other), "lacking.json")
	writeTree(t, filepath.Dir(other), map[string]string{"lacking.json": `{"subscription": [{"interest": "Sports"}]}`})
	status, out, errOut = sendops(ctx, nil, "templates", "render", dir, "prefs", "--data", lacking)
	wantErr := filepath.Join(dir, "prefs.html") + `:2:11: warning: "contact.firstName" is not in the data: it renders as empty here, but SES refuses to send the message` + "\n" +
		filepath.Join(dir, "prefs.txt") + `:1:8: warning: "contact.firstName" is not in the data: it renders as empty here, but SES refuses to send the message` + "\n" +
		filepath.Join(dir, "sendops.json") + `:1:64: warning: "contact.firstName" is not in the data: it renders as empty here, but SES refuses to send the message` + "\n"
	if status != 0 || !strings.HasPrefix(out, "=== subject\nPreferences for \n") || errOut != wantErr {
		t.Errorf("render lacking = %d\n%s\nstderr\n%s\nwant stderr\n%s", status, out, errOut, wantErr)
	}

	bad := filepath.Join(filepath.Dir(other), "bad.json")
	writeTree(t, filepath.Dir(other), map[string]string{"bad.json": "{\n  \"a\": nope\n}"})
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"templates", "render", dir, "broken"}, 1,
			filepath.Join(dir, "broken.html") + ":4:1: error: {{#unless}} is not closed (expected {{/unless}})\nsendops: template \"broken\" does not render\n"},
		{[]string{"templates", "render", dir, "prefs", "--data", bad}, 1,
			bad + ":2:9: error: the data is not valid JSON: invalid character 'o' in literal null (expecting 'u')\nsendops: template \"prefs\" does not render\n"},
		{[]string{"templates", "render", dir, "nope"}, 1, "sendops: no template named \"nope\" in " + dir + " (it has broken, prefs)\n"},
		{[]string{"templates", "render", dir, "prefs", "--data", filepath.Join(dir, "missing.json")}, 1, "sendops: open " + filepath.Join(dir, "missing.json") + ": no such file or directory\n"},
		{[]string{"templates", "render", dir}, 2, "sendops: templates render needs DIR and NAME\n"},
		{[]string{"templates", "render", dir, "prefs", "--bogus"}, 2, "sendops: flag provided but not defined: -bogus\n"},
	} {
		status, out, errOut := sendops(ctx, nil, tc.args...)
		if status != tc.status || errOut != tc.stderr || out != "" {
			t.Errorf("sendops %q = %d, stdout %q, stderr\n%s\nwant %d, stderr\n%s", tc.args, status, out, errOut, tc.status, tc.stderr)
		}
	}
}
