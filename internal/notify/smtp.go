package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// dialTimeout bounds connecting to the SMTP server.
	dialTimeout = 10 * time.Second
	// sendTimeout bounds a whole SMTP conversation when the caller's
	// context has no deadline of its own.
	sendTimeout = time.Minute
)

// smtpMailer sends notices through one SMTP server.
type smtpMailer struct {
	host     string // host name or IP address, without brackets
	addr     string // host:port to dial
	implicit bool   // smtps: TLS from the first byte
	user     string // "" for no authentication
	pass     string
	from     *mail.Address
	redacted string // scheme://user:xxxxx@host:port, for errors and logs
	logger   *slog.Logger

	// tlsConfig, when set, is the base TLS configuration (tests use it to
	// trust their own certificate). ServerName is always set to host.
	tlsConfig *tls.Config
	// dial, when set, replaces the network dialler (tests use it to reach
	// a local server under another name).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// newSMTPMailer parses and checks raw; see New for its forms.
func newSMTPMailer(raw string, logger *slog.Logger) (*smtpMailer, error) {
	// Errors name the part of the URL that is wrong but never quote the
	// password. They show the URL as scheme://user:xxxxx@host:port only,
	// and, as a safety net for a password so malformed that the URL parses
	// another way than meant, anything that looks like the password is
	// blotted out of them.
	secrets := passwordCandidates(raw)
	fail := func(msg string) error {
		// Longest first, so that a short candidate cannot break up a
		// longer one before it is replaced.
		slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
		for _, s := range secrets {
			msg = blot(msg, s)
		}
		return errors.New(msg)
	}
	if !strings.Contains(raw, "://") {
		return nil, fail("notify: SMTP URL must start with smtp:// or smtps://")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fail(urlParseError(raw, err))
	}
	if p, ok := u.User.Password(); ok && p != "" {
		secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
	}
	shown := (&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host}).Redacted()
	bad := func(format string, args ...any) error {
		return fail(fmt.Sprintf("notify: SMTP URL %s: "+format, append([]any{shown}, args...)...))
	}

	m := &smtpMailer{redacted: shown, logger: logger}
	var defaultPort string
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		defaultPort = "587"
	case "smtps":
		defaultPort = "465"
		m.implicit = true
	default:
		return nil, fail(fmt.Sprintf("notify: SMTP URL has unsupported scheme %q (want smtp or smtps)", u.Scheme))
	}
	m.host = u.Hostname()
	if m.host == "" {
		return nil, bad("missing host (want %s://host:port)", u.Scheme)
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, bad("invalid port (want a number from 1 to 65535)")
	}
	m.addr = net.JoinHostPort(m.host, port)
	if u.Path != "" && u.Path != "/" {
		return nil, bad("unexpected path after the host (percent-encode any / in the user name or password as %%2F)")
	}
	if u.Fragment != "" {
		return nil, bad("unexpected fragment (percent-encode any # in the user name or password as %%23)")
	}

	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
		if m.user == "" {
			return nil, bad("password given without a user name")
		}
	}

	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, bad("invalid query string: %v", err)
	}
	for key := range query {
		if key != "from" {
			return nil, bad("unknown parameter %q (only from is allowed)", key)
		}
	}
	switch from := query["from"]; len(from) {
	case 0:
		m.from = &mail.Address{Address: "sendops@" + defaultDomain(m.host)}
	case 1:
		if strings.ContainsAny(from[0], "\r\n") {
			return nil, bad("bad from: contains a line break")
		}
		a, err := mail.ParseAddress(from[0])
		if err != nil {
			return nil, bad("bad from %q: %v (want an address such as %q)",
				from[0], err, "SendOps <no-reply@example.com>")
		}
		m.from = a
	default:
		return nil, bad("bad from: given more than once")
	}
	return m, nil
}

// urlParseError explains why url.Parse refused raw, without repeating the
// password: url.Parse's own errors quote the whole URL, and can quote part
// of the password when that is what failed to parse.
func urlParseError(raw string, err error) string {
	red := redactRaw(raw)
	if _, err := url.Parse(red); err == nil {
		return "notify: invalid SMTP URL: bad user name or password " +
			"(percent-encode characters such as % / ? # @ : in them)"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("notify: invalid SMTP URL: %v", err)
}

// redactRaw replaces the password in a URL that may not parse with "xxxxx",
// as url.URL.Redacted does for one that does.
func redactRaw(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	start := i + len("://")
	rest := raw[start:]
	end := len(rest)
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		end = j
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	userinfo := rest[:at]
	colon := strings.Index(userinfo, ":")
	if colon < 0 {
		return raw
	}
	return raw[:start] + userinfo[:colon] + ":xxxxx" + rest[at:]
}

// passwordCandidates returns what, in raw, may be a password: the text from
// the first colon after "://" to the last "@" of the URL, the same up to the
// end of the authority as url.Parse sees it, and their unescaped forms. It
// errs towards blotting out too much.
func passwordCandidates(raw string) []string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return nil
	}
	rest := raw[i+len("://"):]
	var out []string
	add := func(userinfo string) {
		_, pass, ok := strings.Cut(userinfo, ":")
		if !ok || pass == "" {
			return
		}
		out = append(out, pass)
		if p, err := url.PathUnescape(pass); err == nil && p != pass {
			out = append(out, p)
		}
		// An unescaped / ? or # ends the authority early, so url.Parse
		// may take what comes before it for a port or a host. Unless
		// what follows looks like a query (from=…), blot that out too.
		if j := strings.IndexAny(pass, "/?#"); j > 0 && !strings.Contains(pass[j:], "=") {
			out = append(out, pass[:j])
		}
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		add(rest[:at])
	}
	authority := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		authority = rest[:j]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		add(authority[:at])
	}
	return out
}

// blot replaces with "xxxxx" each occurrence of secret in msg that is not
// part of a longer word or number, so that a short password does not blot
// out letters of the words around it.
func blot(msg, secret string) string {
	if secret == "" {
		return msg
	}
	isWordByte := func(b byte) bool {
		return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= 0x80
	}
	var b strings.Builder
	for {
		i := strings.Index(msg, secret)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len(secret)
		if (i > 0 && isWordByte(msg[i-1]) && isWordByte(secret[0])) ||
			(end < len(msg) && isWordByte(msg[end]) && isWordByte(secret[len(secret)-1])) {
			// Inside a longer word: keep it, and look further on.
			b.WriteString(msg[:i+1])
			msg = msg[i+1:]
			continue
		}
		b.WriteString(msg[:i])
		b.WriteString("xxxxx")
		msg = msg[end:]
	}
}

// defaultDomain is the domain of the default From address for host.
func defaultDomain(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[IPv6:" + host + "]"
	}
	return host
}

// isLoopback reports whether host is the local machine, where credentials
// may cross an unencrypted connection.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send delivers m through the SMTP server.
func (s *smtpMailer) Send(ctx context.Context, m Message) error {
	to, err := checkMessage(m)
	if err != nil {
		return err
	}
	data, err := buildMessage(s.from, to, m.Subject, m.Text, time.Now())
	if err != nil {
		return err
	}
	if err := s.deliver(ctx, to.Address, data); err != nil {
		return fmt.Errorf("notify: sending to %s via %s: %w", to.Address, s.addr, err)
	}
	s.logger.DebugContext(ctx, "notice sent",
		slog.String("to", to.Address), slog.String("subject", m.Subject))
	return nil
}

// deliver carries out one SMTP conversation that sends data to rcpt.
func (s *smtpMailer) deliver(ctx context.Context, rcpt string, data []byte) error {
	dial := s.dial
	if dial == nil {
		d := &net.Dialer{Timeout: dialTimeout}
		dial = d.DialContext
	}
	dialCtx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, err := dial(dialCtx, "tcp", s.addr)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()

	// Bound the whole conversation, and end it at once if ctx is done.
	deadline, ctxDeadline := ctx.Deadline()
	if !ctxDeadline {
		deadline = time.Now().Add(sendTimeout)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	// Report the context's error rather than an i/o timeout when it was
	// the context that ended the conversation. The connection's deadline
	// can pass a moment before the context notices its own.
	fail := func(err error) error {
		ctxErr := ctx.Err()
		if ctxErr == nil && ctxDeadline && !time.Now().Before(deadline) {
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil {
			return fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return err
	}

	if s.implicit {
		tc := tls.Client(conn, s.clientTLS())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("TLS handshake: %w", err))
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return fail(err)
	}
	if !s.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.clientTLS()); err != nil {
				return fail(fmt.Errorf("STARTTLS: %w", err))
			}
		} else if s.user != "" && !isLoopback(s.host) {
			return errors.New("server does not offer STARTTLS; " +
				"refusing to send the password unencrypted (use smtps:// if the server wants TLS from the start)")
		}
	}
	if s.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("server does not offer AUTH, but the SMTP URL has a user name")
		}
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return fail(fmt.Errorf("authentication: %w", err))
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fail(fmt.Errorf("MAIL FROM: %w", err))
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fail(fmt.Errorf("RCPT TO: %w", err))
	}
	w, err := c.Data()
	if err != nil {
		return fail(fmt.Errorf("DATA: %w", err))
	}
	if _, err := w.Write(data); err != nil {
		return fail(fmt.Errorf("DATA: %w", err))
	}
	if err := w.Close(); err != nil {
		return fail(fmt.Errorf("DATA: %w", err))
	}
	// The message has been accepted; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// clientTLS returns the TLS configuration for a connection to the server.
func (s *smtpMailer) clientTLS() *tls.Config {
	var cfg *tls.Config
	if s.tlsConfig != nil {
		cfg = s.tlsConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	cfg.ServerName = s.host
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// String returns the SMTP URL with its password hidden.
func (s *smtpMailer) String() string { return s.redacted }

// helloName is the name given in EHLO: this machine's host name when it is
// a plausible domain name, otherwise "localhost".
func helloName() string {
	name, err := os.Hostname()
	if err != nil || name == "" || len(name) > 253 {
		return "localhost"
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.'
		if !ok {
			return "localhost"
		}
	}
	return name
}
