// Package sesevent holds the types of the e-mail sending events Amazon SES
// publishes and a parser for both of its JSON formats:
//
//   - the event-publishing format (configuration-set event destinations: SNS,
//     Firehose, EventBridge), whose top-level "eventType" is one of Send,
//     Delivery, Bounce, Complaint, Reject, DeliveryDelay, Open, Click,
//     "Rendering Failure" or Subscription;
//   - the older notification format (identity feedback notifications through
//     SNS), whose top-level "notificationType" is Bounce, Complaint or
//     Delivery.
//
// Both carry a "mail" object describing the original message and one object
// named after the event type. The package knows nothing of transport: the
// caller unwraps SNS (the Message string) itself, and ParseEventBridge unwraps
// an EventBridge envelope.
//
// The parser is lenient in what it keeps and strict only about what can never
// be stored; see Parse.
package sesevent

import (
	"encoding/json"
	"errors"
	"time"
)

// Canonical type names.
const (
	TypeSend             = "Send"
	TypeDelivery         = "Delivery"
	TypeBounce           = "Bounce"
	TypeComplaint        = "Complaint"
	TypeReject           = "Reject"
	TypeDeliveryDelay    = "DeliveryDelay"
	TypeOpen             = "Open"
	TypeClick            = "Click"
	TypeRenderingFailure = "RenderingFailure"
	TypeSubscription     = "Subscription"
)

// Formats an event can arrive in.
const (
	FormatEvent        = "event"        // top-level eventType
	FormatNotification = "notification" // top-level notificationType
)

// ErrInvalid is wrapped by every error Parse and ParseEventBridge return.
var ErrInvalid = errors.New("invalid SES event")

// Event is one SES event, in either format.
type Event struct {
	// Type is the canonical type (one of the Type constants). An unknown
	// eventType or notificationType is kept verbatim and Known is false.
	Type  string
	Known bool
	// Format is FormatEvent or FormatNotification.
	Format string
	// Time is the event's own timestamp in UTC: the timestamp of the bounce,
	// complaint, delivery, deliveryDelay, open, click or subscription object;
	// mail.timestamp for Send, Reject, RenderingFailure and unknown types, and
	// whenever the type's own timestamp is missing or unreadable.
	Time time.Time
	Mail Mail
	// Recipients are the addresses this event concerns, lower-cased,
	// deduplicated, in payload order: the bounced, complained, delivered or
	// delayed recipients for those types, mail.destination for the others.
	// Display names ("Name <a@b>") are dropped.
	Recipients []string
	// FeedbackID is the bounce or complaint feedbackId, else "".
	FeedbackID string

	// At most one of these is set, matching Type (none for Send and
	// unknown types, or when the payload lacks the object).
	Bounce       *Bounce
	Complaint    *Complaint
	Delivery     *Delivery
	Delay        *Delay
	Open         *Open
	Click        *Click
	Reject       *Reject
	Failure      *RenderingFailure
	Subscription *Subscription

	// Raw is the input, unchanged (Parse keeps its own copy).
	Raw json.RawMessage
}

// Mail is the "mail" object: the message the event is about.
type Mail struct {
	MessageID        string    // SES message id (mail.messageId)
	Timestamp        time.Time // when SES accepted the message, UTC
	Source           string    // envelope sender as SES wrote it; may be RFC 2047 encoded
	SourceArn        string
	SendingAccountID string
	Destination      []string // as SES wrote them
	Subject          string   // commonHeaders.subject
	From             []string // commonHeaders.from
	ConfigurationSet string   // tags["ses:configuration-set"][0], else ""
	// Template is the template name when SES says which one. Of the shapes
	// SES publishes only the Rendering Failure event names it
	// (failure.templateName); the mail object never does (templated sends
	// are recognisable only by tags["ses:operation"] = SendTemplatedEmail or
	// SendBulkTemplatedEmail, without the name), so Template is "" otherwise.
	Template         string
	Tags             map[string][]string
	HeadersTruncated bool
}

// Bounce is the "bounce" object.
type Bounce struct {
	Type         string // bounceType: Undetermined, Permanent, Transient (unknown values kept)
	SubType      string // bounceSubType, kept as SES wrote it
	ReportingMTA string
	RemoteMtaIP  string
	Recipients   []BouncedRecipient
}

// BouncedRecipient is one entry of bounce.bouncedRecipients. Action, Status
// and DiagnosticCode are empty when SES had no DSN.
type BouncedRecipient struct {
	Email, Action, Status, DiagnosticCode string
}

// Complaint is the "complaint" object. FeedbackType (abuse, auth-failure,
// fraud, not-spam, other, virus) and UserAgent are empty without a feedback
// report; SubType is "" or OnAccountSuppressionList.
type Complaint struct {
	FeedbackType, SubType, UserAgent string
	ArrivalDate                      time.Time // zero when absent or unreadable
}

// Delivery is the "delivery" object.
type Delivery struct {
	ProcessingTimeMillis                    int64
	SMTPResponse, ReportingMTA, RemoteMtaIP string
}

// Delay is the "deliveryDelay" object.
type Delay struct {
	DelayType, ReportingMTA string
	ExpirationTime          time.Time // zero when absent or unreadable
	Recipients              []DelayedRecipient
}

// DelayedRecipient is one entry of deliveryDelay.delayedRecipients.
type DelayedRecipient struct {
	Email, Status, DiagnosticCode string
}

// Open is the "open" object.
type Open struct {
	IPAddress, UserAgent string
}

// Click is the "click" object.
type Click struct {
	IPAddress, UserAgent, Link string
	LinkTags                   map[string][]string
}

// Reject is the "reject" object.
type Reject struct {
	Reason string
}

// RenderingFailure is the "failure" object of a "Rendering Failure" event.
type RenderingFailure struct {
	TemplateName, ErrorMessage string
}

// Subscription is the "subscription" object. The topic preferences are kept
// as JSON (nil when absent or null).
type Subscription struct {
	ContactList                              string
	Source                                   string
	NewTopicPreferences, OldTopicPreferences json.RawMessage
}
