// Package seswire is the JSON SES publishes, as SendOps's generators
// write it (loadgen's traffic, seed's data): the event-publishing format of
// the SES developer guide's "Examples of event data that Amazon SES
// publishes", and the EventBridge envelope around it. The parser
// (package sesevent) keeps its own types: it must read what SES sends,
// not what these generators write.
package seswire

// Time is the layout of SES's timestamps.
const Time = "2006-01-02T15:04:05.000Z"

// The event-publishing format (SES developer guide, "Examples of event
// data that Amazon SES publishes").
type (
	Envelope struct {
		Version    string   `json:"version"`
		ID         string   `json:"id"`
		DetailType string   `json:"detail-type"`
		Source     string   `json:"source"`
		Account    string   `json:"account"`
		Time       string   `json:"time"`
		Region     string   `json:"region"`
		Resources  []string `json:"resources"`
		Detail     Event    `json:"detail"`
	}
	Event struct {
		EventType     string     `json:"eventType"`
		Mail          *Mail      `json:"mail"`
		Send          *struct{}  `json:"send,omitempty"`
		Delivery      *Delivery  `json:"delivery,omitempty"`
		Bounce        *Bounce    `json:"bounce,omitempty"`
		Complaint     *Complaint `json:"complaint,omitempty"`
		DeliveryDelay *Delay     `json:"deliveryDelay,omitempty"`
		Open          *Open      `json:"open,omitempty"`
		Click         *Click     `json:"click,omitempty"`
		Failure       *Failure   `json:"failure,omitempty"`
	}
	Mail struct {
		Timestamp        string              `json:"timestamp"`
		Source           string              `json:"source"`
		SourceArn        string              `json:"sourceArn"`
		SendingAccountID string              `json:"sendingAccountId"`
		CallerIdentity   string              `json:"callerIdentity"`
		MessageID        string              `json:"messageId"`
		Destination      []string            `json:"destination"`
		HeadersTruncated bool                `json:"headersTruncated"`
		Headers          []Header            `json:"headers"`
		CommonHeaders    CommonHeaders       `json:"commonHeaders"`
		Tags             map[string][]string `json:"tags"`
	}
	Header struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	CommonHeaders struct {
		From      []string `json:"from"`
		To        []string `json:"to"`
		MessageID string   `json:"messageId"`
		Subject   string   `json:"subject"`
	}
	Delivery struct {
		Timestamp            string   `json:"timestamp"`
		ProcessingTimeMillis int64    `json:"processingTimeMillis"`
		Recipients           []string `json:"recipients"`
		SMTPResponse         string   `json:"smtpResponse"`
		RemoteMtaIP          string   `json:"remoteMtaIp"`
		ReportingMTA         string   `json:"reportingMTA"`
	}
	Bounce struct {
		BounceType        string        `json:"bounceType"`
		BounceSubType     string        `json:"bounceSubType"`
		BouncedRecipients []RecipStatus `json:"bouncedRecipients"`
		Timestamp         string        `json:"timestamp"`
		FeedbackID        string        `json:"feedbackId"`
		ReportingMTA      string        `json:"reportingMTA"`
	}
	RecipStatus struct {
		EmailAddress   string `json:"emailAddress"`
		Action         string `json:"action,omitempty"`
		Status         string `json:"status"`
		DiagnosticCode string `json:"diagnosticCode"`
	}
	Address struct {
		EmailAddress string `json:"emailAddress"`
	}
	Complaint struct {
		ComplainedRecipients  []Address `json:"complainedRecipients"`
		Timestamp             string    `json:"timestamp"`
		FeedbackID            string    `json:"feedbackId"`
		UserAgent             string    `json:"userAgent,omitempty"`
		ComplaintFeedbackType string    `json:"complaintFeedbackType,omitempty"`
		ArrivalDate           string    `json:"arrivalDate"`
	}
	Delay struct {
		Timestamp         string        `json:"timestamp"`
		DelayType         string        `json:"delayType"`
		ExpirationTime    string        `json:"expirationTime"`
		ReportingMTA      string        `json:"reportingMTA"`
		DelayedRecipients []RecipStatus `json:"delayedRecipients"`
	}
	Open struct {
		Timestamp string `json:"timestamp"`
		UserAgent string `json:"userAgent"`
		IPAddress string `json:"ipAddress"`
	}
	Click struct {
		Timestamp string              `json:"timestamp"`
		IPAddress string              `json:"ipAddress"`
		Link      string              `json:"link"`
		LinkTags  map[string][]string `json:"linkTags,omitempty"`
		UserAgent string              `json:"userAgent"`
	}
	Failure struct {
		TemplateName string `json:"templateName"`
		ErrorMessage string `json:"errorMessage"`
	}
)
