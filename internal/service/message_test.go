package service

import (
	"strings"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/ingest"
)

// The header the pipeline tells EventBridge to send is the one ingest
// reads.
func TestIngestHeaderAgrees(t *testing.T) {
	if IngestHeader != ingest.HeaderName {
		t.Fatalf("service says %q, ingest reads %q", IngestHeader, ingest.HeaderName)
	}
}

// TestGroupEvents: rows of one event are one event; summaries read what
// is stored, and the raw JSON for what is not.
func TestGroupEvents(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	raw := func(json string) []byte { return []byte(json) }
	mail := `"mail":{"timestamp":"2026-01-02T03:04:05.000Z","messageId":"m","source":"a@b.example","destination":["x@y.example","z@y.example"]}`
	rows := []domain.StoredEvent{
		{Type: "Bounce", At: at, Recipient: "x@y.example", BounceType: "Transient", BounceSubtype: "General", Diagnostic: "smtp; 421 4.4.7 expired",
			Raw: raw(`{"eventType":"Bounce",` + mail + `}`)},
		{Type: "Bounce", At: at, Recipient: "z@y.example", BounceType: "Transient", BounceSubtype: "General", Diagnostic: "smtp; 550 5.7.26 unauthenticated"},
		{Type: "DeliveryDelay", At: at.Add(time.Minute), Recipient: "x@y.example",
			Raw: raw(`{"eventType":"DeliveryDelay",` + mail + `,"deliveryDelay":{"timestamp":"2026-01-02T03:05:05.000Z","delayType":"MailboxFull","expirationTime":"2026-01-03T03:04:05.000Z","delayedRecipients":[{"emailAddress":"x@y.example"}]}}`)},
		{Type: "RenderingFailure", At: at.Add(3 * time.Minute), Diagnostic: "Attribute 'a' is missing",
			Raw: raw(`{"eventType":"Rendering Failure",` + mail + `,"failure":{"templateName":"welcome","errorMessage":"Attribute 'a' is missing"}}`)},
		{Type: "Complaint", At: at.Add(4 * time.Minute), Recipient: "x@y.example", Raw: raw(`{"eventType":"Complaint",` + mail + `}`)},
	}
	got := groupEvents(rows)
	if len(got) != 4 {
		t.Fatalf("%d events, want 4: %+v", len(got), got)
	}
	b := got[0]
	if len(b.Recipients) != 2 || b.Recipients[1].StatusCode != "5.7.26" || b.Recipients[1].Advice == nil || b.Recipients[1].Advice.Key != "5.7.26" ||
		b.Advice == nil || b.Advice.Key != "4.4.7" || !strings.HasPrefix(b.Summary, "Soft bounce (Transient, General), 4.4.7: ") {
		t.Errorf("bounce: %+v", b)
	}
	d := got[1]
	if d.DelayType != "MailboxFull" || d.Expiration == nil || !d.Expiration.Equal(at.Add(24*time.Hour)) ||
		d.Summary != "Delivery delayed (MailboxFull): SES keeps trying until 2026-01-03 03:04 UTC." || d.Reason != delayReasons["MailboxFull"] {
		t.Errorf("delay from the raw JSON: %+v", d)
	}
	if f := got[2]; f.Template != "welcome" || !strings.Contains(f.Summary, "The template welcome could not be rendered") {
		t.Errorf("rendering failure: %+v", f)
	}
	if c := got[3]; c.Summary != "Complaint: the recipient marked the message as spam." || c.Reason != complaintReasons[""] {
		t.Errorf("complaint without a feedback type: %+v", c)
	}
}
