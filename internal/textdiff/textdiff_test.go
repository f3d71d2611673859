package textdiff

import (
	"fmt"
	"strings"
	"testing"
)

// render writes lines compactly: one "op old/new text" per line, "$" for a
// missing line break.
func render(lines []Line) string {
	var b strings.Builder
	for _, l := range lines {
		eol := ""
		if l.NoEOL {
			eol = "$"
		}
		fmt.Fprintf(&b, "%s%d/%d %s%s\n", l.Op.Prefix(), l.OldNo, l.NewNo, l.Text, eol)
	}
	return b.String()
}

func TestLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, a, b, want string
	}{
		{"both empty", "", "", ""},
		{"equal", "a\nb\n", "a\nb\n", " 1/1 a\n 2/2 b\n"},
		{"all new", "", "a\nb\n", "+0/1 a\n+0/2 b\n"},
		{"all gone", "a\nb\n", "", "-1/0 a\n-2/0 b\n"},
		{"one line changed", "a\nb\nc\n", "a\nB\nc\n", " 1/1 a\n-2/0 b\n+0/2 B\n 3/3 c\n"},
		{"inserted in the middle", "a\nc\n", "a\nb\nc\n", " 1/1 a\n+0/2 b\n 2/3 c\n"},
		{"deleted at the start", "x\na\n", "a\n", "-1/0 x\n 2/1 a\n"},
		{"no line break at the end", "a\nb", "a\nb", " 1/1 a\n 2/2 b$\n"},
		{"line break added at the end", "a", "a\n", "-1/0 a$\n+0/1 a\n"},
		{"deletions before insertions", "a\nb\n", "c\nd\n", "-1/0 a\n-2/0 b\n+0/1 c\n+0/2 d\n"},
		{"repeated lines", "x\nx\nx\n", "x\nx\n", " 1/1 x\n 2/2 x\n-3/0 x\n"},
		{"CRLF kept in text", "a\r\n", "a\n", "-1/0 a\r\n+0/1 a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := render(Lines(tt.a, tt.b)); got != tt.want {
				t.Errorf("Lines(%q, %q) =\n%s\nwant\n%s", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// TestLinesCoverBoth checks, on texts with many lines (more than one byte
// of characters), that the equal and deleted lines are a, the equal and
// inserted lines are b, and line numbers count up.
func TestLinesCoverBoth(t *testing.T) {
	t.Parallel()
	var a, b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&a, "line %d\n", i)
		if i%7 != 0 {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		if i%11 == 0 {
			fmt.Fprintf(&b, "new %d\n", i)
		}
	}
	lines := Lines(a.String(), b.String())
	var gotA, gotB strings.Builder
	oldNo, newNo := 0, 0
	for _, l := range lines {
		if l.Op != Insert {
			gotA.WriteString(l.Text + "\n")
			oldNo++
			if l.OldNo != oldNo {
				t.Fatalf("old line number %d, want %d", l.OldNo, oldNo)
			}
		}
		if l.Op != Delete {
			gotB.WriteString(l.Text + "\n")
			newNo++
			if l.NewNo != newNo {
				t.Fatalf("new line number %d, want %d", l.NewNo, newNo)
			}
		}
	}
	if gotA.String() != a.String() || gotB.String() != b.String() {
		t.Fatal("the lines do not rebuild the two texts")
	}
	ins, del := Stat(lines)
	if del != 429 || ins != 273 {
		t.Errorf("Stat = +%d -%d, want +273 -429", ins, del)
	}
	if !Changed(lines) || Changed(Lines("a\n", "a\n")) {
		t.Error("Changed is wrong")
	}
}

func TestUnified(t *testing.T) {
	t.Parallel()
	nums := func(from, to int, change map[int]string) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			if s, ok := change[i]; ok {
				b.WriteString(s)
				continue
			}
			fmt.Fprintf(&b, "%d\n", i)
		}
		return b.String()
	}
	tests := []struct {
		name    string
		a, b    string
		context int
		want    string
	}{
		{name: "equal", a: "a\n", b: "a\n", context: 3, want: ""},
		{
			name: "one change in the middle", context: 2,
			a: nums(1, 10, nil), b: nums(1, 10, map[int]string{5: "five\n"}),
			want: "--- ses\n+++ repo\n@@ -3,5 +3,5 @@\n 3\n 4\n-5\n+five\n 6\n 7\n",
		},
		{
			name: "changes far apart make two hunks", context: 1,
			a: nums(1, 10, nil), b: nums(1, 10, map[int]string{2: "", 9: "nine\n"}),
			want: "--- ses\n+++ repo\n@@ -1,3 +1,2 @@\n 1\n-2\n 3\n@@ -8,3 +7,3 @@\n 8\n-9\n+nine\n 10\n",
		},
		{
			name: "changes close together share a hunk", context: 2,
			a: nums(1, 10, nil), b: nums(1, 10, map[int]string{3: "c\n", 7: "g\n"}),
			want: "--- ses\n+++ repo\n@@ -1,9 +1,9 @@\n 1\n 2\n-3\n+c\n 4\n 5\n 6\n-7\n+g\n 8\n 9\n",
		},
		{
			name: "from nothing", context: 3, a: "", b: "a\nb\n",
			want: "--- ses\n+++ repo\n@@ -0,0 +1,2 @@\n+a\n+b\n",
		},
		{
			name: "to nothing", context: 3, a: "a\n", b: "",
			want: "--- ses\n+++ repo\n@@ -1 +0,0 @@\n-a\n",
		},
		{
			name: "insertion after a line", context: 0, a: "a\nb\n", b: "a\nx\nb\n",
			want: "--- ses\n+++ repo\n@@ -1,0 +2 @@\n+x\n",
		},
		{
			name: "missing line break", context: 3, a: "Hello", b: "Hello\n",
			want: "--- ses\n+++ repo\n@@ -1 +1 @@\n-Hello\n\\ No newline at end of file\n+Hello\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Unified("ses", "repo", tt.a, tt.b, tt.context); got != tt.want {
				t.Errorf("Unified =\n%s\nwant\n%s", got, tt.want)
			}
			// Compare gives the same diff, with its hunks and counts, at once.
			d := Compare("ses", "repo", tt.a, tt.b, tt.context)
			ins, del := strings.Count(tt.want, "\n+")-strings.Count(tt.want, "\n+++ "), strings.Count(tt.want, "\n-")-strings.Count(tt.want, "\n--- ")
			if d.Unified != tt.want || d.Changed() != (tt.want != "") || d.Inserted != ins || d.Deleted != del ||
				len(d.Hunks) != strings.Count(tt.want, "\n@@ ") || render(d.Lines) != render(Lines(tt.a, tt.b)) {
				t.Errorf("Compare = %+v; want the unified diff, %d inserted, %d deleted", d, ins, del)
			}
		})
	}
}

func TestHunkHeaderAndCounts(t *testing.T) {
	t.Parallel()
	hs := Hunks("a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nD\ne\nf\ng\nh\n", -1)
	if len(hs) != 1 || hs[0].Header() != "@@ -4 +4 @@" || len(hs[0].Lines) != 2 {
		t.Fatalf("hunks = %+v", hs)
	}
	if Hunks("x\n", "x\n", 3) != nil {
		t.Error("equal texts have hunks")
	}
}
