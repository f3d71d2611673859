package templates

import (
	"fmt"
	"path"
	"strings"
)

// maxDoubleStars bounds the ** segments of a glob, which each try every
// depth: matching stays cheap.
const maxDoubleStars = 4

// Glob is a compiled file pattern over slash-separated paths relative to
// the repository's root. Within a segment, * matches any characters but
// /, ? one character, and [abc], [a-z], [^a] one of a set (as path.Match);
// a segment that is exactly ** matches any number of directories,
// none included.
type Glob struct {
	pattern string
	segs    []string
	prefix  string // the leading segments without wildcards: where matches can be
}

// CompileGlob checks and compiles a pattern such as emails/**/*.html.
func CompileGlob(pattern string) (*Glob, error) {
	p := strings.TrimPrefix(pattern, "./")
	switch {
	case p == "":
		return nil, fmt.Errorf("empty pattern")
	case strings.HasPrefix(p, "/"):
		return nil, fmt.Errorf("pattern %q is absolute; patterns are relative to the repository's root", pattern)
	}
	g := &Glob{pattern: pattern, segs: strings.Split(p, "/")}
	stars := 0
	literal := true
	var prefix []string
	for i, s := range g.segs {
		switch {
		case s == "":
			return nil, fmt.Errorf("pattern %q has an empty segment", pattern)
		case s == "." || s == "..":
			return nil, fmt.Errorf("pattern %q may not contain %s", pattern, s)
		case s == "**":
			if stars++; stars > maxDoubleStars {
				return nil, fmt.Errorf("pattern %q has more than %d ** segments", pattern, maxDoubleStars)
			}
		case strings.Contains(s, "**"):
			return nil, fmt.Errorf("pattern %q: ** must be a whole segment, as in a/**/b", pattern)
		default:
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("pattern %q: segment %q is malformed", pattern, s)
			}
		}
		if literal && i < len(g.segs)-1 && !strings.ContainsAny(s, `*?[\`) {
			prefix = append(prefix, s)
		} else {
			literal = false
		}
	}
	g.prefix = strings.Join(prefix, "/")
	return g, nil
}

// String returns the pattern as written.
func (g *Glob) String() string { return g.pattern }

// Prefix returns the directory the pattern's matches are all in ("" for
// the root).
func (g *Glob) Prefix() string { return g.prefix }

// Match reports whether the slash-separated path name matches.
func (g *Glob) Match(name string) bool {
	return matchSegs(g.segs, strings.Split(name, "/"))
}

func matchSegs(ps, ns []string) bool {
	for len(ps) > 0 {
		if ps[0] == "**" {
			for len(ps) > 0 && ps[0] == "**" {
				ps = ps[1:]
			}
			if len(ps) == 0 {
				return true
			}
			for i := 0; i <= len(ns); i++ {
				if matchSegs(ps, ns[i:]) {
					return true
				}
			}
			return false
		}
		if len(ns) == 0 {
			return false
		}
		if ok, _ := path.Match(ps[0], ns[0]); !ok {
			return false
		}
		ps, ns = ps[1:], ns[1:]
	}
	return len(ns) == 0
}

// checkNamePattern checks a rule's name pattern: text with the
// placeholders {dir} and {name}.
func checkNamePattern(p string) error {
	rest := p
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("name pattern %q has an unclosed {", p)
		}
		switch ph := rest[i : i+j+1]; ph {
		case "{dir}", "{name}":
		default:
			return fmt.Errorf("name pattern %q: unknown placeholder %s (use {dir} and {name})", p, ph)
		}
		rest = rest[i+j+1:]
	}
	if strings.ContainsRune(rest, '}') {
		return fmt.Errorf("name pattern %q has a } without {", p)
	}
	return nil
}

// expandName fills a name pattern for the file at name matched by g:
// {name} is the file's name without its extension, {dir} its directory
// below the pattern's prefix with / written -. When {dir} is empty (a
// file right in the prefix), one separator (- _ . /) beside it goes too,
// so that "{dir}-{name}" gives "welcome", not "-welcome".
func expandName(pattern string, g *Glob, name string) string {
	dir, file := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if g.prefix != "" {
		dir = strings.TrimPrefix(strings.TrimPrefix(dir, g.prefix), "/")
	}
	base := strings.TrimSuffix(file, path.Ext(file))
	out := pattern
	if dir == "" {
		for strings.Contains(out, "{dir}") {
			i := strings.Index(out, "{dir}")
			after, before := i+len("{dir}"), i
			switch {
			case after < len(out) && strings.ContainsRune("-_./", rune(out[after])):
				after++
			case before > 0 && strings.ContainsRune("-_./", rune(out[before-1])):
				before--
			}
			out = out[:before] + out[after:]
		}
	}
	out = strings.ReplaceAll(out, "{dir}", strings.ReplaceAll(dir, "/", "-"))
	return strings.ReplaceAll(out, "{name}", base)
}
