package sesim

import (
	"errors"
	"strings"
	"testing"

	"sendops/internal/hbs"
)

// TestRenderAsSES states, rule by rule, how SES renders a template and
// where that rule comes from, and checks that the emulator and SendOps's
// own renderer (internal/hbs, with its default options) both follow it.
func TestRenderAsSES(t *testing.T) {
	t.Parallel()
	const data = `{"name":"Ana","user":{"plan":"pro","tags":["a","b"]},"n":3,"vip":false,` +
		`"html":"<b>x</b> & 'y' = \"z\"","items":[{"sku":"A1"},{"sku":"B2"}],"empty":"","zero":0,"none":null}`
	tests := []struct {
		name, src, want string
		missing         string // SES refuses to render: the attribute it names
	}{
		// SES developer guide, "Advanced email personalization", the note:
		// "SES doesn't escape HTML content when rendering the HTML
		// template for a message." Handlebars.js would print &lt;b&gt;.
		{name: "double stash is not escaped", src: "{{html}}", want: `<b>x</b> & 'y' = "z"`},
		// Handlebars.js's triple stash means "do not escape"; since SES
		// escapes nothing, it prints the same as the double stash.
		{name: "triple stash is not escaped", src: "{{{html}}}", want: `<b>x</b> & 'y' = "z"`},
		// SES guide, "Personalizing email": {{name}} is replaced by the
		// value of name in the TemplateData.
		{name: "variable", src: "Hello {{name}}!", want: "Hello Ana!"},
		{name: "number", src: "{{n}} items", want: "3 items"},
		// SES guide, "Advanced": "Parsing nested attributes".
		{name: "nested attribute", src: "{{ name }} on {{user.plan}}", want: "Ana on pro"},
		// SES guide, "Advanced": "Using basic conditional statements".
		{name: "if else", src: "{{#if vip}}VIP{{else}}regular{{/if}}", want: "regular"},
		// Handlebars built-in helpers (the guide links them): #unless, #with.
		{name: "unless", src: "{{#unless vip}}not vip{{/unless}}", want: "not vip"},
		{name: "with", src: "{{#with user}}{{plan}}{{/with}}", want: "pro"},
		// Handlebars truthiness: "", 0, null and a missing value are false.
		{name: "falsy values", src: "{{#if empty}}1{{/if}}{{#if zero}}2{{/if}}{{#if none}}3{{/if}}{{#if nope}}4{{/if}}.", want: "."},
		// SES guide, "Advanced": "Iterating through lists" with #each.
		{name: "each over objects", src: "{{#each items}}[{{@index}}:{{sku}}]{{/each}}", want: "[0:A1][1:B2]"},
		{name: "each over strings", src: "{{#each user.tags}}{{this}};{{/each}}", want: "a;b;"},
		// SES guide, "Advanced": "Creating inline partials", whose example
		// ends the definition with {{/inline~}}.
		{name: "inline partial", src: "{{#* inline \"p\"}}<{{name}}>{{/inline~}}\n{{> p}}", want: "<Ana>"},
		{name: "comment", src: "{{! a comment }}x", want: "x"},
		// SES API reference, MissingRenderingAttribute: "one or more of the
		// replacement values for the specified template was not
		// specified"; a send with such data ends in a Rendering Failure.
		{name: "missing attribute", src: "Hi {{missing}}", missing: "missing"},
		{name: "missing nested attribute", src: "{{user.city}}", missing: "user.city"},
		// A condition on a missing attribute is only false (Handlebars).
		{name: "missing in a condition", src: "{{#if missing}}yes{{else}}no{{/if}}", want: "no"},
	}
	d, err := parseTemplateData(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The emulator, in each of a template's three parts.
			for _, part := range []templateContent{{Subject: tt.src}, {Text: tt.src}, {Html: tt.src}} {
				out, err := part.render(d)
				got := out.subject + out.text + out.html
				var missing *missingAttrError
				switch {
				case tt.missing != "":
					if !errors.As(err, &missing) || missing.name != tt.missing {
						t.Errorf("sesim %+v: err = %v, want the missing attribute %q", part, err, tt.missing)
					}
					if want := "Attribute '" + tt.missing + "' is not present in the rendering data."; err != nil && err.Error() != want {
						t.Errorf("sesim: message %q, want %q", err, want)
					}
				case err != nil || got != tt.want:
					t.Errorf("sesim %+v = %q, %v; want %q", part, got, err, tt.want)
				}
			}
			// SendOps's renderer with its default options.
			tmpl, err := hbs.Parse("t", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, rep, err := tmpl.Render(d)
			if err != nil {
				t.Fatal(err)
			}
			if tt.missing != "" {
				if len(rep.Missing) != 1 || rep.Missing[0].Path != tt.missing {
					t.Errorf("hbs reports missing %+v, want %q", rep.Missing, tt.missing)
				}
			} else if got != tt.want || len(rep.Missing) != 0 {
				t.Errorf("hbs = %q (missing %+v), want %q", got, rep.Missing, tt.want)
			}
		})
	}
}

func TestTemplateDataAndSyntax(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"{{name", "{{#if x}}open", "{{/if}}", "{{#each}}{{/each}}", "{{#foo x}}{{/foo}}", "{{else}}", "{{a b}}"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("parseTemplate(%q) accepted an invalid template", bad)
		}
	}
	// SES API reference, TestRenderEmailTemplate: TemplateData is "a JSON
	// object", of at most 262,144 characters.
	for _, bad := range []string{"", "  ", "[]", "null", "3", `"s"`, "nope", `{"a":`, `{"a":1} x`, `{"a":"` + strings.Repeat("x", maxTemplateData) + `"}`} {
		if _, err := parseTemplateData(bad); err == nil {
			t.Errorf("parseTemplateData(%.40q) accepted invalid data", bad)
		}
	}
	if _, err := parseTemplateData(`{"a":"` + strings.Repeat("x", maxTemplateData-10) + `"}`); err != nil {
		t.Errorf("data at the limit: %v", err)
	}
}
