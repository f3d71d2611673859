package hbs

import (
	"errors"
	"testing"
	"time"
)

// fuzzLimits keep each fuzzed render small and quick.
var fuzzLimits = Limits{MaxOutput: 1 << 20, MaxDepth: 50, MaxIterations: 10_000, MaxSteps: 200_000}

func FuzzParse(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzParse.
	f.Add("Hello {{contact.firstName}}!")
	f.Add("{{#each xs}}{{@index}}{{else}}none{{/each}}")
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse("f", src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("Parse(%q) = %#v, want an *Error with a place", src, err)
			}
			return
		}
		for _, v := range tmpl.Variables() {
			if v.Line < 1 || v.Col < 1 || v.Expr == "" {
				t.Fatalf("Parse(%q): variable %+v has no place", src, v)
			}
		}
	})
}

func FuzzRender(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzRender.
	f.Add("{{#each a}}{{> p}}{{/each}}{{#*inline \"p\"}}{{this}}{{/inline}}", `{"a":[1,"x",{"b":2}]}`)
	f.Fuzz(func(t *testing.T, src, data string) {
		tmpl, err := Parse("f", src)
		if err != nil {
			return
		}
		d, err := DecodeJSON([]byte(data))
		if err != nil {
			d = map[string]any{"a": []any{1.0, "x", map[string]any{"b": nil}}, "b": true, "s": "<&>"}
		}
		for _, esc := range []bool{false, true} {
			start := time.Now()
			out, rep, err := tmpl.RenderWith(d, Options{EscapeHTML: esc, Limits: fuzzLimits})
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Fatalf("Render(%q, %q) took %v", src, data, elapsed)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Line < 1 || e.Col < 1 {
					t.Fatalf("Render(%q, %q) = %#v, want an *Error with a place", src, data, err)
				}
				continue
			}
			if len(out) > fuzzLimits.MaxOutput {
				t.Fatalf("Render(%q, %q) wrote %d bytes, over the limit", src, data, len(out))
			}
			for _, m := range rep.Missing {
				if m.Line < 1 || m.Col < 1 || m.Path == "" {
					t.Fatalf("Render(%q, %q): missing %+v has no place", src, data, m)
				}
			}
		}
	})
}
