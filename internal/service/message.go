package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/insight"
	"sendops/internal/sesevent"
	"sendops/internal/store"
)

// MessageDetail is a message with its events as the message page and the
// API show them: each SES event once, in time order, explained.
type MessageDetail struct {
	*domain.Message
	Events []MessageEvent
	// Redacted is set when the actor may not read recipients: addresses,
	// diagnostic codes, links and raw events are blank.
	Redacted bool
}

// MessageEvent is one SES event of a message: the rows stored for each of
// its recipients, together, with a plain summary.
type MessageEvent struct {
	Type       string
	At         time.Time
	Recipients []EventRecipient

	// Of the first recipient, as stored (see ingest's rows): the bounce
	// type and sub-type (the complaint's sub-type, the delay's type), the
	// diagnostic code (a delivery's SMTP answer, a reject's reason, a
	// rendering failure's error) and the reporting MTA.
	BounceType, BounceSubtype, Diagnostic, ReportingMTA string
	ComplaintType, Link, UserAgent, IP                  string

	// Advice explains a bounce (of its first recipient).
	Advice *insight.Advice
	// DelayType and Expiration are a delivery delay's: why, and until when
	// SES keeps trying (from the raw event; nil when it does not say).
	DelayType  string
	Expiration *time.Time
	// Template is a rendering failure's template.
	Template string

	// Summary says in one sentence what happened; Reason explains the
	// summary's code or type in plain words ("" when there is nothing to
	// add).
	Summary, Reason string

	// Raw is the SES event as received (JSON), nil when redacted or not
	// stored.
	Raw json.RawMessage
}

// EventRecipient is one recipient of an event, with what the event says of
// it.
type EventRecipient struct {
	Address    string // "" when redacted
	Diagnostic string // "" when redacted
	StatusCode string // the SMTP enhanced status code in Diagnostic
	Advice     *insight.Advice
}

// MessageDetail returns a message with its recipients and its events, each
// SES event once, in time order, explained. Without recipients:read the
// addresses, diagnostic codes, links and raw events are blanked (the
// explanations, which name no address, stay). Members, or keys with read.
// Errors: EForbidden, ENotFound.
func (s *Service) MessageDetail(ctx context.Context, a *domain.Actor, messageID string) (*MessageDetail, error) {
	if err := a.Require(domain.ActMessagesView); err != nil {
		return nil, err
	}
	// Read whole, explain, then redact.
	var m *domain.Message
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		m, err = store.Message(ctx, tx, a.OrgID, messageID)
		return err
	})
	if err != nil {
		return nil, err
	}
	d := &MessageDetail{Message: m, Events: groupEvents(m.Events), Redacted: !a.Can(domain.ActRecipientsRead)}
	m.Events = nil
	if d.Redacted {
		for i := range m.Recipients {
			m.Recipients[i].Address = ""
		}
		for i := range d.Events {
			e := &d.Events[i]
			e.Diagnostic, e.Link, e.Raw = "", "", nil
			for j := range e.Recipients {
				e.Recipients[j].Address, e.Recipients[j].Diagnostic = "", ""
			}
		}
	}
	return d, nil
}

// groupEvents turns the stored rows (one per event and recipient, each
// event's row with the raw JSON first) into events.
func groupEvents(rows []domain.StoredEvent) []MessageEvent {
	var out []MessageEvent
	for _, r := range rows {
		n := len(out)
		if r.Raw == nil && n > 0 && out[n-1].Type == r.Type && out[n-1].At.Equal(r.At) {
			out[n-1].Recipients = append(out[n-1].Recipients, eventRecipient(r))
			continue
		}
		e := MessageEvent{Type: r.Type, At: r.At, BounceType: r.BounceType, BounceSubtype: r.BounceSubtype, Diagnostic: r.Diagnostic,
			ReportingMTA: r.ReportingMTA, ComplaintType: r.ComplaintType, Link: r.Link, UserAgent: r.UserAgent, IP: r.IP}
		if r.Recipient != "" {
			e.Recipients = []EventRecipient{eventRecipient(r)}
		}
		if len(r.Raw) > 0 {
			e.Raw = r.Raw
		}
		out = append(out, e)
	}
	for i := range out {
		explainEvent(&out[i])
	}
	return out
}

func eventRecipient(r domain.StoredEvent) EventRecipient {
	er := EventRecipient{Address: r.Recipient, Diagnostic: r.Diagnostic, StatusCode: insight.StatusCode(r.Diagnostic)}
	if r.Type == sesevent.TypeBounce {
		adv := insight.ExplainBounce(r.BounceType, r.BounceSubtype, r.Diagnostic)
		er.Advice = &adv
	}
	return er
}

// explainEvent fills an event's summary from what was stored and, for what
// is not stored (a delay's expiration, a rendering failure's template), its
// raw JSON.
func explainEvent(e *MessageEvent) {
	var parsed *sesevent.Event
	if e.Raw != nil && (e.Type == sesevent.TypeDeliveryDelay || e.Type == sesevent.TypeRenderingFailure) {
		parsed, _ = sesevent.Parse(e.Raw)
	}
	n := len(e.Recipients)
	switch e.Type {
	case sesevent.TypeSend:
		e.Summary = "SES accepted the message for sending" + toRecipients(n) + "."
	case sesevent.TypeDelivery:
		e.Summary = "Delivered: the recipient's mail server accepted the message."
		if e.ReportingMTA != "" {
			e.Summary = "Delivered: the recipient's mail server accepted the message from " + e.ReportingMTA + "."
		}
	case sesevent.TypeBounce:
		adv := insight.ExplainBounce(e.BounceType, e.BounceSubtype, e.Diagnostic)
		e.Advice = &adv
		kind := "Bounce"
		switch e.BounceType {
		case "Permanent":
			kind = "Hard bounce"
		case "Transient":
			kind = "Soft bounce"
		}
		detail := strings.TrimSpace(e.BounceType + ", " + e.BounceSubtype)
		detail = strings.Trim(detail, ", ")
		e.Summary = kind
		if detail != "" {
			e.Summary += " (" + detail + ")"
		}
		if adv.Code != "" {
			e.Summary += ", " + adv.Code
		}
		e.Summary += ": " + adv.Title + "."
		e.Reason = adv.Explanation
	case sesevent.TypeComplaint:
		ft := e.ComplaintType
		if ft == "" {
			e.Summary = "Complaint: the recipient marked the message as spam."
		} else {
			e.Summary = "Complaint, feedback type " + ft + "."
		}
		e.Reason = complaintReasons[ft]
		if e.Reason == "" {
			e.Reason = "The provider's feedback report gives the type " + ft + "."
		}
		if e.BounceSubtype == "OnAccountSuppressionList" {
			e.Reason = "SES did not send the message: the address is on the account's suppression list because of an earlier complaint."
		}
	case sesevent.TypeDeliveryDelay:
		e.DelayType = e.BounceSubtype
		if parsed != nil && parsed.Delay != nil {
			if e.DelayType == "" {
				e.DelayType = parsed.Delay.DelayType
			}
			if t := parsed.Delay.ExpirationTime; !t.IsZero() {
				t = t.UTC()
				e.Expiration = &t
			}
		}
		e.Summary = "Delivery delayed"
		if e.DelayType != "" {
			e.Summary += " (" + e.DelayType + ")"
		}
		if e.Expiration != nil {
			e.Summary += fmt.Sprintf(": SES keeps trying until %s.", e.Expiration.Format("2006-01-02 15:04 UTC"))
		} else {
			e.Summary += ": SES keeps trying."
		}
		e.Reason = delayReasons[e.DelayType]
		if e.Reason == "" {
			e.Reason = delayReasons["Undetermined"]
		}
	case sesevent.TypeOpen:
		e.Summary = "Opened: the message's tracking image was loaded."
		if e.UserAgent != "" {
			e.Summary = "Opened in " + e.UserAgent + "."
		}
		e.Reason = "Mail clients and privacy proxies (Apple Mail Privacy Protection, Gmail's image proxy) may load images without a person reading the message."
	case sesevent.TypeClick:
		e.Summary = "A link in the message was clicked."
	case sesevent.TypeReject:
		e.Summary = "SES rejected the message and did not send it"
		if e.Diagnostic != "" {
			e.Summary += ": " + e.Diagnostic
		}
		e.Summary += "."
		e.Reason = "SES refuses a message it finds a virus in; nothing was sent to any recipient."
	case sesevent.TypeRenderingFailure:
		if parsed != nil && parsed.Failure != nil {
			e.Template = parsed.Failure.TemplateName
		}
		e.Summary = "The template could not be rendered: SES sent nothing."
		if e.Template != "" {
			e.Summary = "The template " + e.Template + " could not be rendered: SES sent nothing."
		}
		e.Reason = "A variable the template needs was missing from the data sent with it, or the template is invalid."
	case sesevent.TypeSubscription:
		e.Summary = "The recipient changed their subscription preferences."
	default:
		e.Summary = "An SES event of type " + e.Type + "."
	}
}

func toRecipients(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return " to 1 recipient"
	}
	return fmt.Sprintf(" to %d recipients", n)
}

// complaintReasons explains the feedback types of complaint reports
// (RFC 5965).
var complaintReasons = map[string]string{
	"":             "The provider reported the complaint without saying why (many send no feedback type).",
	"abuse":        "The recipient reported the message as spam: unsolicited or unwanted.",
	"auth-failure": "The recipient's provider reports that the message failed an authentication check (SPF, DKIM or DMARC).",
	"fraud":        "The recipient reported the message as fraud or phishing.",
	"not-spam":     "The recipient said the message is not spam (it had been filed as spam).",
	"other":        "The feedback report names no particular reason.",
	"virus":        "The recipient's provider reports a virus in the message.",
}

// delayReasons explains SES's delivery delay types.
var delayReasons = map[string]string{
	"InternalFailure":                "An internal SES problem delayed the message.",
	"General":                        "The conversation with the recipient's mail server failed for a generic reason.",
	"MailboxFull":                    "The recipient's mailbox is full and takes no more mail for now.",
	"SpamDetected":                   "The recipient's mail server sees much unsolicited mail from your account and is holding messages back.",
	"RecipientServerError":           "The recipient's mail server has a temporary problem.",
	"IPFailure":                      "The recipient's provider blocks or throttles the IP address sending the message.",
	"TransientCommunicationFailure":  "The conversation with the recipient's mail server failed for now (a time-out or a dropped connection).",
	"BYOIPHostNameLookupUnavailable": "SES could not look up the host name of your own (BYOIP) sending IP addresses.",
	"Undetermined":                   "SES could not tell why delivery is delayed.",
	"SendingDeferral":                "SES itself deferred the message for now.",
}
