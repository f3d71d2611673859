package sesevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file       string
		typ        string
		known      bool
		format     string
		time       string
		messageID  string
		recipients []string
		feedbackID string
		// Type-specific objects; nil means the event must not have one.
		bounce       *Bounce
		complaint    *Complaint
		delivery     *Delivery
		delay        *Delay
		open         *Open
		click        *Click
		reject       *Reject
		failure      *RenderingFailure
		subscription *Subscription
		mail         *Mail // checked in full when set
		configSet    string
		template     string
	}{
		{
			file: "event/bounce-permanent-general.json", typ: TypeBounce, known: true, format: FormatEvent,
			time:       "2024-05-06T09:15:31.208Z",
			messageID:  "0102018f4d6e14c0-3b9f6a1e-52c4-4d7b-a0e2-9c8b7a6f5e4d-000000",
			recipients: []string{"ana.lima@example.org", "bruno@example.net"},
			feedbackID: "0102018f4d6e1a22-7d1c2b3a-0b1e-4f5d-8c9a-6e5f4d3c2b1a-000000",
			bounce: &Bounce{
				Type: "Permanent", SubType: "General",
				ReportingMTA: "dsn; b232-7.smtp-out.eu-west-1.amazonses.com", RemoteMtaIP: "198.51.100.25",
				Recipients: []BouncedRecipient{
					{"Ana.Lima@Example.org", "failed", "5.1.1", "smtp; 550 5.1.1 <ana.lima@example.org>: Recipient address rejected: User unknown"},
					{"bruno@example.net", "failed", "", "smtp; 550-5.2.1 The account you tried to reach is disabled.\n550-5.2.1 Ask the recipient to contact their administrator.\n550 5.2.1  https://help.example.net/disabled x12si99 - esmtp"},
					{"ana.lima@example.org", "failed", "5.1.1", "smtp; 550 5.1.1 user unknown"},
				},
			},
			mail: &Mail{
				MessageID:        "0102018f4d6e14c0-3b9f6a1e-52c4-4d7b-a0e2-9c8b7a6f5e4d-000000",
				Timestamp:        ts(t, "2024-05-06T09:15:29.874Z"),
				Source:           "SendOps News <news@mail.example.com>",
				SourceArn:        "arn:aws:ses:eu-west-1:210987654321:identity/mail.example.com",
				SendingAccountID: "210987654321",
				Destination:      []string{"Ana Lima <Ana.Lima@Example.org>", "bruno@example.net", "carla@example.com"},
				Subject:          "Your May statement",
				From:             []string{"SendOps News <news@mail.example.com>"},
				ConfigurationSet: "sendops-prod",
				Tags: map[string][]string{
					"ses:operation":         {"SendEmail"},
					"ses:configuration-set": {"sendops-prod"},
					"ses:source-ip":         {"203.0.113.10"},
					"ses:from-domain":       {"mail.example.com"},
					"ses:caller-identity":   {"sendops-app"},
					"campaign":              {"may-statement"},
					"tenant":                {"acme", "eu"},
				},
			},
		},
		{
			file: "event/delivery.json", typ: TypeDelivery, known: true, format: FormatEvent,
			time:       "2024-05-06T10:01:03.512Z",
			messageID:  "0102018f4d98aa01-1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f-000000",
			recipients: []string{"dora@example.org", "eli@example.net"},
			delivery:   &Delivery{1509, "250 2.0.0 OK  1714989663 a1si2 - esmtp", "b232-9.smtp-out.eu-west-1.amazonses.com", "198.51.100.40"},
			configSet:  "sendops-billing",
		},
		{
			file: "event/send.json", typ: TypeSend, known: true, format: FormatEvent,
			time:       "2024-05-06T10:01:02.003Z", // mail.timestamp
			messageID:  "0102018f4d98aa01-1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f-000000",
			recipients: []string{"dora@example.org", "eli@example.net", "fay@example.com"},
			configSet:  "sendops-billing",
		},
		{
			file: "event/complaint-abuse.json", typ: TypeComplaint, known: true, format: FormatEvent,
			time:       "2024-05-08T18:20:11Z",
			messageID:  "0102018f5a0a0001-aaaabbbb-cccc-4ddd-8eee-ffff00001111-000000",
			recipients: []string{"gus@example.net"},
			feedbackID: "0102018f5a0b3c4d-9e8d7c6b-5a49-4837-a261-504f3e2d1c0b-000000",
			complaint:  &Complaint{FeedbackType: "abuse", UserAgent: "ExampleISP Feedback Loop (v2)", ArrivalDate: ts(t, "2024-05-08T18:20:10.5Z")},
			configSet:  "sendops-prod",
		},
		{
			file: "event/complaint-onaccountsuppressionlist.json", typ: TypeComplaint, known: true, format: FormatEvent,
			time:       "2024-05-08T18:30:00.25Z",
			messageID:  "0102018f5a0a0002-aaaabbbb-cccc-4ddd-8eee-ffff00002222-000000",
			recipients: []string{"hana@example.org"},
			feedbackID: "0102018f5a0b3c4d-11112222-3333-4444-8555-666677778888-000000",
			complaint:  &Complaint{SubType: "OnAccountSuppressionList"},
		},
		{
			file: "event/reject.json", typ: TypeReject, known: true, format: FormatEvent,
			time:       "2024-05-09T07:00:00Z",
			messageID:  "0102018f5d000001-12345678-9abc-4def-8123-456789abcdef-000000",
			recipients: []string{"ivan@example.com", "jo@example.com"},
			reject:     &Reject{Reason: "Bad content"},
			configSet:  "sendops-ops",
		},
		{
			file: "event/deliverydelay.json", typ: TypeDeliveryDelay, known: true, format: FormatEvent,
			time:       "2024-05-09T08:30:00.123Z",
			messageID:  "0102018f5d400002-87654321-cba9-4fed-8321-fedcba987654-000000",
			recipients: []string{"kim@example.net", "lea@example.org"},
			delay: &Delay{
				DelayType: "MailboxFull", ReportingMTA: "b232-1.smtp-out.eu-west-1.amazonses.com",
				ExpirationTime: ts(t, "2024-05-10T08:00:00Z"),
				Recipients: []DelayedRecipient{
					{"kim@example.net", "4.2.2", "smtp; 452 4.2.2 Mailbox full"},
					{"Lea@Example.org", "4.4.7", "smtp; 421 4.4.7 Timeout waiting for remote host"},
				},
			},
			configSet: "sendops-ops",
		},
		{
			file: "event/open.json", typ: TypeOpen, known: true, format: FormatEvent,
			time:       "2024-05-10T12:05:42.301Z",
			messageID:  "0102018f62000003-0f0e0d0c-0b0a-4908-8706-050403020100-000000",
			recipients: []string{"nina@example.org"},
			open:       &Open{IPAddress: "198.51.100.88", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) ExampleMail/1.0"},
			configSet:  "sendops-prod",
		},
		{
			file: "event/click.json", typ: TypeClick, known: true, format: FormatEvent,
			time:       "2024-05-10T12:06:10.777Z",
			messageID:  "0102018f62000003-0f0e0d0c-0b0a-4908-8706-050403020100-000000",
			recipients: []string{"nina@example.org"},
			click: &Click{
				IPAddress: "198.51.100.88", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) ExampleMail/1.0",
				Link:     "https://www.example.com/june?utm_source=news",
				LinkTags: map[string][]string{"section": {"header"}, "position": {"1"}},
			},
			configSet: "sendops-prod",
		},
		{
			file: "event/rendering-failure.json", typ: TypeRenderingFailure, known: true, format: FormatEvent,
			time:       "2024-05-11T06:00:00.5Z", // mail.timestamp
			messageID:  "0102018f66000004-a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d-000000",
			recipients: []string{"omar@example.com"},
			failure:    &RenderingFailure{TemplateName: "invoice-v3", ErrorMessage: "Attribute 'invoiceTotal' is not present in the rendering data."},
			configSet:  "sendops-billing",
			template:   "invoice-v3",
		},
		{
			file: "event/subscription.json", typ: TypeSubscription, known: true, format: FormatEvent,
			time:       "2024-05-12T09:10:00Z",
			messageID:  "0102018f6b000005-5d4c3b2a-1f0e-4d9c-8b7a-695847362514-000000",
			recipients: []string{"pia@example.net"},
			subscription: &Subscription{
				ContactList:         "weekly-digest",
				Source:              "UnsubscribeHeader",
				NewTopicPreferences: json.RawMessage(`{"unsubscribeAll": true, "topicSubscriptionStatus": [{"topicName": "digest", "subscriptionStatus": "OptOut"}]}`),
				OldTopicPreferences: json.RawMessage(`{"unsubscribeAll": false, "topicSubscriptionStatus": [{"topicName": "digest", "subscriptionStatus": "OptIn"}]}`),
			},
			configSet: "sendops-prod",
		},
		{
			file: "event/unknown-type.json", typ: "Quarantine", known: false, format: FormatEvent,
			time:       "2024-05-13T00:00:00Z",
			messageID:  "0102018f70000006-00112233-4455-4667-8899-aabbccddeeff-000000",
			recipients: []string{"quinn@example.com"},
		},
		{
			file: "notification/bounce-dsn.json", typ: TypeBounce, known: true, format: FormatNotification,
			time:       "2024-05-14T15:04:05Z",
			messageID:  "0100018f7a1b0000-99998888-7777-4666-8555-444433332222-000000",
			recipients: []string{"rosa@example.org", "sam@example.net"},
			feedbackID: "0100018f7a1b2c3d-4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8-000000",
			bounce: &Bounce{
				Type: "Permanent", SubType: "NoEmail",
				ReportingMTA: "dsn; a11-22.smtp-out.amazonses.com", RemoteMtaIP: "198.51.100.7",
				Recipients: []BouncedRecipient{
					{"rosa@example.org", "failed", "5.1.1", "smtp; 550 5.1.1 No such user"},
					{"sam@example.net", "failed", "", "X-Postfix; host mx.example.net said: 550 5.1.10 RESOLVER.ADR.RecipientNotFound"},
				},
			},
			mail: &Mail{
				MessageID:        "0100018f7a1b0000-99998888-7777-4666-8555-444433332222-000000",
				Timestamp:        ts(t, "2024-05-14T15:04:01Z"), // written "2024-05-14T15:04:01 +0000"
				Source:           "=?utf-8?b?U2VuZE9wcyDDnGJlcg==?= <alerts@mail.example.com>",
				SourceArn:        "arn:aws:ses:us-east-1:210987654321:identity/mail.example.com",
				SendingAccountID: "210987654321",
				Destination:      []string{"rosa@example.org", "sam@example.net", "tom@example.com"},
				Subject:          "Disk almost full",
				From:             []string{"SendOps Über <alerts@mail.example.com>"},
			},
		},
		{
			file: "notification/bounce-transient-autoreply.json", typ: TypeBounce, known: true, format: FormatNotification,
			time:       "2024-05-14T16:00:00Z",
			messageID:  "0100018f7a1b0001-99998888-7777-4666-8555-444433330001-000000",
			recipients: []string{"uma@example.com"},
			feedbackID: "0100018f7a1b2c3d-00000000-1111-4222-8333-444455556666-000000",
			bounce:     &Bounce{Type: "Transient", SubType: "General", Recipients: []BouncedRecipient{{Email: "uma@example.com"}}},
		},
		{
			file: "notification/complaint-feedback.json", typ: TypeComplaint, known: true, format: FormatNotification,
			time:       "2024-05-15T09:24:22.623Z",
			messageID:  "0100018f7f000000-7a5433e7-8edb-42ae-af10-f0181f340000-000000",
			recipients: []string{"vera@example.org", "walt@example.org"},
			feedbackID: "0100018f7f000001-18c07c78-fa81-4a58-9dd1-fedc3cb80001-000000",
			complaint:  &Complaint{FeedbackType: "not-spam", UserAgent: "ExampleMail Feedback Loop (V1.2)", ArrivalDate: ts(t, "2024-05-15T09:24:21Z")},
		},
		{
			file: "notification/complaint-no-feedback.json", typ: TypeComplaint, known: true, format: FormatNotification,
			time:       "2024-05-15T10:00:00Z",
			messageID:  "0100018f7f000003-7a5433e7-8edb-42ae-af10-f0181f340003-000000",
			recipients: []string{"xena@example.com"},
			feedbackID: "0100018f7f000002-18c07c78-fa81-4a58-9dd1-fedc3cb80002-000000",
			complaint:  &Complaint{},
		},
		{
			file: "notification/delivery.json", typ: TypeDelivery, known: true, format: FormatNotification,
			time:       "2024-05-16T11:11:11.911Z",
			messageID:  "0100018f84000001-abcdef01-2345-4678-89ab-cdef01234567-000000",
			recipients: []string{"yuri@example.net"},
			delivery:   &Delivery{800, "250 ok:  Message 4242 accepted", "a11-33.smtp-out.amazonses.com", "198.51.100.9"},
		},
		{
			file: "notification/unknown-received.json", typ: "Received", known: false, format: FormatNotification,
			time:       "2024-05-17T00:00:00Z",
			messageID:  "o3k2j1h0g9f8e7d6c5b4a3",
			recipients: []string{"inbox@mail.example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			in := fixture(t, tt.file)
			e, err := Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if e.Type != tt.typ || e.Known != tt.known || e.Format != tt.format {
				t.Errorf("Type, Known, Format = %q, %v, %q; want %q, %v, %q", e.Type, e.Known, e.Format, tt.typ, tt.known, tt.format)
			}
			if want := ts(t, tt.time); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
				t.Errorf("Time = %v, want %v UTC", e.Time, want)
			}
			if e.Mail.MessageID != tt.messageID {
				t.Errorf("MessageID = %q, want %q", e.Mail.MessageID, tt.messageID)
			}
			if !slices.Equal(e.Recipients, tt.recipients) {
				t.Errorf("Recipients = %q, want %q", e.Recipients, tt.recipients)
			}
			if e.FeedbackID != tt.feedbackID {
				t.Errorf("FeedbackID = %q, want %q", e.FeedbackID, tt.feedbackID)
			}
			for _, c := range []struct {
				name      string
				got, want any
			}{
				{"Bounce", e.Bounce, tt.bounce},
				{"Complaint", e.Complaint, tt.complaint},
				{"Delivery", e.Delivery, tt.delivery},
				{"Delay", e.Delay, tt.delay},
				{"Open", e.Open, tt.open},
				{"Click", e.Click, tt.click},
				{"Reject", e.Reject, tt.reject},
				{"Failure", e.Failure, tt.failure},
				{"Subscription", e.Subscription, tt.subscription},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s = %+v, want %+v", c.name, c.got, c.want)
				}
			}
			if tt.mail != nil && !reflect.DeepEqual(e.Mail, *tt.mail) {
				t.Errorf("Mail =\n%+v\nwant\n%+v", e.Mail, *tt.mail)
			}
			if tt.mail == nil && (e.Mail.ConfigurationSet != tt.configSet || e.Mail.Template != tt.template) {
				t.Errorf("ConfigurationSet, Template = %q, %q; want %q, %q", e.Mail.ConfigurationSet, e.Mail.Template, tt.configSet, tt.template)
			}
			if !bytes.Equal(e.Raw, in) {
				t.Error("Raw is not the input")
			}
		})
	}
}

// The bounce types and subtypes SES documents, plus values it may add later,
// in both formats: all are kept exactly as written.
func TestParseBounceTypes(t *testing.T) {
	t.Parallel()
	pairs := [][2]string{
		{"Undetermined", "Undetermined"},
		{"Permanent", "General"},
		{"Permanent", "NoEmail"},
		{"Permanent", "Suppressed"},
		{"Permanent", "OnAccountSuppressionList"},
		{"Transient", "General"},
		{"Transient", "MailboxFull"},
		{"Transient", "MessageTooLarge"},
		{"Transient", "ContentRejected"},
		{"Transient", "AttachmentRejected"},
		{"Transient", "SomeFutureSubType"}, // unknown: kept as-is
		{"Sideways", "Unheard"},            // unknown type too
		{"", ""},
	}
	const payload = `{%q: "Bounce",
	  "bounce": {"bounceType": %q, "bounceSubType": %q, "timestamp": "2024-06-01T00:00:01.000Z",
	    "feedbackId": "fb-1", "bouncedRecipients": [{"emailAddress": "a@example.com"}, {"emailAddress": "B@example.com"}]},
	  "mail": {"timestamp": "2024-06-01T00:00:00.000Z", "messageId": "m-1", "destination": ["a@example.com", "b@example.com", "c@example.com"]}}`
	for _, format := range []string{FormatEvent, FormatNotification} {
		key := map[string]string{FormatEvent: "eventType", FormatNotification: "notificationType"}[format]
		for _, p := range pairs {
			t.Run(format+"/"+p[0]+"/"+p[1], func(t *testing.T) {
				t.Parallel()
				e, err := Parse(fmt.Appendf(nil, payload, key, p[0], p[1]))
				if err != nil {
					t.Fatal(err)
				}
				if e.Type != TypeBounce || !e.Known || e.Format != format {
					t.Errorf("Type, Known, Format = %q, %v, %q", e.Type, e.Known, e.Format)
				}
				if e.Bounce == nil || e.Bounce.Type != p[0] || e.Bounce.SubType != p[1] {
					t.Fatalf("Bounce = %+v, want type %q subtype %q", e.Bounce, p[0], p[1])
				}
				if want := []string{"a@example.com", "b@example.com"}; !slices.Equal(e.Recipients, want) {
					t.Errorf("Recipients = %q, want %q (bounced, not destination)", e.Recipients, want)
				}
				if e.FeedbackID != "fb-1" || !e.Time.Equal(ts(t, "2024-06-01T00:00:01Z")) {
					t.Errorf("FeedbackID, Time = %q, %v", e.FeedbackID, e.Time)
				}
			})
		}
	}
}

func TestParseComplaintTypes(t *testing.T) {
	t.Parallel()
	const payload = `{"notificationType": "Complaint",
	  "complaint": {"complaintFeedbackType": %s, "complaintSubType": %s, "timestamp": "2024-06-01T00:00:01.000Z",
	    "feedbackId": "fb-2", "complainedRecipients": [{"emailAddress": "a@example.com"}]},
	  "mail": {"timestamp": "2024-06-01T00:00:00.000Z", "messageId": "m-2", "destination": ["a@example.com"]}}`
	tests := []struct{ feedbackJSON, subJSON, feedback, sub string }{
		{`"abuse"`, `null`, "abuse", ""},
		{`"auth-failure"`, `null`, "auth-failure", ""},
		{`"fraud"`, `null`, "fraud", ""},
		{`"not-spam"`, `null`, "not-spam", ""},
		{`"other"`, `null`, "other", ""},
		{`"virus"`, `null`, "virus", ""},
		{`"x-future-type"`, `null`, "x-future-type", ""},
		{`null`, `"OnAccountSuppressionList"`, "", "OnAccountSuppressionList"},
		{`"abuse"`, `"SomeFutureSubType"`, "abuse", "SomeFutureSubType"},
	}
	for _, tt := range tests {
		t.Run(tt.feedbackJSON+"/"+tt.subJSON, func(t *testing.T) {
			t.Parallel()
			e, err := Parse(fmt.Appendf(nil, payload, tt.feedbackJSON, tt.subJSON))
			if err != nil {
				t.Fatal(err)
			}
			if e.Complaint == nil || e.Complaint.FeedbackType != tt.feedback || e.Complaint.SubType != tt.sub {
				t.Errorf("Complaint = %+v, want feedback %q subtype %q", e.Complaint, tt.feedback, tt.sub)
			}
			if e.FeedbackID != "fb-2" {
				t.Errorf("FeedbackID = %q", e.FeedbackID)
			}
		})
	}
}

// Parse refuses only what can never be stored, and says which.
func TestParseRefuses(t *testing.T) {
	t.Parallel()
	const mail = `"mail": {"timestamp": "2024-06-01T00:00:00.000Z", "messageId": "m-3", "destination": ["a@example.com"]}`
	tests := []struct {
		name, in, msg string
	}{
		{"empty", ``, "not a JSON object"},
		{"spaces", " \n\t", "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"array", `[{"eventType": "Send", ` + mail + `}]`, "not a JSON object"},
		{"string", `"Send"`, "not a JSON object"},
		{"number", `42`, "not a JSON object"},
		{"truncated", `{"eventType": "Send", ` + mail, "unexpected end"},
		{"trailing garbage", `{"eventType": "Send", ` + mail + `} {}`, "invalid character"},
		{"syntax error", `{"eventType": Send}`, "invalid character"},
		// Malformed JSON in a field Parse skips: goccy/go-json accepts
		// each of these, encoding/json (json.Valid before goccy) refuses.
		{"bad escape in a skipped field", `{"eventType": "Send", "x": "\q", ` + mail + `}`, "invalid character"},
		{"leading zero in a skipped field", `{"eventType": "Send", "x": 01, ` + mail + `}`, "invalid character"},
		{"trailing comma in a skipped array", `{"eventType": "Send", "x": [1,], ` + mail + `}`, "invalid character"},
		{"control character in a skipped string", "{\"eventType\": \"Send\", \"x\": \"a\x01\", " + mail + `}`, "invalid character"},
		{"missing colon in a skipped object", `{"eventType": "Send", "x": {"a" 1}, ` + mail + `}`, "invalid character"},
		{"short unicode escape in a skipped field", `{"eventType": "Send", "x": "\u12", ` + mail + `}`, "invalid character"},
		{"no type", `{` + mail + `}`, "no eventType or notificationType"},
		{"empty type", `{"eventType": "", "notificationType": " ", ` + mail + `}`, "no eventType or notificationType"},
		{"type not a string", `{"eventType": 7, ` + mail + `}`, "no eventType or notificationType"},
		{"no mail", `{"eventType": "Send", "send": {}}`, "no mail object"},
		{"null mail", `{"eventType": "Send", "mail": null}`, "no mail object"},
		{"mail not an object", `{"eventType": "Send", "mail": "m-3"}`, "no mail object"},
		{"no messageId", `{"eventType": "Send", "mail": {"timestamp": "2024-06-01T00:00:00.000Z"}}`, "no mail.messageId"},
		{"blank messageId", `{"eventType": "Send", "mail": {"timestamp": "2024-06-01T00:00:00.000Z", "messageId": "  "}}`, "no mail.messageId"},
		{"numeric messageId", `{"eventType": "Send", "mail": {"timestamp": "2024-06-01T00:00:00.000Z", "messageId": 12}}`, "no mail.messageId"},
		{"no mail.timestamp", `{"eventType": "Send", "mail": {"messageId": "m-3"}}`, "mail.timestamp"},
		{"bad mail.timestamp", `{"eventType": "Send", "mail": {"messageId": "m-3", "timestamp": "yesterday"}}`, "mail.timestamp"},
		{"bad own and mail timestamp", `{"eventType": "Delivery", "delivery": {"timestamp": "date"}, "mail": {"messageId": "m-3", "timestamp": "timestamp"}}`, "mail.timestamp"},
		{"unknown type, bad mail.timestamp", `{"eventType": "Whatever", "mail": {"messageId": "m-3", "timestamp": "2024-13-01T00:00:00Z"}}`, "mail.timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := Parse([]byte(tt.in))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error = %v, want ErrInvalid", err)
			}
			if e != nil {
				t.Errorf("Parse returned an event with its error: %+v", e)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

// What Parse accepts although it is odd.
func TestParseLenient(t *testing.T) {
	t.Parallel()
	const mail = `"mail": {"timestamp": "2024-06-01T00:00:00.000Z", "messageId": "m-4", "destination": ["Dee <DEE@example.com>", "dee@example.com"], "tags": {"ses:configuration-set": ["cs"]}}`
	mailTime := ts(t, "2024-06-01T00:00:00Z")
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, e *Event)
	}{
		{"bad own timestamp falls back to mail.timestamp",
			`{"eventType": "Bounce", "bounce": {"timestamp": "soon", "bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "dee@example.com"}]}, ` + mail + `}`,
			func(t *testing.T, e *Event) {
				if !e.Time.Equal(mailTime) || e.Bounce == nil || e.Bounce.Type != "Permanent" {
					t.Errorf("Time %v, Bounce %+v", e.Time, e.Bounce)
				}
			}},
		{"own timestamp of the wrong JSON type",
			`{"eventType": "Open", "open": {"timestamp": 1717200000, "ipAddress": "192.0.2.1"}, ` + mail + `}`,
			func(t *testing.T, e *Event) {
				if !e.Time.Equal(mailTime) || e.Open == nil || e.Open.IPAddress != "192.0.2.1" {
					t.Errorf("Time %v, Open %+v", e.Time, e.Open)
				}
			}},
		{"missing type object",
			`{"eventType": "Delivery", ` + mail + `}`,
			func(t *testing.T, e *Event) {
				if e.Delivery != nil || !e.Time.Equal(mailTime) || len(e.Recipients) != 0 || !e.Known {
					t.Errorf("Delivery %+v, Time %v, Recipients %q", e.Delivery, e.Time, e.Recipients)
				}
			}},
		{"wrong JSON types inside known fields leave them zero",
			`{"eventType": "Delivery", "delivery": {"timestamp": "2024-06-01T00:00:02Z", "processingTimeMillis": "processing-time", "recipients": ["dee@example.com", 5], "smtpResponse": "250 ok"}, ` + mail + `}`,
			func(t *testing.T, e *Event) {
				if e.Delivery == nil || e.Delivery.ProcessingTimeMillis != 0 || e.Delivery.SMTPResponse != "250 ok" {
					t.Errorf("Delivery %+v", e.Delivery)
				}
				if !slices.Equal(e.Recipients, []string{"dee@example.com"}) || !e.Time.Equal(ts(t, "2024-06-01T00:00:02Z")) {
					t.Errorf("Recipients %q, Time %v", e.Recipients, e.Time)
				}
			}},
		{"documented mail.timestamp quirk and a space before messageId",
			`{"notificationType": "Delivery", "mail": {"timestamp": "2018-10-08T14:05:45 +0000", "messageId": " m-5 ", "commonHeaders": {"messageId": " custom-message-ID"}}}`,
			func(t *testing.T, e *Event) {
				if !e.Mail.Timestamp.Equal(ts(t, "2018-10-08T14:05:45Z")) || e.Mail.MessageID != "m-5" {
					t.Errorf("Mail %+v", e.Mail)
				}
			}},
		{"offset timestamps become UTC",
			`{"eventType": "Click", "click": {"timestamp": "2024-06-01T02:00:03.5+02:00", "link": "https://example.com/", "linkTags": null}, ` + mail + `}`,
			func(t *testing.T, e *Event) {
				if !e.Time.Equal(ts(t, "2024-06-01T00:00:03.5Z")) || e.Time.Location() != time.UTC {
					t.Errorf("Time %v", e.Time)
				}
				if e.Click == nil || e.Click.LinkTags != nil || e.Click.Link != "https://example.com/" {
					t.Errorf("Click %+v", e.Click)
				}
			}},
		{"eventType wins over notificationType",
			`{"eventType": "Open", "notificationType": "Bounce", "open": {"timestamp": "2024-06-01T00:00:05Z"}, ` + mail + `}`,
			func(t *testing.T, e *Event) {
				if e.Type != TypeOpen || e.Format != FormatEvent {
					t.Errorf("Type %q Format %q", e.Type, e.Format)
				}
			}},
		{"RenderingFailure without the space",
			`{"eventType": "RenderingFailure", "failure": {"templateName": "t1"}, ` + mail + `}`,
			func(t *testing.T, e *Event) {
				if e.Type != TypeRenderingFailure || !e.Known || e.Mail.Template != "t1" {
					t.Errorf("Type %q Known %v Template %q", e.Type, e.Known, e.Mail.Template)
				}
			}},
		{"type names are case-sensitive",
			`{"eventType": "bounce", ` + mail + `}`,
			func(t *testing.T, e *Event) {
				if e.Type != "bounce" || e.Known || e.Bounce != nil {
					t.Errorf("Type %q Known %v", e.Type, e.Known)
				}
				if !slices.Equal(e.Recipients, []string{"dee@example.com"}) {
					t.Errorf("Recipients %q, want mail.destination", e.Recipients)
				}
			}},
		{"null subscription preferences",
			`{"eventType": "Subscription", "subscription": {"contactList": "l", "newTopicPreferences": null}, ` + mail + `}`,
			func(t *testing.T, e *Event) {
				if e.Subscription == nil || e.Subscription.NewTopicPreferences != nil || e.Subscription.OldTopicPreferences != nil {
					t.Errorf("Subscription %+v", e.Subscription)
				}
			}},
		{"unknown fields everywhere",
			`{"eventType": "Reject", "reject": {"reason": "Bad content", "extra": [1]}, "newThing": {"a": 1}, ` + mail[:len(mail)-1] + `, "sourceIp": "192.0.2.9", "extra": {"x": null}}}`,
			func(t *testing.T, e *Event) {
				if e.Reject == nil || e.Reject.Reason != "Bad content" || e.Mail.ConfigurationSet != "cs" {
					t.Errorf("Reject %+v, Mail %+v", e.Reject, e.Mail)
				}
				if !bytes.Contains(e.Raw, []byte(`"newThing": {"a": 1}`)) {
					t.Error("unknown field missing from Raw")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, e)
		})
	}
}

// Raw is the input, and the caller may reuse its buffer.
func TestParseRawIsACopy(t *testing.T) {
	t.Parallel()
	in := fixture(t, "event/delivery.json")
	want := bytes.Clone(in)
	e, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	clear(in)
	if !bytes.Equal(e.Raw, want) {
		t.Error("Raw changed when the caller reused the input buffer")
	}
	if !bytes.Contains(e.Raw, []byte(`"someFutureTopLevelField": "kept in Raw"`)) {
		t.Error("unknown top-level field missing from Raw")
	}
}

func TestNormalizeAddress(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"a@example.com":                      "a@example.com",
		"  A@Example.COM ":                   "a@example.com",
		"Ann <Ann@Example.com>":              "ann@example.com",
		`"Doe, <J>" <j.doe@example.com>`:     "j.doe@example.com",
		"=?utf-8?q?=C3=9C?= <u@example.com>": "u@example.com",
		"<b@example.com":                     "b@example.com",
		"":                                   "",
		"  ":                                 "",
	}
	for in, want := range tests {
		if got := normalizeAddress(in); got != want {
			t.Errorf("normalizeAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// More than a linear scan's worth of recipients still deduplicates in order.
func TestParseManyRecipients(t *testing.T) {
	t.Parallel()
	var dest []string
	var want []string
	for i := range 40 {
		dest = append(dest, fmt.Sprintf("User%d@Example.com", i), fmt.Sprintf("user%d@example.com", i%7))
		want = append(want, fmt.Sprintf("user%d@example.com", i))
	}
	// user0..user6 appear first at their own index, so the order is 0..39.
	destJSON, _ := json.Marshal(dest)
	e, err := Parse([]byte(`{"eventType": "Send", "mail": {"timestamp": "2024-06-01T00:00:00Z", "messageId": "m-6", "destination": ` + string(destJSON) + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Recipients, want) {
		t.Errorf("Recipients = %q\nwant %q", e.Recipients, want)
	}
}
