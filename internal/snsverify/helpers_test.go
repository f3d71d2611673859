package snsverify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test PKI: root CA → intermediate CA → SNS-like leaf for
// sns.us-east-1.amazonaws.com, valid in 2024 only (so expired at real time:
// tests pin Now, as they must for real SNS certificates). The leaf PEM a
// fetcher serves holds the leaf then the intermediate, as the design asks
// Verify to take intermediates from the PEM.
const (
	testHost    = "sns.us-east-1.amazonaws.com"
	testCertURL = "https://" + testHost + "/SimpleNotificationService-0123456789abcdef.pem"
	testTopic   = "arn:aws:sns:us-east-1:123456789012:ses-events"
)

var (
	leafNotBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	leafNotAfter  = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	pinnedNow     = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
)

type testPKI struct {
	roots     *x509.CertPool // trusts root only
	leafKey   *rsa.PrivateKey
	otherKey  *rsa.PrivateKey // not the leaf's key
	pem       []byte          // leaf for testHost + intermediate
	otherCA   []byte          // same name and key, chained to a root nobody trusts
	wrongHost []byte          // leaf for sns.eu-west-1.amazonaws.com
	global    []byte          // leaf for sns.amazonaws.com, as real SNS certs are
	ecdsa     []byte          // leaf for testHost with an ECDSA key
	noInter   []byte          // leaf alone, without its intermediate
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	pkiErr  error
)

func getPKI(t *testing.T) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = newTestPKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiVal
}

func newTestPKI() (*testPKI, error) {
	var keys [4]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	rootKey, interKey, leafKey, otherKey := keys[0], keys[1], keys[2], keys[3]
	caFrom, caTo := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)

	root, err := issue(nil, rootKey, &rootKey.PublicKey, "Test Root CA", nil, caFrom, caTo, true)
	if err != nil {
		return nil, err
	}
	inter, err := issue(root, rootKey, &interKey.PublicKey, "Test Server CA", nil, caFrom, caTo, true)
	if err != nil {
		return nil, err
	}
	otherRoot, err := issue(nil, otherKey, &otherKey.PublicKey, "Other Root CA", nil, caFrom, caTo, true)
	if err != nil {
		return nil, err
	}
	leaf := func(parent *x509.Certificate, parentKey crypto.Signer, pub crypto.PublicKey, host string) (*x509.Certificate, error) {
		return issue(parent, parentKey, pub, host, []string{host}, leafNotBefore, leafNotAfter, false)
	}
	good, err := leaf(inter, interKey, &leafKey.PublicKey, testHost)
	if err != nil {
		return nil, err
	}
	other, err := leaf(otherRoot, otherKey, &leafKey.PublicKey, testHost)
	if err != nil {
		return nil, err
	}
	wrong, err := leaf(inter, interKey, &leafKey.PublicKey, "sns.eu-west-1.amazonaws.com")
	if err != nil {
		return nil, err
	}
	global, err := leaf(inter, interKey, &leafKey.PublicKey, "sns.amazonaws.com")
	if err != nil {
		return nil, err
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ec, err := leaf(inter, interKey, &ecKey.PublicKey, testHost)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	return &testPKI{
		roots:     roots,
		leafKey:   leafKey,
		otherKey:  otherKey,
		pem:       pemOf(good, inter),
		otherCA:   pemOf(other),
		wrongHost: pemOf(wrong, inter),
		global:    pemOf(global, inter),
		ecdsa:     pemOf(ec, inter),
		noInter:   pemOf(good),
	}, nil
}

var serial int64

// issue creates a certificate for pub signed by parent (nil: self-signed).
func issue(parent *x509.Certificate, parentKey crypto.Signer, pub crypto.PublicKey, cn string, dns []string, from, to time.Time, ca bool) (*x509.Certificate, error) {
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              dns,
		NotBefore:             from,
		NotAfter:              to,
		BasicConstraintsValid: true,
		IsCA:                  ca,
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemOf(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// notification returns an unsigned Notification; subject "" means none.
func notification(subject string) *Message {
	return &Message{
		Type:           TypeNotification,
		MessageID:      "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		TopicArn:       testTopic,
		Subject:        subject,
		Message:        `{"eventType":"Bounce","mail":{"messageId":"0100018f"}}`,
		Timestamp:      "2024-06-01T11:59:58.123Z",
		SigningCertURL: testCertURL,
		UnsubscribeURL: "https://" + testHost + "/?Action=Unsubscribe&SubscriptionArn=" + testTopic + ":1234",
	}
}

// confirmation returns an unsigned SubscriptionConfirmation or
// UnsubscribeConfirmation.
func confirmation(typ string) *Message {
	return &Message{
		Type:           typ,
		MessageID:      "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
		TopicArn:       testTopic,
		Message:        "You have chosen to subscribe to the topic " + testTopic + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		Timestamp:      "2024-06-01T11:59:58.123Z",
		Token:          "2336412f37fb687f5d51e6e2425e90cda7",
		SubscribeURL:   "https://" + testHost + "/?Action=ConfirmSubscription&TopicArn=" + testTopic + "&Token=2336412f37fb687f5d51e6e2425e90cda7",
		SigningCertURL: testCertURL,
	}
}

// wantStringToSign spells out, independently of the package's code, the
// bytes AWS documents SNS signs.
func wantStringToSign(m *Message) string {
	if m.Type == TypeNotification {
		s := "Message\n" + m.Message + "\nMessageId\n" + m.MessageID + "\n"
		if m.Subject != "" {
			s += "Subject\n" + m.Subject + "\n"
		}
		return s + "Timestamp\n" + m.Timestamp + "\nTopicArn\n" + m.TopicArn + "\nType\n" + m.Type + "\n"
	}
	return "Message\n" + m.Message + "\nMessageId\n" + m.MessageID + "\nSubscribeURL\n" + m.SubscribeURL +
		"\nTimestamp\n" + m.Timestamp + "\nToken\n" + m.Token + "\nTopicArn\n" + m.TopicArn + "\nType\n" + m.Type + "\n"
}

// sign signs m with key as SNS would with SignatureVersion version ("1":
// SHA1withRSA, "2": SHA256withRSA) and returns m.
func sign(t *testing.T, key *rsa.PrivateKey, m *Message, version string) *Message {
	t.Helper()
	data := []byte(wantStringToSign(m))
	var (
		h      crypto.Hash
		digest []byte
	)
	switch version {
	case "1":
		d := sha1.Sum(data)
		h, digest = crypto.SHA1, d[:]
	case "2":
		d := sha256.Sum256(data)
		h, digest = crypto.SHA256, d[:]
	default:
		t.Fatalf("sign: version %q", version)
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, digest)
	if err != nil {
		t.Fatal(err)
	}
	m.SignatureVersion = version
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	return m
}

// stubFetcher serves PEMs from memory and counts its calls. With any set,
// it serves that PEM for every URL (to show a URL rule, not the stub,
// refused it); err makes every fetch fail.
type stubFetcher struct {
	mu    sync.Mutex
	pems  map[string][]byte
	any   []byte
	err   error
	calls []string
}

func (f *stubFetcher) Fetch(_ context.Context, url string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, url)
	if f.err != nil {
		return nil, f.err
	}
	if f.any != nil {
		return f.any, nil
	}
	if b, ok := f.pems[url]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("stub: no certificate at %s", url)
}

func (f *stubFetcher) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *stubFetcher) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// pinned returns a Verifier over fetcher with the test roots and Now pinned
// inside the test leaf's validity.
func pinned(p *testPKI, f Fetcher) *Verifier {
	return &Verifier{Fetcher: f, Roots: p.roots, Now: func() time.Time { return pinnedNow }}
}

// stubTransport answers HTTP requests from memory and records them.
type stubTransport struct {
	mu       sync.Mutex
	status   int
	header   http.Header
	body     string
	err      error
	requests []*http.Request
}

func (s *stubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
	if s.err != nil {
		return nil, s.err
	}
	h := s.header
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{
		StatusCode: s.status,
		Header:     h,
		Body:       io.NopCloser(strings.NewReader(s.body)),
		Request:    r,
	}, nil
}

func (s *stubTransport) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// errorIs reports whether err matches want, where want nil means success.
func errorIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}
