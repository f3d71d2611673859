package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"sendops/internal/domain"
	"sendops/internal/insight"
	"sendops/internal/service"
)

// messageEventView is an event of the message page: the service's event
// and its raw JSON indented for reading.
type messageEventView struct {
	service.MessageEvent
	RawJSON string
}

// messageRecipientView is a recipient of the message page with the link to
// its recipient page.
type messageRecipientView struct {
	domain.MessageRecipient
	Href     string
	Provider insight.Provider
}

// messagePage is one SES message: its recipients with their statuses and
// every event in time order, explained, with the raw JSON of each.
func (s *Server) messagePage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	m, err := s.Service.MessageDetail(r.Context(), c.actor, r.PathValue("message_id"))
	if err != nil {
		return err
	}
	events := make([]messageEventView, len(m.Events))
	for i, e := range m.Events {
		events[i] = messageEventView{MessageEvent: e, RawJSON: indentJSON(e.Raw)}
	}
	rcpts := make([]messageRecipientView, len(m.Recipients))
	for i, rc := range m.Recipients {
		rcpts[i] = messageRecipientView{MessageRecipient: rc, Provider: insight.ProviderOf(rc.Domain)}
		if rc.Address != "" {
			rcpts[i].Href = recipientPath(rc.Address)
		}
	}
	title := m.Subject
	if title == "" {
		title = "Message " + m.MessageID
	}
	d := map[string]any{"Title": title, "Section": "messages", "M": m, "Events": events, "Recipients": rcpts, "Tags": messageTags(m.Tags)}
	// The connection's name, when it is still there.
	if conn, err := s.Service.Connection(r.Context(), c.actor, m.ConnectionID); err == nil {
		d["Conn"] = conn
	}
	return s.page(w, r, c, "message_detail", d)
}

// indentJSON indents a raw event for reading ("" for none).
func indentJSON(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// tagView is one message tag with its values.
type tagView struct {
	Name   string
	Values string
}

// messageTags lists a message's tags (a JSON object of tag → values) by
// name.
func messageTags(tags string) []tagView {
	if tags == "" {
		return nil
	}
	var m map[string][]string
	if json.Unmarshal([]byte(tags), &m) != nil {
		return nil
	}
	out := make([]tagView, 0, len(m))
	for k, v := range m {
		out = append(out, tagView{Name: k, Values: strings.Join(v, ", ")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// recipientPath is the path of an address's recipient page.
func recipientPath(addr string) string { return "/recipients/" + url.PathEscape(addr) }

// messagePath is the path of a message's page.
func messagePath(id string) string { return "/messages/" + url.PathEscape(id) }
