package snsverify

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	const full = `{
  "Type" : "Notification",
  "MessageId" : "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
  "TopicArn" : "arn:aws:sns:us-east-1:123456789012:ses-events",
  "Subject" : "Amazon SES Email Event Notification",
  "Message" : "{\"eventType\":\"Bounce\"}\nline\u00e9",
  "Timestamp" : "2024-06-01T11:59:58.123Z",
  "SignatureVersion" : "2",
  "Signature" : "c2ln",
  "SigningCertURL" : "https:\/\/sns.us-east-1.amazonaws.com\/SimpleNotificationService-x.pem",
  "UnsubscribeURL" : "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
  "MessageAttributes" : {"a": {"Type": "String", "Value": "b"}}
}`
	tests := []struct {
		name string
		body string
		want *Message // nil: refused with ErrInvalid
	}{
		{"notification", full, &Message{
			Type: "Notification", MessageID: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
			TopicArn: "arn:aws:sns:us-east-1:123456789012:ses-events", Subject: "Amazon SES Email Event Notification",
			Message: "{\"eventType\":\"Bounce\"}\nlineé", Timestamp: "2024-06-01T11:59:58.123Z",
			SignatureVersion: "2", Signature: "c2ln",
			SigningCertURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
			UnsubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
		}},
		{"Lambda key spelling, null Subject",
			`{"Type":"Notification","MessageId":"m","TopicArn":"t","Subject":null,"Message":"x","Signature":"s",` +
				`"SigningCertUrl":"https://c.pem","UnsubscribeUrl":"https://u"}`,
			&Message{Type: "Notification", MessageID: "m", TopicArn: "t", Message: "x", Signature: "s",
				SigningCertURL: "https://c.pem", UnsubscribeURL: "https://u"}},
		{"subscription confirmation",
			`{"Type":"SubscriptionConfirmation","MessageId":"m","TopicArn":"t","Token":"tok","Message":"x",` +
				`"SubscribeURL":"https://s","Signature":"s","SigningCertURL":"https://c.pem"}`,
			&Message{Type: "SubscriptionConfirmation", MessageID: "m", TopicArn: "t", Token: "tok", Message: "x",
				SubscribeURL: "https://s", Signature: "s", SigningCertURL: "https://c.pem"}},
		{"not JSON", `Type=Notification`, nil},
		{"truncated", full[:len(full)-2], nil},
		{"trailing data", full + `{}`, nil},
		{"array", `[]`, nil},
		{"Message is an object", strings.Replace(full, `"{\"eventType\":\"Bounce\"}\nline\u00e9"`, `{"eventType":"Bounce"}`, 1), nil},
		{"missing Type", strings.Replace(full, `"Type" : "Notification",`, ``, 1), nil},
		{"unknown Type", strings.Replace(full, `"Type" : "Notification",`, `"Type" : "Notice",`, 1), nil},
		{"missing MessageId", strings.Replace(full, `"MessageId"`, `"Id"`, 1), nil},
		{"missing TopicArn", strings.Replace(full, `"TopicArn"`, `"Topic"`, 1), nil},
		{"missing Signature", strings.Replace(full, `"Signature" :`, `"Sig" :`, 1), nil},
		{"missing SigningCertURL", strings.Replace(full, `"SigningCertURL"`, `"CertURL"`, 1), nil},
		{"empty Type", strings.Replace(full, `"Type" : "Notification"`, `"Type" : ""`, 1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.body))
			if tt.want == nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Parse = %+v, %v; want ErrInvalid", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *got != *tt.want {
				t.Fatalf("Parse =\n%+v\nwant\n%+v", *got, *tt.want)
			}
		})
	}
}

func TestStringToSign(t *testing.T) {
	t.Parallel()
	// Spelled out from AWS's "Verifying the signatures of Amazon SNS
	// messages", not from wantStringToSign.
	tests := []struct {
		name string
		m    *Message
		want string
	}{
		{"notification with subject",
			&Message{Type: "Notification", MessageID: "id", TopicArn: "arn", Subject: "subj", Message: "a\nb", Timestamp: "ts",
				Token: "ignored", SubscribeURL: "ignored", UnsubscribeURL: "ignored", SigningCertURL: "ignored", SignatureVersion: "1"},
			"Message\na\nb\nMessageId\nid\nSubject\nsubj\nTimestamp\nts\nTopicArn\narn\nType\nNotification\n"},
		{"notification without subject",
			&Message{Type: "Notification", MessageID: "id", TopicArn: "arn", Message: "m", Timestamp: "ts"},
			"Message\nm\nMessageId\nid\nTimestamp\nts\nTopicArn\narn\nType\nNotification\n"},
		{"subscription confirmation",
			&Message{Type: "SubscriptionConfirmation", MessageID: "id", TopicArn: "arn", Subject: "ignored", Message: "m",
				Timestamp: "ts", Token: "tok", SubscribeURL: "https://s", UnsubscribeURL: "ignored"},
			"Message\nm\nMessageId\nid\nSubscribeURL\nhttps://s\nTimestamp\nts\nToken\ntok\nTopicArn\narn\nType\nSubscriptionConfirmation\n"},
		{"unsubscribe confirmation",
			&Message{Type: "UnsubscribeConfirmation", MessageID: "id", TopicArn: "arn", Message: "m",
				Timestamp: "ts", Token: "tok", SubscribeURL: "https://s"},
			"Message\nm\nMessageId\nid\nSubscribeURL\nhttps://s\nTimestamp\nts\nToken\ntok\nTopicArn\narn\nType\nUnsubscribeConfirmation\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.m.stringToSign()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("stringToSign =\n%q\nwant\n%q", got, tt.want)
			}
			if w := wantStringToSign(tt.m); w != tt.want {
				t.Fatalf("test helper wantStringToSign disagrees:\n%q", w)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:t&Token=abc", true},
		{"https://sns.eu-central-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x", true},
		{"https://sns.us-gov-west-1.amazonaws.com/?Action=ConfirmSubscription", true},
		{"https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription", true},
		{"https://sns.ap-southeast-5.amazonaws.com:443/?Action=ConfirmSubscription", true},
		{"https://sns.us-east-1.amazonaws.com", true},
		{"", false},
		{"http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription", false},
		{"https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription", false},
		{"https://evil.com/sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription", false},
		{"https://evil.com/?host=sns.us-east-1.amazonaws.com", false},
		{"https://user@sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription", false},
		{"https://sns.us-east-1.amazonaws.com@evil.com/", false},
		{"https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription", false},
		{"https://a.sns.us-east-1.amazonaws.com/", false},
		{"https://sns.us-east-1.amazonaws.com./", false},
		{"https://sns.cn-north-1.amazonaws.com/", false},
		{"https://sns.us-east-1.amazonaws.com.cn/", false},
		{"https://sns.us-east.amazonaws.com/", false},
		{"https://sns.us-east-1a.amazonaws.com/", false},
		{"https://sns.localhost/", false},
		{"https://127.0.0.1/", false},
		{"https://[::1]/", false},
		{"javascript:alert(1)//sns.us-east-1.amazonaws.com", false},
		{" https://sns.us-east-1.amazonaws.com/", false},
		{"https://sns.us-east-1.amazonaws.com\n/", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			err := CheckURL(tt.url)
			if tt.ok && err != nil {
				t.Fatalf("CheckURL = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrForged) {
				t.Fatalf("CheckURL = %v, want ErrForged", err)
			}
		})
	}
}

func TestTopicParts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arn                   string
		region, account, name string
		ok                    bool
	}{
		{"arn:aws:sns:us-east-1:123456789012:ses-events", "us-east-1", "123456789012", "ses-events", true},
		{"arn:aws:sns:eu-central-1:573964052742:keila_notifications", "eu-central-1", "573964052742", "keila_notifications", true},
		{"arn:aws-cn:sns:cn-north-1:123456789012:t", "cn-north-1", "123456789012", "t", true},
		{"arn:aws-us-gov:sns:us-gov-west-1:123456789012:t", "us-gov-west-1", "123456789012", "t", true},
		{"arn:aws:sns:us-east-2:123456789012:orders.fifo", "us-east-2", "123456789012", "orders.fifo", true},
		{"arn:aws:sns:us-east-1:123456789012:" + strings.Repeat("a", 256), "us-east-1", "123456789012", strings.Repeat("a", 256), true},
		{"", "", "", "", false},
		{"arn:aws:sns:us-east-1:123456789012", "", "", "", false},
		{"arn:aws:sns:us-east-1:123456789012:t:sub-id", "", "", "", false},
		{"arn:aws:sqs:us-east-1:123456789012:t", "", "", "", false},
		{"urn:aws:sns:us-east-1:123456789012:t", "", "", "", false},
		{"arn:aws:sns:us-east-1:12345678901:t", "", "", "", false},
		{"arn:aws:sns:us-east-1:12345678901a:t", "", "", "", false},
		{"arn:aws:sns:useast1:123456789012:t", "", "", "", false},
		{"arn:aws:sns:cn-north-1:123456789012:t", "", "", "", false},
		{"arn:aws-cn:sns:us-east-1:123456789012:t", "", "", "", false},
		{"arn:aws:sns:us-gov-west-1:123456789012:t", "", "", "", false},
		{"arn:evil:sns:us-east-1:123456789012:t", "", "", "", false},
		{"arn:aws:sns:us-east-1:123456789012:", "", "", "", false},
		{"arn:aws:sns:us-east-1:123456789012:bad name", "", "", "", false},
		{"arn:aws:sns:us-east-1:123456789012:" + strings.Repeat("a", 257), "", "", "", false},
		{"arn:aws:sns:us-east-1:123456789012:.fifo", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.arn, func(t *testing.T) {
			t.Parallel()
			region, account, name, ok := TopicParts(tt.arn)
			if region != tt.region || account != tt.account || name != tt.name || ok != tt.ok {
				t.Fatalf("TopicParts = %q, %q, %q, %v; want %q, %q, %q, %v",
					region, account, name, ok, tt.region, tt.account, tt.name, tt.ok)
			}
		})
	}
}
