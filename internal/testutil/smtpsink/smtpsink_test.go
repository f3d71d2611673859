package smtpsink

import (
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// addr returns the sink's host:port.
func addr(t *testing.T, s *Sink) string {
	t.Helper()
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestURL(t *testing.T) {
	s := Start(t)
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "smtp" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "0" {
		t.Errorf("URL() = %q", s.URL())
	}
	if got := u.Query().Get("from"); got != "sendops@test.invalid" {
		t.Errorf("from = %q", got)
	}
}

func TestSendMailWithAuth(t *testing.T) {
	s := Start(t)
	a := addr(t, s)
	msg := "From: Ada <ada@example.com>\r\n" +
		"To: bob@example.com\r\n" +
		"Subject: =?utf-8?q?Caf=C3=A9_menu?=\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" +
		"Hello=20\r\n" +
		".leading dot\r\n" +
		"soft=\r\n break and x=3D1\r\n"
	// net/smtp sends PLAIN credentials unencrypted only to 127.0.0.1 and
	// friends, which is where the sink is.
	auth := smtp.PlainAuth("", "user", "pass", "127.0.0.1")
	if err := smtp.SendMail(a, auth, "ada@example.com", []string{"bob@example.com", "Carol@Example.com"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := s.Messages()
	if len(got) != 1 {
		t.Fatalf("got %d messages, want 1", len(got))
	}
	m := got[0]
	if m.From != "Ada <ada@example.com>" {
		t.Errorf("From = %q", m.From)
	}
	if strings.Join(m.To, ",") != "bob@example.com,Carol@Example.com" {
		t.Errorf("To = %q", m.To)
	}
	if m.Subject != "Café menu" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if want := "Hello \n.leading dot\nsoft break and x=1\n"; m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	if !strings.Contains(m.Raw, "\r\n.leading dot\r\n") {
		t.Errorf("Raw not dot-unstuffed:\n%s", m.Raw)
	}

	// Wait matches recipients without regard to case.
	if w := s.Wait(t, "carol@example.com", "Café", time.Second); w.Subject != "Café menu" {
		t.Errorf("Wait returned %q", w.Subject)
	}
}

// TestProtocol drives the server by hand through the commands it knows.
func TestProtocol(t *testing.T) {
	s := Start(t)
	c, err := textproto.Dial("tcp", addr(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	expect := func(code int) string {
		t.Helper()
		_, msg, err := c.ReadResponse(code)
		if err != nil {
			t.Fatalf("want %d: %v", code, err)
		}
		return msg
	}
	cmd := func(code int, format string, args ...any) string {
		t.Helper()
		if err := c.PrintfLine(format, args...); err != nil {
			t.Fatal(err)
		}
		return expect(code)
	}
	expect(220)
	cmd(503, "MAIL FROM:<a@example.com>")
	ehlo := cmd(250, "EHLO client.test")
	if !strings.Contains(ehlo, "8BITMIME") || !strings.Contains(ehlo, "AUTH PLAIN") {
		t.Errorf("EHLO reply lacks extensions: %q", ehlo)
	}
	cmd(334, "AUTH PLAIN")
	cmd(235, "AGEAYg==") // "\x00a\x00b"
	cmd(504, "AUTH LOGIN")
	cmd(250, "NOOP")
	cmd(503, "RCPT TO:<b@example.com>")
	cmd(501, "MAIL FROM:a@example.com")
	cmd(250, "mail from:<a@example.com> BODY=8BITMIME")
	cmd(250, "RCPT TO:<b@example.com>")
	cmd(250, "RSET")
	cmd(503, "DATA")
	cmd(250, "MAIL FROM:<>")
	cmd(250, "RCPT TO:<c@example.com>")
	cmd(354, "DATA")
	w := c.DotWriter()
	fmt.Fprint(w, "Subject: plain\r\n\r\nline one\r\n..two dots\r\n.\r\nend")
	w.Close()
	expect(250)
	cmd(500, "VRFY c@example.com")
	cmd(221, "QUIT")

	m := s.Wait(t, "c@example.com", "plain", time.Second)
	if want := "line one\n..two dots\n.\nend\n"; m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	if m.From != "" {
		t.Errorf("From = %q, want empty", m.From)
	}
}

func TestRefusesLongLines(t *testing.T) {
	s := Start(t)
	msg := "Subject: long\r\n\r\n" + strings.Repeat("x", maxLine+1) + "\r\n"
	err := smtp.SendMail(addr(t, s), nil, "a@example.com", []string{"b@example.com"}, []byte(msg))
	if err == nil || !strings.Contains(err.Error(), "554") {
		t.Errorf("err = %v, want a 554 refusal", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("stored %d messages", n)
	}
}

func TestMessagesCopies(t *testing.T) {
	s := Start(t)
	msg := "Subject: hi\r\n\r\nbody\r\n"
	if err := smtp.SendMail(addr(t, s), nil, "a@example.com", []string{"b@example.com"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	m := s.Messages()
	m[0].To[0] = "changed"
	m[0].Subject = "changed"
	if got := s.Messages()[0]; got.To[0] != "b@example.com" || got.Subject != "hi" {
		t.Errorf("Messages shares storage with the sink: %+v", got)
	}
}

func TestWaitForLateMessage(t *testing.T) {
	s := Start(t)
	a := addr(t, s)
	go func() {
		time.Sleep(50 * time.Millisecond)
		for _, subj := range []string{"Reset 1", "Reset 2"} {
			msg := "Subject: " + subj + "\r\n\r\nbody\r\n"
			smtp.SendMail(a, nil, "a@example.com", []string{"b@example.com"}, []byte(msg))
		}
	}()
	m := s.Wait(t, "B@example.com", "Reset 2", 5*time.Second)
	if m.Subject != "Reset 2" {
		t.Errorf("Subject = %q", m.Subject)
	}
	// With several matches, Wait returns the latest.
	if m := s.Wait(t, "b@example.com", "Reset", time.Second); m.Subject != "Reset 2" {
		t.Errorf("Wait returned %q, want the latest", m.Subject)
	}
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = fmt.Sprintf(format, args...)
}

func TestWaitTimesOut(t *testing.T) {
	s := Start(t)
	msg := "Subject: Welcome\r\n\r\nbody\r\n"
	if err := smtp.SendMail(addr(t, s), nil, "a@example.com", []string{"b@example.com"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	f := &fakeTB{TB: t}
	s.Wait(f, "b@example.com", "Verify", 50*time.Millisecond)
	if !strings.Contains(f.failed, "Verify") || !strings.Contains(f.failed, `"Welcome"`) {
		t.Errorf("failure message = %q; want the wanted and the received subjects", f.failed)
	}
}

func TestLink(t *testing.T) {
	text := "Hello,\n\nVerify here: http://127.0.0.1:1234/verify/abc=def_123.\n" +
		"Or <http://127.0.0.1:1234/reset/xyz>\n"
	if got := Link(t, text, "http://127.0.0.1:1234/verify/"); got != "http://127.0.0.1:1234/verify/abc=def_123" {
		t.Errorf("verify link = %q", got)
	}
	if got := Link(t, text, "http://127.0.0.1:1234/reset/"); got != "http://127.0.0.1:1234/reset/xyz" {
		t.Errorf("reset link = %q", got)
	}
	f := &fakeTB{TB: t}
	Link(f, text, "https://elsewhere/")
	if f.failed == "" {
		t.Error("Link did not fail for a missing link")
	}
}

func TestCloseEndsOpenConnections(t *testing.T) {
	var s *Sink
	var c net.Conn
	t.Run("inner", func(t *testing.T) {
		s = Start(t)
		var err error
		c, err = net.Dial("tcp", addr(t, s))
		if err != nil {
			t.Fatal(err)
		}
		// Leave the connection open; the sink's cleanup must end it
		// rather than hang.
	})
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("connection not closed by the sink: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.ln.Addr().String(), time.Second); err == nil {
		t.Error("sink still listening after its test ended")
	}
}
