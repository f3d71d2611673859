package snsverify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	key := p.leafKey
	const subject = "Amazon SES Email Event Notification"

	tests := []struct {
		name      string
		msg       func(t *testing.T) *Message
		want      error // nil: accepted
		wantFetch int
	}{
		{"v1 notification with subject", func(t *testing.T) *Message { return sign(t, key, notification(subject), "1") }, nil, 1},
		{"v2 notification with subject", func(t *testing.T) *Message { return sign(t, key, notification(subject), "2") }, nil, 1},
		{"v1 notification without subject", func(t *testing.T) *Message { return sign(t, key, notification(""), "1") }, nil, 1},
		{"v2 notification without subject", func(t *testing.T) *Message { return sign(t, key, notification(""), "2") }, nil, 1},
		{"v1 subscription confirmation", func(t *testing.T) *Message {
			return sign(t, key, confirmation(TypeSubscriptionConfirmation), "1")
		}, nil, 1},
		{"v2 subscription confirmation", func(t *testing.T) *Message {
			return sign(t, key, confirmation(TypeSubscriptionConfirmation), "2")
		}, nil, 1},
		{"v1 unsubscribe confirmation", func(t *testing.T) *Message {
			return sign(t, key, confirmation(TypeUnsubscribeConfirmation), "1")
		}, nil, 1},
		{"v2 unsubscribe confirmation", func(t *testing.T) *Message {
			return sign(t, key, confirmation(TypeUnsubscribeConfirmation), "2")
		}, nil, 1},
		{"unsigned fields may change", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "2")
			m.UnsubscribeURL = "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=other"
			return m
		}, nil, 1},

		// Altered content.
		{"altered Message", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "1")
			m.Message = strings.Replace(m.Message, "Bounce", "Delivery", 1)
			return m
		}, ErrForged, 1},
		{"altered Message v2", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "2")
			m.Message += " "
			return m
		}, ErrForged, 1},
		{"altered Subject", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "1")
			m.Subject = "Amazon SES Email Event Notification!"
			return m
		}, ErrForged, 1},
		{"Subject added to a message signed without", func(t *testing.T) *Message {
			m := sign(t, key, notification(""), "2")
			m.Subject = subject
			return m
		}, ErrForged, 1},
		{"Subject removed from a message signed with", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "2")
			m.Subject = ""
			return m
		}, ErrForged, 1},
		{"altered TopicArn", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "1")
			m.TopicArn = "arn:aws:sns:us-east-1:123456789012:other"
			return m
		}, ErrForged, 1},
		{"altered TopicArn v2", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "2")
			m.TopicArn = "arn:aws:sns:us-east-1:210987654321:ses-events"
			return m
		}, ErrForged, 1},
		{"altered MessageId", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "2")
			m.MessageID = "00000000-0000-0000-0000-000000000000"
			return m
		}, ErrForged, 1},
		{"altered Timestamp", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "2")
			m.Timestamp = "2024-06-01T11:59:59.123Z"
			return m
		}, ErrForged, 1},
		{"Type changed to UnsubscribeConfirmation", func(t *testing.T) *Message {
			m := sign(t, key, confirmation(TypeSubscriptionConfirmation), "1")
			m.Type = TypeUnsubscribeConfirmation
			return m
		}, ErrForged, 1},
		{"altered SubscribeURL", func(t *testing.T) *Message {
			m := sign(t, key, confirmation(TypeSubscriptionConfirmation), "2")
			m.SubscribeURL = strings.Replace(m.SubscribeURL, "us-east-1", "us-west-2", 1)
			return m
		}, ErrForged, 1},
		{"altered Token", func(t *testing.T) *Message {
			m := sign(t, key, confirmation(TypeSubscriptionConfirmation), "1")
			m.Token += "0"
			return m
		}, ErrForged, 1},

		// Signature and version, refused without a fetch where possible.
		{"v1 signature labelled v2", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "1")
			m.SignatureVersion = "2"
			return m
		}, ErrForged, 1},
		{"v2 signature labelled v1", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "2")
			m.SignatureVersion = "1"
			return m
		}, ErrForged, 1},
		{"unknown SignatureVersion 3", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "2")
			m.SignatureVersion = "3"
			return m
		}, ErrForged, 0},
		{"missing SignatureVersion", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "1")
			m.SignatureVersion = ""
			return m
		}, ErrForged, 0},
		{"signature not base64", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "1")
			m.Signature = "not*base64"
			return m
		}, ErrForged, 0},
		{"signature by another key", func(t *testing.T) *Message {
			return sign(t, p.otherKey, notification(subject), "2")
		}, ErrForged, 1},
		{"signature corrupted", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "2")
			b := []byte(m.Signature)
			if b[10] == 'A' {
				b[10] = 'B'
			} else {
				b[10] = 'A'
			}
			m.Signature = string(b)
			return m
		}, ErrForged, 1},

		// Malformed.
		{"unknown Type", func(t *testing.T) *Message {
			m := sign(t, key, notification(subject), "1")
			m.Type = "Notice"
			return m
		}, ErrInvalid, 0},
		{"missing Signature", func(t *testing.T) *Message {
			m := notification(subject)
			m.SignatureVersion = "1"
			return m
		}, ErrInvalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &stubFetcher{pems: map[string][]byte{testCertURL: p.pem}}
			err := pinned(p, f).Verify(context.Background(), tt.msg(t))
			if !errorIs(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if got := f.count(); got != tt.wantFetch {
				t.Errorf("fetches = %d, want %d", got, tt.wantFetch)
			}
		})
	}
}

func TestVerifyNilMessage(t *testing.T) {
	t.Parallel()
	if err := (&Verifier{}).Verify(context.Background(), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Verify(nil) = %v, want ErrInvalid", err)
	}
}

// TestVerifyCertURL shows that the SigningCertURL rule, not the fetcher,
// refuses a URL: the stub would serve the good certificate for any URL, and
// is never called.
func TestVerifyCertURL(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	tests := []struct {
		url       string
		want      error
		wantFetch int
	}{
		{testCertURL, nil, 1},
		{"https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-x.pem", nil, 1},
		{"http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-x.pem", ErrForged, 0},
		{"https://evil.com/sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem", ErrForged, 0},
		{"https://evil.com/?u=https://sns.us-east-1.amazonaws.com/x.pem", ErrForged, 0},
		{"https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem", ErrForged, 0},
		{"https://user:pass@sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com@evil.com/SimpleNotificationService-x.pem", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-x.pem", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com:80/SimpleNotificationService-x.pem", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.crt", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com/", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com/x.pem?redirect=evil.com", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com/x.pem#frag", ErrForged, 0},
		{"https://evil.sns.us-east-1.amazonaws.com/x.pem", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com./x.pem", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com%2eevil.com/x.pem", ErrForged, 0},
		{"https://sns.amazonaws.com/x.pem", ErrForged, 0},
		{"https://sns.evil.amazonaws.com/x.pem", ErrForged, 0},
		{"https://sqs.us-east-1.amazonaws.com/x.pem", ErrForged, 0},
		{"https://sns.cn-north-1.amazonaws.com/x.pem", ErrForged, 0},
		{"https://sns.us-east-1.amazonaws.com.cn/x.pem", ErrForged, 0},
		{"https://SNS.US-EAST-1.AMAZONAWS.COM/x.pem", ErrForged, 0},
		{"//sns.us-east-1.amazonaws.com/x.pem", ErrForged, 0},
		{"https:sns.us-east-1.amazonaws.com/x.pem", ErrForged, 0},
		{"file:///etc/sns.us-east-1.amazonaws.com.pem", ErrForged, 0},
		// On SNS, but the certificate names another region: fetched, refused.
		{"https://sns.us-west-2.amazonaws.com/SimpleNotificationService-x.pem", ErrForged, 1},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			f := &stubFetcher{any: p.pem}
			m := notification("s")
			m.SigningCertURL = tt.url
			err := pinned(p, f).Verify(context.Background(), sign(t, p.leafKey, m, "2"))
			if !errorIs(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if got := f.count(); got != tt.wantFetch {
				t.Errorf("fetches = %d, want %d", got, tt.wantFetch)
			}
		})
	}
}

// TestVerifyCertificate covers what the fetched PEM must be.
func TestVerifyCertificate(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	tests := []struct {
		name string
		pem  []byte
		want error
	}{
		{"leaf and intermediate", p.pem, nil},
		{"partition-wide name sns.amazonaws.com", p.global, nil},
		{"different CA", p.otherCA, ErrForged},
		{"intermediate missing from the PEM", p.noInter, ErrForged},
		{"certificate for another host", p.wrongHost, ErrForged},
		{"ECDSA key", p.ecdsa, ErrForged},
		{"not PEM", []byte("<html>hello</html>"), ErrForged},
		{"PEM without a certificate", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), ErrForged},
		{"garbage certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), ErrForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := pinned(p, &stubFetcher{any: tt.pem})
			for _, version := range []string{"1", "2"} {
				err := v.Verify(context.Background(), sign(t, p.leafKey, notification("s"), version))
				if !errorIs(err, tt.want) {
					t.Fatalf("v%s: Verify = %v, want %v", version, err, tt.want)
				}
			}
		})
	}
}

// TestVerifyValidityPeriod: the certificate is checked at Now, so a test of
// an expired certificate must pin it.
func TestVerifyValidityPeriod(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	tests := []struct {
		name string
		now  func() time.Time
		want error
	}{
		{"real time, after expiry", nil, ErrForged},
		{"pinned inside validity", func() time.Time { return pinnedNow }, nil},
		{"pinned before NotBefore", func() time.Time { return leafNotBefore.Add(-time.Hour) }, ErrForged},
		{"pinned after NotAfter", func() time.Time { return leafNotAfter.Add(time.Hour) }, ErrForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &Verifier{Fetcher: &stubFetcher{any: p.pem}, Roots: p.roots, Now: tt.now}
			err := v.Verify(context.Background(), sign(t, p.leafKey, notification(""), "2"))
			if !errorIs(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyExpiryAfterCaching: a cached certificate is checked again at
// every use.
func TestVerifyExpiryAfterCaching(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	var mu sync.Mutex
	now := pinnedNow
	f := &stubFetcher{any: p.pem}
	v := &Verifier{Fetcher: f, Roots: p.roots, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	m := sign(t, p.leafKey, notification(""), "1")
	if err := v.Verify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = leafNotAfter.Add(time.Second)
	mu.Unlock()
	if err := v.Verify(context.Background(), m); !errors.Is(err, ErrForged) {
		t.Fatalf("Verify after expiry = %v, want ErrForged", err)
	}
}

func TestVerifyFetchFailureNotCached(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	f := &stubFetcher{pems: map[string][]byte{testCertURL: p.pem}, err: errors.New("connection reset")}
	v := pinned(p, f)
	m := sign(t, p.leafKey, notification("s"), "2")

	for i := 1; i <= 2; i++ {
		if err := v.Verify(context.Background(), m); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("attempt %d: Verify = %v, want ErrUnavailable", i, err)
		}
		if got := f.count(); got != i {
			t.Fatalf("attempt %d: fetches = %d, want %d (a failure must not be cached)", i, got, i)
		}
	}
	f.setErr(nil) // SNS is reachable again
	if err := v.Verify(context.Background(), m); err != nil {
		t.Fatalf("Verify after recovery = %v", err)
	}
	if err := v.Verify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := f.count(); got != 3 {
		t.Fatalf("fetches = %d, want 3 (the good certificate is cached)", got)
	}
}

func TestVerifyCaches(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	f := &stubFetcher{pems: map[string][]byte{testCertURL: p.pem}}
	v := pinned(p, f)
	msgs := []*Message{
		sign(t, p.leafKey, notification("s"), "1"),
		sign(t, p.leafKey, notification(""), "2"),
		sign(t, p.leafKey, confirmation(TypeSubscriptionConfirmation), "1"),
	}
	for _, m := range msgs {
		if err := v.Verify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.count(); got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
	// A forged message with the same URL is refused from the cache.
	bad := sign(t, p.leafKey, notification("s"), "1")
	bad.Message = "forged"
	if err := v.Verify(context.Background(), bad); !errors.Is(err, ErrForged) {
		t.Fatalf("Verify(forged) = %v", err)
	}
	if got := f.count(); got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	f := &stubFetcher{any: p.pem}
	v := pinned(p, f)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := notification("")
			// 4 distinct certificate URLs, so fetches and hits interleave.
			m.SigningCertURL = fmt.Sprintf("https://%s/SimpleNotificationService-%d.pem", testHost, i%4)
			m.Message = fmt.Sprint(i)
			errs <- v.Verify(context.Background(), sign(t, p.leafKey, m, "2"))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.count(); got < 4 || got > 64 {
		t.Fatalf("fetches = %d", got)
	}
	if n := len(v.certs); n != 4 || len(v.order) != 4 {
		t.Fatalf("cache holds %d (order %d), want 4", n, len(v.order))
	}
}

func TestCacheBounded(t *testing.T) {
	t.Parallel()
	var v Verifier
	e := &certEntry{}
	for i := range cacheSize + 50 {
		v.remember(fmt.Sprint(i), e)
	}
	if len(v.certs) != cacheSize || len(v.order) != cacheSize {
		t.Fatalf("cache holds %d (order %d), want %d", len(v.certs), len(v.order), cacheSize)
	}
	if _, ok := v.cached("0"); ok {
		t.Error("oldest entry not evicted")
	}
	if _, ok := v.cached(fmt.Sprint(cacheSize + 49)); !ok {
		t.Error("newest entry missing")
	}
	v.forget("100")
	if _, ok := v.cached("100"); ok || len(v.order) != cacheSize-1 {
		t.Errorf("forget: cached=%v order=%d", ok, len(v.order))
	}
}

func TestDefaultFetcher(t *testing.T) {
	t.Parallel()
	if c := newHTTPFetcher(nil).client; c.Timeout != 5*time.Second || c.CheckRedirect == nil {
		t.Fatalf("default client: timeout %v, CheckRedirect set %v", c.Timeout, c.CheckRedirect != nil)
	}
	tests := []struct {
		name    string
		rt      *stubTransport
		want    string
		wantErr bool
	}{
		{"200", &stubTransport{status: 200, body: "PEM"}, "PEM", false},
		{"redirect not followed", &stubTransport{status: 302, header: http.Header{"Location": {"https://evil.example/x.pem"}}}, "", true},
		{"404", &stubTransport{status: 404}, "", true},
		{"503", &stubTransport{status: 503}, "", true},
		{"too large", &stubTransport{status: 200, body: strings.Repeat("x", maxCertSize+1)}, "", true},
		{"network", &stubTransport{err: errors.New("dial tcp: timeout")}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := newHTTPFetcher(tt.rt).Fetch(context.Background(), testCertURL)
			if (err != nil) != tt.wantErr || string(b) != tt.want {
				t.Fatalf("Fetch = %q, %v", b, err)
			}
			if n := tt.rt.count(); n != 1 {
				t.Errorf("requests = %d, want 1", n)
			}
			if r := tt.rt.requests[0]; r.Method != http.MethodGet || r.URL.String() != testCertURL {
				t.Errorf("request %s %s", r.Method, r.URL)
			}
		})
	}
}

// TestVerifyFetcherErrorIsUnavailable: an unreachable certificate is transient.
func TestVerifyFetcherErrorIsUnavailable(t *testing.T) {
	t.Parallel()
	p := getPKI(t)
	v := pinned(p, newHTTPFetcher(&stubTransport{status: 503}))
	if err := v.Verify(context.Background(), sign(t, p.leafKey, notification(""), "1")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Verify = %v, want ErrUnavailable", err)
	}
}
