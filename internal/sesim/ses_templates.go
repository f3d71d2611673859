package sesim

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"sort"
	"strings"
	"time"
)

type emailTemplate struct {
	name    string
	content templateContent
	tags    []tag
	created time.Time
}

func (c *call) template(rs *regionState) (*emailTemplate, *apiError) {
	name := c.r.PathValue("TemplateName")
	t := rs.templates[name]
	if t == nil {
		return nil, notFound("Template %s does not exist.", name)
	}
	return t, nil
}

func validateTemplateContent(tc *templateContent) *apiError {
	if tc == nil {
		return badRequest("TemplateContent is required.")
	}
	if tc.Subject == "" || (tc.Text == "" && tc.Html == "") {
		return badRequest("A template needs a Subject and a Text or Html part.")
	}
	for _, part := range []string{tc.Subject, tc.Text, tc.Html} {
		if _, err := parseTemplate(part); err != nil {
			return badRequest("Template is not valid: %v", err)
		}
	}
	return nil
}

func sesCreateEmailTemplate(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		TemplateName    string
		TemplateContent *templateContent
		Tags            []tag
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(in.TemplateName) {
		return nil, badRequest("Invalid template name: %q", in.TemplateName)
	}
	if rs.templates[in.TemplateName] != nil {
		return nil, alreadyExists("Template %s already exists.", in.TemplateName)
	}
	if aerr := validateTemplateContent(in.TemplateContent); aerr != nil {
		return nil, aerr
	}
	rs.templates[in.TemplateName] = &emailTemplate{name: in.TemplateName, content: *in.TemplateContent, tags: in.Tags, created: c.sim.now()}
	return nil, nil
}

func sesGetEmailTemplate(c *call, rs *regionState) (any, *apiError) {
	t, aerr := c.template(rs)
	if aerr != nil {
		return nil, aerr
	}
	tags := t.tags
	if tags == nil {
		tags = []tag{}
	}
	return struct {
		TemplateName    string
		TemplateContent templateContent
		Tags            []tag
	}{t.name, t.content, tags}, nil
}

func sesUpdateEmailTemplate(c *call, rs *regionState) (any, *apiError) {
	t, aerr := c.template(rs)
	if aerr != nil {
		return nil, aerr
	}
	var in struct{ TemplateContent *templateContent }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if aerr := validateTemplateContent(in.TemplateContent); aerr != nil {
		return nil, aerr
	}
	t.content = *in.TemplateContent
	return nil, nil
}

func sesDeleteEmailTemplate(c *call, rs *regionState) (any, *apiError) {
	t, aerr := c.template(rs)
	if aerr != nil {
		return nil, aerr
	}
	delete(rs.templates, t.name)
	return nil, nil
}

func sesListEmailTemplates(c *call, rs *regionState) (any, *apiError) {
	var token string
	var size int
	if aerr := queryPaging(c, &token, &size); aerr != nil {
		return nil, aerr
	}
	type meta struct {
		TemplateName     string
		CreatedTimestamp float64
	}
	all := make([]meta, 0, len(rs.templates))
	for _, t := range rs.templates {
		all = append(all, meta{t.name, epoch(t.created)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].TemplateName < all[j].TemplateName })
	items, next, err := page(all, token, size, 10, 100)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return struct {
		TemplatesMetadata []meta
		NextToken         string `json:",omitempty"`
	}{items, next}, nil
}

func sesTestRenderEmailTemplate(c *call, rs *regionState) (any, *apiError) {
	t, aerr := c.template(rs)
	if aerr != nil {
		return nil, aerr
	}
	var in struct{ TemplateData string }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	data, err := parseTemplateData(in.TemplateData)
	if err != nil {
		return nil, badRequest("Invalid TemplateData: %v", err)
	}
	out, err := t.content.render(data)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return struct{ RenderedTemplate string }{renderMIME(out, c.sim.now())}, nil
}

// renderMIME builds the MIME message TestRenderEmailTemplate answers: the
// subject header and a text and/or HTML part, quoted-printable encoded.
func renderMIME(t renderedTemplate, now time.Time) string {
	var b strings.Builder
	b.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("UTF-8", t.subject) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	part := func(ctype, body string) {
		b.WriteString("Content-Type: " + ctype + "; charset=UTF-8\r\n")
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		b.WriteString(qp(body) + "\r\n")
	}
	switch {
	case t.text != "" && t.html != "":
		boundary := "----=_Part_" + randomFrom("0123456789", 12)
		b.WriteString(fmt.Sprintf("Content-Type: multipart/alternative; \r\n\tboundary=\"%s\"\r\n\r\n", boundary))
		b.WriteString("--" + boundary + "\r\n")
		part("text/plain", t.text)
		b.WriteString("--" + boundary + "\r\n")
		part("text/html", t.html)
		b.WriteString("--" + boundary + "--\r\n")
	case t.html != "":
		part("text/html", t.html)
	default:
		part("text/plain", t.text)
	}
	return b.String()
}

func qp(s string) string {
	var buf bytes.Buffer
	w := quotedprintable.NewWriter(&buf)
	w.Write([]byte(s))
	w.Close()
	return buf.String()
}
