package sesevent

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseEventBridge(t *testing.T) {
	t.Parallel()
	env, e, err := ParseEventBridge(fixture(t, "eventbridge/email-bounced.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := EventBridgeEnvelope{
		ID: "7b0c2f1e-9d8a-4c6b-a5e4-3f2d1c0b9a88", DetailType: "Email Bounced", Source: "aws.ses",
		Account: "210987654321", Region: "eu-west-1", Time: ts(t, "2024-05-06T09:15:32Z"),
		Resources: []string{"arn:aws:ses:eu-west-1:210987654321:configuration-set/sendops-prod"},
	}
	got := *env
	got.Detail = nil
	if got.ID != want.ID || got.DetailType != want.DetailType || got.Source != want.Source || got.Account != want.Account ||
		got.Region != want.Region || !got.Time.Equal(want.Time) || !slices.Equal(got.Resources, want.Resources) {
		t.Errorf("envelope = %+v, want %+v", got, want)
	}
	if !strings.HasPrefix(string(env.Detail), `{"eventType":"Bounce"`) {
		t.Errorf("Detail = %.40s…", env.Detail)
	}
	if e.Type != TypeBounce || e.Format != FormatEvent || e.Bounce == nil || e.Bounce.SubType != "MailboxFull" {
		t.Errorf("event = %+v", e)
	}
	if !slices.Equal(e.Recipients, []string{"ada@example.com"}) || e.Mail.ConfigurationSet != "sendops-prod" {
		t.Errorf("Recipients %q, ConfigurationSet %q", e.Recipients, e.Mail.ConfigurationSet)
	}
	if string(e.Raw) != string(env.Detail) {
		t.Error("event Raw is not the envelope's detail")
	}
	// The detail parsed on its own has the same key.
	alone, err := Parse(env.Detail)
	if err != nil {
		t.Fatal(err)
	}
	if alone.Key() != e.Key() {
		t.Error("detail through EventBridge and alone have different keys")
	}
}

func TestParseEventBridgeRefuses(t *testing.T) {
	t.Parallel()
	send := `{"eventType": "Send", "mail": {"timestamp": "2024-06-01T00:00:00Z", "messageId": "m-7"}}`
	tests := []struct {
		name, in, msg string
		envelope      bool // the envelope is returned with the error
	}{
		{"empty", ``, "not a JSON object", false},
		{"array", `[]`, "not a JSON object", false},
		{"malformed", `{"source": "aws.ses", "detail": {`, "unexpected end", false},
		{"syntax", `{"source": aws.ses}`, "invalid character", false},
		{"other source", `{"source": "aws.sns", "detail": ` + send + `}`, `source "aws.sns" is not "aws.ses"`, false},
		{"no source", `{"detail": ` + send + `}`, `source "" is not`, false},
		{"source not a string", `{"source": ["aws.ses"], "detail": ` + send + `}`, `source "" is not`, false},
		{"no detail", `{"source": "aws.ses", "detail-type": "Email Sent"}`, "no detail", false},
		{"null detail", `{"source": "aws.ses", "detail": null}`, "detail is null", false},
		{"detail not an object", `{"source": "aws.ses", "detail": "Send"}`, "detail: invalid SES event: not a JSON object", true},
		{"tenant event", `{"source": "aws.ses", "detail-type": "Sending Status Disabled", "detail": {"version": "1.0.0", "data": {}}}`, "no eventType", true},
		{"detail without mail", `{"source": "aws.ses", "detail": {"eventType": "Send"}}`, "no mail object", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, e, err := ParseEventBridge([]byte(tt.in))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if e != nil {
				t.Error("an event came with the error")
			}
			if (env != nil) != tt.envelope {
				t.Errorf("envelope returned = %v, want %v", env != nil, tt.envelope)
			}
		})
	}
}
