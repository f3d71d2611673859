package gitsrc_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"sendops/internal/gitsrc"
	"sendops/internal/testutil/gittest"
)

// resolver answers from a table, like DNS would, for names under .test
// (reserved for testing, RFC 6761): every machine resolves them alike.
type resolver map[string][]string

func (r resolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	addrs, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, a := range addrs {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	return out, nil
}

var testResolver = resolver{
	"git.corp.test": {"127.0.0.1"},
	// A public address (TEST-NET-3, never routed) beside a private one.
	"mixed.corp.test": {"203.0.113.7", "10.1.2.3"},
	"metadata.test":   {"169.254.169.254"},
	"v6.corp.test":    {"::1"},
}

// countingListener counts the connections made to it.
type countingListener struct {
	l        net.Listener
	accepted chan net.Addr
	n        atomic.Int64
}

func listenCounting(t *testing.T) *countingListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingListener{l: l, accepted: make(chan net.Addr, 16)}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				close(c.accepted)
				return
			}
			c.n.Add(1)
			c.accepted <- conn.RemoteAddr()
			conn.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return c
}

func (c *countingListener) port() string {
	_, p, _ := net.SplitHostPort(c.l.Addr().String())
	return p
}

// connections is how many connections were made before the call: it
// connects once itself and waits until that connection is accepted, so
// any made earlier has been counted (the listener accepts in order).
func (c *countingListener) connections(t *testing.T) int {
	t.Helper()
	conn, err := net.Dial("tcp", c.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := 0
	for a := range c.accepted {
		if a.String() == conn.LocalAddr().String() {
			return n
		}
		n++
	}
	t.Fatal("listener closed")
	return 0
}

// Every address of a name is checked before connecting: a name that
// resolves to a private address, or to a public and a private one, is
// refused without a connection, over HTTPS, HTTP and SSH.
func TestFetchChecksAddressesBeforeConnecting(t *testing.T) {
	t.Parallel()
	key := gittest.NewDeployKey(t, "")
	for _, tc := range []struct {
		name, url string
		opts      gitsrc.Options
		want      error
		msg       string
	}{
		{"https to a private name", "https://git.corp.test:PORT/acme/mail.git", gitsrc.Options{}, gitsrc.ErrURL, "git.corp.test resolves to a private or local address"},
		{"https to a mixed name", "https://mixed.corp.test:PORT/acme/mail.git", gitsrc.Options{}, gitsrc.ErrURL, "mixed.corp.test resolves to a private or local address"},
		{"https to link-local", "https://metadata.test:PORT/latest", gitsrc.Options{}, gitsrc.ErrURL, "private or local address"},
		{"https to IPv6 loopback", "https://v6.corp.test:PORT/acme/mail.git", gitsrc.Options{}, gitsrc.ErrURL, "private or local address"},
		{"ssh to a private name", "ssh://git@git.corp.test:PORT/acme/mail.git", gitsrc.Options{}, gitsrc.ErrURL, "git.corp.test resolves to a private or local address"},
		{"ssh to a mixed name", "ssh://git@mixed.corp.test:PORT/acme/mail.git", gitsrc.Options{}, gitsrc.ErrURL, "private or local address"},
		// Plain HTTP is for private networks only: a name with a public
		// address is refused, even beside a private one.
		{"http to a mixed name", "http://mixed.corp.test:PORT/acme/mail.git", gitsrc.Options{AllowPrivate: true}, gitsrc.ErrURL, "not on a private network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := listenCounting(t)
			url := strings.Replace(tc.url, "PORT", l.port(), 1)
			if err := gitsrc.ValidateURL(url, tc.opts); err != nil {
				t.Fatalf("ValidateURL(%s) = %v; the name alone is not refused", url, err)
			}
			tc.opts.Resolver = testResolver
			_, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: url, Branch: "main", Auth: gitsrc.Auth{Token: "t0ken-value", SSHKey: key.PEM}}, tc.opts)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Fetch = %v, want %v saying %q", err, tc.want, tc.msg)
			}
			if n := l.connections(t); n != 0 {
				t.Errorf("%d connections were made to a refused address", n)
			}
		})
	}
}

// The same name and server are reached with AllowPrivate: the refusals
// above are the check's, not a failure to resolve or connect.
func TestFetchResolvesWithResolver(t *testing.T) {
	t.Parallel()
	r := gittest.New(t)
	head := r.Commit(t, map[string]string{"a.html": "A"}, "one", "Ann")
	srv := gittest.NewHTTPServer(t, "")
	u := strings.Replace(srv.Add("acme/mail.git", r), "127.0.0.1", "git.corp.test", 1)
	repo, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: u, Branch: "main"}, gitsrc.Options{AllowPrivate: true, Resolver: testResolver})
	if err != nil {
		t.Fatalf("Fetch(%s): %v", u, err)
	}
	if repo.Head().Hash != head {
		t.Errorf("head %s, want %s", repo.Head().Hash, head)
	}
	if n := srv.Requests(); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

// Whatever fails on the network, the user reads one sentence: a closed
// port, a port where something else than Git (or SSH) answers, a
// connection closed at once and a name that does not resolve are not
// told apart, so that the messages cannot map a network.
func TestFetchNetworkErrorsReadAlike(t *testing.T) {
	t.Parallel()
	key := gittest.NewDeployKey(t, "")
	closedL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := closedL.Addr().String()
	closedL.Close()
	web := httptest.NewServer(nil) // answers 404 to everything
	defer web.Close()
	webAddr := web.Listener.Addr().String()
	hangup := listenCounting(t) // accepts and closes at once
	hangupAddr := "127.0.0.1:" + hangup.port()

	opts := gitsrc.Options{AllowPrivate: true, Resolver: testResolver}
	for _, tc := range []struct{ name, url string }{
		{"http, closed port", "http://" + closed + "/acme/mail.git"},
		{"https, closed port", "https://" + closed + "/acme/mail.git"},
		{"https, plain HTTP server", "https://" + webAddr + "/acme/mail.git"},
		{"https, hang-up", "https://" + hangupAddr + "/acme/mail.git"},
		{"http, hang-up", "http://" + hangupAddr + "/acme/mail.git"},
		{"https, unknown name", "https://nowhere.corp.test/acme/mail.git"},
		{"ssh, closed port", "ssh://git@" + closed + "/acme/mail.git"},
		{"ssh, HTTP server", "ssh://git@" + webAddr + "/acme/mail.git"},
		{"ssh, hang-up", "ssh://git@" + hangupAddr + "/acme/mail.git"},
		{"ssh, unknown name", "ssh://git@nowhere.corp.test/acme/mail.git"},
		{"scp-like, unknown name", "git@nowhere.corp.test:acme/mail.git"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: tc.url, Branch: "main", Auth: gitsrc.Auth{SSHKey: key.PEM}}, opts)
			want := "The repository " + tc.url + " cannot be reached: check the URL, and that the host is up and accepts connections from SendOps."
			if !errors.Is(err, gitsrc.ErrNetwork) || err.Error() != want {
				t.Errorf("Fetch = %v\nwant %q", err, want)
			}
		})
	}
}
