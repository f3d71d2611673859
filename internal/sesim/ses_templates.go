package sesim

import (
	"bytes"
	"encoding/base64"
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

// maxTemplateSize is SES's limit on a stored template: "Each template can
// be up to 500 KB in size, including both the text and HTML parts" (SES
// developer guide, send-personalized-email-api).
const maxTemplateSize = 500_000

func validateTemplateContent(tc *templateContent) *apiError {
	if tc == nil {
		return badRequest("TemplateContent is required.")
	}
	if tc.Subject == "" || (tc.Text == "" && tc.Html == "") {
		return badRequest("A template needs a Subject and a Text or Html part.")
	}
	if n := len(tc.Text) + len(tc.Html); n > maxTemplateSize {
		return badRequest("Template is too large: its text and HTML parts are %d bytes, over the 500 KB limit.", n)
	}
	for _, part := range []struct{ name, src string }{{"Subject", tc.Subject}, {"Text", tc.Text}, {"Html", tc.Html}} {
		if _, err := parseTemplate(part.src); err != nil {
			return badRequest("Template is not valid: %s %v", part.name, err)
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

// renderMIME builds the MIME message TestRenderEmailTemplate answers ("The
// complete MIME message rendered by applying the data", SES API
// reference): Date, Subject and MIME-Version headers, then a text and/or
// HTML part, the two as multipart/alternative. Each body is sent as 7bit
// when it is ASCII in short lines, quoted-printable when it is mostly
// ASCII and base64 otherwise, the way common mail libraries choose, so
// that a reader of the answer has to handle all three.
func renderMIME(t renderedTemplate, now time.Time) string {
	var b strings.Builder
	b.WriteString("Date: " + now.UTC().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("UTF-8", t.subject) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	part := func(ctype, body string) {
		enc, encoded := encodeBody(body)
		b.WriteString("Content-Type: " + ctype + "; charset=UTF-8\r\n")
		b.WriteString("Content-Transfer-Encoding: " + enc + "\r\n\r\n")
		b.WriteString(encoded + "\r\n")
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

// encodeBody picks a transfer encoding for a text body and applies it.
func encodeBody(s string) (encoding, body string) {
	ascii, other, longLine := 0, 0, false
	lineLen := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			lineLen = 0
			ascii++
			continue
		case c >= 0x80 || (c < 0x20 && c != '\r' && c != '\t') || c == 0x7f:
			other++
		default:
			ascii++
		}
		if lineLen++; lineLen > 998 {
			longLine = true
		}
	}
	switch {
	case other == 0 && !longLine:
		return "7bit", strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	case other < ascii:
		var buf bytes.Buffer
		w := quotedprintable.NewWriter(&buf)
		w.Write([]byte(s))
		w.Close()
		return "quoted-printable", buf.String()
	}
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	var lines []string
	for len(enc) > 76 {
		lines = append(lines, enc[:76])
		enc = enc[76:]
	}
	return "base64", strings.Join(append(lines, enc), "\r\n")
}
