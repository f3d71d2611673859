package service

import (
	"fmt"
	"strings"
	"testing"

	"sendops/internal/domain"
)

// The import file is checked whole before anything reaches AWS.
func TestParseSuppressionCSV(t *testing.T) {
	t.Parallel()
	many := "email,reason\n"
	for i := range MaxImportRows + 1 {
		many += fmt.Sprintf("u%d@example.com,BOUNCE\n", i)
	}
	cases := []struct {
		name, file string
		rows       []importRow // when valid
		errs       []string    // fragments of the error, when not
	}{
		{"plain", "email,reason\na@example.com,BOUNCE\nB@Example.com,complaint\n",
			[]importRow{{2, "a@example.com", "BOUNCE"}, {3, "b@example.com", "COMPLAINT"}}, nil},
		{"columns in any order, others ignored, a BOM, blank lines, CRLF", "\ufeffnote,Reason,EMAIL\r\nx,BOUNCE,a@example.com\r\n\r\n\"a, b\",COMPLAINT,c@example.com\r\n",
			[]importRow{{2, "a@example.com", "BOUNCE"}, {4, "c@example.com", "COMPLAINT"}}, nil},
		{"an export's neutralised cell", "email,reason\n'=cmd@example.com,BOUNCE\n'+x@example.com,BOUNCE\n",
			[]importRow{{2, "=cmd@example.com", "BOUNCE"}, {3, "+x@example.com", "BOUNCE"}}, nil},
		{"a repeat with the same reason", "email,reason\na@example.com,BOUNCE\nA@example.com,BOUNCE\n",
			[]importRow{{2, "a@example.com", "BOUNCE"}}, nil},
		{"a repeat with another reason", "email,reason\na@example.com,BOUNCE\na@example.com,COMPLAINT\n", nil,
			[]string{"1 line is wrong", "line 3: a@example.com is on line 2 already, with the reason BOUNCE"}},
		{"every bad line named", "email,reason\nbad,BOUNCE\nok@example.com,BOUNCE\nworse@,SPAM\nno-reason@example.com\n", nil,
			[]string{"Nothing was imported: 3 lines are wrong", `line 2: "bad"`, `line 4: "worse@"`, `line 5: the reason ""`}},
		{"broken quoting", "email,reason\n\"a@example.com,BOUNCE\n", nil, []string{"line 2 is not CSV"}},
		{"no header", "a@example.com,BOUNCE\n", nil, []string{"header email,reason"}},
		{"empty", "", nil, []string{"The file is empty"}},
		{"a header only", "email,reason\n", nil, []string{"no addresses"}},
		{"too many", many, nil, []string{fmt.Sprintf("has %d addresses; import at most %d", MaxImportRows+1, MaxImportRows)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := parseSuppressionCSV(strings.NewReader(c.file))
			if c.errs == nil {
				if err != nil || fmt.Sprint(rows) != fmt.Sprint(c.rows) {
					t.Fatalf("got %v, %v; want %v", rows, err, c.rows)
				}
				return
			}
			if domain.ErrorCode(err) != domain.EInvalid || rows != nil {
				t.Fatalf("got %v, %v; want an invalid error", rows, err)
			}
			for _, f := range c.errs {
				if !strings.Contains(domain.ErrorMessage(err), f) {
					t.Errorf("%q is not in %q", f, domain.ErrorMessage(err))
				}
			}
		})
	}
}

func TestSuppressionCursor(t *testing.T) {
	t.Parallel()
	c := suppressionCursor{Token: "abc", Size: 1000, Skip: 7}
	got, err := decodeSuppressionCursor(c.encode())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{"x", suppressionCursor{Size: 0}.encode(), suppressionCursor{Size: 10, Skip: 10}.encode(), suppressionCursor{Size: 5000}.encode()} {
		if _, err := decodeSuppressionCursor(bad); domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
