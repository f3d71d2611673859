// Package snsverify authenticates the messages Amazon SNS posts to an HTTPS
// subscription: it parses the JSON body, checks the signature against the
// SNS signing certificate (SignatureVersion 1, SHA1withRSA, and 2,
// SHA256withRSA), and confirms a subscription only once its
// SubscriptionConfirmation has been verified.
//
// Nothing here trusts the body before the signature is checked: the
// certificate URL and the SubscribeURL must name an SNS host
// (sns.<region>.amazonaws.com or sns.<region>.amazonaws.com.cn) over HTTPS,
// and the certificate must chain to the configured roots.
//
// Errors wrap one of three sentinels, which the HTTP edge maps to a status:
// ErrInvalid (malformed body: answer 4xx), ErrForged (the body is not what
// SNS signed: answer 4xx, since SNS does not retry a 4xx), ErrUnavailable
// (the certificate or the confirmation endpoint could not be reached: answer
// 5xx so that SNS retries).
package snsverify

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Sentinel errors; every error this package returns wraps one of them,
// except a confirmation that SNS answered with a non-retryable status (see
// Verifier.Confirm).
var (
	// ErrInvalid means the message is malformed: not JSON, an unknown Type,
	// or a required field missing.
	ErrInvalid = errors.New("invalid SNS message")
	// ErrForged means the message cannot be trusted: its signature does not
	// verify, its content was altered, its certificate URL is not an SNS
	// one, the certificate does not chain to the roots, or its
	// SignatureVersion is unknown.
	ErrForged = errors.New("SNS signature does not verify")
	// ErrUnavailable is transient: the signing certificate (or the
	// confirmation endpoint) could not be fetched. The caller answers 5xx
	// so that SNS retries.
	ErrUnavailable = errors.New("SNS signing certificate unavailable")
)

// Message types SNS posts to an HTTP(S) endpoint.
const (
	TypeNotification             = "Notification"
	TypeSubscriptionConfirmation = "SubscriptionConfirmation"
	TypeUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// Message is an SNS HTTP(S) message body.
//
// An empty Subject means the message has none: SNS never sends an empty
// one (a subject must begin with a letter, a digit or a punctuation mark),
// and a JSON null, as Lambda-delivered records carry, is read as absent.
type Message struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	TopicArn         string `json:"TopicArn"`
	Subject          string `json:"Subject"`
	Message          string `json:"Message"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL"`
	UnsubscribeURL   string `json:"UnsubscribeURL"`
	Token            string `json:"Token"`
}

// Parse decodes an SNS body (JSON). It refuses, with an error wrapping
// ErrInvalid, malformed JSON, an unknown Type, or a missing Type, MessageId,
// TopicArn, Signature or SigningCertURL. Keys are matched without regard to
// case, so the SigningCertUrl/UnsubscribeUrl spelling of Lambda-delivered
// records is read too.
//
// Parse checks only the shape: the message is not trusted until
// Verifier.Verify succeeds. The caller limits the body's size (SNS
// messages are at most 256 KiB of payload plus the envelope).
func Parse(b []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// validate checks that the fields every message needs are present and that
// the Type is one SNS sends.
func (m *Message) validate() error {
	for _, f := range []struct{ name, value string }{
		{"Type", m.Type},
		{"MessageId", m.MessageID},
		{"TopicArn", m.TopicArn},
		{"Signature", m.Signature},
		{"SigningCertURL", m.SigningCertURL},
	} {
		if f.value == "" {
			return fmt.Errorf("%w: missing %s", ErrInvalid, f.name)
		}
	}
	switch m.Type {
	case TypeNotification, TypeSubscriptionConfirmation, TypeUnsubscribeConfirmation:
		return nil
	}
	return fmt.Errorf("%w: unknown Type %q", ErrInvalid, m.Type)
}

// stringToSign builds the bytes SNS signs, as AWS documents in "Verifying
// the signatures of Amazon SNS messages": for each key, in byte order,
// "Key\nValue\n". A Notification's Subject is included only when present;
// the confirmation types always include SubscribeURL and Token.
func (m *Message) stringToSign() ([]byte, error) {
	type kv struct{ k, v string }
	var fields []kv
	switch m.Type {
	case TypeNotification:
		fields = []kv{{"Message", m.Message}, {"MessageId", m.MessageID}}
		if m.Subject != "" {
			fields = append(fields, kv{"Subject", m.Subject})
		}
		fields = append(fields, kv{"Timestamp", m.Timestamp}, kv{"TopicArn", m.TopicArn}, kv{"Type", m.Type})
	case TypeSubscriptionConfirmation, TypeUnsubscribeConfirmation:
		fields = []kv{
			{"Message", m.Message}, {"MessageId", m.MessageID}, {"SubscribeURL", m.SubscribeURL},
			{"Timestamp", m.Timestamp}, {"Token", m.Token}, {"TopicArn", m.TopicArn}, {"Type", m.Type},
		}
	default:
		return nil, fmt.Errorf("%w: unknown Type %q", ErrInvalid, m.Type)
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.k)
		b.WriteByte('\n')
		b.WriteString(f.v)
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}

// regionPattern matches an AWS region name in the commercial, China and
// GovCloud partitions: us-east-1, cn-north-1, us-gov-west-1, ap-southeast-5.
const regionPattern = `[a-z]{2}(?:-gov)?-[a-z]+-[0-9]{1,2}`

var (
	regionRE    = regexp.MustCompile(`^` + regionPattern + `$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	topicNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// TopicParts returns the region, account and name of an SNS topic ARN
// (arn:PARTITION:sns:REGION:ACCOUNT:NAME, PARTITION one of aws, aws-cn,
// aws-us-gov and consistent with the region); ok is false when the ARN is
// malformed. A FIFO topic's name keeps its ".fifo" suffix.
func TopicParts(arn string) (region, account, name string, ok bool) {
	p := strings.Split(arn, ":")
	if len(p) != 6 || p[0] != "arn" || p[2] != "sns" {
		return "", "", "", false
	}
	partition, region, account, name := p[1], p[3], p[4], p[5]
	if !regionRE.MatchString(region) || partitionOf(region) != partition || !accountRE.MatchString(account) {
		return "", "", "", false
	}
	if !topicNameRE.MatchString(strings.TrimSuffix(name, ".fifo")) || len(name) > 256 {
		return "", "", "", false
	}
	return region, account, name, true
}

// partitionOf returns the ARN partition of a (well-formed) region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
