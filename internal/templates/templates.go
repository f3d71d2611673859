// Package templates maps the files of a repository to SES email
// templates, and lints and renders them (with internal/hbs, Handlebars as
// SES renders it). It reads the repository through an fs.FS and never
// writes to it.
//
// # Mapping
//
// Files become templates in three ways, the first that applies to an
// HTML file winning:
//
//  1. The manifest, sendops.json at the repository's root, lists them:
//
//     {
//     "templates": [
//     {"name": "welcome", "subject": "Welcome, {{name}}!",
//     "html": "emails/welcome.html", "text": "emails/welcome.txt",
//     "data": "emails/welcome.json"}
//     ],
//     "rules": [
//     {"html": "emails/**/*.html", "name": "{dir}-{name}"}
//     ]
//     }
//
//     A template names its parts' files (relative to the root): html and
//     text (at least one), data (sample data, a JSON object) and its
//     subject line itself. Unknown keys are errors.
//
//  2. A rule maps every HTML file its glob matches (see Glob) to a
//     template named by its pattern: {name} is the file's name without
//     extension, {dir} its directory below the glob's fixed prefix (with
//     / as -). Rules come from the manifest or from the caller.
//
//  3. Any other .html file whose front matter names it or gives its
//     subject is a template (see frontMatter); its name defaults to the
//     file's name without extension.
//
// Front matter (name, subject, text, data) also fills in what a rule or a
// manifest entry leaves out; the manifest wins where both say. Without a
// text or data file named, a rule or front-matter template takes the
// file beside the HTML with the same name and .txt or .json, if any.
// Names must be unique; two files mapped to one name are an error.
package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// ManifestFile is the manifest's name, at the repository's root.
const ManifestFile = "sendops.json"

// Limits on what is read.
const (
	maxFileSize = 4 << 20 // bytes; SES's templates are at most 500 KB
	maxFiles    = 100_000 // files walked in a repository
)

// Severity is how bad a problem is: errors fail lint.
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is something wrong with a template or the mapping, at a place
// in a file of the repository.
type Problem struct {
	File      string // slash-separated, relative to the repository's root
	Line, Col int    // 1-based; the column counts characters
	Severity  Severity
	Message   string
	Template  string // the template's name; "" for the mapping as a whole
}

// String formats the problem as file:line:col: severity: message.
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", p.File, max(p.Line, 1), max(p.Col, 1), p.Severity, p.Message)
}

// SortProblems orders problems by file, line and column.
func SortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Part is one piece of a template, the text of a file or of part of one.
type Part struct {
	File      string // "" when the template has no such part
	Line, Col int    // where Source starts in File
	Source    string
}

// Present reports whether the template has the part.
func (p Part) Present() bool { return p.File != "" }

// at maps a line and column within the part to one within its file.
func (p Part) at(line, col int) (int, int) {
	if line <= 1 {
		return p.Line, p.Col + col - 1
	}
	return p.Line + line - 1, col
}

// Place is a position in a file.
type Place struct {
	File      string
	Line, Col int
}

// Template is an SES email template as the repository defines it.
type Template struct {
	Name    string
	NameAt  Place // where the name comes from
	Subject Part
	HTML    Part
	Text    Part
	Data    Part   // sample data, a JSON object
	Origin  string // how it was mapped: sendops.json, rule "emails/**/*.html", front matter
}

// Mapping is how files map to templates: the manifest's content.
type Mapping struct {
	Templates []Entry `json:"templates,omitempty"`
	Rules     []Rule  `json:"rules,omitempty"`
}

// Entry lists one template's files.
type Entry struct {
	Name    string `json:"name"`
	Subject string `json:"subject,omitempty"`
	HTML    string `json:"html,omitempty"`
	Text    string `json:"text,omitempty"`
	Data    string `json:"data,omitempty"`
}

// Rule maps the HTML files a glob matches to templates.
type Rule struct {
	HTML string `json:"html"`           // a glob, such as emails/**/*.html
	Name string `json:"name,omitempty"` // a name pattern with {dir} and {name}; default {name}
}

// Load reads the templates of the repository in fsys. With m nil it
// reads the manifest (sendops.json), if there is one, and front matter;
// with m given (mappings a user saved), m replaces the manifest. The
// templates come sorted by name; problems are those of the mapping
// (name collisions, missing files, bad rules, bad front matter), not of
// the templates' content, which Lint checks.
func Load(fsys fs.FS, m *Mapping) ([]Template, []Problem) {
	l := &loader{fsys: fsys, claimed: map[string]bool{}, mapFile: "mapping"}
	if m == nil {
		m = l.readManifest()
	}
	l.walk()
	for i, e := range m.Templates {
		l.entry(i, e)
	}
	for i, r := range m.Rules {
		l.rule(i, r)
	}
	for _, f := range l.files {
		if l.claimed[f] || !isHTML(f) {
			continue
		}
		src, err := l.read(f, Place{File: f, Line: 1, Col: 1})
		if err != nil || !declaresTemplate(src) {
			continue
		}
		l.claimed[f] = true
		l.fromFile(f, src, "front matter", nil, "")
	}
	l.collisions()
	sort.SliceStable(l.out, func(i, j int) bool { return l.out[i].Name < l.out[j].Name })
	return l.out, l.probs
}

// ReadManifest returns the repository's manifest, nil when it has none.
func ReadManifest(fsys fs.FS) (*Mapping, []Problem) {
	l := &loader{fsys: fsys}
	if _, err := fs.Stat(fsys, ManifestFile); err != nil {
		return nil, nil
	}
	return l.readManifest(), l.probs
}

type loader struct {
	fsys    fs.FS
	files   []string // every file, sorted
	claimed map[string]bool
	out     []Template
	probs   []Problem

	mapFile string         // where the mapping came from, for problems
	mapSrc  []byte         // its text
	mapOffs map[string]int // and the offsets of its values
}

func (l *loader) problem(at Place, sev Severity, tmpl, format string, args ...any) {
	l.probs = append(l.probs, Problem{File: at.File, Line: at.Line, Col: at.Col, Severity: sev, Template: tmpl, Message: fmt.Sprintf(format, args...)})
}

// mapPlace is where a value of the mapping is, by its path (keys and
// indices), in the manifest.
func (l *loader) mapPlace(segs ...any) Place {
	if l.mapOffs == nil {
		return Place{File: l.mapFile, Line: 1, Col: 1}
	}
	key := ""
	for _, s := range segs {
		key = joinJSON(key, fmt.Sprint(s))
	}
	for ; ; key = key[:max(strings.LastIndex(key, jsonSep), 0)] {
		if off, ok := l.mapOffs[key]; ok {
			line, col := lineCol(string(l.mapSrc), off)
			return Place{File: l.mapFile, Line: line, Col: col}
		}
		if key == "" {
			return Place{File: l.mapFile, Line: 1, Col: 1}
		}
	}
}

func (l *loader) readManifest() *Mapping {
	m := &Mapping{}
	if _, err := fs.Stat(l.fsys, ManifestFile); errors.Is(err, fs.ErrNotExist) {
		return m
	}
	b, err := l.readBytes(ManifestFile, Place{File: ManifestFile, Line: 1, Col: 1})
	if err != nil {
		return m
	}
	l.mapFile, l.mapSrc, l.mapOffs = ManifestFile, b, jsonOffsets(b)
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(m); err != nil {
		off := int(d.InputOffset())
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off = int(se.Offset) - 1 // Decode's offset is past the bad character
		case errors.As(err, &te):
			off = int(te.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			// Point at the key.
			name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			best := -1
			for k, o := range l.mapOffs {
				if (k == name || strings.HasSuffix(k, jsonSep+name)) && (best < 0 || o < best) {
					best = o
				}
			}
			if best >= 0 {
				off = best
			}
		}
		line, col := lineCol(string(b), off)
		l.problem(Place{File: ManifestFile, Line: line, Col: col}, Error, "", "%s is not a valid manifest: %s", ManifestFile, strings.TrimPrefix(err.Error(), "json: "))
		return &Mapping{}
	}
	return m
}

func (l *loader) walk() {
	err := fs.WalkDir(l.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // an unreadable directory: skip it
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if len(l.files) >= maxFiles {
			return fmt.Errorf("more than %d files; the rest are not read", maxFiles)
		}
		l.files = append(l.files, p)
		return nil
	})
	if err != nil {
		l.problem(Place{File: ".", Line: 1, Col: 1}, Error, "", "reading the repository: %v", err)
	}
}

func (l *loader) exists(p string) bool {
	i := sort.SearchStrings(l.files, p)
	return i < len(l.files) && l.files[i] == p
}

// readBytes reads a file of the repository, reporting a problem at
// place if it cannot.
func (l *loader) readBytes(name string, at Place) ([]byte, error) {
	if err := noSymlinks(l.fsys, name); err != nil {
		l.problem(at, Error, "", "%v", err)
		return nil, err
	}
	f, err := l.fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			l.problem(at, Error, "", "%s does not exist", name)
		} else {
			l.problem(at, Error, "", "reading %s: %v", name, err)
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(b) > maxFileSize {
		err = fmt.Errorf("%s is larger than %d bytes", name, maxFileSize)
	}
	if err != nil {
		l.problem(at, Error, "", "reading %s: %v", name, err)
		return nil, err
	}
	return b, nil
}

func (l *loader) read(name string, at Place) (string, error) {
	b, err := l.readBytes(name, at)
	return string(b), err
}

// noSymlinks refuses a path that goes through a symbolic link: a
// repository's link could otherwise make SendOps read (and show) a file
// outside it. Files that do not exist are left for Open to report.
func noSymlinks(fsys fs.FS, name string) error {
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		fi, err := fs.Lstat(fsys, name[:i])
		if err != nil {
			return nil
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link; only the repository's own files are read", name[:i])
		}
	}
	return nil
}

// resolve turns a path written in the mapping or front matter into one in
// the repository: relative to dir, or to the root when it starts with /.
// It refuses paths that leave the repository.
func resolve(dir, p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		dir, p = "", p[1:]
	}
	full := path.Clean(path.Join(dir, p))
	if !fs.ValidPath(full) || full == "." {
		return "", fmt.Errorf("%q is not a file in the repository", p)
	}
	return full, nil
}

func isHTML(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".html" || ext == ".htm"
}

func (l *loader) part(name string, at Place, tmpl string) Part {
	src, err := l.read(name, at)
	if err != nil {
		l.probs[len(l.probs)-1].Template = tmpl
		return Part{}
	}
	return Part{File: name, Line: 1, Col: 1, Source: src}
}

// entry loads a template the manifest lists.
func (l *loader) entry(i int, e Entry) {
	at := l.mapPlace("templates", i)
	if e.Name == "" {
		l.problem(at, Error, "", "a template in %s needs a name", l.mapFile)
		return
	}
	if e.HTML == "" && e.Text == "" {
		l.problem(at, Error, e.Name, "template %q names neither an html nor a text file", e.Name)
		return
	}
	t := Template{Name: e.Name, NameAt: l.mapPlace("templates", i, "name"), Origin: l.mapFile}
	file := func(field, p string) (string, Place, bool) {
		fat := l.mapPlace("templates", i, field)
		full, err := resolve("", p)
		if err != nil {
			l.problem(fat, Error, e.Name, "%s: %v", field, err)
			return "", fat, false
		}
		return full, fat, true
	}
	var fm frontMatter
	if e.HTML != "" {
		if f, fat, ok := file("html", e.HTML); ok {
			l.claimed[f] = true
			if src, err := l.read(f, fat); err == nil {
				var probs []Problem
				fm, probs = parseFrontMatter(f, src)
				l.addProblems(probs, e.Name)
				t.HTML = Part{File: f, Line: fm.bodyLine, Col: 1, Source: src[fm.bodyOff:]}
				if v, ok := fm.fields["name"]; ok && v.value != e.Name {
					l.problem(Place{File: f, Line: v.line, Col: v.col}, Warning, e.Name, "the front matter names this template %q; %s names it %q, which wins", v.value, l.mapFile, e.Name)
				}
			} else {
				l.probs[len(l.probs)-1].Template = e.Name
			}
		}
	}
	if e.Subject != "" {
		sp := l.mapPlace("templates", i, "subject")
		// The value's text starts after its key, the colon and the quote.
		if off, ok := l.mapOffs[joinJSON(joinJSON(joinJSON("", "templates"), fmt.Sprint(i)), "subject")]; ok {
			if q := bytes.IndexByte(l.mapSrc[off+len(`"subject"`):], '"'); q >= 0 {
				sp.Line, sp.Col = lineCol(string(l.mapSrc), off+len(`"subject"`)+q+1)
			}
		}
		t.Subject = Part{File: sp.File, Line: sp.Line, Col: sp.Col, Source: e.Subject}
	}
	if e.Text != "" {
		if f, fat, ok := file("text", e.Text); ok {
			t.Text = l.part(f, fat, e.Name)
		}
	}
	if e.Data != "" {
		if f, fat, ok := file("data", e.Data); ok {
			t.Data = l.part(f, fat, e.Name)
		}
	}
	l.fillFromFrontMatter(&t, fm, t.HTML.File, false)
	l.out = append(l.out, t)
}

// rule loads the templates a rule maps.
func (l *loader) rule(i int, r Rule) {
	at := l.mapPlace("rules", i)
	g, err := CompileGlob(r.HTML)
	if err != nil {
		l.problem(l.mapPlace("rules", i, "html"), Error, "", "rule %d: %v", i+1, err)
		return
	}
	pattern := r.Name
	if pattern == "" {
		pattern = "{name}"
	}
	if err := checkNamePattern(pattern); err != nil {
		l.problem(l.mapPlace("rules", i, "name"), Error, "", "rule %d: %v", i+1, err)
		return
	}
	origin := fmt.Sprintf("rule %q", r.HTML)
	n := 0
	for _, f := range l.files {
		if l.claimed[f] || !g.Match(f) {
			continue
		}
		n++
		l.claimed[f] = true
		src, err := l.read(f, Place{File: f, Line: 1, Col: 1})
		if err != nil {
			continue
		}
		l.fromFile(f, src, origin, g, pattern)
	}
	if n == 0 {
		l.problem(at, Warning, "", "rule %d (%s) matches no file", i+1, r.HTML)
	}
}

// fromFile makes a template of an HTML file mapped by a rule (g and
// pattern) or by its front matter alone (g nil).
func (l *loader) fromFile(f, src, origin string, g *Glob, pattern string) {
	fm, probs := parseFrontMatter(f, src)
	base := strings.TrimSuffix(path.Base(f), path.Ext(f))
	t := Template{Name: base, NameAt: Place{File: f, Line: 1, Col: 1}, Origin: origin,
		HTML: Part{File: f, Line: fm.bodyLine, Col: 1, Source: src[fm.bodyOff:]}}
	if g != nil {
		t.Name = expandName(pattern, g, f)
	}
	if v, ok := fm.fields["name"]; ok {
		t.Name, t.NameAt = v.value, Place{File: f, Line: v.line, Col: v.col}
	}
	l.addProblems(probs, t.Name)
	l.fillFromFrontMatter(&t, fm, f, true)
	l.out = append(l.out, t)
}

func (l *loader) addProblems(probs []Problem, tmpl string) {
	for _, p := range probs {
		p.Template = tmpl
		l.probs = append(l.probs, p)
	}
}

// fillFromFrontMatter sets what the front matter of html gives and the
// template lacks; with siblings, a text or data file beside the HTML
// file with its name is taken when none is named.
func (l *loader) fillFromFrontMatter(t *Template, fm frontMatter, html string, siblings bool) {
	dir := path.Dir(html)
	if v, ok := fm.fields["subject"]; ok && !t.Subject.Present() {
		t.Subject = Part{File: html, Line: v.line, Col: v.col, Source: v.value}
	}
	for _, k := range []struct {
		key  string
		part *Part
		ext  string
	}{{"text", &t.Text, ".txt"}, {"data", &t.Data, ".json"}} {
		if k.part.Present() {
			continue
		}
		if v, ok := fm.fields[k.key]; ok {
			at := Place{File: html, Line: v.line, Col: v.col}
			f, err := resolve(dir, v.value)
			if err != nil {
				l.problem(at, Error, t.Name, "%s: %v", k.key, err)
				continue
			}
			*k.part = l.part(f, at, t.Name)
			continue
		}
		if siblings && html != "" {
			if f := strings.TrimSuffix(html, path.Ext(html)) + k.ext; l.exists(f) {
				*k.part = l.part(f, Place{File: f, Line: 1, Col: 1}, t.Name)
			}
		}
	}
}

// collisions reports templates that share a name.
func (l *loader) collisions() {
	byName := map[string][]int{}
	var names []string
	for i, t := range l.out {
		if byName[t.Name] == nil {
			names = append(names, t.Name)
		}
		byName[t.Name] = append(byName[t.Name], i)
	}
	for _, name := range names {
		idx := byName[name]
		if len(idx) < 2 {
			continue
		}
		for _, i := range idx {
			var others []string
			for _, j := range idx {
				if j != i {
					o := l.out[j].NameAt
					others = append(others, fmt.Sprintf("%s:%d:%d (%s)", o.File, o.Line, o.Col, l.out[j].Origin))
				}
			}
			l.problem(l.out[i].NameAt, Error, name, "template name %q is also mapped from %s", name, strings.Join(others, ", "))
		}
	}
}
