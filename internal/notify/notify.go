// Package notify sends SendOps's outgoing notices: the emails it writes to
// its own users, such as verification links, password resets and security
// notices. These are not the organisations' mail, which goes through SES.
//
// New returns a Mailer that sends over SMTP, or, when no SMTP server is
// configured, one that writes each notice to the log. A Queue sends notices
// in the background so that a slow mail server never slows a request.
//
// Notice bodies often hold one-time links, so this package never writes a
// body to the log, except from the LogMailer, whose whole purpose is to do so
// when no mail server is configured.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
)

// Message is one notice to one recipient.
type Message struct {
	To      string // one address, "user@example.com" or "Name <user@example.com>"
	Subject string // may contain any Unicode text, but no line breaks
	Text    string // plain-text body
}

// Mailer sends notices.
type Mailer interface {
	// Send delivers m, or returns why it could not. It gives up when ctx
	// is done.
	Send(ctx context.Context, m Message) error
}

// ErrHeaderInjection is returned (wrapped) when a message's To or Subject
// contains a line break, which could otherwise add headers of the caller's
// choosing to the email.
var ErrHeaderInjection = errors.New("notify: line break in a header field")

// New returns a Mailer that sends through the SMTP server described by
// smtpURL, or, when smtpURL is "", a LogMailer writing to logger. A nil
// logger means slog.Default().
//
// The URL takes these forms:
//
//	smtp://user:pass@host:587?from=SendOps%20%3Cno-reply%40example.com%3E
//	smtps://user:pass@host:465
//	smtp://host:25
//
// With smtp, STARTTLS is used whenever the server offers it, and is required
// when a user name and password are given and the host is not the local
// machine. With smtps the connection is TLS from the start. The port
// defaults to 587 for smtp and 465 for smtps. The from parameter is the
// From address of every notice; it defaults to sendops@HOST.
//
// New checks the URL but does not connect. Its errors never contain the
// password.
func New(smtpURL string, logger *slog.Logger) (Mailer, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if smtpURL == "" {
		return &LogMailer{Logger: logger}, nil
	}
	return newSMTPMailer(smtpURL, logger)
}

// LogMailer is the Mailer used when no SMTP server is configured: it writes
// every notice, body included, to its Logger at INFO, so that a developer or
// an operator trying SendOps out can still follow the links in it.
type LogMailer struct {
	Logger *slog.Logger // nil means slog.Default()
}

// logMailerMsg is the log message under which LogMailer writes notices.
const logMailerMsg = "notice (no SMTP configured)"

// Send writes m to the log. It refuses the same malformed messages the SMTP
// mailer refuses, so that mistakes show up before production.
func (l *LogMailer) Send(ctx context.Context, m Message) error {
	if _, err := checkMessage(m); err != nil {
		return err
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, logMailerMsg,
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
		slog.String("body", m.Text))
	return nil
}

// checkMessage refuses a message whose headers could be abused or that has
// no valid recipient, and returns the parsed recipient.
func checkMessage(m Message) (*mail.Address, error) {
	if strings.ContainsAny(m.To, "\r\n") {
		return nil, fmt.Errorf("%w: To", ErrHeaderInjection)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("%w: Subject", ErrHeaderInjection)
	}
	if strings.TrimSpace(m.To) == "" {
		return nil, errors.New("notify: message has no recipient")
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("notify: invalid recipient %q: %w", m.To, err)
	}
	return to, nil
}
