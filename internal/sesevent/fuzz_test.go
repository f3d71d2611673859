package sesevent

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func seedFixtures(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, dir := range []string{"event", "notification"} {
		for _, b := range fixtures(f, dir) {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, b := range seedFixtures(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"eventType":"Send","mail":{"timestamp":"2018-10-08T14:05:45 +0000","messageId":"m"}}`))
	f.Add([]byte(`{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":"A <B@C>"}]},"mail":{"timestamp":"2024-06-01T00:00:00Z","messageId":"m"}}`))
	f.Add([]byte(`{"eventType":"X","mail":{"timestamp":"2024-06-01T00:00:00Z","messageId":"m"},"x":{"n":1e400}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		e, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if e != nil {
				t.Fatal("event returned with an error")
			}
			return
		}
		if e.Mail.MessageID == "" {
			t.Fatal("accepted without a message id")
		}
		if e.Type == "" || e.Time.IsZero() && e.Mail.Timestamp.IsZero() {
			t.Fatalf("Type %q, Time %v", e.Type, e.Time)
		}
		if !bytes.Equal(e.Raw, in) {
			t.Fatal("Raw is not the input")
		}
		seen := map[string]bool{}
		for _, r := range e.Recipients {
			if r == "" || seen[r] || r != strings.ToLower(r) {
				t.Fatalf("recipients not normalised: %q", e.Recipients)
			}
			seen[r] = true
		}
		k := e.Key()
		if len(k) != 64 || e.Key() != k {
			t.Fatalf("Key %q not stable", k)
		}
		again, err := Parse(in)
		if err != nil || again.Key() != k {
			t.Fatalf("second Parse: %v, key %q vs %q", err, again.Key(), k)
		}
	})
}

func FuzzParseEventBridge(f *testing.F) {
	for _, b := range seedFixtures(f) {
		f.Add(wrapEventBridge("Email Sent", b))
	}
	f.Add(fixture(f, "eventbridge/email-bounced.json"))
	f.Add([]byte(`{"source":"aws.ses","detail":null}`))
	f.Add([]byte(`{"source":"aws.ses"}`))
	f.Add([]byte(`{"source":"aws.sns","detail":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, e, err := ParseEventBridge(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if e != nil {
				t.Fatal("event returned with an error")
			}
			return
		}
		if env == nil || env.Source != SourceSES || e.Mail.MessageID == "" {
			t.Fatalf("envelope %+v, MessageID %q", env, e.Mail.MessageID)
		}
		k := e.Key()
		alone, err := Parse(env.Detail)
		if err != nil || alone.Key() != k || e.Key() != k {
			t.Fatalf("detail alone: %v; keys differ", err)
		}
	})
}
