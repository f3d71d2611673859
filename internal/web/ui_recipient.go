package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// rangeFrom reads the from and to parameters of a range: RFC 3339 times,
// or dates (from: the day's start; to: the day is included). Empty ones
// are nil. Errors: EInvalid naming the parameter.
func rangeFrom(q url.Values) (from, to *time.Time, err error) {
	read := func(name string, endOfDay bool) (*time.Time, error) {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			return nil, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			t = t.UTC()
			return &t, nil
		}
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return nil, domain.FieldError(name, "%s must be a date (2006-01-02) or an RFC 3339 time (2006-01-02T15:04:05Z).", name)
		}
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return &t, nil
	}
	if from, err = read("from", false); err != nil {
		return nil, nil, err
	}
	to, err = read("to", true)
	return from, to, err
}

// recipientMessageView is a row of the recipient page.
type recipientMessageView struct {
	service.RecipientMessage
	Href string
}

// recipientPage is every message to one address in a range, newest first,
// across the organisation's connections, and the address's state on each
// connection's SES suppression list, with a button to take it off.
func (s *Server) recipientPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	addr := r.PathValue("address")
	q := r.URL.Query()
	d := map[string]any{"Section": "messages", "From": q.Get("from"), "To": q.Get("to"), "Paged": q.Get("cursor") != ""}
	status := http.StatusOK
	from, to, rangeErr := rangeFrom(q)
	var page *service.RecipientPage
	var err error
	if rangeErr == nil {
		page, err = s.Service.RecipientMessages(r.Context(), c.actor, service.RecipientQuery{Address: addr, From: from, To: to,
			Page: domain.Page{Limit: 50, Cursor: q.Get("cursor")}})
		if code := domain.ErrorCode(err); code == domain.EInvalid || code == domain.ERetentionExceeded {
			rangeErr, err = err, nil
		}
	}
	if rangeErr != nil {
		// The range is wrong: the page says so above its form, and shows
		// the default range.
		code := domain.ErrorCode(rangeErr)
		d["RangeError"], status = domain.ErrorMessage(rangeErr), httpStatus(code)
		page, err = s.Service.RecipientMessages(r.Context(), c.actor, service.RecipientQuery{Address: addr, Page: domain.Page{Limit: 50}})
	}
	if err != nil {
		return err
	}
	rows := make([]recipientMessageView, len(page.Messages))
	for i, m := range page.Messages {
		rows[i] = recipientMessageView{RecipientMessage: m, Href: messagePath(m.MessageID)}
	}
	d["Page"], d["Messages"], d["Address"] = page, rows, page.Address
	if q.Get("from") == "" || rangeErr != nil {
		d["From"] = page.From.Format("2006-01-02")
	}
	if q.Get("to") == "" || rangeErr != nil {
		d["To"] = page.To.Add(-time.Nanosecond).Format("2006-01-02")
	}
	keep := url.Values{}
	for _, k := range []string{"from", "to"} {
		if v := q.Get(k); v != "" && rangeErr == nil {
			keep.Set(k, v)
		}
	}
	d["FirstQuery"] = template.URL(keep.Encode())
	if page.Next != "" && rangeErr == nil {
		keep.Set("cursor", page.Next)
		d["NextQuery"] = template.URL(keep.Encode())
	}
	d["Title"], d["Path"] = page.Address, recipientPath(page.Address)
	if c.actor.Can(domain.ActSuppressionView) {
		sup, err := s.Service.RecipientSuppressions(r.Context(), c.actor, page.Address)
		if err != nil {
			return err
		}
		d["Suppression"] = sup
	}
	return s.render(w, r, c, status, "recipient", d)
}

// localNext is where a form asks to go back to after it is done: a path
// of this site's recipient pages, or "".
func localNext(next string) string {
	if strings.HasPrefix(next, "/recipients/") && !strings.ContainsAny(next, "\\\r\n") && !strings.HasPrefix(next, "//") {
		return next
	}
	return ""
}
