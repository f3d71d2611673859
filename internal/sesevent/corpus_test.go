package sesevent

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedCorpus holds real SES payloads kept outside the repository
// (INDEX.md there says where each comes from). The test skips without it.
const sharedCorpus = "../../../shared/ses-events"

// localStackPlaceholder is what LocalStack's snapshot recorder wrote in place
// of mail.timestamp; with no readable time of last resort such a payload is
// refused, as the Parse contract says.
const localStackPlaceholder = "timestamp"

func TestSharedCorpus(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(sharedCorpus); err != nil {
		t.Skipf("shared SES corpus not available: %v", err)
	}
	for _, dir := range []string{"event-publishing", "notification"} {
		paths, err := filepath.Glob(filepath.Join(sharedCorpus, dir, "*.json"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("no payloads in %s: %v", dir, err)
		}
		for _, p := range paths {
			t.Run(dir+"/"+filepath.Base(p), func(t *testing.T) {
				t.Parallel()
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				var probe struct {
					Mail struct {
						MessageID string `json:"messageId"`
						Timestamp string `json:"timestamp"`
					} `json:"mail"`
				}
				if err := json.Unmarshal(b, &probe); err != nil {
					t.Fatal(err)
				}
				e, err := Parse(b)
				if probe.Mail.Timestamp == localStackPlaceholder {
					if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "mail.timestamp") {
						t.Fatalf("placeholder mail.timestamp: error = %v, want ErrInvalid about mail.timestamp", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				checkCorpusEvent(t, e, probe.Mail.MessageID)
			})
		}
	}

	paths, _ := filepath.Glob(filepath.Join(sharedCorpus, "eventbridge", "real-email-opened*.json"))
	for _, p := range paths {
		t.Run("eventbridge/"+filepath.Base(p), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			env, e, err := ParseEventBridge(b)
			if err != nil {
				t.Fatalf("ParseEventBridge: %v", err)
			}
			if env.DetailType != "Email Opened" || env.ID == "" || env.Time.IsZero() || len(env.Resources) == 0 {
				t.Errorf("envelope = %+v", env)
			}
			if e.Type != TypeOpen || e.Open == nil || e.Open.IPAddress == "" {
				t.Errorf("Type %q, Open %+v", e.Type, e.Open)
			}
			checkCorpusEvent(t, e, e.Mail.MessageID)
		})
	}

	// SES's tenant and advisor events come through EventBridge too but are
	// not about a message: refused, not mistaken for one.
	paths, _ = filepath.Glob(filepath.Join(sharedCorpus, "eventbridge", "awsdocs-tenant-*.json"))
	for _, p := range paths {
		t.Run("eventbridge/"+filepath.Base(p), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := ParseEventBridge(b); !errors.Is(err, ErrInvalid) {
				t.Errorf("error = %v, want ErrInvalid", err)
			}
		})
	}
}

func checkCorpusEvent(t *testing.T, e *Event, messageID string) {
	t.Helper()
	if e.Mail.MessageID == "" || e.Mail.MessageID != strings.TrimSpace(messageID) {
		t.Errorf("MessageID = %q, want %q", e.Mail.MessageID, messageID)
	}
	if !e.Known {
		t.Errorf("Type %q not known", e.Type)
	}
	if e.Time.IsZero() || e.Mail.Timestamp.IsZero() {
		t.Errorf("Time %v, Mail.Timestamp %v", e.Time, e.Mail.Timestamp)
	}
	if len(e.Recipients) == 0 {
		t.Error("no recipients")
	}
	for _, r := range e.Recipients {
		if r != strings.ToLower(r) || strings.ContainsAny(r, "<> ") {
			t.Errorf("recipient %q not normalised", r)
		}
	}
	switch e.Type {
	case TypeBounce:
		if e.Bounce == nil || e.Bounce.Type == "" || e.Bounce.SubType == "" {
			t.Errorf("Bounce = %+v", e.Bounce)
		}
	case TypeComplaint:
		if e.Complaint == nil || e.FeedbackID == "" {
			t.Errorf("Complaint = %+v, FeedbackID %q", e.Complaint, e.FeedbackID)
		}
	case TypeDelivery:
		if e.Delivery == nil || e.Delivery.SMTPResponse == "" {
			t.Errorf("Delivery = %+v", e.Delivery)
		}
	case TypeRenderingFailure:
		if e.Failure == nil || e.Mail.Template == "" {
			t.Errorf("Failure = %+v, Template %q", e.Failure, e.Mail.Template)
		}
	}
	if len(e.Key()) != 64 {
		t.Errorf("Key %q", e.Key())
	}
}
