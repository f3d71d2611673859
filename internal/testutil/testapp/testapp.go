// Package testapp starts the whole SendOps program for a test: a real
// server on a random loopback port, a real database and a real SMTP sink
// that captures the notices it sends.
package testapp

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sendops/internal/cli"
	"sendops/internal/config"
	"sendops/internal/testutil/smtpsink"
)

// App is a running program.
type App struct {
	*cli.Program
	URL  string
	Mail *smtpsink.Sink
	Logs *SyncBuffer
}

// SyncBuffer is a bytes.Buffer safe for the server's goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs the program on the database dsn until the test ends. env adds
// or overrides SENDOPS_* settings.
func Start(t testing.TB, dsn string, env ...string) *App {
	t.Helper()
	return StartWith(t, dsn, nil, env...)
}

// StartWith is Start with a function that sets up the program before it
// opens (an SNS verifier with the test's own CA, say).
func StartWith(t testing.TB, dsn string, setup func(*cli.Program), env ...string) *App {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mail := smtpsink.Start(t)
	vars := map[string]string{
		"SENDOPS_ADDR":       ln.Addr().String(),
		"SENDOPS_DB":         dsn,
		"SENDOPS_SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
		"SENDOPS_SMTP_URL":   mail.URL(),
		"SENDOPS_LOG_LEVEL":  "debug",
	}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, true)
	if err != nil {
		t.Fatal(err)
	}
	logs := &SyncBuffer{}
	p := &cli.Program{Config: cfg, LogOutput: logs, Listener: ln}
	if setup != nil {
		setup(p)
	}
	if err := p.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &App{Program: p, URL: p.URL(), Mail: mail, Logs: logs}
}

// Browser is an HTTP client with a cookie jar that does not follow
// redirects, like a person clicking through the UI.
type Browser struct {
	t      testing.TB
	app    *App
	Client *http.Client
}

// NewBrowser returns a client with its own cookies.
func (a *App) NewBrowser(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, app: a, Client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Page is an answer read whole.
type Page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

// Get fetches a path.
func (b *Browser) Get(path string) *Page {
	b.t.Helper()
	resp, err := b.Client.Get(b.app.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, resp)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// CSRF returns the CSRF token of a page.
func (p *Page) CSRF() string {
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return m[1]
}

// Post sends a form from the page at from (whose CSRF token it adds) to path,
// as a same-origin browser would.
func (b *Browser) Post(from, path string, form url.Values) *Page {
	b.t.Helper()
	csrf := b.Get(from).CSRF()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", csrf)
	return b.PostRaw(path, form)
}

// PostRaw sends a form as it is.
func (b *Browser) PostRaw(path string, form url.Values) *Page {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.app.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.app.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, resp)
}

func read(t testing.TB, resp *http.Response) *Page {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Page{Status: resp.StatusCode, Header: resp.Header, Body: string(body), Location: resp.Header.Get("Location")}
}

// SignUp registers through the web form and returns the signed-in browser.
func (a *App) SignUp(t testing.TB, name, email, password string) *Browser {
	t.Helper()
	b := a.NewBrowser(t)
	p := b.Post("/signup", "/signup", url.Values{"name": {name}, "email": {email}, "password": {password}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign up %s: status %d\n%s", email, p.Status, p.Body)
	}
	return b
}

// SignIn signs in through the web form (without MFA) and returns the browser.
func (a *App) SignIn(t testing.TB, email, password string) *Browser {
	t.Helper()
	b := a.NewBrowser(t)
	p := b.Post("/login", "/login", url.Values{"email": {email}, "password": {password}})
	if p.Status != http.StatusSeeOther || p.Location != "/overview" {
		t.Fatalf("sign in %s: status %d to %q\n%s", email, p.Status, p.Location, p.Body)
	}
	return b
}
