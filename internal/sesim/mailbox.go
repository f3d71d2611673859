package sesim

import (
	"strings"
	"time"
)

// SES event-publishing records, in the shape SES publishes to EventBridge,
// SNS and Firehose (the EventBridge envelope's "detail").

type sesEvent struct {
	EventType string            `json:"eventType"`
	Mail      *mailObject       `json:"mail"`
	Send      *struct{}         `json:"send,omitempty"`
	Delivery  *deliveryObject   `json:"delivery,omitempty"`
	Bounce    *bounceObject     `json:"bounce,omitempty"`
	Complaint *complaintObject  `json:"complaint,omitempty"`
	Failure   *renderingFailure `json:"failure,omitempty"`

	at time.Time // when SES would publish it
}

type mailObject struct {
	Timestamp        string              `json:"timestamp"`
	Source           string              `json:"source"`
	SourceArn        string              `json:"sourceArn"`
	SendingAccountID string              `json:"sendingAccountId"`
	MessageID        string              `json:"messageId"`
	Destination      []string            `json:"destination"`
	HeadersTruncated bool                `json:"headersTruncated"`
	Headers          []mailHeader        `json:"headers,omitempty"`
	CommonHeaders    *commonHeaders      `json:"commonHeaders,omitempty"`
	Tags             map[string][]string `json:"tags"`
}

type mailHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type commonHeaders struct {
	From      []string `json:"from"`
	ReplyTo   []string `json:"replyTo,omitempty"`
	To        []string `json:"to,omitempty"`
	Cc        []string `json:"cc,omitempty"`
	MessageID string   `json:"messageId"`
	Subject   string   `json:"subject,omitempty"`
}

type deliveryObject struct {
	Timestamp            string   `json:"timestamp"`
	ProcessingTimeMillis int64    `json:"processingTimeMillis"`
	Recipients           []string `json:"recipients"`
	SMTPResponse         string   `json:"smtpResponse"`
	RemoteMtaIP          string   `json:"remoteMtaIp"`
	ReportingMTA         string   `json:"reportingMTA"`
}

type bounceObject struct {
	FeedbackID        string             `json:"feedbackId"`
	BounceType        string             `json:"bounceType"`
	BounceSubType     string             `json:"bounceSubType"`
	BouncedRecipients []bouncedRecipient `json:"bouncedRecipients"`
	Timestamp         string             `json:"timestamp"`
	RemoteMtaIP       string             `json:"remoteMtaIp,omitempty"`
	ReportingMTA      string             `json:"reportingMTA,omitempty"`
}

type bouncedRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Action         string `json:"action,omitempty"`
	Status         string `json:"status,omitempty"`
	DiagnosticCode string `json:"diagnosticCode,omitempty"`
}

type complaintObject struct {
	FeedbackID            string              `json:"feedbackId"`
	ComplaintSubType      *string             `json:"complaintSubType"`
	ComplainedRecipients  []complainedAddress `json:"complainedRecipients"`
	Timestamp             string              `json:"timestamp"`
	UserAgent             string              `json:"userAgent"`
	ComplaintFeedbackType string              `json:"complaintFeedbackType"`
	ArrivalDate           string              `json:"arrivalDate"`
}

type complainedAddress struct {
	EmailAddress string `json:"emailAddress"`
}

type renderingFailure struct {
	ErrorMessage string `json:"errorMessage"`
	TemplateName string `json:"templateName"`
}

// detailTypes maps eventType to the EventBridge detail-type SES uses.
var detailTypes = map[string]string{
	"Send":              "Email Sent",
	"Delivery":          "Email Delivered",
	"Bounce":            "Email Bounced",
	"Complaint":         "Email Complaint Received",
	"Reject":            "Email Rejected",
	"Open":              "Email Opened",
	"Click":             "Email Clicked",
	"Rendering Failure": "Email Rendering Failed",
	"DeliveryDelay":     "Email Delivery Delayed",
	"Subscription":      "Email Subscribed",
}

// Fixed addresses of the emulated sending fleet.
const (
	outgoingIP      = "54.240.8.1"
	remoteMtaIP     = "54.86.94.241"
	simulatorDomain = "simulator.amazonses.com"
)

// simulatorMailbox returns the mailbox simulator scenario of an address
// ("success", "bounce", "ooto", "complaint", "suppressionlist"), or "" for
// an ordinary address. Labels work: bounce+label1@simulator.amazonses.com.
func simulatorMailbox(addr string) string {
	local, domain, ok := strings.Cut(strings.ToLower(addr), "@")
	if !ok || domain != simulatorDomain {
		return ""
	}
	local, _, _ = strings.Cut(local, "+")
	switch local {
	case "success", "bounce", "ooto", "complaint", "suppressionlist":
		return local
	}
	return "success"
}

// outcome is what happens to one recipient after the Send event.
func (s *Sim) recipientEvents(rs *regionState, m *outMessage, rcpt string, suppressed bool) []sesEvent {
	t0 := m.sentAt
	mta := "a8-70.smtp-out." + rs.region + ".amazonses.com"
	if rs.region == "us-east-1" {
		mta = "a8-70.smtp-out.amazonses.com"
	}
	delivery := func(at time.Duration) sesEvent {
		t := t0.Add(at)
		return sesEvent{EventType: "Delivery", at: t, Delivery: &deliveryObject{
			Timestamp:            isoMillis(t),
			ProcessingTimeMillis: at.Milliseconds(),
			Recipients:           []string{rcpt},
			SMTPResponse:         "250 2.6.0 Message received",
			RemoteMtaIP:          remoteMtaIP,
			ReportingMTA:         mta,
		}}
	}
	bounce := func(at time.Duration, typ, sub string, r bouncedRecipient, reporting string) sesEvent {
		t := t0.Add(at)
		return sesEvent{EventType: "Bounce", at: t, Bounce: &bounceObject{
			FeedbackID:        sesID(rs.region, t),
			BounceType:        typ,
			BounceSubType:     sub,
			BouncedRecipients: []bouncedRecipient{r},
			Timestamp:         isoMillis(t),
			ReportingMTA:      reporting,
		}}
	}
	if suppressed {
		return []sesEvent{bounce(40*time.Millisecond, "Permanent", "OnAccountSuppressionList", bouncedRecipient{
			EmailAddress:   rcpt,
			Action:         "failed",
			Status:         "5.1.1",
			DiagnosticCode: "Amazon SES did not send the message to this address because it is on the suppression list for your account. For more information about removing addresses from the suppression list, see the Amazon SES Developer Guide at https://docs.aws.amazon.com/ses/latest/DeveloperGuide/sending-email-suppression-list.html",
		}, "dns; amazonses.com")}
	}
	switch simulatorMailbox(rcpt) {
	case "bounce":
		return []sesEvent{bounce(1500*time.Millisecond, "Permanent", "General", bouncedRecipient{
			EmailAddress: rcpt, Action: "failed", Status: "5.1.1", DiagnosticCode: "smtp; 550 5.1.1 user unknown",
		}, "dns; "+mta)}
	case "suppressionlist":
		// The simulator answers as if the address were on the global
		// suppression list (2022 captures: Permanent/General).
		return []sesEvent{bounce(400*time.Millisecond, "Permanent", "General", bouncedRecipient{
			EmailAddress: rcpt, Action: "failed", Status: "5.1.1",
			DiagnosticCode: "smtp; 550 5.1.1 user unknown ( blacklisted address: " + rcpt + " )",
		}, "dns; "+mta)}
	case "complaint":
		t := t0.Add(2 * time.Second)
		return []sesEvent{delivery(450 * time.Millisecond), {EventType: "Complaint", at: t, Complaint: &complaintObject{
			FeedbackID:            sesID(rs.region, t),
			ComplainedRecipients:  []complainedAddress{{rcpt}},
			Timestamp:             isoMillis(t),
			UserAgent:             "Amazon SES Mailbox Simulator",
			ComplaintFeedbackType: "abuse",
			ArrivalDate:           isoMillis(t),
		}}}
	case "ooto":
		// Delivered, then an automatic reply, which SES reports as a
		// Transient/General bounce without DSN fields.
		return []sesEvent{delivery(450 * time.Millisecond), bounce(time.Second, "Transient", "General", bouncedRecipient{EmailAddress: rcpt}, "")}
	}
	return []sesEvent{delivery(450 * time.Millisecond)}
}
