package web

import (
	"html/template"
	"net/http"
	"net/url"

	"sendops/internal/domain"
)

// messageRow is a row of the messages page.
type messageRow struct {
	domain.MessageHit
	StatusLabel string
	Href        string // the message page
}

// statusLabels names the stored recipient statuses for people.
var statusLabels = map[string]string{
	domain.StatusSent: "Sent", domain.StatusDelayed: "Delayed", domain.StatusBouncedSoft: "Bounced (soft)",
	domain.StatusDelivered: "Delivered", domain.StatusOpened: "Opened", domain.StatusClicked: "Clicked",
	domain.StatusBouncedHard: "Bounced (hard)", domain.StatusFailed: "Rendering failed", domain.StatusRejected: "Rejected",
	domain.StatusComplained: "Complained",
}

// messagesPage is the message search: the form, a page of results, the
// next page and the downloads of the same search. Members see addresses
// (every role may read recipients in the UI).
func (s *Server) messagesPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	v := r.URL.Query()
	q, err := messageQueryFrom(v, false)
	q.Cursor = v.Get("cursor")
	var hits []domain.MessageHit
	next := ""
	if err == nil {
		hits, next, err = s.Service.SearchMessages(r.Context(), c.actor, q)
	}
	status := http.StatusOK
	if err != nil {
		switch domain.ErrorCode(err) {
		case domain.EInvalid, domain.ERetentionExceeded, domain.EForbidden:
			status = httpStatus(domain.ErrorCode(err))
		default:
			return err
		}
	}
	conns, cerr := s.Service.Connections(r.Context(), c.actor)
	if cerr != nil {
		return cerr
	}
	rows := make([]messageRow, len(hits))
	for i := range hits {
		rows[i] = messageRow{MessageHit: hits[i], StatusLabel: statusLabels[hits[i].Status], Href: "/messages/" + url.PathEscape(hits[i].MessageID)}
		if rows[i].StatusLabel == "" {
			rows[i].StatusLabel = hits[i].Status
		}
	}
	// The search without its cursor: for the next page and the downloads.
	keep := url.Values{}
	filter := map[string]string{}
	for k := range messageQueryParams {
		filter[k] = v.Get(k)
		for _, x := range v[k] {
			if x != "" {
				keep.Add(k, x)
			}
		}
	}
	tags := v["tag"]
	if len(tags) == 0 {
		tags = []string{""}
	}
	rangeOnly := url.Values{}
	for _, k := range []string{"from", "to"} {
		if x := v.Get(k); x != "" {
			rangeOnly.Set(k, x)
		}
	}
	d := map[string]any{"Title": "Messages", "Section": "messages", "Rows": rows, "Next": next, "Paged": q.Cursor != "",
		"Filter": filter, "Tags": tags, "Statuses": domain.SearchStatuses, "Connections": conns,
		"Query": template.URL(keep.Encode()), "Range": template.URL(rangeOnly.Encode())}
	if err != nil {
		d["Error"] = domain.ErrorMessage(err)
		if de, ok := err.(*domain.Error); ok {
			d["ErrorField"] = de.Field
		}
	}
	return s.render(w, r, c, status, "messages", d)
}

func (s *Server) messagesExport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.exportMessages(w, r, c, false)
}

func (s *Server) bouncesExport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.exportFeedback(w, r, c, "Bounce", false)
}

func (s *Server) complaintsExport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.exportFeedback(w, r, c, "Complaint", false)
}
