package templates

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonOffsets maps each value of a JSON document to the byte offset where
// it is written: an object member's key, an array element's value. Paths
// are the keys and indices from the root joined by jsonSep ("" is the
// root). A document that is not valid JSON gives what was read before the
// error.
func jsonOffsets(b []byte) map[string]int {
	type container struct {
		obj     bool
		path    string
		idx     int
		key     string
		keyOff  int
		wantKey bool
	}
	offs := map[string]int{}
	d := json.NewDecoder(bytes.NewReader(b))
	var stack []*container
	skip := func(i int) int {
		for i < len(b) && strings.IndexByte(" \t\r\n,:", b[i]) >= 0 {
			i++
		}
		return i
	}
	for {
		start := skip(int(d.InputOffset()))
		tok, err := d.Token()
		if err != nil {
			return offs
		}
		delim, isDelim := tok.(json.Delim)
		if n := len(stack); n > 0 {
			top := stack[n-1]
			if isDelim && (delim == '}' || delim == ']') {
				stack = stack[:n-1]
				continue
			}
			if top.obj && top.wantKey {
				top.key, _ = tok.(string)
				top.keyOff, top.wantKey = start, false
				continue
			}
		}
		path, off := "", start
		if n := len(stack); n > 0 {
			top := stack[n-1]
			if top.obj {
				path, off = joinJSON(top.path, top.key), top.keyOff
				top.wantKey = true
			} else {
				path = joinJSON(top.path, strconv.Itoa(top.idx))
				top.idx++
			}
		}
		if _, seen := offs[path]; !seen {
			offs[path] = off
		}
		if isDelim {
			stack = append(stack, &container{obj: delim == '{', path: path, wantKey: delim == '{'})
		}
	}
}

const jsonSep = "\x00"

func joinJSON(parent, seg string) string {
	if parent == "" {
		return seg
	}
	return parent + jsonSep + seg
}

// lineCol returns the 1-based line and column (in characters) of byte
// offset off in s.
func lineCol(s string, off int) (int, int) {
	off = min(max(off, 0), len(s))
	s = s[:off]
	line := 1 + strings.Count(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return line, 1 + utf8.RuneCountInString(s)
}

// cursor turns increasing byte offsets of s into lines and columns in
// one pass.
type cursor struct {
	s              string
	off, line, col int
}

func newCursor(s string) *cursor { return &cursor{s: s, line: 1, col: 1} }

func (c *cursor) at(off int) (int, int) {
	off = min(max(off, 0), len(c.s))
	if off < c.off {
		c.off, c.line, c.col = 0, 1, 1
	}
	for c.off < off {
		r, size := utf8.DecodeRuneInString(c.s[c.off:])
		if r == '\n' {
			c.line, c.col = c.line+1, 1
		} else {
			c.col++
		}
		c.off += size
	}
	return c.line, c.col
}
