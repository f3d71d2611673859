// Package gitsrc reads email templates' Git repositories with go-git, in
// memory and read-only: it clones one branch, lists its commits and opens
// any commit's tree as an fs.FS. It never pushes, commits or creates
// branches, and needs no git binary.
package gitsrc

import (
	"context"
	"errors"
	"io/fs"
	"net"
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
	// accepts any host key (the connection is encrypted but an impostor
	// server cannot be told apart; public key authentication never reveals
	// the key to it).
	SSHKnownHosts []byte
}

// Source is a repository and the branch to read.
type Source struct {
	URL    string
	Branch string
	Auth   Auth
}

// Options limit what Fetch may reach and how much it may hold.
type Options struct {
	// AllowFile allows file:// URLs and local paths (tests, development).
	AllowFile bool
	// AllowPrivate allows hosts that resolve to loopback, private or
	// link-local addresses (a self-hosted Git server on a private network),
	// and plain http:// to such addresses only. Without it these addresses
	// are refused in the URL and again before connecting: every address a
	// host name resolves to is checked, and Fetch connects only to an
	// address it checked.
	AllowPrivate bool
	// MaxBytes bounds the size of what a fetch downloads (the packed,
	// compressed history); 0: DefaultMaxBytes (256 MiB).
	MaxBytes int64
	// MaxObjectBytes bounds one object once unpacked: a file's content, a
	// directory listing, a commit. The download is refused as soon as it
	// announces a larger one, before unpacking it; 0:
	// DefaultMaxObjectBytes (16 MiB).
	MaxObjectBytes int64
	// MaxUnpackedBytes bounds all objects together once unpacked (each
	// also counts 512 bytes for its bookkeeping); the download is refused
	// before unpacking anything if it would exceed it; 0: four times
	// MaxBytes (1 GiB by default).
	MaxUnpackedBytes int64
	// Resolver looks up the addresses of host names; nil:
	// net.DefaultResolver. *net.Resolver implements it.
	Resolver Resolver
}

// Resolver looks up a host name's addresses.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Commit is one commit of the branch.
type Commit struct {
	Hash        string
	Author      string
	AuthorEmail string
	When        time.Time // author time
	Message     string    // full message, trailing newlines removed
	Parents     []string  // first parent first
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
// ssh:// or scp-like (git@host:path); http:// only with AllowPrivate (and
// then only to a private address); file:// and local paths only with
// AllowFile. Credentials in the URL are refused (the token has its own
// field). Host names are not resolved here; a literal private address or
// localhost is refused without AllowPrivate. The error matches ErrURL and
// reads as a sentence for the user.
func ValidateURL(url string, opts Options) error { return validateURL(url, opts) }

// Kind tells how url is reached, by its form alone (whatever Options
// allow): "https", "http", "ssh" (ssh:// and git@host:path) or "file"
// (file:// and local paths). A URL that no options allow (credentials in
// it, an unknown scheme, no host or no repository path) is an error
// matching ErrURL that reads as a sentence for the user.
func Kind(url string) (string, error) {
	t, err := parseURL(url)
	if err != nil {
		return "", err
	}
	return kindNames[t.kind], nil
}

// CheckBranch reports whether name is a branch name Fetch accepts: a
// branch's short name ("main", "release/2025") following Git's rules for
// reference names (git check-ref-format --branch), at most 255 bytes; a
// "refs/heads/" prefix is allowed. Spaces are not trimmed. The error
// matches ErrNotFound, as Fetch's does, and reads as a sentence for the
// user.
func CheckBranch(name string) error { return checkBranch(name) }

// Fetch clones src's branch into memory: its full history, no other
// branch, no tags. HTTPS sends Auth.Token as the basic-auth password; SSH
// authenticates with Auth.SSHKey. Neither uses proxies from the
// environment nor the SSH configuration files of the user running
// SendOps. The download is held compressed, within opts.MaxBytes, and
// refused before anything is unpacked if an object would exceed
// opts.MaxObjectBytes or all of them opts.MaxUnpackedBytes. Errors match
// one of ErrURL, ErrAuth, ErrNotFound, ErrTooLarge, ErrNetwork and
// ErrNoCommits, and their text is a sentence for the user that never
// contains the credentials; every failure to reach the host reads the
// same, and the underlying error stays reachable with errors.As for logs.
func Fetch(ctx context.Context, src Source, opts Options) (*Repo, error) {
	return fetch(ctx, src, opts)
}

// Head is the branch's newest commit.
func (r *Repo) Head() Commit { return r.impl.head() }

// FS opens the tree of the commit hash (40 hex digits), read-only. The
// result implements fs.ReadDirFS, fs.StatFS, fs.ReadFileFS and
// fs.ReadLinkFS. Symbolic links appear with fs.ModeSymlink (Stat does not
// follow them) and cannot be opened; submodules are left out. An unknown
// commit is an error matching ErrNotFound.
func (r *Repo) FS(hash string) (fs.FS, error) { return r.impl.fs(hash) }

// Log lists the branch's commits from the head, newest first, following
// first parents (as git log --first-parent: a merge stands for the commits
// it brings), stopping before stop (a commit hash; "" for none) or after
// max commits (0 for no limit).
func (r *Repo) Log(stop string, max int) ([]Commit, error) { return r.impl.log(stop, max) }

// Changed lists the paths a commit changed against its first parent (every
// path for a root commit), sorted; a rename lists both paths.
func (r *Repo) Changed(hash string) ([]string, error) { return r.impl.changed(hash) }
