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

// TestRenderGuideExamples renders whole templates (subject, text and
// HTML parts) modelled on the examples of SES's developer guide,
// "Advanced email personalization" (nested attributes, iterating through
// lists, basic conditional statements, inline partials) and on its
// Rendering Failure events, and compares them with outputs written here
// by hand from what the guide and the Handlebars language document.
//
// What this covers: the emulator, and through it internal/hbs, against
// expectations that come from neither; the outputs were not produced by
// running either. What it does not cover: anything of SES's renderer the
// guide does not document. No real SES answers in these tests, so an
// undocumented difference between SES and Handlebars.js (whitespace,
// number formatting, helpers beyond those the guide shows) would not be
// seen here.
func TestRenderGuideExamples(t *testing.T) {
	t.Parallel()
	// One recipient's data, organised in categories as the guide's
	// nested-attributes example does.
	const baker = `{
		"meta": {"memberId": "40017"},
		"member": {"first": "Mira", "last": "Osei", "town": "Kumasi", "country": "Ghana"},
		"courses": [{"title": "Sourdough"}, {"title": "Laminated pastry"}, {"title": "Knife skills"}],
		"coupon": {"code": "RISE10", "percent": 10}
	}`
	// Another, with a middle name, no courses and no coupon.
	const guest = `{
		"member": {"first": "Tomás", "middle": "Luis", "last": "Ferreira", "town": "Porto", "country": "Portugal"},
		"courses": []
	}`
	tests := []struct {
		name    string
		tmpl    templateContent
		data    string
		want    renderedTemplate
		missing string // the attribute SES reports, when rendering fails
	}{
		{
			// "Parsing nested attributes": parent.child, several levels.
			name: "nested attributes",
			tmpl: templateContent{
				Subject: "Welcome to the bakery school, {{member.first}}!",
				Text:    "Hello {{member.first}} {{member.last}} of {{member.town}}, {{member.country}}.\r\nMember {{meta.memberId}}.",
				Html:    "<h1>Hello {{member.first}}!</h1><p>We will post your card to {{member.town}} ({{member.country}}).</p>",
			},
			data: baker,
			want: renderedTemplate{
				subject: "Welcome to the bakery school, Mira!",
				text:    "Hello Mira Osei of Kumasi, Ghana.\r\nMember 40017.",
				html:    "<h1>Hello Mira!</h1><p>We will post your card to Kumasi (Ghana).</p>",
			},
		},
		{
			// "Iterating through lists": each over a list of objects, one
			// list item per element. A block tag alone on its line takes
			// the line with it (Handlebars' standalone rule).
			name: "each",
			tmpl: templateContent{
				Subject: "Your {{#each courses}}{{#unless @first}}, {{/unless}}{{title}}{{/each}} courses",
				Text:    "Your courses:\n{{#each courses}}\n- {{title}}\n{{/each}}\nSee you in class.",
				Html:    "<p>Your courses:</p><ul>{{#each courses}}<li>{{title}}</li>{{/each}}</ul>",
			},
			data: baker,
			want: renderedTemplate{
				subject: "Your Sourdough, Laminated pastry, Knife skills courses",
				text:    "Your courses:\n- Sourdough\n- Laminated pastry\n- Knife skills\nSee you in class.",
				html:    "<p>Your courses:</p><ul><li>Sourdough</li><li>Laminated pastry</li><li>Knife skills</li></ul>",
			},
		},
		{
			// An empty list renders the {{else}} of each.
			name: "each over an empty list",
			tmpl: templateContent{
				Subject: "Courses",
				Text:    "{{#each courses}}{{title}}{{else}}You have not booked a course yet.{{/each}}",
				Html:    "<ul>{{#each courses}}<li>{{title}}</li>{{/each}}</ul>",
			},
			data: guest,
			want: renderedTemplate{subject: "Courses", text: "You have not booked a course yet.", html: "<ul></ul>"},
		},
		{
			// "Using basic conditional statements": #if on an attribute
			// that one recipient's data has and another's lacks; a
			// missing attribute in a condition is false, not a failure.
			name: "if else, attribute present",
			tmpl: templateContent{
				Subject: "{{#if coupon}}{{coupon.percent}}% off your next course{{else}}Thank you for baking with us{{/if}}",
				Text:    "{{#if coupon}}Use code {{coupon.code}} at checkout.{{else}}We hope to see you again.{{/if}}",
				Html:    "<p>{{#if coupon}}Use code <b>{{coupon.code}}</b> at checkout.{{else}}We hope to see you again.{{/if}}</p>",
			},
			data: baker,
			want: renderedTemplate{
				subject: "10% off your next course",
				text:    "Use code RISE10 at checkout.",
				html:    "<p>Use code <b>RISE10</b> at checkout.</p>",
			},
		},
		{
			name: "if else, attribute missing",
			tmpl: templateContent{
				Subject: "{{#if coupon}}{{coupon.percent}}% off your next course{{else}}Thank you for baking with us{{/if}}",
				Text:    "{{#if coupon}}Use code {{coupon.code}} at checkout.{{else}}We hope to see you again.{{/if}}",
				Html:    "<p>{{#if coupon}}Use code <b>{{coupon.code}}</b> at checkout.{{else}}We hope to see you again.{{/if}}</p>",
			},
			data: guest,
			want: renderedTemplate{
				subject: "Thank you for baking with us",
				text:    "We hope to see you again.",
				html:    "<p>We hope to see you again.</p>",
			},
		},
		{
			// "Creating inline partials": a partial defined once in the
			// template and used in several places, itself with a
			// condition; "~" in {{/inline~}} removes the line break after
			// the definition.
			name: "inline partial, without the optional part",
			tmpl: templateContent{
				Subject: "{{#* inline \"name\"}}{{member.first}}{{#if member.middle}} {{member.middle}}{{/if}} {{member.last}}{{/inline~}}\nCertificate for {{> name}}",
				Text:    "{{#* inline \"name\"}}{{member.first}}{{#if member.middle}} {{member.middle}}{{/if}} {{member.last}}{{/inline~}}\nDear {{> name}},\r\nyour certificate is ready.",
				Html:    "{{#* inline \"name\"}}{{member.first}}{{#if member.middle}} {{member.middle}}{{/if}} {{member.last}}{{/inline~}}\n<h1>Dear {{> name}},</h1><p>Signed for {{> name}}.</p>",
			},
			data: baker,
			want: renderedTemplate{
				subject: "Certificate for Mira Osei",
				text:    "Dear Mira Osei,\r\nyour certificate is ready.",
				html:    "<h1>Dear Mira Osei,</h1><p>Signed for Mira Osei.</p>",
			},
		},
		{
			name: "inline partial, with the optional part",
			tmpl: templateContent{
				Subject: "{{#* inline \"name\"}}{{member.first}}{{#if member.middle}} {{member.middle}}{{/if}} {{member.last}}{{/inline~}}\nCertificate for {{> name}}",
				Text:    "Hi",
				Html:    "{{#* inline \"name\"}}{{member.first}}{{#if member.middle}} {{member.middle}}{{/if}} {{member.last}}{{/inline~}}\n<h1>Dear {{> name}},</h1>",
			},
			data: guest,
			want: renderedTemplate{
				subject: "Certificate for Tomás Luis Ferreira",
				text:    "Hi",
				html:    "<h1>Dear Tomás Luis Ferreira,</h1>",
			},
		},
		{
			// Rendering Failure: a printed attribute the data lacks fails
			// the whole message; SES names the attribute.
			name: "missing attribute fails the rendering",
			tmpl: templateContent{
				Subject: "Your card, {{member.first}}",
				Text:    "We post it to {{member.town}}, {{member.postcode}}.",
				Html:    "<p>{{member.town}}</p>",
			},
			data:    baker,
			missing: "member.postcode",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := parseTemplateData(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.tmpl.render(d)
			if tt.missing != "" {
				var missing *missingAttrError
				if !errors.As(err, &missing) || missing.name != tt.missing {
					t.Fatalf("render = %+v, %v; want the missing attribute %q", got, err, tt.missing)
				}
				return
			}
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if got != tt.want {
				t.Errorf("render =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}
