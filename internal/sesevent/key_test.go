package sesevent

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

func mustKey(t *testing.T, b []byte) string {
	t.Helper()
	e, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	k := e.Key()
	if len(k) != 64 {
		t.Fatalf("Key %q is not 64 hex digits", k)
	}
	if _, err := hex.DecodeString(k); err != nil {
		t.Fatalf("Key %q is not hex: %v", k, err)
	}
	if k2 := e.Key(); k2 != k {
		t.Fatalf("Key not deterministic: %q then %q", k, k2)
	}
	return k
}

// reorder re-encodes b with sorted keys and no whitespace, as another
// transport might.
func reorder(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The same SES event has the same key however it arrives.
func TestKeySameEvent(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"event/bounce-permanent-general.json", "event/delivery.json", "event/send.json",
		"event/complaint-abuse.json", "event/reject.json", "event/deliverydelay.json",
		"event/open.json", "event/click.json", "event/rendering-failure.json",
		"event/subscription.json", "event/unknown-type.json",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := fixture(t, name)
			want := mustKey(t, in)

			var compact bytes.Buffer
			if err := json.Compact(&compact, in); err != nil {
				t.Fatal(err)
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, in, "", "\t"); err != nil {
				t.Fatal(err)
			}
			variants := map[string][]byte{
				"compact":             compact.Bytes(),
				"indented":            indented.Bytes(),
				"keys reordered":      reorder(t, in),
				"SNS Message newline": append(bytes.Clone(in), '\n'),
			}
			for vname, b := range variants {
				if got := mustKey(t, b); got != want {
					t.Errorf("%s: Key %s, want %s", vname, got, want)
				}
			}

			// Through EventBridge, with the detail written differently.
			for vname, detail := range map[string][]byte{"as is": in, "keys reordered": reorder(t, in)} {
				env, e, err := ParseEventBridge(wrapEventBridge("Email Something", detail))
				if err != nil {
					t.Fatalf("EventBridge %s: %v", vname, err)
				}
				if env.Source != SourceSES {
					t.Errorf("Source %q", env.Source)
				}
				if got := e.Key(); got != want {
					t.Errorf("EventBridge %s: Key %s, want %s", vname, got, want)
				}
			}
		})
	}
}

// A bounce, complaint or delivery in the notification format has the key of
// the same event in the event-publishing format.
func TestKeyAcrossFormats(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ file, typ string }{
		{"event/bounce-permanent-general.json", "Bounce"},
		{"event/complaint-abuse.json", "Complaint"},
		{"event/delivery.json", "Delivery"},
	} {
		in := fixture(t, tt.file)
		notif := replace(t, in, `"eventType": "`+tt.typ+`"`, `"notificationType": "`+tt.typ+`"`)
		e, err := Parse(notif)
		if err != nil {
			t.Fatal(err)
		}
		if e.Format != FormatNotification {
			t.Fatalf("%s: Format %q", tt.file, e.Format)
		}
		if got, want := e.Key(), mustKey(t, in); got != want {
			t.Errorf("%s: notification Key %s, event Key %s", tt.file, got, want)
		}
	}
}

// Two different events never share a key; details that do not identify an
// event do not change it.
func TestKeyDistinguishes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, old, new string
		same           bool
	}{
		{"event/bounce-permanent-general.json", `"messageId": "0102018f4d6e14c0`, `"messageId": "0102018f4d6e14c1`, false},
		{"event/bounce-permanent-general.json", `"feedbackId": "0102018f4d6e1a22`, `"feedbackId": "0102018f4d6e1a23`, false},
		{"event/bounce-permanent-general.json", `"timestamp": "2024-05-06T09:15:31.208Z"`, `"timestamp": "2024-05-06T09:15:31.209Z"`, false},
		{"event/bounce-permanent-general.json", `"emailAddress": "bruno@example.net"`, `"emailAddress": "carla@example.com"`, false},
		{"event/bounce-permanent-general.json", `"emailAddress": "bruno@example.net"`, `"emailAddress": "Bruno <BRUNO@example.net>"`, true},
		{"event/bounce-permanent-general.json", `"diagnosticCode": "smtp; 550 5.1.1 user unknown"`, `"diagnosticCode": "smtp; 550 5.1.1 no such user"`, true},
		{"event/delivery.json", `"recipients": ["Dora@Example.org", "eli@example.net"]`, `"recipients": ["Dora@Example.org"]`, false},
		{"event/delivery.json", `"recipients": ["Dora@Example.org", "eli@example.net"]`, `"recipients": ["eli@example.net", "dora@example.org"]`, true},
		{"event/delivery.json", `"timestamp": "2024-05-06T10:01:03.512Z"`, `"timestamp": "2024-05-06T10:01:04.512Z"`, false},
		{"event/delivery.json", `"smtpResponse": "250 2.0.0 OK  1714989663 a1si2 - esmtp"`, `"smtpResponse": "250 ok"`, true},
		{"event/delivery.json", `"eventType": "Delivery"`, `"eventType": "Send"`, false},
		{"event/deliverydelay.json", `"timestamp": "2024-05-09T08:30:00.123Z"`, `"timestamp": "2024-05-09T09:30:00.123Z"`, false},
		{"event/deliverydelay.json", `"delayType": "MailboxFull"`, `"delayType": "InternalFailure"`, true},
		{"event/open.json", `"ipAddress": "198.51.100.88"`, `"ipAddress": "198.51.100.89"`, false},
		{"event/open.json", `"userAgent": "Mozilla/5.0 (X11; Linux x86_64) ExampleMail/1.0"`, `"userAgent": "Other"`, false},
		{"event/open.json", `"timestamp": "2024-05-10T12:05:42.301Z"`, `"timestamp": "2024-05-10T12:05:42.302Z"`, false},
		{"event/click.json", `"link": "https://www.example.com/june?utm_source=news"`, `"link": "https://www.example.com/july"`, false},
		{"event/click.json", `"ipAddress": "198.51.100.88"`, `"ipAddress": "198.51.100.89"`, false},
		{"event/click.json", `"linkTags": {"section": ["header"], "position": ["1"]}`, `"linkTags": null`, true},
		{"event/subscription.json", `"contactList": "weekly-digest"`, `"contactList": "monthly"`, false},
		{"event/unknown-type.json", `"reason": "virus"`, `"reason": "spam"`, false},
		{"event/unknown-type.json", `"eventType": "Quarantine"`, `"eventType": "Quarantined"`, false},
		{"event/send.json", `"eventType": "Send"`, `"eventType": "Reject"`, false},
		{"event/send.json", `"subject": "Invoice 2024-0042"`, `"subject": "Another subject"`, true},
	}
	for _, tt := range tests {
		in := fixture(t, tt.file)
		before := mustKey(t, in)
		after := mustKey(t, replace(t, in, tt.old, tt.new))
		if (before == after) != tt.same {
			t.Errorf("%s: %s -> %s: same key = %v, want %v", tt.file, tt.old, tt.new, before == after, tt.same)
		}
	}
}

// Every fixture is a different event, so every key differs, including the
// Send and Delivery of one message and its Open and Click; parsing order does
// not matter (a Delivery may arrive before its Send).
func TestKeyUniqueAcrossFixtures(t *testing.T) {
	t.Parallel()
	all := fixtures(t, "event")
	for k, v := range fixtures(t, "notification") {
		all[k] = v
	}
	seen := map[string]string{}
	for _, order := range [][]string{{"event/delivery.json", "event/send.json"}, {"event/send.json", "event/delivery.json"}} {
		keys := map[string]string{}
		for _, name := range order {
			keys[name] = mustKey(t, all[name])
		}
		if keys["event/delivery.json"] == keys["event/send.json"] {
			t.Error("Send and Delivery of one message share a key")
		}
		if len(seen) > 0 && (seen["event/delivery.json"] != keys["event/delivery.json"] || seen["event/send.json"] != keys["event/send.json"]) {
			t.Error("keys depend on parse order")
		}
		seen = keys
	}
	byKey := map[string]string{}
	for name, b := range all {
		k := mustKey(t, b)
		if other, dup := byKey[k]; dup {
			t.Errorf("%s and %s share key %s", name, other, k)
		}
		byKey[k] = name
	}
}

// The key hashes length-prefixed fields, so moving text between fields
// changes it.
func TestKeyFieldBoundaries(t *testing.T) {
	t.Parallel()
	base := Event{Type: TypeDelivery, Known: true, Mail: Mail{MessageID: "ab"}, Recipients: []string{"c@d", "e@f"}}
	moved := base
	moved.Mail.MessageID = "a"
	moved.FeedbackID = "b"
	joined := base
	joined.Recipients = []string{"c@de@f"}
	keys := map[string]bool{base.Key(): true, moved.Key(): true, joined.Key(): true}
	if len(keys) != 3 {
		t.Error("keys collide when text moves between fields")
	}
	if strings.ToLower(base.Key()) != base.Key() {
		t.Error("key is not lower-case hex")
	}
}
