// Package gitsrc reads email templates' Git repositories with go-git, in
// memory and read-only: it clones one branch, lists its commits and opens
// any commit's tree as an fs.FS. It never pushes, commits or creates
// branches, and needs no git binary.
package gitsrc

import (
	"context"
	"errors"
	"io/fs"
	"time"
)

// Auth is how to authenticate to the repository's host.
type Auth struct {
	// Token for HTTPS URLs (sent as the password of basic auth; Username
	// defaults to "x-access-token", which GitHub, GitLab and Gitea accept).
	Username string
	Token    string
	// SSHKey is a PEM private key (a deploy key) for SSH URLs.
	SSHKey           []byte
	SSHKeyPassphrase string
	// SSHKnownHosts pins the server's host key (known_hosts format); empty
	// accepts any host key.
	SSHKnownHosts []byte
}

// Source is a repository and the branch to read.
type Source struct {
	URL    string
	Branch string
	Auth   Auth
}

// Options limit what Fetch may reach.
type Options struct {
	// AllowFile allows file:// URLs and local paths (tests, development).
	AllowFile bool
	// AllowPrivate allows hosts that resolve to loopback, private or
	// link-local addresses (a self-hosted Git server on a private network).
	AllowPrivate bool
	// MaxBytes bounds the size of what a fetch downloads; 0: 256 MiB.
	MaxBytes int64
}

// Commit is one commit of the branch.
type Commit struct {
	Hash        string
	Author      string
	AuthorEmail string
	When        time.Time
	Message     string
	Parents     []string
}

// Errors Fetch returns, wrapped with detail; errors.Is tells them apart.
var (
	ErrURL       = errors.New("repository URL not allowed")
	ErrAuth      = errors.New("the repository refused the credentials")
	ErrNotFound  = errors.New("repository or branch not found")
	ErrTooLarge  = errors.New("repository too large")
	ErrNetwork   = errors.New("repository not reachable")
	ErrNoCommits = errors.New("branch has no commits")
)

// Repo is a fetched repository, held in memory.
type Repo struct {
	impl *repo
}

// ValidateURL reports whether url is one Fetch accepts under opts: https://,
// ssh:// or scp-like (git@host:path), and file:// only with AllowFile.
func ValidateURL(url string, opts Options) error { return validateURL(url, opts) }

// Fetch clones src's branch into memory.
func Fetch(ctx context.Context, src Source, opts Options) (*Repo, error) {
	return fetch(ctx, src, opts)
}

// Head is the branch's newest commit.
func (r *Repo) Head() Commit { return r.impl.head() }

// FS opens the tree of the commit hash, read-only. Symbolic links appear
// with fs.ModeSymlink and cannot be opened.
func (r *Repo) FS(hash string) (fs.FS, error) { return r.impl.fs(hash) }

// Log lists the commits reachable from the head, newest first, stopping
// before stop (a commit hash; "" for none) or after max commits.
func (r *Repo) Log(stop string, max int) ([]Commit, error) { return r.impl.log(stop, max) }

// Changed lists the paths a commit changed against its first parent (every
// path for a root commit).
func (r *Repo) Changed(hash string) ([]string, error) { return r.impl.changed(hash) }
