package gitsrc_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"sendops/internal/gitsrc"
	"sendops/internal/testutil/gittest"
)

func TestFetchErrors(t *testing.T) {
	t.Parallel()
	const token = "tok-0123456789abcdef"
	r := gittest.New(t)
	r.Commit(t, map[string]string{"a.html": "A"}, "one", "Ann")
	gone := gittest.New(t)
	gone.Commit(t, map[string]string{"a.html": "A"}, "one", "Ann")
	empty := gittest.New(t)
	big := gittest.New(t)
	noise := make([]byte, 64<<10)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	big.Commit(t, map[string]string{"noise.txt": hex.EncodeToString(noise)}, "big", "Ann")

	srv := gittest.NewHTTPServer(t, token)
	u := srv.Add("acme/mail.git", r)
	goneURL := srv.Add("acme/gone.git", gone)
	emptyURL := srv.Add("acme/empty.git", empty)
	bigURL := srv.Add("acme/big.git", big)
	gone.Delete(t)
	goneFile := gittest.New(t)
	goneFile.Commit(t, map[string]string{"a": "a"}, "one", "Ann")
	goneFile.Delete(t)

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/acme/mail.git"
	l.Close()

	auth := gitsrc.Auth{Token: token}
	for _, tc := range []struct {
		name string
		src  gitsrc.Source
		opts gitsrc.Options
		want error
		msg  string
	}{
		{"wrong token", gitsrc.Source{URL: u, Branch: "main", Auth: gitsrc.Auth{Token: "wrong-token-value"}}, local, gitsrc.ErrAuth, "refused the credentials"},
		{"no token", gitsrc.Source{URL: u, Branch: "main"}, local, gitsrc.ErrAuth, "needs credentials"},
		{"missing branch", gitsrc.Source{URL: u, Branch: "release", Auth: auth}, local, gitsrc.ErrNotFound, `has no branch "release"`},
		{"deleted repository", gitsrc.Source{URL: goneURL, Branch: "main", Auth: auth}, local, gitsrc.ErrNotFound, "was not found"},
		{"unknown repository", gitsrc.Source{URL: srv.URL + "/acme/nope.git", Branch: "main", Auth: auth}, local, gitsrc.ErrNotFound, "was not found"},
		{"empty repository", gitsrc.Source{URL: emptyURL, Branch: "main", Auth: auth}, local, gitsrc.ErrNoCommits, "has no commits"},
		{"too large", gitsrc.Source{URL: bigURL, Branch: "main", Auth: auth}, gitsrc.Options{AllowPrivate: true, MaxBytes: 16 << 10}, gitsrc.ErrTooLarge, "larger than the download limit"},
		{"no branch given", gitsrc.Source{URL: u, Auth: auth}, local, gitsrc.ErrNotFound, "Enter the branch"},
		{"bad branch", gitsrc.Source{URL: u, Branch: "a..b", Auth: auth}, local, gitsrc.ErrNotFound, "not a valid branch name"},
		{"nothing listening", gitsrc.Source{URL: closed, Branch: "main", Auth: auth}, local, gitsrc.ErrNetwork, "cannot be reached"},
		{"private without AllowPrivate", gitsrc.Source{URL: u, Branch: "main", Auth: auth}, gitsrc.Options{}, gitsrc.ErrURL, "http://"},
		{"file: missing branch", gitsrc.Source{URL: r.URL(), Branch: "dev"}, local, gitsrc.ErrNotFound, `has no branch "dev"`},
		{"file: deleted", gitsrc.Source{URL: goneFile.URL(), Branch: "main"}, local, gitsrc.ErrNotFound, "was not found"},
		{"file: empty", gitsrc.Source{URL: empty.URL(), Branch: "main"}, local, gitsrc.ErrNoCommits, "has no commits"},
		{"file: not allowed", gitsrc.Source{URL: r.URL(), Branch: "main"}, gitsrc.Options{}, gitsrc.ErrURL, "file://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repo, err := gitsrc.Fetch(fetchCtx(t), tc.src, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Fetch = %v, %v; want %v", repo, err, tc.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not say %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "wrong-token-value") {
				t.Errorf("message %q shows the token", err)
			}
		})
	}
}

func TestFetchCountsRequests(t *testing.T) {
	t.Parallel()
	r := gittest.New(t)
	r.Commit(t, map[string]string{"a.html": "A"}, "one", "Ann")
	srv := gittest.NewHTTPServer(t, "")
	u := srv.Add("mail", r)
	if _, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: u, Branch: "main"}, local); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests(); n != 2 {
		t.Errorf("requests = %d, want 2 (refs and pack)", n)
	}
}

// A name that resolves to a private address is refused when connecting,
// even though the URL names no address (DNS rebinding).
func TestFetchRefusesPrivateAddressAtDial(t *testing.T) {
	t.Parallel()
	host := localName()
	if host == "" {
		t.Skip("the host name does not resolve to a private address here")
	}
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "https://" + net.JoinHostPort(host, port) + "/acme/mail.git"
	if err := gitsrc.ValidateURL(url, gitsrc.Options{}); err != nil {
		t.Fatalf("ValidateURL(%s) = %v; the name alone is not refused", url, err)
	}
	_, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: url, Branch: "main", Auth: gitsrc.Auth{Token: "t0ken-value"}}, gitsrc.Options{})
	if !errors.Is(err, gitsrc.ErrURL) || !strings.Contains(err.Error(), "private or local address") {
		t.Errorf("Fetch = %v, want ErrURL for a private address", err)
	}
}

// localName is this machine's name if it resolves (through the hosts file)
// to a private or loopback address, else "".
func localName() string {
	host, err := os.Hostname()
	if err != nil {
		return ""
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		return ""
	}
	for _, a := range addrs {
		ip := net.ParseIP(a)
		if ip == nil || !ip.IsLoopback() && !ip.IsPrivate() {
			return ""
		}
	}
	return host
}
