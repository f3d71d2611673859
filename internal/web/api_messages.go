package web

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"sendops/internal/domain"
)

// messageQueryParams are the query parameters of the message search and its
// export (limit and cursor are the search's only).
var messageQueryParams = map[string]bool{
	"recipient": true, "message_id": true, "subject": true, "sender": true, "connection": true,
	"configuration_set": true, "template": true, "tag": true, "status": true, "from": true, "to": true,
}

// messageQueryFrom reads a message search from a query string. With strict
// (the API) an unknown parameter is refused: a misspelt filter would
// otherwise answer every message. Times are RFC 3339 or whole UTC days
// (YYYY-MM-DD); a day as "to" includes that day.
func messageQueryFrom(v url.Values, strict bool, extra ...string) (domain.MessageQuery, error) {
	if strict {
		for k := range v {
			if !messageQueryParams[k] && !slices.Contains(extra, k) {
				return domain.MessageQuery{}, domain.FieldError(k, "Unknown parameter %q.", k)
			}
		}
	}
	q := domain.MessageQuery{
		Recipient: v.Get("recipient"), MessageID: v.Get("message_id"), Subject: v.Get("subject"), Sender: v.Get("sender"),
		ConnectionID: v.Get("connection"), ConfigSet: v.Get("configuration_set"), Template: v.Get("template"),
	}
	for _, t := range v["tag"] {
		if strings.TrimSpace(t) != "" {
			q.Tags = append(q.Tags, t)
		}
	}
	q.Statuses = v["status"]
	var err error
	if q.From, err = searchTime("from", v.Get("from"), false); err != nil {
		return q, err
	}
	if q.To, err = searchTime("to", v.Get("to"), true); err != nil {
		return q, err
	}
	return q, nil
}

// searchTime reads a time of a search or a filter (the audit log's too):
// RFC 3339, or a UTC day (the day's end when endOfDay).
func searchTime(field, v string, endOfDay bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		if endOfDay {
			t = t.Add(24 * time.Hour)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, domain.FieldError(field, "%s must be an RFC 3339 time (2026-03-01T00:00:00Z) or a day (2026-03-01).", field)
}

// messageHitJSON is one row of the message search: one recipient of one
// message.
type messageHitJSON struct {
	MessageID       string          `json:"message_id"`
	Recipient       string          `json:"recipient"`
	RecipientDomain string          `json:"recipient_domain"`
	Status          string          `json:"status"`
	StatusAt        time.Time       `json:"status_at"`
	LastEventAt     time.Time       `json:"last_event_at"`
	SentAt          time.Time       `json:"sent_at"`
	Subject         string          `json:"subject"`
	Sender          string          `json:"sender"`
	ConnectionID    string          `json:"connection_id"`
	ConfigSet       string          `json:"configuration_set"`
	Template        string          `json:"template"`
	Tags            json.RawMessage `json:"tags"`
}

func toMessageHitJSON(h *domain.MessageHit) messageHitJSON {
	out := messageHitJSON{MessageID: h.MessageID, Recipient: h.Recipient, RecipientDomain: h.Domain, Status: h.Status, StatusAt: h.StatusAt,
		LastEventAt: h.LastEventAt, SentAt: h.SentAt, Subject: h.Subject, Sender: h.Sender, ConnectionID: h.ConnectionID,
		ConfigSet: h.ConfigSet, Template: h.Template, Tags: json.RawMessage("{}")}
	if h.Tags != "" && json.Valid([]byte(h.Tags)) {
		out.Tags = json.RawMessage(h.Tags)
	}
	return out
}

// messageSearchJSON is the answer of the message search.
type messageSearchJSON struct {
	Data       []messageHitJSON `json:"data"`
	NextCursor string           `json:"next_cursor"`
	// RecipientsRedacted: the key lacks recipients:read, addresses are "".
	RecipientsRedacted bool `json:"recipients_redacted"`
}

func (s *Server) apiMessagesSearch(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q, err := messageQueryFrom(r.URL.Query(), true, "limit", "cursor")
	if err != nil {
		return err
	}
	if q.Page, err = pageFrom(r); err != nil {
		return err
	}
	hits, next, err := s.Service.SearchMessages(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	out := messageSearchJSON{Data: make([]messageHitJSON, len(hits)), NextCursor: next, RecipientsRedacted: !c.actor.Can(domain.ActRecipientsRead)}
	for i := range hits {
		out.Data[i] = toMessageHitJSON(&hits[i])
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiMessagesExport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.exportMessages(w, r, c, true)
}

func (s *Server) apiBouncesExport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.exportFeedback(w, r, c, "Bounce", true)
}

func (s *Server) apiComplaintsExport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.exportFeedback(w, r, c, "Complaint", true)
}

// exportWriter streams an export as CSV or NDJSON. Nothing is written
// before the first row or the end, so that an error found before either
// is answered as an error; once started, the header row comes first and
// every page is flushed to the client.
type exportWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	format  string // "csv" or "ndjson"
	name    string // file name without extension
	header  []string
	csv     *csv.Writer
	json    *json.Encoder
	started bool
	rows    int
}

// exportFormat reads the format parameter: csv (the default) or ndjson.
func exportFormat(v url.Values) (string, error) {
	switch f := v.Get("format"); f {
	case "", "csv":
		return "csv", nil
	case "ndjson":
		return "ndjson", nil
	default:
		return "", domain.FieldError("format", "format must be csv or ndjson.")
	}
}

func newExportWriter(w http.ResponseWriter, format, name string, header []string) *exportWriter {
	return &exportWriter{w: w, rc: http.NewResponseController(w), format: format, name: name, header: header}
}

func (x *exportWriter) start() error {
	if x.started {
		return nil
	}
	x.started = true
	h := x.w.Header()
	h.Set("Cache-Control", "no-store")
	file := x.name + "-" + time.Now().UTC().Format("20060102")
	if x.format == "ndjson" {
		h.Set("Content-Type", "application/x-ndjson")
		h.Set("Content-Disposition", `attachment; filename="`+file+`.ndjson"`)
		x.json = json.NewEncoder(x.w)
	} else {
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+file+`.csv"`)
		x.csv = csv.NewWriter(x.w)
		if err := x.csv.Write(x.header); err != nil {
			return err
		}
	}
	x.w.WriteHeader(http.StatusOK)
	return x.flush()
}

// row writes one row: cells for CSV (neutralised against formulas here),
// v for NDJSON. Every thousand rows go to the client.
func (x *exportWriter) row(cells []string, v any) error {
	if err := x.start(); err != nil {
		return err
	}
	if x.format == "ndjson" {
		if err := x.json.Encode(v); err != nil {
			return err
		}
	} else {
		for i := range cells {
			cells[i] = csvSafe(cells[i])
		}
		if err := x.csv.Write(cells); err != nil {
			return err
		}
	}
	x.rows++
	if x.rows%1000 == 0 {
		return x.flush()
	}
	return nil
}

func (x *exportWriter) flush() error {
	if x.csv != nil {
		x.csv.Flush()
		if err := x.csv.Error(); err != nil {
			return err
		}
	}
	// A long export may take longer than the server's write timeout.
	x.rc.SetWriteDeadline(time.Now().Add(time.Minute))
	return x.rc.Flush()
}

// finish ends an export after the service returned err: an error before
// anything was written is the handler's to answer; after, the response is
// aborted so that the client sees a failed download, not a short file.
func (s *Server) finishExport(r *http.Request, x *exportWriter, err error) error {
	if err != nil && !x.started {
		return err
	}
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "export failed", "file", x.name, "rows", x.rows, "err", err)
		panic(http.ErrAbortHandler)
	}
	if err := x.start(); err != nil {
		return err
	}
	return x.flush()
}

var messageExportHeader = []string{"sent_at", "message_id", "recipient", "recipient_domain", "status", "status_at", "last_event_at",
	"subject", "sender", "connection_id", "configuration_set", "template", "tags"}

// exportMessages streams every row of a message search (the API's and the
// page's download).
func (s *Server) exportMessages(w http.ResponseWriter, r *http.Request, c *reqCtx, strict bool) error {
	v := r.URL.Query()
	format, err := exportFormat(v)
	if err != nil {
		return err
	}
	q, err := messageQueryFrom(v, strict, "format")
	if err != nil {
		return err
	}
	x := newExportWriter(w, format, "sendops-messages", messageExportHeader)
	err = s.Service.ExportMessages(r.Context(), c.actor, q, func(h *domain.MessageHit) error {
		if format == "ndjson" {
			return x.row(nil, toMessageHitJSON(h))
		}
		return x.row([]string{exportTime(h.SentAt), h.MessageID, h.Recipient, h.Domain, h.Status, exportTime(h.StatusAt), exportTime(h.LastEventAt),
			h.Subject, h.Sender, h.ConnectionID, h.ConfigSet, h.Template, h.Tags}, nil)
	})
	return s.finishExport(r, x, err)
}

// feedbackJSON is one bounce or complaint of an NDJSON export.
type feedbackJSON struct {
	Type          string    `json:"type"`
	Time          time.Time `json:"time"`
	MessageID     string    `json:"message_id"`
	Recipient     string    `json:"recipient"`
	BounceType    string    `json:"bounce_type,omitempty"`
	BounceSubtype string    `json:"bounce_subtype,omitempty"`
	StatusCode    string    `json:"status_code,omitempty"`
	Diagnostic    string    `json:"diagnostic_code,omitempty"`
	ReportingMTA  string    `json:"reporting_mta,omitempty"`
	FeedbackType  string    `json:"complaint_feedback_type,omitempty"`
	Subtype       string    `json:"complaint_subtype,omitempty"`
	UserAgent     string    `json:"user_agent,omitempty"`
	SentAt        time.Time `json:"sent_at"`
	Subject       string    `json:"subject"`
	Sender        string    `json:"sender"`
	ConnectionID  string    `json:"connection_id"`
	ConfigSet     string    `json:"configuration_set"`
	Template      string    `json:"template"`
}

var (
	bounceExportHeader = []string{"time", "message_id", "recipient", "bounce_type", "bounce_subtype", "status_code", "diagnostic_code",
		"reporting_mta", "sent_at", "subject", "sender", "connection_id", "configuration_set", "template"}
	complaintExportHeader = []string{"time", "message_id", "recipient", "complaint_feedback_type", "complaint_subtype", "user_agent",
		"sent_at", "subject", "sender", "connection_id", "configuration_set", "template"}
)

// exportFeedback streams the bounces or the complaints of the messages sent
// in a range (from, to; the last 30 days by default).
func (s *Server) exportFeedback(w http.ResponseWriter, r *http.Request, c *reqCtx, eventType string, strict bool) error {
	v := r.URL.Query()
	if strict {
		for k := range v {
			if k != "format" && k != "from" && k != "to" {
				return domain.FieldError(k, "Unknown parameter %q.", k)
			}
		}
	}
	format, err := exportFormat(v)
	if err != nil {
		return err
	}
	from, err := searchTime("from", v.Get("from"), false)
	if err != nil {
		return err
	}
	to, err := searchTime("to", v.Get("to"), true)
	if err != nil {
		return err
	}
	name, header := "sendops-bounces", bounceExportHeader
	if eventType == "Complaint" {
		name, header = "sendops-complaints", complaintExportHeader
	}
	x := newExportWriter(w, format, name, header)
	err = s.Service.ExportFeedback(r.Context(), c.actor, eventType, from, to, func(e *domain.FeedbackEvent) error {
		if format == "ndjson" {
			j := feedbackJSON{Type: e.Type, Time: e.At, MessageID: e.MessageID, Recipient: e.Recipient, SentAt: e.SentAt, Subject: e.Subject,
				Sender: e.Sender, ConnectionID: e.ConnectionID, ConfigSet: e.ConfigSet, Template: e.Template}
			if eventType == "Bounce" {
				j.BounceType, j.BounceSubtype, j.StatusCode, j.Diagnostic, j.ReportingMTA = e.BounceType, e.BounceSubtype, e.StatusCode, e.Diagnostic, e.ReportingMTA
			} else {
				j.FeedbackType, j.Subtype, j.UserAgent = e.ComplaintType, e.BounceSubtype, e.UserAgent
			}
			return x.row(nil, j)
		}
		if eventType == "Bounce" {
			return x.row([]string{exportTime(e.At), e.MessageID, e.Recipient, e.BounceType, e.BounceSubtype, e.StatusCode, e.Diagnostic,
				e.ReportingMTA, exportTime(e.SentAt), e.Subject, e.Sender, e.ConnectionID, e.ConfigSet, e.Template}, nil)
		}
		return x.row([]string{exportTime(e.At), e.MessageID, e.Recipient, e.ComplaintType, e.BounceSubtype, e.UserAgent,
			exportTime(e.SentAt), e.Subject, e.Sender, e.ConnectionID, e.ConfigSet, e.Template}, nil)
	})
	return s.finishExport(r, x, err)
}

// exportTime writes a time of an export: RFC 3339 with milliseconds, UTC.
func exportTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
