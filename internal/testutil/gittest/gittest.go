// Package gittest builds real Git repositories for tests, with go-git in a
// temporary directory, and serves them read-only over file://, smart HTTP
// and SSH on 127.0.0.1. Nothing here reaches the network beyond loopback.
package gittest

import (
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a bare repository in a test's temporary directory, as a Git
// host keeps it, with a work tree beside it where the test writes its
// commits: every commit and branch is copied into the bare repository,
// which is what the servers and URL serve.
type Repo struct {
	// Dir is the bare repository.
	Dir string
	// Work is the work tree the commits are made in.
	Work string

	mu     sync.Mutex
	repo   *git.Repository
	bare   *git.Repository
	wt     *git.Worktree
	n      int // commits made, for increasing commit times
	branch string
}

// Epoch is the time of a repository's first commit; each further commit
// is one minute later, so logs are ordered and repeatable.
var Epoch = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

// New creates an empty repository whose branch is "main".
func New(t testing.TB) *Repo {
	t.Helper()
	root := t.TempDir()
	main := git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}
	work := filepath.Join(root, "work")
	r, err := git.PlainInitWithOptions(work, &git.PlainInitOptions{InitOptions: main})
	if err != nil {
		t.Fatalf("gittest: init: %v", err)
	}
	dir := filepath.Join(root, "repo.git")
	bare, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: main, Bare: true})
	if err != nil {
		t.Fatalf("gittest: init bare: %v", err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatalf("gittest: worktree: %v", err)
	}
	return &Repo{Dir: dir, Work: work, repo: r, bare: bare, wt: wt, branch: "main"}
}

// publish copies the work repository's objects and branches into the bare
// one, as a push to the host would.
func (r *Repo) publish(t testing.TB) {
	t.Helper()
	objs, err := r.repo.Storer.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		t.Fatalf("gittest: objects: %v", err)
	}
	err = objs.ForEach(func(o plumbing.EncodedObject) error {
		if r.bare.Storer.HasEncodedObject(o.Hash()) == nil {
			return nil
		}
		_, err := r.bare.Storer.SetEncodedObject(o)
		return err
	})
	if err != nil {
		t.Fatalf("gittest: copy objects: %v", err)
	}
	refs, err := r.repo.Branches()
	if err != nil {
		t.Fatalf("gittest: branches: %v", err)
	}
	err = refs.ForEach(func(ref *plumbing.Reference) error { return r.bare.Storer.SetReference(ref) })
	if err != nil {
		t.Fatalf("gittest: copy branches: %v", err)
	}
}

// URL is the repository's file:// URL.
func (r *Repo) URL() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(r.Dir)}).String()
}

// Branch is the checked-out branch that Commit adds to.
func (r *Repo) Branch() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.branch
}

// Checkout switches to branch, creating it at the current commit if it
// does not exist yet.
func (r *Repo) Checkout(t testing.TB, branch string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	name := plumbing.NewBranchReferenceName(branch)
	_, err := r.repo.Reference(name, false)
	err = r.wt.Checkout(&git.CheckoutOptions{Branch: name, Create: err != nil, Keep: false})
	if err != nil {
		t.Fatalf("gittest: checkout %s: %v", branch, err)
	}
	r.branch = branch
	r.publish(t)
}

// Commit writes files (path → content; "" deletes the path) to the work
// tree and commits them on the current branch. author is "Name <email>"
// or a bare name. It returns the commit's hash.
func (r *Repo) Commit(t testing.TB, files map[string]string, message, author string) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(r.Work, filepath.FromSlash(p))
		if files[p] == "" {
			if _, err := r.wt.Remove(p); err != nil {
				t.Fatalf("gittest: remove %s: %v", p, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := r.wt.Add(p); err != nil {
			t.Fatalf("gittest: add %s: %v", p, err)
		}
	}
	return r.commit(t, message, author)
}

// Link commits a symbolic link at name pointing to target. Use a relative
// target: go-git stores an absolute one relative to the work tree.
func (r *Repo) Link(t testing.TB, name, target, message, author string) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	full := filepath.Join(r.Work, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		t.Fatal(err)
	}
	if _, err := r.wt.Add(name); err != nil {
		t.Fatalf("gittest: add %s: %v", name, err)
	}
	return r.commit(t, message, author)
}

func (r *Repo) commit(t testing.TB, message, author string) string {
	t.Helper()
	sig := signature(author, Epoch.Add(time.Duration(r.n)*time.Minute))
	r.n++
	h, err := r.wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		t.Fatalf("gittest: commit: %v", err)
	}
	r.publish(t)
	return h.String()
}

func signature(author string, when time.Time) *object.Signature {
	if author == "" {
		author = "Test Author <author@example.com>"
	}
	if a, err := mail.ParseAddress(author); err == nil {
		return &object.Signature{Name: a.Name, Email: a.Address, When: when}
	}
	name := strings.TrimSpace(author)
	return &object.Signature{
		Name:  name,
		Email: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com",
		When:  when,
	}
}

// Head is the hash of the current branch's newest commit ("" if none).
func (r *Repo) Head(t testing.TB) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, err := r.repo.Reference(plumbing.NewBranchReferenceName(r.branch), true)
	if err != nil {
		return ""
	}
	return ref.Hash().String()
}

// Delete removes the repository from disk, as if it had been deleted on
// its host: servers answer "not found" afterwards.
func (r *Repo) Delete(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.RemoveAll(r.Dir); err != nil {
		t.Fatalf("gittest: delete: %v", err)
	}
}

// gitDir is the bare repository's directory, or "" once deleted.
func (r *Repo) gitDir() string {
	if _, err := os.Stat(filepath.Join(r.Dir, "HEAD")); err != nil {
		return ""
	}
	return r.Dir
}
