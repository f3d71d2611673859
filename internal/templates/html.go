package templates

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/html"
)

type htmlIssue struct {
	line, col int
	msg       string
}

// checkHTML looks through an HTML part's source (Handlebars tags and all)
// for images without alt text and links that are not https. An image
// meant as decoration takes alt="". A link whose address a variable
// starts ({{url}}) is the data's business, and mailto:, tel:, sms: and
// #fragment links are fine.
func checkHTML(src string) []htmlIssue {
	var out []htmlIssue
	z := html.NewTokenizer(strings.NewReader(src))
	cur := newCursor(src)
	off := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				line, col := cur.at(off)
				out = append(out, htmlIssue{line, col, fmt.Sprintf("the HTML could not be read past here: %v", z.Err())})
			}
			return out
		}
		start := off
		off += len(z.Raw())
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		tag := string(name)
		if tag != "img" && tag != "a" && tag != "area" {
			continue
		}
		attrs := map[string]string{}
		for hasAttr {
			var k, v []byte
			k, v, hasAttr = z.TagAttr()
			if _, dup := attrs[string(k)]; !dup {
				attrs[string(k)] = string(v)
			}
		}
		line, col := cur.at(start)
		switch tag {
		case "img":
			if _, ok := attrs["alt"]; !ok {
				out = append(out, htmlIssue{line, col, `<img> has no alt text; describe the image, or write alt="" if it is decoration`})
			}
		default:
			href, ok := attrs["href"]
			if !ok {
				continue
			}
			if msg := linkProblem(strings.TrimSpace(href)); msg != "" {
				out = append(out, htmlIssue{line, col, fmt.Sprintf("<%s href=%q>: %s", tag, href, msg)})
			}
		}
	}
}

func linkProblem(href string) string {
	lower := strings.ToLower(href)
	switch {
	case href == "" || strings.HasPrefix(href, "{{") || strings.HasPrefix(href, "#"):
		return ""
	case strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "mailto:"),
		strings.HasPrefix(lower, "tel:"), strings.HasPrefix(lower, "sms:"):
		return ""
	case strings.HasPrefix(lower, "http://"):
		return "the link is not https"
	case strings.HasPrefix(href, "//"):
		return "a protocol-relative link; write https://"
	case strings.Contains(strings.SplitN(lower, "/", 2)[0], ":"):
		return "the link is not https"
	}
	return "a relative link goes nowhere in an email; write an absolute https:// address"
}
