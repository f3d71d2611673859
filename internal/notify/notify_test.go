package notify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sendops/internal/testutil/smtpsink"
)

// sinkURL returns the sink's URL with the given user information and from
// parameter in place of its own.
func sinkURL(t *testing.T, sink *smtpsink.Sink, user *url.Userinfo, from string) string {
	t.Helper()
	u, err := url.Parse(sink.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = user
	if from != "" {
		u.RawQuery = url.Values{"from": {from}}.Encode()
	}
	return u.String()
}

func newMailer(t *testing.T, rawURL string) Mailer {
	t.Helper()
	m, err := New(rawURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New(%q): %v", rawURL, err)
	}
	return m
}

func TestSMTPMailerSendsToSink(t *testing.T) {
	sink := smtpsink.Start(t)
	m := newMailer(t, sinkURL(t, sink, nil, "SendOps <no-reply@example.com>"))

	longLine := "This line is long: " + strings.Repeat("lorem ipsum dolor sit amet ", 12) + "end."
	link := "http://127.0.0.1:1234/verify/abc123?token=x=y&next=%2Forgs%3Fa%3Db"
	text := "Hello Ada,\n\n" +
		"Please verify your address:\n" +
		link + "\n\n" +
		longLine + "\n" +
		".A line starting with a dot\n" +
		"Trailing space \n" +
		"Café, naïve, 日本語.\n"
	subject := "Vérifiez votre adresse — SendOps"
	err := m.Send(context.Background(), Message{To: "Ada Lovelace <ada@example.com>", Subject: subject, Text: text})
	if err != nil {
		t.Fatal(err)
	}

	got := sink.Wait(t, "ADA@example.com", "Vérifiez", 5*time.Second)
	if got.From != "SendOps <no-reply@example.com>" {
		t.Errorf("From = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "ada@example.com" {
		t.Errorf("envelope To = %q", got.To)
	}
	if got.Subject != subject {
		t.Errorf("Subject = %q, want %q", got.Subject, subject)
	}
	if got.Text != text {
		t.Errorf("Text =\n%q\nwant\n%q", got.Text, text)
	}
	if l := smtpsink.Link(t, got.Text, "http://127.0.0.1:1234/verify/"); l != link {
		t.Errorf("link = %q, want %q", l, link)
	}

	// The raw message: every line short, every header in place.
	for i, line := range strings.Split(strings.TrimSuffix(got.Raw, "\r\n"), "\r\n") {
		if len(line) > 78 {
			t.Errorf("raw line %d is %d characters: %q", i+1, len(line), line)
		}
	}
	if strings.Contains(got.Raw, longLine) || strings.Contains(got.Raw, "token=x=y") {
		t.Errorf("body not quoted-printable:\n%s", got.Raw)
	}
	msg, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(got.Raw)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Ada Lovelace" || to[0].Address != "ada@example.com" {
		t.Errorf("To header = %q (%v)", h.Get("To"), err)
	}
	if !strings.HasPrefix(h.Get("Subject"), "=?utf-8?q?") {
		t.Errorf("Subject header not RFC 2047 encoded: %q", h.Get("Subject"))
	}
	if d, err := h.Date(); err != nil || time.Since(d).Abs() > time.Minute {
		t.Errorf("Date = %q (%v)", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID = %q", id)
	}
	for name, want := range map[string]string{
		"MIME-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestSMTPMailerLongSubjectAndDefaultFrom(t *testing.T) {
	sink := smtpsink.Start(t)
	u, _ := url.Parse(sink.URL())
	u.RawQuery = ""
	m := newMailer(t, u.String())

	subjects := []string{
		strings.Repeat("é", 100),
		"An ASCII subject that goes on and on" + strings.Repeat(" and on", 20),
	}
	for _, subject := range subjects {
		if err := m.Send(context.Background(), Message{To: "bob@example.com", Subject: subject, Text: "no newline at end"}); err != nil {
			t.Fatal(err)
		}
		got := sink.Wait(t, "bob@example.com", subject, 5*time.Second)
		if got.From != "sendops@127.0.0.1" {
			t.Errorf("default From = %q", got.From)
		}
		if got.Text != "no newline at end\n" {
			t.Errorf("Text = %q", got.Text)
		}
		for _, line := range strings.Split(got.Raw, "\r\n") {
			if len(line) > 78 {
				t.Errorf("raw line is %d characters: %q", len(line), line)
			}
		}
	}
}

func TestSMTPMailerAuthOnLoopback(t *testing.T) {
	sink := smtpsink.Start(t)
	// net/smtp sends PLAIN credentials without TLS to 127.0.0.1, and so
	// does the mailer: the password does not leave the machine.
	m := newMailer(t, sinkURL(t, sink, url.UserPassword("user", "p@ss:w/rd"), ""))
	if err := m.Send(context.Background(), Message{To: "carol@example.com", Subject: "Hi", Text: "x\n"}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, "carol@example.com", "Hi", 5*time.Second)
}

// redirect makes the mailer dial addr whatever host its URL names.
func redirect(t *testing.T, m Mailer, addr string) *smtpMailer {
	t.Helper()
	sm, ok := m.(*smtpMailer)
	if !ok {
		t.Fatalf("New returned %T, want *smtpMailer", m)
	}
	sm.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return sm
}

func TestSMTPMailerRequiresSTARTTLSForRemoteAuth(t *testing.T) {
	sink := smtpsink.Start(t)
	sinkAddr := strings.TrimPrefix(strings.Split(sink.URL(), "?")[0], "smtp://")

	// With credentials, a remote server that does not offer STARTTLS
	// (as the sink does not) is refused.
	m := newMailer(t, "smtp://user:s3cr3tpw@mail.example.com:587")
	redirect(t, m, sinkAddr)
	err := m.Send(context.Background(), Message{To: "dave@example.com", Subject: "Secret", Text: "x\n"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a refusal for want of STARTTLS", err)
	}
	if strings.Contains(err.Error(), "s3cr3tpw") {
		t.Errorf("error contains the password: %v", err)
	}

	// Without credentials, STARTTLS is used only when offered.
	m = newMailer(t, "smtp://mail.example.com:25")
	redirect(t, m, sinkAddr)
	if err := m.Send(context.Background(), Message{To: "dave@example.com", Subject: "Open", Text: "x\n"}); err != nil {
		t.Fatal(err)
	}
	if msgs := sink.Messages(); len(msgs) != 1 || msgs[0].Subject != "Open" {
		t.Errorf("sink received %+v", msgs)
	}
}

func TestSMTPSMailerImplicitTLS(t *testing.T) {
	sink := smtpsink.Start(t)
	sinkAddr := strings.TrimPrefix(strings.Split(sink.URL(), "?")[0], "smtp://")
	cert, pool := selfSignedCert(t)
	proxy := tlsProxy(t, cert, sinkAddr)

	m := newMailer(t, "smtps://user:s3cr3tpw@"+proxy+"?from=ops%40example.com")
	sm := m.(*smtpMailer)

	// The certificate is not trusted yet: the handshake must fail.
	err := m.Send(context.Background(), Message{To: "erin@example.com", Subject: "Untrusted", Text: "x\n"})
	if err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("err = %v, want a TLS failure", err)
	}

	sm.tlsConfig = &tls.Config{RootCAs: pool}
	if err := m.Send(context.Background(), Message{To: "erin@example.com", Subject: "Over TLS", Text: "x\n"}); err != nil {
		t.Fatal(err)
	}
	got := sink.Wait(t, "erin@example.com", "Over TLS", 5*time.Second)
	if got.From != "ops@example.com" {
		t.Errorf("From = %q", got.From)
	}
}

func TestSMTPMailerContext(t *testing.T) {
	// A server that accepts connections but never speaks.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	m := newMailer(t, "smtp://"+ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = m.Send(ctx, Message{To: "f@example.com", Subject: "x", Text: "x\n"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v after its deadline", d)
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	sink := smtpsink.Start(t)
	var buf bytes.Buffer
	mailers := map[string]Mailer{
		"smtp": newMailer(t, sink.URL()),
		"log":  &LogMailer{Logger: slog.New(slog.NewTextHandler(&buf, nil))},
	}
	bad := []Message{
		{To: "a@example.com\r\nBcc: victim@example.com", Subject: "Hi", Text: "x"},
		{To: "a@example.com\nBcc: victim@example.com", Subject: "Hi", Text: "x"},
		{To: "a@example.com", Subject: "Hi\r\nBcc: victim@example.com", Text: "x"},
		{To: "a@example.com", Subject: "Hi\rthere", Text: "x"},
	}
	for name, m := range mailers {
		for _, msg := range bad {
			err := m.Send(context.Background(), msg)
			if !errors.Is(err, ErrHeaderInjection) {
				t.Errorf("%s: Send(%q, %q) = %v, want ErrHeaderInjection", name, msg.To, msg.Subject, err)
			}
		}
		for _, to := range []string{"", "not an address", "a@example.com, b@example.com"} {
			if err := m.Send(context.Background(), Message{To: to, Subject: "Hi", Text: "x"}); err == nil {
				t.Errorf("%s: Send to %q succeeded", name, to)
			}
		}
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("sink received %d messages", n)
	}
	if buf.Len() != 0 {
		t.Errorf("LogMailer logged refused messages:\n%s", buf.String())
	}
}

func TestNewValidation(t *testing.T) {
	const pw = "s3cr3tpw"
	tests := []struct {
		url  string
		want string // in the error
	}{
		{"http://user:" + pw + "@mail.example.com", `unsupported scheme "http"`},
		{"mailto:user@example.com", "must start with smtp://"},
		{"user:" + pw + "@mail.example.com:587", "must start with smtp://"},
		{"smtp://user:" + pw + "@", "missing host"},
		{"smtp://user:" + pw + "@:587", "missing host"},
		{"smtp://user:" + pw + "@mail.example.com?from=not-an-address", "bad from"},
		{"smtp://user:" + pw + "@mail.example.com?from=a%40x.com&from=b%40x.com", "bad from"},
		{"smtp://user:" + pw + "@mail.example.com?from=a%40x.com%0D%0ABcc:%20b%40x.com", "bad from"},
		{"smtp://user:" + pw + "@mail.example.com?form=a%40x.com", `unknown parameter "form"`},
		{"smtp://user:" + pw + "@mail.example.com:0", "invalid port"},
		{"smtp://user:" + pw + "@mail.example.com:99999", "invalid port"},
		{"smtp://user:" + pw + "@mail.example.com:port", "invalid port"},
		{"smtp://user:" + pw + "@mail.example.com/inbox", "unexpected path"},
		{"smtp://:" + pw + "@mail.example.com", "without a user name"},
		// Malformed passwords, which url.Parse's own errors would quote.
		{"smtp://user:" + pw + "%zz@mail.example.com", "bad user name or password"},
		{"smtp://user:" + pw + "/x@mail.example.com", "xxxxx"},
		{"smtps://user:12" + pw + "?x@mail.example.com", "invalid port"},
		{"smtp://user:" + pw + "#x@mail.example.com", "invalid port"},
		{"smtp://user:1234" + pw + "/x@mail.example.com", "xxxxx"},
		{"smtp://mail.example.com#top", "unexpected fragment"},
		// A one-letter password is not blotted out of the words around it.
		{"smtp://u:p@mail.example.com?form=x", `smtp://u:xxxxx@mail.example.com: unknown parameter "form"`},
	}
	for _, tt := range tests {
		m, err := New(tt.url, nil)
		if err == nil {
			t.Errorf("New(%q) = %v, want an error", tt.url, m)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) error %q does not contain %q", tt.url, err, tt.want)
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), pw[:4]) {
			t.Errorf("New(%q) error contains the password: %q", tt.url, err)
		}
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		url      string
		addr     string
		implicit bool
		from     string
		user     string
	}{
		{"smtp://mail.example.com", "mail.example.com:587", false, "sendops@mail.example.com", ""},
		{"smtps://mail.example.com", "mail.example.com:465", true, "sendops@mail.example.com", ""},
		{"smtp://127.0.0.1:25", "127.0.0.1:25", false, "sendops@127.0.0.1", ""},
		{"smtp://[::1]:2525", "[::1]:2525", false, "sendops@[IPv6:::1]", ""},
		{"SMTP://u:p@mail.example.com:2587/", "mail.example.com:2587", false, "sendops@mail.example.com", "u"},
		{"smtp://user:pass@mail.example.com:587?from=SendOps%20%3Cno-reply%40example.com%3E",
			"mail.example.com:587", false, `"SendOps" <no-reply@example.com>`, "user"},
		{"smtp://mail.example.com?from=ops@example.com", "mail.example.com:587", false, "<ops@example.com>", ""},
	}
	for _, tt := range tests {
		m, err := New(tt.url, nil)
		if err != nil {
			t.Errorf("New(%q): %v", tt.url, err)
			continue
		}
		sm := m.(*smtpMailer)
		from := sm.from.String()
		if sm.from.Name == "" && !strings.HasPrefix(tt.from, "<") {
			from = sm.from.Address
		}
		if sm.addr != tt.addr || sm.implicit != tt.implicit || from != tt.from || sm.user != tt.user {
			t.Errorf("New(%q) = addr %q implicit %v from %q user %q; want %q %v %q %q",
				tt.url, sm.addr, sm.implicit, from, sm.user, tt.addr, tt.implicit, tt.from, tt.user)
		}
		if strings.Contains(sm.String(), "pass") {
			t.Errorf("String() shows the password: %q", sm.String())
		}
	}
}

func TestLogMailer(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	m, err := New("", logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*LogMailer); !ok {
		t.Fatalf("New(\"\") returned %T, want *LogMailer", m)
	}
	msg := Message{To: "ada@example.com", Subject: "Reset your password", Text: "Follow http://x/reset/abc=1\n"}
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log output %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"level":   "INFO",
		"msg":     "notice (no SMTP configured)",
		"to":      msg.To,
		"subject": msg.Subject,
		"body":    msg.Text,
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s = %v, want %v", k, rec[k], v)
		}
	}
}

func TestQueueDeliversBeforeClose(t *testing.T) {
	sink := smtpsink.Start(t)
	q := NewQueue(newMailer(t, sink.URL()), slog.New(slog.DiscardHandler), 10)
	for _, to := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		q.Enqueue(Message{To: to, Subject: "Welcome", Text: "Hello\n"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Close has returned, so everything has been delivered: no waiting.
	msgs := sink.Messages()
	if len(msgs) != 3 {
		t.Fatalf("sink has %d messages, want 3", len(msgs))
	}
	for i, to := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if msgs[i].To[0] != to {
			t.Errorf("message %d to %q, want %q", i, msgs[i].To, to)
		}
	}

	// A closed queue drops what it is given.
	q.Enqueue(Message{To: "d@example.com", Subject: "Late", Text: "x"})
	if err := q.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := len(sink.Messages()); n != 3 {
		t.Errorf("sink has %d messages after a late Enqueue", n)
	}
}

// flakyMailer fails its first failures sends, then records the rest.
type flakyMailer struct {
	failures int
	calls    atomic.Int32
	mu       sync.Mutex
	sent     []Message
	block    chan struct{} // when set, each Send waits for it or for ctx
}

func (f *flakyMailer) Send(ctx context.Context, m Message) error {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if int(f.calls.Add(1)) <= f.failures {
		return errors.New("connection refused")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return nil
}

func testQueue(m Mailer, size int) (*Queue, *bytes.Buffer) {
	var buf lockedBuffer
	q := NewQueue(m, slog.New(slog.NewTextHandler(&buf, nil)), size)
	q.backoff = time.Millisecond
	return q, &buf.b
}

// lockedBuffer is a bytes.Buffer safe for the worker to write to while
// the test reads it after Close.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

const secretBody = "one-time link http://x/verify/SECRET"

func TestQueueRetries(t *testing.T) {
	f := &flakyMailer{failures: 3}
	q, logs := testQueue(f, 10)
	q.Enqueue(Message{To: "a@example.com", Subject: "Verify", Text: secretBody})
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 1 || f.calls.Load() != 4 {
		t.Errorf("sent %d after %d calls; want 1 after 4 (3 retries)", len(f.sent), f.calls.Load())
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("log contains the body:\n%s", logs)
	}
}

func TestQueueGivesUp(t *testing.T) {
	f := &flakyMailer{failures: 100}
	q, logs := testQueue(f, 10)
	q.Enqueue(Message{To: "a@example.com", Subject: "Verify", Text: secretBody})
	q.Enqueue(Message{To: "a@example.com\r\nBcc: b@example.com", Subject: "Bad", Text: secretBody})
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != 4 {
		t.Errorf("%d calls; want 4 (one try and 3 retries), none for the malformed message", f.calls.Load())
	}
	out := logs.String()
	for _, want := range []string{
		`level=ERROR msg="notice not sent" to=a@example.com subject=Verify attempts=4 error="connection refused"`,
		`level=ERROR msg="notice not sent" to="a@example.com\r\nBcc: b@example.com" subject=Bad`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("log contains the body:\n%s", out)
	}
}

func TestQueueFullDrops(t *testing.T) {
	f := &flakyMailer{block: make(chan struct{})}
	q, logs := testQueue(f, 1)
	// The worker takes the first and blocks; the second fills the queue;
	// the third is dropped.
	q.Enqueue(Message{To: "a@example.com", Subject: "One", Text: secretBody})
	deadline := time.Now().Add(5 * time.Second)
	for len(q.ch) != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	q.Enqueue(Message{To: "b@example.com", Subject: "Two", Text: secretBody})
	q.Enqueue(Message{To: "c@example.com", Subject: "Three", Text: secretBody})
	if d := time.Since(start); d > time.Second {
		t.Errorf("Enqueue blocked for %v", d)
	}
	close(f.block)
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 2 || f.sent[0].Subject != "One" || f.sent[1].Subject != "Two" {
		t.Errorf("sent %+v", f.sent)
	}
	out := logs.String()
	if !strings.Contains(out, `level=ERROR msg="notice dropped: queue full" to=c@example.com subject=Three`) {
		t.Errorf("no drop logged:\n%s", out)
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("log contains the body:\n%s", out)
	}
}

func TestQueueCloseDeadline(t *testing.T) {
	f := &flakyMailer{block: make(chan struct{})} // never unblocked
	q, logs := testQueue(f, 10)
	q.Enqueue(Message{To: "a@example.com", Subject: "One", Text: "x"})
	q.Enqueue(Message{To: "b@example.com", Subject: "Two", Text: "x"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want context.DeadlineExceeded", err)
	}
	// The worker abandons the rest promptly.
	select {
	case <-q.done:
	case <-time.After(5 * time.Second):
		t.Fatal("worker still running after Close gave up")
	}
	if out := logs.String(); !strings.Contains(out, "subject=Two") {
		t.Errorf("abandoned notice not logged:\n%s", out)
	}
}

// selfSignedCert returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtp test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true,

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// tlsProxy listens with TLS on 127.0.0.1 and relays each connection to
// backend in plain text, turning the sink into an smtps server. It returns
// the address it listens on.
func tlsProxy(t *testing.T, cert tls.Certificate, backend string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go func() {
					io.Copy(b, c)
					b.Close()
				}()
				io.Copy(c, b)
			}()
		}
	}()
	return ln.Addr().String()
}
