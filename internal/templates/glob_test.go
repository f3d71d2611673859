package templates

import "testing"

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"emails/*.html", "emails/a.html", true},
		{"emails/*.html", "emails/x/a.html", false},
		{"emails/*.html", "a.html", false},
		{"emails/*.html", "emails/a.txt", false},
		{"./emails/*.html", "emails/a.html", true},
		{"emails/**/*.html", "emails/a.html", true},
		{"emails/**/*.html", "emails/x/y/a.html", true},
		{"emails/**/*.html", "other/a.html", false},
		{"emails/**/*.html", "emailsx/a.html", false},
		{"**/*.html", "a.html", true},
		{"**/*.html", "x/y/z.html", true},
		{"**/*.html", "x/y/z.htm", false},
		{"**", "anything/at/all", true},
		{"emails/**", "emails/a", true},
		{"emails/**", "emails/x/y", true},
		{"emails/**", "emailsx/a", false},
		{"a/**/b/**/c.html", "a/b/c.html", true},
		{"a/**/b/**/c.html", "a/x/b/y/z/c.html", true},
		{"a/**/b/**/c.html", "a/c.html", false},
		{"a/**/**/c", "a/c", true},
		{"?.html", "a.html", true},
		{"?.html", "ab.html", false},
		{"[ab]*.html", "b1.html", true},
		{"[ab]*.html", "c.html", false},
		{"[^ab]*.html", "c.html", true},
		{"*.html", "dir/a.html", false},
	} {
		g, err := CompileGlob(tc.pattern)
		if err != nil {
			t.Errorf("CompileGlob(%q): %v", tc.pattern, err)
			continue
		}
		if got := g.Match(tc.name); got != tc.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestGlobRefused(t *testing.T) {
	t.Parallel()
	for pattern, want := range map[string]string{
		"":                 "empty pattern",
		"/abs/*.html":      `pattern "/abs/*.html" is absolute; patterns are relative to the repository's root`,
		"a//b":             `pattern "a//b" has an empty segment`,
		"a/../b":           `pattern "a/../b" may not contain ..`,
		"a**b/c":           `pattern "a**b/c": ** must be a whole segment, as in a/**/b`,
		"a/[":              `pattern "a/[": segment "[" is malformed`,
		"**/**/**/**/**/*": `pattern "**/**/**/**/**/*" has more than 4 ** segments`,
	} {
		_, err := CompileGlob(pattern)
		if err == nil || err.Error() != want {
			t.Errorf("CompileGlob(%q) = %v, want %q", pattern, err, want)
		}
	}
}

func TestGlobPrefixAndNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		glob, pattern, file string
		prefix, want        string
	}{
		{"emails/**/*.html", "{dir}-{name}", "emails/billing/invoice.html", "emails", "billing-invoice"},
		{"emails/**/*.html", "{dir}-{name}", "emails/welcome.html", "emails", "welcome"},
		{"emails/**/*.html", "{dir}-{name}", "emails/a/b/c.html", "emails", "a-b-c"},
		{"emails/**/*.html", "{name}", "emails/a/b/c.html", "emails", "c"},
		{"emails/**/*.html", "{name}_{dir}", "emails/welcome.html", "emails", "welcome"},
		{"emails/**/*.html", "shop-{dir}", "emails/welcome.html", "emails", "shop"},
		{"**/*.html", "{dir}.{name}", "a/b.html", "", "a.b"},
		{"mail/v2/*.html", "v2-{name}", "mail/v2/x.tpl.html", "mail/v2", "v2-x.tpl"},
		{"a/b*/c.html", "{dir}", "a/bx/c.html", "a", "bx"},
	} {
		g, err := CompileGlob(tc.glob)
		if err != nil {
			t.Fatal(err)
		}
		if g.Prefix() != tc.prefix {
			t.Errorf("%q.Prefix() = %q, want %q", tc.glob, g.Prefix(), tc.prefix)
		}
		if err := checkNamePattern(tc.pattern); err != nil {
			t.Fatal(err)
		}
		if got := expandName(tc.pattern, g, tc.file); got != tc.want {
			t.Errorf("expandName(%q, %q, %q) = %q, want %q", tc.pattern, tc.glob, tc.file, got, tc.want)
		}
	}
	for p, want := range map[string]string{
		"{path}":    `name pattern "{path}": unknown placeholder {path} (use {dir} and {name})`,
		"{name":     `name pattern "{name" has an unclosed {`,
		"name}":     `name pattern "name}" has a } without {`,
		"x-{name}}": `name pattern "x-{name}}" has a } without {`,
	} {
		if err := checkNamePattern(p); err == nil || err.Error() != want {
			t.Errorf("checkNamePattern(%q) = %v, want %q", p, err, want)
		}
	}
}
