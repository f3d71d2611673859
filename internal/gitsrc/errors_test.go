package gitsrc_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	// 1 MiB of zeros downloads in about a kilobyte.
	zeros := gittest.New(t)
	zeros.Commit(t, map[string]string{"zeros.bin": strings.Repeat("\x00", 1<<20)}, "zeros", "Ann")

	srv := gittest.NewHTTPServer(t, token)
	u := srv.Add("acme/mail.git", r)
	goneURL := srv.Add("acme/gone.git", gone)
	emptyURL := srv.Add("acme/empty.git", empty)
	bigURL := srv.Add("acme/big.git", big)
	zerosURL := srv.Add("acme/zeros.git", zeros)
	gone.Delete(t)
	goneFile := gittest.New(t)
	goneFile.Commit(t, map[string]string{"a": "a"}, "one", "Ann")
	goneFile.Delete(t)

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
		{"one file too large", gitsrc.Source{URL: zerosURL, Branch: "main", Auth: auth}, gitsrc.Options{AllowPrivate: true, MaxObjectBytes: 1<<20 - 1}, gitsrc.ErrTooLarge, "holds a file larger than 1048575 bytes, the limit for one file"},
		{"one file at the limit", gitsrc.Source{URL: zerosURL, Branch: "main", Auth: auth}, gitsrc.Options{AllowPrivate: true, MaxObjectBytes: 1 << 20}, nil, ""},
		{"too large unpacked", gitsrc.Source{URL: zerosURL, Branch: "main", Auth: auth}, gitsrc.Options{AllowPrivate: true, MaxUnpackedBytes: 1 << 20}, gitsrc.ErrTooLarge, "larger than the limit of 1 MiB once unpacked"},
		{"unpacked within the limit", gitsrc.Source{URL: zerosURL, Branch: "main", Auth: auth}, gitsrc.Options{AllowPrivate: true, MaxUnpackedBytes: 2 << 20}, nil, ""},
		{"unpacked limit from the download limit", gitsrc.Source{URL: zerosURL, Branch: "main", Auth: auth}, gitsrc.Options{AllowPrivate: true, MaxBytes: 256 << 10}, gitsrc.ErrTooLarge, "larger than the limit of 1 MiB once unpacked"},
		{"no branch given", gitsrc.Source{URL: u, Auth: auth}, local, gitsrc.ErrNotFound, "Enter the branch"},
		{"bad branch", gitsrc.Source{URL: u, Branch: "a..b", Auth: auth}, local, gitsrc.ErrNotFound, "not a valid branch name"},
		{"private without AllowPrivate", gitsrc.Source{URL: u, Branch: "main", Auth: auth}, gitsrc.Options{}, gitsrc.ErrURL, "http://"},
		{"file: missing branch", gitsrc.Source{URL: r.URL(), Branch: "dev"}, local, gitsrc.ErrNotFound, `has no branch "dev"`},
		{"file: deleted", gitsrc.Source{URL: goneFile.URL(), Branch: "main"}, local, gitsrc.ErrNotFound, "was not found"},
		{"file: empty", gitsrc.Source{URL: empty.URL(), Branch: "main"}, local, gitsrc.ErrNoCommits, "has no commits"},
		{"file: not allowed", gitsrc.Source{URL: r.URL(), Branch: "main"}, gitsrc.Options{}, gitsrc.ErrURL, "file://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repo, err := gitsrc.Fetch(fetchCtx(t), tc.src, tc.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				return
			}
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
