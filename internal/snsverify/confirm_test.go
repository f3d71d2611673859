package snsverify

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestConfirm(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	signed := func(t *testing.T, mutate func(*Message)) *Message {
		m := confirmation(TypeSubscriptionConfirmation)
		if mutate != nil {
			mutate(m)
		}
		return sign(t, p.leafKey, m, "2")
	}
	tests := []struct {
		name      string
		msg       func(t *testing.T) *Message
		rt        *stubTransport
		want      error // nil: confirmed; errOther: an error wrapping no sentinel
		wantReqs  int
		wantFetch int
	}{
		{"confirmed", func(t *testing.T) *Message { return signed(t, nil) },
			&stubTransport{status: 200}, nil, 1, 1},
		{"SubscribeURL off SNS, validly signed", func(t *testing.T) *Message {
			return signed(t, func(m *Message) { m.SubscribeURL = "https://evil.example/?Action=ConfirmSubscription" })
		}, &stubTransport{status: 200}, ErrForged, 0, 0},
		{"SubscribeURL over http", func(t *testing.T) *Message {
			return signed(t, func(m *Message) { m.SubscribeURL = "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription" })
		}, &stubTransport{status: 200}, ErrForged, 0, 0},
		{"SubscribeURL with userinfo", func(t *testing.T) *Message {
			return signed(t, func(m *Message) { m.SubscribeURL = "https://sns.us-east-1.amazonaws.com@evil.example/" })
		}, &stubTransport{status: 200}, ErrForged, 0, 0},
		{"SubscribeURL on another port", func(t *testing.T) *Message {
			return signed(t, func(m *Message) { m.SubscribeURL = "https://sns.us-east-1.amazonaws.com:8443/" })
		}, &stubTransport{status: 200}, ErrForged, 0, 0},
		{"forged signature", func(t *testing.T) *Message {
			m := signed(t, nil)
			m.Token = "attacker-token"
			return m
		}, &stubTransport{status: 200}, ErrForged, 0, 1},
		{"SubscribeURL altered after signing", func(t *testing.T) *Message {
			m := signed(t, nil)
			m.SubscribeURL = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:210987654321:other&Token=x"
			return m
		}, &stubTransport{status: 200}, ErrForged, 0, 1},
		{"notification is not a confirmation", func(t *testing.T) *Message {
			return sign(t, p.leafKey, notification(""), "2")
		}, &stubTransport{status: 200}, ErrInvalid, 0, 0},
		{"unsubscribe confirmation is not a confirmation", func(t *testing.T) *Message {
			return sign(t, p.leafKey, confirmation(TypeUnsubscribeConfirmation), "2")
		}, &stubTransport{status: 200}, ErrInvalid, 0, 0},
		{"SNS answers 500", func(t *testing.T) *Message { return signed(t, nil) },
			&stubTransport{status: 500}, ErrUnavailable, 1, 1},
		{"SNS answers 503", func(t *testing.T) *Message { return signed(t, nil) },
			&stubTransport{status: 503}, ErrUnavailable, 1, 1},
		{"SNS throttles", func(t *testing.T) *Message { return signed(t, nil) },
			&stubTransport{status: 429}, ErrUnavailable, 1, 1},
		{"network failure", func(t *testing.T) *Message { return signed(t, nil) },
			&stubTransport{err: errors.New("connection refused")}, ErrUnavailable, 1, 1},
		{"SNS refuses the token", func(t *testing.T) *Message { return signed(t, nil) },
			&stubTransport{status: 403}, errOther, 1, 1},
		{"redirect is not followed", func(t *testing.T) *Message { return signed(t, nil) },
			&stubTransport{status: 302, header: http.Header{"Location": {"https://evil.example/"}}}, errOther, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &stubFetcher{pems: map[string][]byte{testCertURL: p.pem}}
			m := tt.msg(t)
			err := pinned(p, f).Confirm(context.Background(), &http.Client{Transport: tt.rt}, m)
			switch {
			case tt.want == errOther:
				if err == nil || errors.Is(err, ErrInvalid) || errors.Is(err, ErrForged) || errors.Is(err, ErrUnavailable) {
					t.Fatalf("Confirm = %v, want a plain error", err)
				}
			case !errorIs(err, tt.want):
				t.Fatalf("Confirm = %v, want %v", err, tt.want)
			}
			if got := tt.rt.count(); got != tt.wantReqs {
				t.Fatalf("requests = %d, want %d", got, tt.wantReqs)
			}
			if got := f.count(); got != tt.wantFetch {
				t.Errorf("certificate fetches = %d, want %d", got, tt.wantFetch)
			}
			if tt.wantReqs > 0 {
				r := tt.rt.requests[0]
				if r.Method != http.MethodGet || r.URL.String() != m.SubscribeURL {
					t.Errorf("request = %s %s, want GET %s", r.Method, r.URL, m.SubscribeURL)
				}
			}
		})
	}
}

// errOther stands for an error that wraps none of the sentinels.
var errOther = errors.New("other")

func TestConfirmNilMessage(t *testing.T) {
	t.Parallel()
	rt := &stubTransport{status: 200}
	if err := (&Verifier{}).Confirm(context.Background(), &http.Client{Transport: rt}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Confirm(nil) = %v", err)
	}
	if rt.count() != 0 {
		t.Fatal("request made")
	}
}

// TestConfirmKeepsCallerClient: Confirm must not change the client it is
// given (it refuses redirects on a copy).
func TestConfirmKeepsCallerClient(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	c := &http.Client{Transport: &stubTransport{status: 200}}
	if err := pinned(p, &stubFetcher{any: p.pem}).Confirm(context.Background(), c, sign(t, p.leafKey, confirmation(TypeSubscriptionConfirmation), "1")); err != nil {
		t.Fatal(err)
	}
	if c.CheckRedirect != nil {
		t.Fatal("caller's client modified")
	}
}
