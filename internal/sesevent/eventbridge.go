package sesevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SourceSES is the EventBridge source of events SES sends.
const SourceSES = "aws.ses"

// EventBridgeEnvelope is an EventBridge event as delivered to a target (an
// API destination sends one per request). For SES e-mail sending events,
// Detail is the event-publishing object and DetailType names it ("Email
// Bounced", "Email Opened", …).
type EventBridgeEnvelope struct {
	ID, DetailType, Source, Account, Region string
	Time                                    time.Time // zero when absent or unreadable
	Resources                               []string  // e.g. the configuration set's ARN
	Detail                                  json.RawMessage
}

// wireEnvelope is the EventBridge envelope as sent.
type wireEnvelope struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// ParseEventBridge decodes an EventBridge envelope and then Parse(detail).
//
// It refuses, with an error wrapping ErrInvalid that says which, malformed
// JSON, a source other than "aws.ses", and a missing or null detail; it then
// refuses what Parse refuses, returning the envelope along with the error so
// that the caller can log its id. Events SES sends that are not about a
// message (tenant status, advisor recommendations) have no mail object and
// are refused by Parse.
func ParseEventBridge(b []byte) (*EventBridgeEnvelope, *Event, error) {
	if !isObject(b) {
		return nil, nil, fmt.Errorf("%w: EventBridge envelope is not a JSON object", ErrInvalid)
	}
	var w wireEnvelope
	if err := decode(b, &w, func() { w = wireEnvelope{} }); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return nil, nil, fmt.Errorf("%w: EventBridge envelope: %v", ErrInvalid, err)
		}
	}
	if w.Source != SourceSES {
		return nil, nil, fmt.Errorf("%w: EventBridge source %.64q is not %q", ErrInvalid, w.Source, SourceSES)
	}
	switch string(w.Detail) {
	case "":
		return nil, nil, fmt.Errorf("%w: EventBridge envelope has no detail", ErrInvalid)
	case "null":
		return nil, nil, fmt.Errorf("%w: EventBridge detail is null", ErrInvalid)
	}
	env := &EventBridgeEnvelope{
		ID:         w.ID,
		DetailType: w.DetailType,
		Source:     w.Source,
		Account:    w.Account,
		Region:     w.Region,
		Resources:  w.Resources,
		Detail:     w.Detail,
	}
	env.Time, _ = parseTime(w.Time)
	// The decoder copied Detail out of b, so the event may share it.
	ev, err := parse(env.Detail, false)
	if err != nil {
		return env, nil, fmt.Errorf("EventBridge detail: %w", err)
	}
	return env, ev, nil
}
