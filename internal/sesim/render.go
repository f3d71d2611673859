package sesim

import (
	"fmt"
	"strings"

	"sendops/internal/hbs"
)

// SES renders templates with Handlebars. The emulator renders them with
// SendOps's own Handlebars (internal/hbs), which implements what SES's
// guide documents, so that the emulator and SendOps's preview agree by
// construction. On top of it the emulator plays what SES does and
// Handlebars does not:
//
//   - nothing is HTML-escaped, in any part ("SES doesn't escape HTML
//     content when rendering the HTML template for a message", SES
//     developer guide, "Advanced email personalization"); {{x}} and {{{x}}}
//     print the same;
//   - a printed variable the data lacks fails the rendering
//     (MissingRenderingAttribute in the SES API; a Rendering Failure event
//     for a send);
//   - TemplateData must be a JSON object of at most 262,144 characters
//     (SES API reference, TestRenderEmailTemplate).

// maxTemplateData is TemplateData's length limit in SES's API.
const maxTemplateData = 262144

// missingAttrError is SES's rendering failure for a variable without data.
type missingAttrError struct{ name string }

func (e *missingAttrError) Error() string {
	return fmt.Sprintf("Attribute '%s' is not present in the rendering data.", e.name)
}

// parseTemplate parses one part of a template.
func parseTemplate(src string) (*hbs.Template, error) {
	return hbs.Parse("", src)
}

// renderTemplate renders one part of a template as SES does.
func renderTemplate(src string, data any) (string, error) {
	t, err := parseTemplate(src)
	if err != nil {
		return "", err
	}
	out, rep, err := t.Render(data)
	if err != nil {
		return "", err
	}
	if len(rep.Missing) > 0 {
		return "", &missingAttrError{rep.Missing[0].Path}
	}
	return out, nil
}

// templateContent is an SES email template's parts.
type templateContent struct {
	Subject string `json:",omitempty"`
	Text    string `json:",omitempty"`
	Html    string `json:",omitempty"`
}

// renderedTemplate is a template rendered with data.
type renderedTemplate struct {
	subject, text, html string
}

// parseTemplateData decodes SES TemplateData: a JSON object.
func parseTemplateData(s string) (any, error) {
	if len(s) > maxTemplateData {
		return nil, fmt.Errorf("template data is %d characters; at most %d are allowed", len(s), maxTemplateData)
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("template data must be a JSON object")
	}
	data, err := hbs.DecodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("unable to parse template data (invalid JSON)")
	}
	if _, ok := data.(*hbs.Object); !ok {
		return nil, fmt.Errorf("template data must be a JSON object")
	}
	return data, nil
}

func (t templateContent) render(data any) (renderedTemplate, error) {
	var out renderedTemplate
	var err error
	if out.subject, err = renderTemplate(t.Subject, data); err != nil {
		return out, err
	}
	if out.text, err = renderTemplate(t.Text, data); err != nil {
		return out, err
	}
	if out.html, err = renderTemplate(t.Html, data); err != nil {
		return out, err
	}
	return out, nil
}
