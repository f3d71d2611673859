package snsverify

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bodies to the SNS envelope parser: it never
// panics, and it either refuses with ErrInvalid or returns a message with
// the fields verification needs.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:123456789012:ses","Subject":"s","Message":"{\"eventType\":\"Send\"}","Timestamp":"2026-01-02T03:04:05.000Z","SignatureVersion":"2","Signature":"c2ln","SigningCertURL":"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem","UnsubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"}`))
	f.Add([]byte(`{"Type":"SubscriptionConfirmation","MessageId":"m-2","Token":"t","TopicArn":"arn:aws:sns:eu-west-1:123456789012:ses","Message":"confirm","SubscribeURL":"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription","Timestamp":"2026-01-02T03:04:05.000Z","SignatureVersion":"1","Signature":"c2ln","SigningCertURL":"https://sns.eu-west-1.amazonaws.com/x.pem"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"Type":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if m.Type == "" || m.MessageID == "" || m.TopicArn == "" || m.Signature == "" || m.SigningCertURL == "" {
			t.Fatalf("accepted a message without a required field: %+v", m)
		}
		_, _ = m.stringToSign()
		_ = CheckURL(m.SubscribeURL)
		TopicParts(m.TopicArn)
	})
}
