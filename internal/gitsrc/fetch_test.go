package gitsrc_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"sendops/internal/gitsrc"
	"sendops/internal/testutil/gittest"
)

func fetchCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var local = gitsrc.Options{AllowFile: true, AllowPrivate: true}

func TestFetchFile(t *testing.T) {
	t.Parallel()
	r := gittest.New(t)
	first := r.Commit(t, map[string]string{"welcome.html": "<p>Hi {{name}}</p>"}, "Add welcome", "Ann Lee <ann@example.com>")
	second := r.Commit(t, map[string]string{"reset/body.html": "<p>Reset</p>"}, "Add reset", "Bob <bob@example.com>")

	repo, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: r.URL(), Branch: "main"}, local)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	h := repo.Head()
	if h.Hash != second || h.Author != "Bob" || h.AuthorEmail != "bob@example.com" || h.Message != "Add reset" ||
		len(h.Parents) != 1 || h.Parents[0] != first || !h.When.Equal(gittest.Epoch.Add(time.Minute)) {
		t.Errorf("Head = %+v", h)
	}
	fsys, err := repo.FS(second)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, "reset/body.html")
	if err != nil || string(b) != "<p>Reset</p>" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	old, err := repo.FS(first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(old, "reset/body.html"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("first commit has reset/body.html: %v", err)
	}
}

func TestFetchHTTP(t *testing.T) {
	t.Parallel()
	r := gittest.New(t)
	head := r.Commit(t, map[string]string{"a.html": "A"}, "one", "Ann")
	srv := gittest.NewHTTPServer(t, "s3cret-token")
	u := srv.Add("acme/mail.git", r)

	repo, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: u, Branch: "main", Auth: gitsrc.Auth{Token: "s3cret-token"}}, local)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if repo.Head().Hash != head {
		t.Errorf("head %s, want %s", repo.Head().Hash, head)
	}
}
