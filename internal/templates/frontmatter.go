package templates

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Front matter: a block at the very top of an HTML file, between two
// lines of ---, of key: value lines (blank lines and # comments are
// allowed). The keys:
//
//	name:    the template's name
//	subject: its subject line (Handlebars, like the parts)
//	text:    the file of its text part, relative to the HTML file
//	data:    the file of its sample data (JSON), relative to the HTML file
//
// A value may be quoted with " or ' (the quotes are dropped, nothing is
// unescaped). Anything else is an error: an unknown key, a key given
// twice, a line that is not key: value, a block never closed. It is
// YAML-like, not YAML.

var frontMatterKeys = map[string]bool{"name": true, "subject": true, "text": true, "data": true}

// maxFrontMatterLines bounds how far the closing --- is looked for.
const maxFrontMatterLines = 200

type fmValue struct {
	value     string
	line, col int
}

// frontMatter is the front matter of a file, and where the rest starts.
type frontMatter struct {
	present  bool
	fields   map[string]fmValue
	bodyOff  int // byte offset of what follows the block
	bodyLine int // its line
}

// parseFrontMatter reads the front matter at the top of src, if any.
// Problems are reported against file.
func parseFrontMatter(file, src string) (frontMatter, []Problem) {
	fm := frontMatter{fields: map[string]fmValue{}, bodyLine: 1}
	start := 0
	if strings.HasPrefix(src, "\ufeff") {
		start = len("\ufeff")
	}
	first, rest, ok := strings.Cut(src[start:], "\n")
	if !ok || strings.TrimRight(first, " \t\r") != "---" {
		return fm, nil
	}
	fm.present = true
	var probs []Problem
	bad := func(line, col int, format string, args ...any) {
		probs = append(probs, Problem{File: file, Line: line, Col: col, Severity: Error, Message: fmt.Sprintf(format, args...)})
	}
	off := start + len(first) + 1
	for line := 2; ; line++ {
		if line > maxFrontMatterLines || rest == "" && off >= len(src) {
			// What was read is not front matter after all: one problem.
			msg := "the front matter that starts here is not closed (no line --- follows)"
			if line > maxFrontMatterLines {
				msg = fmt.Sprintf("the front matter that starts here is not closed within %d lines", maxFrontMatterLines)
			}
			return frontMatter{fields: map[string]fmValue{}, bodyLine: 1}, []Problem{{File: file, Line: 1, Col: 1, Severity: Error, Message: msg}}
		}
		l, next, _ := strings.Cut(rest, "\n")
		lineLen := len(l) + 1
		l = strings.TrimRight(l, "\r")
		trimmed := strings.TrimSpace(l)
		switch {
		case trimmed == "---":
			fm.bodyOff = min(off+lineLen, len(src))
			fm.bodyLine = line + 1
			return fm, probs
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		default:
			key, value, ok := strings.Cut(l, ":")
			if !ok || key != strings.TrimSpace(key) || key == "" {
				bad(line, 1, "front matter lines are key: value, not %q", l)
				break
			}
			if !frontMatterKeys[key] {
				bad(line, 1, "unknown front matter key %q (keys: name, subject, text, data)", key)
				break
			}
			if first, dup := fm.fields[key]; dup {
				bad(line, 1, "front matter key %q is given twice (first on line %d)", key, first.line)
				break
			}
			col := 1 + utf8.RuneCountInString(key) + 1
			lead := len(value) - len(strings.TrimLeft(value, " \t"))
			col += lead
			value = strings.TrimSpace(value)
			if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
				value = value[1 : len(value)-1]
				col++
			}
			if value == "" {
				bad(line, 1, "front matter key %q has no value", key)
				break
			}
			fm.fields[key] = fmValue{value: value, line: line, col: col}
		}
		off += lineLen
		rest = next
	}
}

// declaresTemplate reports whether src's front matter says it is an SES
// template (it names it or gives its subject): other HTML files with
// front matter, a static site's pages, are left alone.
func declaresTemplate(src string) bool {
	fm, _ := parseFrontMatter("", src)
	_, name := fm.fields["name"]
	_, subject := fm.fields["subject"]
	return name || subject
}
