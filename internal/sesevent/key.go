package sesevent

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"
)

// keyVersion starts every hashed key; change it only together with every
// stored key.
const keyVersion = "sesevent.Key/1"

// Key returns the event's natural identity: 64 hex digits of a SHA-256 over
// the message id, canonical type, the event's own time (RFC 3339, UTC,
// nanoseconds), the feedback id and the sorted recipients, each field
// length-prefixed so that no two field lists hash the same input. Open and
// Click add the IP address, user agent and (Click) link, since one recipient
// may open or click many times; Subscription adds the contact list and
// source. An unknown type adds the canonical JSON (keys sorted) of every
// top-level member other than mail, eventType and notificationType, since the
// package cannot tell which of them tell two such events apart.
//
// The same SES event therefore has the same key however it arrives: in the
// event-publishing or notification format, as an SNS Message or as an
// EventBridge detail, whatever the whitespace or key order.
func (e *Event) Key() string {
	ts := e.Time.UTC().Format(time.RFC3339Nano)
	recips := slices.Clone(e.Recipients)
	slices.Sort(recips)
	recips = slices.Compact(recips)

	n := len(keyVersion) + len(e.Mail.MessageID) + len(e.Type) + len(ts) + len(e.FeedbackID) + 64
	for _, r := range recips {
		n += len(r) + 2
	}
	b := make([]byte, 0, n)
	b = appendField(b, keyVersion)
	b = appendField(b, e.Mail.MessageID)
	b = appendField(b, e.Type)
	b = appendField(b, ts)
	b = appendField(b, e.FeedbackID)
	b = binary.AppendUvarint(b, uint64(len(recips)))
	for _, r := range recips {
		b = appendField(b, r)
	}
	switch {
	case !e.Known:
		b = appendField(b, unknownBody(e.Raw))
	case e.Type == TypeOpen:
		var o Open
		if e.Open != nil {
			o = *e.Open
		}
		b = appendField(b, o.IPAddress)
		b = appendField(b, o.UserAgent)
	case e.Type == TypeClick:
		var c Click
		if e.Click != nil {
			c = *e.Click
		}
		b = appendField(b, c.IPAddress)
		b = appendField(b, c.UserAgent)
		b = appendField(b, c.Link)
	case e.Type == TypeSubscription:
		var s Subscription
		if e.Subscription != nil {
			s = *e.Subscription
		}
		b = appendField(b, s.ContactList)
		b = appendField(b, s.Source)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// unknownBody returns the top-level members of raw other than mail and the
// type as canonical JSON, or "" when raw is not a JSON object.
func unknownBody(raw []byte) string {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return ""
	}
	delete(m, "mail")
	delete(m, "eventType")
	delete(m, "notificationType")
	out, err := json.Marshal(m) // map keys are written sorted
	if err != nil {
		return ""
	}
	return string(out)
}
