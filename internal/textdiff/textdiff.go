// Package textdiff compares two texts line by line: the changes as a list
// of lines, as hunks with context for a page to show, and as a unified
// diff (diff -u) for a terminal or a file.
//
// The line matching is diff-match-patch's (github.com/sergi/go-diff): each
// distinct line becomes one character, the two strings of characters are
// diffed, and the characters become lines again.
package textdiff

import (
	"fmt"
	"strings"
	"time"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// Op says what a line is in the change from the old text to the new.
type Op int8

// The ops.
const (
	Equal  Op = iota // in both texts
	Insert           // only in the new text
	Delete           // only in the old text
)

// String is the op's name: "equal", "insert" or "delete".
func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Delete:
		return "delete"
	}
	return "equal"
}

// Prefix is the op's mark in a unified diff: " ", "+" or "-".
func (o Op) Prefix() string {
	switch o {
	case Insert:
		return "+"
	case Delete:
		return "-"
	}
	return " "
}

// Line is one line of a comparison.
type Line struct {
	Op    Op
	Text  string // the line without its line break
	OldNo int    // 1-based line number in the old text; 0 for an inserted line
	NewNo int    // 1-based line number in the new text; 0 for a deleted line
	// NoEOL is set on a text's last line when it has no line break after
	// it, which is a difference of its own: "a" and "a\n" are not equal.
	NoEOL bool
}

// Timeout bounds the search for the smallest difference; past it the
// comparison is still correct but may be longer than it needs to be.
const Timeout = 2 * time.Second

// Lines compares old text a with new text b line by line. Every line of
// both texts appears once, in order: equal lines, and the deleted lines of
// a change before its inserted ones. Two empty texts give no lines.
func Lines(a, b string) []Line {
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = Timeout
	ca, cb, lines := dmp.DiffLinesToChars(a, b)
	diffs := dmp.DiffMain(ca, cb, false)
	diffs = dmp.DiffCharsToLines(diffs, lines)

	var out []Line
	oldNo, newNo := 0, 0
	var dels, ins []Line // a change's deleted and inserted lines, kept to put deletions first
	flush := func() {
		out = append(out, dels...)
		out = append(out, ins...)
		dels, ins = dels[:0], ins[:0]
	}
	for _, d := range diffs {
		for _, text := range split(d.Text) {
			l := Line{Text: strings.TrimSuffix(text, "\n"), NoEOL: !strings.HasSuffix(text, "\n")}
			switch d.Type {
			case diffmatchpatch.DiffEqual:
				flush()
				oldNo++
				newNo++
				l.Op, l.OldNo, l.NewNo = Equal, oldNo, newNo
				out = append(out, l)
			case diffmatchpatch.DiffDelete:
				oldNo++
				l.Op, l.OldNo = Delete, oldNo
				dels = append(dels, l)
			case diffmatchpatch.DiffInsert:
				newNo++
				l.Op, l.NewNo = Insert, newNo
				ins = append(ins, l)
			}
		}
	}
	flush()
	return out
}

// split cuts s after each line break; the last piece has none when s does
// not end with one.
func split(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// Changed reports whether lines hold any insertion or deletion.
func Changed(lines []Line) bool {
	for _, l := range lines {
		if l.Op != Equal {
			return true
		}
	}
	return false
}

// Stat counts the inserted and deleted lines.
func Stat(lines []Line) (inserted, deleted int) {
	for _, l := range lines {
		switch l.Op {
		case Insert:
			inserted++
		case Delete:
			deleted++
		}
	}
	return inserted, deleted
}

// Hunk is a run of changes with the equal lines around them, as a unified
// diff groups them.
type Hunk struct {
	OldStart, OldLines int // first line in the old text and how many lines of it the hunk covers
	NewStart, NewLines int // the same in the new text
	Lines              []Line
}

// Header is the hunk's unified-diff header, like "@@ -3,7 +3,8 @@".
func (h Hunk) Header() string {
	return fmt.Sprintf("@@ -%s +%s @@", span(h.OldStart, h.OldLines), span(h.NewStart, h.NewLines))
}

// span is a hunk's range as diff -u writes it: start,count, where an empty
// range starts at the line before it and a one-line range is just start.
func span(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// Hunks groups the changes from a to b with context equal lines on each
// side (a negative context counts as 0); changes closer than twice the
// context share a hunk. Equal texts give no hunks.
func Hunks(a, b string, context int) []Hunk {
	return HunksOf(Lines(a, b), context)
}

// HunksOf groups lines as Lines returns them into hunks (see Hunks).
func HunksOf(lines []Line, context int) []Hunk {
	if context < 0 {
		context = 0
	}
	var hunks []Hunk
	i := 0
	for {
		// The next change at or after i.
		for i < len(lines) && lines[i].Op == Equal {
			i++
		}
		if i == len(lines) {
			return hunks
		}
		start := max(i-context, 0)
		// Extend while the gap of equal lines to the next change is at most 2*context.
		end := i
		for {
			for end < len(lines) && lines[end].Op != Equal {
				end++
			}
			gap := end
			for gap < len(lines) && lines[gap].Op == Equal {
				gap++
			}
			if gap == len(lines) || gap-end > 2*context {
				end = min(end+context, len(lines))
				break
			}
			end = gap
		}
		hunks = append(hunks, newHunk(lines, start, end))
		i = end
	}
}

func newHunk(lines []Line, start, end int) Hunk {
	h := Hunk{Lines: lines[start:end]}
	// Where the hunk starts on each side: the first line numbered on that
	// side, or (for a side without lines) the line before it.
	h.OldStart, h.NewStart = -1, -1
	lastOld, lastNew := 0, 0
	for _, l := range lines[:start] {
		if l.OldNo > 0 {
			lastOld = l.OldNo
		}
		if l.NewNo > 0 {
			lastNew = l.NewNo
		}
	}
	for _, l := range h.Lines {
		if l.OldNo > 0 {
			h.OldLines++
			if h.OldStart < 0 {
				h.OldStart = l.OldNo
			}
		}
		if l.NewNo > 0 {
			h.NewLines++
			if h.NewStart < 0 {
				h.NewStart = l.NewNo
			}
		}
	}
	if h.OldStart < 0 {
		h.OldStart = lastOld
	}
	if h.NewStart < 0 {
		h.NewStart = lastNew
	}
	return h
}

// Diff is a comparison of two texts in every form at once.
type Diff struct {
	Lines []Line
	Hunks []Hunk // with the context Compare was given
	// Unified is the unified diff (diff -u); "" when the texts are equal.
	Unified           string
	Inserted, Deleted int // lines
}

// Changed reports whether the texts differ.
func (d Diff) Changed() bool { return d.Inserted+d.Deleted > 0 }

// Compare compares old text a, named aName, with new text b, named bName,
// once: its lines, its hunks with context lines around each change, the
// unified diff of those hunks, and the lines inserted and deleted.
func Compare(aName, bName, a, b string, context int) Diff {
	d := Diff{Lines: Lines(a, b)}
	d.Hunks = HunksOf(d.Lines, context)
	d.Inserted, d.Deleted = Stat(d.Lines)
	d.Unified = unified(aName, bName, d.Hunks)
	return d
}

// Unified is the unified diff (diff -u) from a, named aName, to b, named
// bName, with context lines around each change; "" when the texts are
// equal. A last line without a line break is marked as diff marks it
// ("\ No newline at end of file").
func Unified(aName, bName, a, b string, context int) string {
	return unified(aName, bName, Hunks(a, b, context))
}

func unified(aName, bName string, hunks []Hunk) string {
	if len(hunks) == 0 {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", aName, bName)
	for _, h := range hunks {
		sb.WriteString(h.Header())
		sb.WriteByte('\n')
		for _, l := range h.Lines {
			sb.WriteString(l.Op.Prefix())
			sb.WriteString(l.Text)
			sb.WriteByte('\n')
			if l.NoEOL {
				sb.WriteString("\\ No newline at end of file\n")
			}
		}
	}
	return sb.String()
}
