package sesevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	fastjson "github.com/goccy/go-json"
)

// Parse reads one SES event in either format.
//
// It refuses, with an error wrapping ErrInvalid, only what can never be
// stored: input that is not a JSON object, no eventType or notificationType,
// no mail object, no mail.messageId, or an unreadable mail.timestamp (the
// time of last resort). Everything else is accepted: unknown event types
// (Known false), unknown fields, fields of an unexpected JSON type (left
// zero), and unreadable timestamps inside the type's own object (Time falls
// back to mail.timestamp). The whole input is kept in Raw.
//
// Parse decodes the payload once, into one struct that has every
// type-specific object as an optional field.
func Parse(b []byte) (*Event, error) {
	return parse(b, true)
}

// decode fills v from b with a fast decoder (goccy/go-json, a few times
// faster than encoding/json on these payloads) when b decodes cleanly.
// Otherwise reset empties v and encoding/json decodes it again: it keeps
// what it can around a value of the wrong type, and its errors are the ones
// shown, so odd input is handled exactly as before.
//
// The fast decoder only ever sees input that encoding/json calls valid, and
// a panic inside it (it has panicked on malformed input the fuzzer made) is
// caught: the standard decoder then decides.
func decode(b []byte, v any, reset func()) error {
	if json.Valid(b) && fastDecode(b, v) {
		return nil
	}
	reset()
	return json.Unmarshal(b, v)
}

func fastDecode(b []byte, v any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return fastjson.Unmarshal(b, v) == nil
}

// parse is Parse; copyRaw false lets Raw alias b when b is already private.
func parse(b []byte, copyRaw bool) (*Event, error) {
	if !isObject(b) {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	var w wireEvent
	var typeErr *json.UnmarshalTypeError
	if err := decode(b, &w, func() { w = wireEvent{} }); err != nil {
		// A value of the wrong JSON type leaves its field zero and the rest
		// decoded; the required fields are checked below. Anything else
		// (a syntax error) is fatal.
		if !errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}

	e := &Event{Format: FormatEvent, Type: w.EventType}
	if strings.TrimSpace(e.Type) == "" {
		e.Format, e.Type = FormatNotification, w.NotificationType
	}
	if strings.TrimSpace(e.Type) == "" {
		return nil, fmt.Errorf("%w: no eventType or notificationType", ErrInvalid)
	}
	e.Type, e.Known = canonicalType(e.Type)

	m := w.Mail
	if m == nil || typeErr != nil && typeErr.Field == "mail" {
		return nil, fmt.Errorf("%w: no mail object", ErrInvalid)
	}
	id := strings.TrimSpace(m.MessageID)
	if id == "" {
		return nil, fmt.Errorf("%w: no mail.messageId", ErrInvalid)
	}
	mailTime, ok := parseTime(m.Timestamp)
	if !ok {
		return nil, fmt.Errorf("%w: unreadable mail.timestamp %.64q", ErrInvalid, m.Timestamp)
	}
	e.Mail = Mail{
		MessageID:        id,
		Timestamp:        mailTime,
		Source:           m.Source,
		SourceArn:        m.SourceArn,
		SendingAccountID: m.SendingAccountID,
		Destination:      m.Destination,
		Subject:          m.CommonHeaders.Subject,
		From:             m.CommonHeaders.From,
		Tags:             m.Tags,
		HeadersTruncated: m.HeadersTruncated,
	}
	if cs := m.Tags["ses:configuration-set"]; len(cs) > 0 {
		e.Mail.ConfigurationSet = cs[0]
	}

	var rs recipientSet
	own := "" // the type's own timestamp, when it has one
	useDestination := false
	switch e.Type {
	case TypeBounce:
		if o := w.Bounce; o != nil {
			own = o.Timestamp
			e.FeedbackID = o.FeedbackID
			bo := &Bounce{
				Type:         o.BounceType,
				SubType:      o.BounceSubType,
				ReportingMTA: o.ReportingMTA,
				RemoteMtaIP:  o.RemoteMtaIP,
				Recipients:   make([]BouncedRecipient, len(o.BouncedRecipients)),
			}
			rs.grow(len(o.BouncedRecipients))
			for i, r := range o.BouncedRecipients {
				bo.Recipients[i] = BouncedRecipient(r)
				rs.add(r.Email)
			}
			e.Bounce = bo
		}
	case TypeComplaint:
		if o := w.Complaint; o != nil {
			own = o.Timestamp
			e.FeedbackID = o.FeedbackID
			arrival, _ := parseTime(o.ArrivalDate)
			e.Complaint = &Complaint{
				FeedbackType: o.ComplaintFeedbackType,
				SubType:      o.ComplaintSubType,
				UserAgent:    o.UserAgent,
				ArrivalDate:  arrival,
			}
			rs.grow(len(o.ComplainedRecipients))
			for _, r := range o.ComplainedRecipients {
				rs.add(r.EmailAddress)
			}
		}
	case TypeDelivery:
		if o := w.Delivery; o != nil {
			own = o.Timestamp
			e.Delivery = &Delivery{
				ProcessingTimeMillis: o.ProcessingTimeMillis,
				SMTPResponse:         o.SMTPResponse,
				ReportingMTA:         o.ReportingMTA,
				RemoteMtaIP:          o.RemoteMtaIP,
			}
			rs.grow(len(o.Recipients))
			for _, r := range o.Recipients {
				rs.add(r)
			}
		}
	case TypeDeliveryDelay:
		if o := w.DeliveryDelay; o != nil {
			own = o.Timestamp
			expires, _ := parseTime(o.ExpirationTime)
			d := &Delay{
				DelayType:      o.DelayType,
				ReportingMTA:   o.ReportingMTA,
				ExpirationTime: expires,
				Recipients:     make([]DelayedRecipient, len(o.DelayedRecipients)),
			}
			rs.grow(len(o.DelayedRecipients))
			for i, r := range o.DelayedRecipients {
				d.Recipients[i] = DelayedRecipient(r)
				rs.add(r.Email)
			}
			e.Delay = d
		}
	case TypeOpen:
		useDestination = true
		if o := w.Open; o != nil {
			own = o.Timestamp
			e.Open = &Open{IPAddress: o.IPAddress, UserAgent: o.UserAgent}
		}
	case TypeClick:
		useDestination = true
		if o := w.Click; o != nil {
			own = o.Timestamp
			e.Click = &Click{IPAddress: o.IPAddress, UserAgent: o.UserAgent, Link: o.Link, LinkTags: o.LinkTags}
		}
	case TypeSubscription:
		useDestination = true
		if o := w.Subscription; o != nil {
			own = o.Timestamp
			e.Subscription = &Subscription{
				ContactList:         o.ContactList,
				Source:              o.Source,
				NewTopicPreferences: nonNull(o.NewTopicPreferences),
				OldTopicPreferences: nonNull(o.OldTopicPreferences),
			}
		}
	case TypeReject:
		useDestination = true
		if o := w.Reject; o != nil {
			e.Reject = &Reject{Reason: o.Reason}
		}
	case TypeRenderingFailure:
		useDestination = true
		if o := w.Failure; o != nil {
			e.Failure = &RenderingFailure{TemplateName: o.TemplateName, ErrorMessage: o.ErrorMessage}
			e.Mail.Template = o.TemplateName
		}
	default: // Send and unknown types
		useDestination = true
	}
	if useDestination {
		rs.grow(len(m.Destination))
		for _, r := range m.Destination {
			rs.add(r)
		}
	}
	e.Recipients = rs.list

	e.Time = mailTime
	if t, ok := parseTime(own); ok {
		e.Time = t
	}

	if copyRaw {
		e.Raw = append(json.RawMessage(nil), b...)
	} else {
		e.Raw = b
	}
	return e, nil
}

// canonicalType maps an eventType or notificationType to its canonical name;
// an unknown one is returned verbatim with known false.
func canonicalType(t string) (canonical string, known bool) {
	switch t {
	case TypeSend, TypeDelivery, TypeBounce, TypeComplaint, TypeReject,
		TypeDeliveryDelay, TypeOpen, TypeClick, TypeSubscription, TypeRenderingFailure:
		return t, true
	case "Rendering Failure": // as SES spells it in eventType
		return TypeRenderingFailure, true
	}
	return t, false
}

// isObject reports whether b's first non-space byte opens a JSON object.
func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}

// nonNull returns nil for an absent or null JSON value.
func nonNull(r json.RawMessage) json.RawMessage {
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return r
}

// timeLayouts are tried after RFC 3339. SES writes RFC 3339 with
// milliseconds and "Z", but its documentation also shows
// "2018-10-08T14:05:45 +0000". A time without a zone is taken as UTC.
var timeLayouts = []string{
	"2006-01-02T15:04:05 -0700",
	"2006-01-02T15:04:05-0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05-0700",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05 Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
}

// parseTime reads an SES timestamp, returning it in UTC.
func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	s = strings.TrimSpace(s)
	if len(s) < len("2006-01-02T15:04:05") {
		return time.Time{}, false
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// recipientSet collects normalised addresses in order, without duplicates.
type recipientSet struct {
	list []string
	seen map[string]struct{} // built once the list outgrows a linear scan
}

func (r *recipientSet) grow(n int) {
	if r.list == nil && n > 0 {
		r.list = make([]string, 0, n)
	}
}

func (r *recipientSet) add(s string) {
	a := normalizeAddress(s)
	if a == "" {
		return
	}
	if r.seen != nil {
		if _, dup := r.seen[a]; dup {
			return
		}
		r.seen[a] = struct{}{}
		r.list = append(r.list, a)
		return
	}
	for _, x := range r.list {
		if x == a {
			return
		}
	}
	r.list = append(r.list, a)
	if len(r.list) == 16 {
		r.seen = make(map[string]struct{}, 32)
		for _, x := range r.list {
			r.seen[x] = struct{}{}
		}
	}
}

// Address returns the bare, lower-cased address of "Name <a@b>" or "a@b":
// the one form addresses take in SendOps (recipients, senders, the search
// index).
func Address(s string) string { return normalizeAddress(s) }

// Domain returns the domain of an address ("" when it has none).
func Domain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// normalizeAddress keeps the address of "Name <a@b>" and lower-cases it.
func normalizeAddress(s string) string {
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// The wire types mirror the JSON; decoding into them is the only pass over
// the payload. Fields SES sends that the package does not expose (headers,
// commonHeaders.to, sourceIp, …) are skipped by the decoder and stay in Raw.
type wireEvent struct {
	EventType        string            `json:"eventType"`
	NotificationType string            `json:"notificationType"`
	Mail             *wireMail         `json:"mail"`
	Bounce           *wireBounce       `json:"bounce"`
	Complaint        *wireComplaint    `json:"complaint"`
	Delivery         *wireDelivery     `json:"delivery"`
	DeliveryDelay    *wireDelay        `json:"deliveryDelay"`
	Open             *wireOpen         `json:"open"`
	Click            *wireClick        `json:"click"`
	Reject           *wireReject       `json:"reject"`
	Failure          *wireFailure      `json:"failure"`
	Subscription     *wireSubscription `json:"subscription"`
}

type wireMail struct {
	Timestamp        string   `json:"timestamp"`
	MessageID        string   `json:"messageId"`
	Source           string   `json:"source"`
	SourceArn        string   `json:"sourceArn"`
	SendingAccountID string   `json:"sendingAccountId"`
	Destination      []string `json:"destination"`
	HeadersTruncated bool     `json:"headersTruncated"`
	CommonHeaders    struct {
		From    []string `json:"from"`
		Subject string   `json:"subject"`
	} `json:"commonHeaders"`
	Tags map[string][]string `json:"tags"`
}

// wireBouncedRecipient has BouncedRecipient's field order so that one
// converts to the other.
type wireBouncedRecipient struct {
	Email          string `json:"emailAddress"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

type wireBounce struct {
	BounceType        string                 `json:"bounceType"`
	BounceSubType     string                 `json:"bounceSubType"`
	BouncedRecipients []wireBouncedRecipient `json:"bouncedRecipients"`
	Timestamp         string                 `json:"timestamp"`
	FeedbackID        string                 `json:"feedbackId"`
	ReportingMTA      string                 `json:"reportingMTA"`
	RemoteMtaIP       string                 `json:"remoteMtaIp"`
}

type wireComplaint struct {
	ComplainedRecipients []struct {
		EmailAddress string `json:"emailAddress"`
	} `json:"complainedRecipients"`
	Timestamp             string `json:"timestamp"`
	FeedbackID            string `json:"feedbackId"`
	UserAgent             string `json:"userAgent"`
	ComplaintFeedbackType string `json:"complaintFeedbackType"`
	ComplaintSubType      string `json:"complaintSubType"` // null stays ""
	ArrivalDate           string `json:"arrivalDate"`
}

type wireDelivery struct {
	Timestamp            string   `json:"timestamp"`
	ProcessingTimeMillis int64    `json:"processingTimeMillis"`
	Recipients           []string `json:"recipients"`
	SMTPResponse         string   `json:"smtpResponse"`
	ReportingMTA         string   `json:"reportingMTA"`
	RemoteMtaIP          string   `json:"remoteMtaIp"`
}

// wireDelayedRecipient has DelayedRecipient's field order.
type wireDelayedRecipient struct {
	Email          string `json:"emailAddress"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

type wireDelay struct {
	Timestamp         string                 `json:"timestamp"`
	DelayType         string                 `json:"delayType"`
	ExpirationTime    string                 `json:"expirationTime"`
	ReportingMTA      string                 `json:"reportingMTA"`
	DelayedRecipients []wireDelayedRecipient `json:"delayedRecipients"`
}

type wireOpen struct {
	Timestamp string `json:"timestamp"`
	IPAddress string `json:"ipAddress"`
	UserAgent string `json:"userAgent"`
}

type wireClick struct {
	Timestamp string              `json:"timestamp"`
	IPAddress string              `json:"ipAddress"`
	UserAgent string              `json:"userAgent"`
	Link      string              `json:"link"`
	LinkTags  map[string][]string `json:"linkTags"`
}

type wireReject struct {
	Reason string `json:"reason"`
}

type wireFailure struct {
	TemplateName string `json:"templateName"`
	ErrorMessage string `json:"errorMessage"`
}

type wireSubscription struct {
	ContactList         string          `json:"contactList"`
	Timestamp           string          `json:"timestamp"`
	Source              string          `json:"source"`
	NewTopicPreferences json.RawMessage `json:"newTopicPreferences"`
	OldTopicPreferences json.RawMessage `json:"oldTopicPreferences"`
}
