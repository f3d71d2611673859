package domain

import "time"

// Recipient statuses of a message, from the events SES published for that
// recipient. The status with the highest rank wins, whatever order the
// events arrive in (a Delivery that arrives before its Send still leaves
// the recipient delivered).
const (
	StatusSent        = "sent" // accepted by SES, no outcome yet
	StatusDelayed     = "delayed"
	StatusBouncedSoft = "bounced_soft"
	StatusDelivered   = "delivered"
	StatusOpened      = "opened"
	StatusClicked     = "clicked"
	StatusBouncedHard = "bounced_hard"
	StatusFailed      = "rendering_failed"
	StatusRejected    = "rejected"
	StatusComplained  = "complained"
)

// RecipientStatus returns the status an event gives its recipients and its
// rank. Events that say nothing of the outcome (Subscription, unknown types)
// have rank 0 and status sent.
func RecipientStatus(eventType, bounceType string) (string, int) {
	switch eventType {
	case "Send":
		return StatusSent, 1
	case "DeliveryDelay":
		return StatusDelayed, 2
	case "Bounce":
		if bounceType == "Transient" {
			return StatusBouncedSoft, 3
		}
		return StatusBouncedHard, 7
	case "Delivery":
		return StatusDelivered, 4
	case "Open":
		return StatusOpened, 5
	case "Click":
		return StatusClicked, 6
	case "RenderingFailure":
		return StatusFailed, 8
	case "Reject":
		return StatusRejected, 8
	case "Complaint":
		return StatusComplained, 9
	}
	return StatusSent, 0
}

// Message is an SES message as SendOps knows it from its events.
type Message struct {
	OrgID         string
	MessageID     string
	ConnectionID  string
	Sender        string
	SendingDomain string
	Subject       string
	ConfigSet     string
	Template      string
	Tags          string // JSON object of tag → values
	SentAt        *time.Time
	FirstEventAt  time.Time
	LastEventAt   time.Time
	Recipients    []MessageRecipient
	Events        []StoredEvent
}

// MessageRecipient is one recipient of a message and its status.
type MessageRecipient struct {
	Address     string
	Domain      string
	Status      string
	StatusAt    time.Time
	LastEventAt time.Time
}

// StoredEvent is one SES event for one recipient, as stored.
type StoredEvent struct {
	Type          string
	At            time.Time
	Recipient     string
	BounceType    string
	BounceSubtype string
	Diagnostic    string
	ReportingMTA  string
	ComplaintType string
	Link          string
	UserAgent     string
	IP            string
	Raw           []byte // the SES event's JSON, on the first row of each event (empty when damaged); nil on the others
}
