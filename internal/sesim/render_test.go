package sesim

import (
	"errors"
	"testing"
)

func TestRenderTemplate(t *testing.T) {
	t.Parallel()
	data, err := parseTemplateData(`{"name":"Ana","user":{"plan":"pro","tags":["a","b"]},"n":3,"vip":false,"html":"<b>x</b>","items":[{"sku":"A1"},{"sku":"B2"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src    string
		escape bool
		want   string
	}{
		{"Hello {{name}}!", false, "Hello Ana!"},
		{"{{ name }} on {{user.plan}}", false, "Ana on pro"},
		{"{{n}} items", false, "3 items"},
		{"{{html}}", true, "&lt;b&gt;x&lt;/b&gt;"},
		{"{{{html}}}", true, "<b>x</b>"},
		{"{{html}}", false, "<b>x</b>"},
		{"{{#if vip}}VIP{{else}}regular{{/if}}", false, "regular"},
		{"{{#unless vip}}not vip{{/unless}}", false, "not vip"},
		{"{{#each items}}[{{@index}}:{{sku}}]{{/each}}", false, "[0:A1][1:B2]"},
		{"{{#each user.tags}}{{this}};{{/each}}", false, "a;b;"},
		{"{{#with user}}{{plan}}{{/with}}", false, "pro"},
		{"{{! a comment }}x", false, "x"},
		{"{{#if missing}}yes{{else}}no{{/if}}", false, "no"},
	}
	for _, tt := range tests {
		got, err := renderTemplate(tt.src, data, tt.escape)
		if err != nil || got != tt.want {
			t.Errorf("render(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}

	_, err = renderTemplate("Hi {{missing}}", data, false)
	var missing *missingAttrError
	if !errors.As(err, &missing) || missing.name != "missing" {
		t.Errorf("missing attribute: %v", err)
	}
	for _, bad := range []string{"{{name", "{{#if x}}open", "{{/if}}", "{{#each}}{{/each}}", "{{#foo x}}{{/foo}}", "{{else}}", "{{a b}}"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("parseTemplate(%q) accepted an invalid template", bad)
		}
	}
	for _, bad := range []string{"", "[]", "null", "nope"} {
		if _, err := parseTemplateData(bad); err == nil {
			t.Errorf("parseTemplateData(%q) accepted invalid data", bad)
		}
	}
}
