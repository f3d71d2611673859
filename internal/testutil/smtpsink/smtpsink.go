// Package smtpsink is a real SMTP server for tests. It listens on
// 127.0.0.1, accepts every message (and any AUTH PLAIN credentials), and
// keeps what it receives so that a test can read the emails SendOps sent:
//
//	sink := smtpsink.Start(t)
//	// … configure SendOps with sink.URL() and do something that sends mail …
//	msg := sink.Wait(t, "ada@example.com", "Verify", 5*time.Second)
//	link := smtpsink.Link(t, msg.Text, baseURL+"/verify/")
//
// It speaks plain SMTP only: no TLS, so STARTTLS is not offered.
package smtpsink

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// maxLine is the longest line RFC 5321 allows, without its CRLF. The
	// sink refuses messages with longer lines, as some real servers do.
	maxLine = 998
	// idleTimeout ends a connection that has been silent this long.
	idleTimeout = time.Minute
)

// Message is an email the sink received.
type Message struct {
	From    string   // the From header, decoded: "Name <addr>", or "addr" when it has no name
	To      []string // the envelope recipients (RCPT TO), in the order given
	Subject string   // the Subject header, decoded
	Text    string   // the body, with its transfer encoding undone and "\n" line endings
	Raw     string   // the message as received, dot-unstuffed, with CRLF line endings
}

// Sink is a running SMTP server. Its methods are safe for concurrent use.
type Sink struct {
	ln net.Listener

	mu       sync.Mutex
	messages []Message
	conns    map[net.Conn]struct{}
	closed   bool

	wg sync.WaitGroup
}

// Start starts a sink on 127.0.0.1 at a free port. It stops when the test
// and its cleanups before it have finished.
func Start(t testing.TB) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtpsink: listen: %v", err)
	}
	s := &Sink{ln: ln, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

// URL returns an SMTP URL for the sink, suitable for notify.New, with
// sendops@test.invalid as the From address.
func (s *Sink) URL() string {
	return "smtp://" + s.ln.Addr().String() + "?from=" + url.QueryEscape("sendops@test.invalid")
}

// Messages returns copies of the messages received so far, in the order
// they arrived.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.To = append([]string(nil), m.To...)
		out[i] = m
	}
	return out
}

// Wait returns the latest message to the address to (compared without
// regard to case) whose subject contains subjectContains, waiting up to
// timeout for one to arrive. If none does, it fails the test, listing the
// messages received.
func (s *Sink) Wait(t testing.TB, to, subjectContains string, timeout time.Duration) Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i]
			if strings.Contains(m.Subject, subjectContains) && hasRecipient(m, to) {
				return m
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range msgs {
				got = append(got, fmt.Sprintf("to %s: %q", strings.Join(m.To, ", "), m.Subject))
			}
			if len(got) == 0 {
				got = []string{"(none)"}
			}
			t.Fatalf("smtpsink: no message to %s with subject containing %q within %v; received:\n\t%s",
				to, subjectContains, timeout, strings.Join(got, "\n\t"))
			return Message{}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasRecipient(m Message, to string) bool {
	for _, r := range m.To {
		if strings.EqualFold(r, to) {
			return true
		}
	}
	return false
}

// Link returns the first URL in text that starts with prefix, such as
// "http://127.0.0.1:1234/verify/". The URL ends at white space, at a quote
// or angle bracket, or before trailing punctuation. Link fails the test if
// text holds no such URL.
func Link(t testing.TB, text, prefix string) string {
	t.Helper()
	if prefix == "" {
		t.Fatalf("smtpsink.Link: empty prefix")
		return ""
	}
	i := strings.Index(text, prefix)
	if i < 0 {
		t.Fatalf("smtpsink.Link: no link starting %q in:\n%s", prefix, text)
		return ""
	}
	link := text[i:]
	if end := strings.IndexAny(link, " \t\r\n\"'<>"); end >= 0 {
		link = link[:end]
	}
	return strings.TrimRight(link, ".,;:!?)]")
}

// close stops the sink: it stops listening, ends open connections and waits
// for their goroutines.
func (s *Sink) close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Sink) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // the listener was closed
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.handle(c)
		}()
	}
}

// session is the state of one SMTP transaction.
type session struct {
	greeted bool
	from    string
	hasFrom bool
	rcpts   []string
}

func (ss *session) reset() {
	ss.from, ss.hasFrom, ss.rcpts = "", false, nil
}

// handle speaks SMTP on c until the client quits or the connection fails.
func (s *Sink) handle(c net.Conn) {
	tp := textproto.NewConn(c)
	reply := func(format string, args ...any) error {
		return tp.PrintfLine(format, args...)
	}
	c.SetDeadline(time.Now().Add(idleTimeout))
	if reply("220 smtpsink ESMTP ready") != nil {
		return
	}
	var ss session
	for {
		c.SetDeadline(time.Now().Add(idleTimeout))
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		arg = strings.TrimSpace(arg)
		switch verb {
		case "EHLO":
			ss.reset()
			ss.greeted = true
			err = reply("250-smtpsink greets %s\r\n250-8BITMIME\r\n250 AUTH PLAIN", arg)
		case "HELO":
			ss.reset()
			ss.greeted = true
			err = reply("250 smtpsink")
		case "AUTH":
			err = s.auth(tp, arg)
		case "MAIL":
			addr, ok := pathArg(arg, "FROM:")
			switch {
			case !ss.greeted:
				err = reply("503 5.5.1 EHLO or HELO first")
			case !ok:
				err = reply("501 5.5.4 Syntax: MAIL FROM:<address>")
			default:
				ss.reset()
				ss.from, ss.hasFrom = addr, true
				err = reply("250 2.1.0 OK")
			}
		case "RCPT":
			addr, ok := pathArg(arg, "TO:")
			switch {
			case !ss.hasFrom:
				err = reply("503 5.5.1 MAIL first")
			case !ok || addr == "":
				err = reply("501 5.5.4 Syntax: RCPT TO:<address>")
			default:
				ss.rcpts = append(ss.rcpts, addr)
				err = reply("250 2.1.5 OK")
			}
		case "DATA":
			if len(ss.rcpts) == 0 {
				err = reply("503 5.5.1 RCPT first")
				break
			}
			err = s.data(tp, &ss)
		case "RSET":
			ss.reset()
			err = reply("250 2.0.0 OK")
		case "NOOP":
			err = reply("250 2.0.0 OK")
		case "QUIT":
			reply("221 2.0.0 Bye")
			return
		case "STARTTLS":
			err = reply("454 4.7.0 TLS not available")
		default:
			err = reply("500 5.5.2 Command not recognised")
		}
		if err != nil {
			return
		}
	}
}

// pathArg parses the argument of MAIL or RCPT: the keyword (FROM: or TO:),
// then <address>, then parameters such as BODY=8BITMIME, which are ignored.
func pathArg(arg, keyword string) (string, bool) {
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(keyword):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.Index(rest, ">")
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}

// auth accepts AUTH PLAIN with any credentials, with the initial response
// on the command line or after a 334 prompt.
func (s *Sink) auth(tp *textproto.Conn, arg string) error {
	mech, resp, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") {
		return tp.PrintfLine("504 5.5.4 Unrecognised authentication type")
	}
	if resp == "" {
		if err := tp.PrintfLine("334 "); err != nil {
			return err
		}
		line, err := tp.ReadLine()
		if err != nil {
			return err
		}
		resp = line
	}
	if resp == "*" {
		return tp.PrintfLine("501 5.0.0 Authentication cancelled")
	}
	creds, err := base64.StdEncoding.DecodeString(resp)
	if err != nil || strings.Count(string(creds), "\x00") != 2 {
		return tp.PrintfLine("501 5.5.2 Cannot decode AUTH PLAIN response")
	}
	return tp.PrintfLine("235 2.7.0 Authentication successful")
}

// data reads a message after DATA, up to the line holding only ".", and
// stores it.
func (s *Sink) data(tp *textproto.Conn, ss *session) error {
	if err := tp.PrintfLine("354 End data with <CR><LF>.<CR><LF>"); err != nil {
		return err
	}
	var raw strings.Builder
	tooLong := false
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return err
		}
		if line == "." {
			break
		}
		line = strings.TrimPrefix(line, ".") // undo dot-stuffing
		if len(line) > maxLine {
			tooLong = true
		}
		raw.WriteString(line)
		raw.WriteString("\r\n")
	}
	rcpts := ss.rcpts
	ss.reset()
	if tooLong {
		return tp.PrintfLine("554 5.6.0 Message has a line longer than %d characters", maxLine)
	}
	m, err := parse(raw.String())
	if err != nil {
		return tp.PrintfLine("554 5.6.0 Cannot parse message: %s", oneLine(err.Error()))
	}
	m.To = rcpts
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	return tp.PrintfLine("250 2.0.0 OK: queued")
}

// parse decodes a received message.
func parse(raw string) (Message, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return Message{}, err
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Message{}, fmt.Errorf("subject: %w", err)
	}
	from := msg.Header.Get("From")
	if from != "" {
		a, err := msg.Header.AddressList("From")
		if err != nil {
			return Message{}, fmt.Errorf("from: %w", err)
		}
		var parts []string
		for _, a := range a {
			if a.Name != "" {
				parts = append(parts, a.Name+" <"+a.Address+">")
			} else {
				parts = append(parts, a.Address)
			}
		}
		from = strings.Join(parts, ", ")
	}
	var body io.Reader = msg.Body
	switch cte := strings.ToLower(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding"))); cte {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	case "", "7bit", "8bit", "binary":
	default:
		return Message{}, errors.New("unsupported Content-Transfer-Encoding " + cte)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return Message{}, fmt.Errorf("body: %w", err)
	}
	return Message{
		From:    from,
		Subject: subject,
		Text:    strings.ReplaceAll(string(text), "\r\n", "\n"),
		Raw:     raw,
	}, nil
}

// newlineStripper drops CR and LF, which split base64 into lines.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, b := range p[:k] {
			if b != '\r' && b != '\n' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// oneLine keeps an error message on one reply line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
