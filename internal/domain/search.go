package domain

import "time"

// MessageQuery is a search of an organisation's messages, as a person or a
// script writes it (the service checks and interprets it). Each result is
// one recipient of one message.
type MessageQuery struct {
	// Recipient is an exact address ("bob@example.com"), a prefix ending
	// in "*" ("bob*") or a whole domain starting with "@"
	// ("@example.com"); case does not matter.
	Recipient string
	MessageID string // SES message id, exact
	// Subject holds words that must all be in the subject, in any order
	// and case; a word ending in "*" matches words that start with it.
	Subject      string
	Sender       string // exact address, or "@domain" for a sending domain
	ConnectionID string
	ConfigSet    string
	Template     string
	Tags         []string // "key:value", each must hold
	Statuses     []string // names of SearchStatuses; any may hold
	// From and To bound the message's send time: [From, To). Zero From
	// is 30 days ago (or the start of the retention window when it is
	// shorter); zero To is open.
	From, To time.Time
	Page
}

// MessageHit is one row of a message search: one recipient of one message.
type MessageHit struct {
	MessageID string
	Recipient string // "" when the actor may not read recipients
	Domain    string // the recipient's domain
	Status    string // the recipient's status (Status* constants)
	StatusAt  time.Time
	// LastEventAt is the time of the recipient's latest event.
	LastEventAt  time.Time
	SentAt       time.Time
	Subject      string
	Sender       string
	ConnectionID string
	ConfigSet    string
	Template     string
	Tags         string // JSON object of tag → values, "" when none
}

// FeedbackEvent is one bounce or complaint for one recipient, as exports
// list them.
type FeedbackEvent struct {
	Type          string // "Bounce" or "Complaint"
	At            time.Time
	MessageID     string
	Recipient     string // "" when the actor may not read recipients
	BounceType    string // Permanent, Transient, Undetermined (bounces)
	BounceSubtype string // SES's sub-type of the bounce or the complaint
	// Diagnostic is the remote server's answer ("" when the actor may not
	// read recipients: it often quotes the address); StatusCode its SMTP
	// enhanced status code ("5.1.1").
	Diagnostic    string
	StatusCode    string
	ReportingMTA  string
	ComplaintType string // the complaint's feedback type (abuse, …)
	UserAgent     string // of the complaint's feedback report
	SentAt        time.Time
	Subject       string
	Sender        string
	ConnectionID  string
	ConfigSet     string
	Template      string
}

// SearchStatus is a status name the message search takes, and the stored
// recipient statuses it matches. A recipient's stored status is the most
// telling of its events (see RecipientStatus): a delivered message that was
// then opened is stored "opened", so "delivered" matches opened and clicked
// recipients too.
type SearchStatus struct {
	Name   string
	Label  string
	Stored []string
}

// SearchStatuses lists the status names of the message search, in the
// order forms show them.
var SearchStatuses = []SearchStatus{
	{"delivered", "Delivered (opened and clicked included)", []string{StatusDelivered, StatusOpened, StatusClicked}},
	{"bounced", "Bounced, hard or soft", []string{StatusBouncedHard, StatusBouncedSoft}},
	{"bounced_hard", "Bounced hard (permanent)", []string{StatusBouncedHard}},
	{"bounced_soft", "Bounced soft (transient)", []string{StatusBouncedSoft}},
	{"complained", "Complained", []string{StatusComplained}},
	{"rejected", "Rejected by SES", []string{StatusRejected}},
	{"rendering_failed", "Template rendering failed", []string{StatusFailed}},
	{"delayed", "Delayed (SES still trying)", []string{StatusDelayed}},
	{"opened", "Opened (clicked included)", []string{StatusOpened, StatusClicked}},
	{"clicked", "Clicked", []string{StatusClicked}},
	{"sent", "Sent, no outcome yet", []string{StatusSent}},
}

// SearchStatusByName returns the search status of a name.
func SearchStatusByName(name string) (SearchStatus, bool) {
	for _, s := range SearchStatuses {
		if s.Name == name {
			return s, true
		}
	}
	return SearchStatus{}, false
}
