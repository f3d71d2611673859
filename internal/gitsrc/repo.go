package gitsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

// DefaultMaxBytes bounds a fetch when Options.MaxBytes is 0.
const DefaultMaxBytes = 256 << 20

// Timeouts of one fetch's network steps; the whole fetch is bounded by the
// caller's context.
const (
	dialTimeout   = 15 * time.Second
	headerTimeout = 60 * time.Second
)

// userError is an error Fetch returns: a sentence a user can act on,
// matching one of the Err* sentinels with errors.Is. The cause is kept for
// errors.Is (context.Canceled, ...) but not shown.
type userError struct {
	kind  error
	msg   string
	cause error
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// repo is a fetched branch held in memory storage.
type repo struct {
	st       *memory.Storage
	headHash plumbing.Hash
	headC    Commit
}

// fetch downloads src's branch: it asks the server for the branch's
// reference only (no tags, no other branches) and the full history behind
// it, bounded by opts.MaxBytes. It uses go-git's transports directly rather
// than git.Clone so that the HTTP client (which refuses private addresses
// when it connects) and the file loader are per call, not installed
// globally.
func fetch(ctx context.Context, src Source, opts Options) (*Repo, error) {
	t, err := parseTarget(src.URL, opts)
	if err != nil {
		return nil, err
	}
	branch := strings.TrimPrefix(strings.TrimSpace(src.Branch), "refs/heads/")
	if branch == "" {
		return nil, &userError{kind: ErrNotFound, msg: "Enter the branch to read."}
	}
	refName := plumbing.NewBranchReferenceName(branch)
	if err := refName.Validate(); err != nil {
		return nil, &userError{kind: ErrNotFound, msg: fmt.Sprintf("%q is not a valid branch name.", branch)}
	}
	max := opts.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}

	ep, err := transport.NewEndpoint(t.endpoint)
	if err != nil {
		return nil, urlErr("The repository URL is not valid.")
	}
	var (
		tr   transport.Transport
		auth transport.AuthMethod
	)
	switch t.kind {
	case kindHTTPS, kindHTTP:
		tr = githttp.NewClientWithOptions(httpClient(t.kind, opts), &githttp.ClientOptions{
			RedirectPolicy: githttp.FollowInitialRedirects,
		})
		if src.Auth.Token != "" {
			user := src.Auth.Username
			if user == "" {
				user = "x-access-token"
			}
			auth = &githttp.BasicAuth{Username: user, Password: src.Auth.Token}
		}
	case kindSSH:
		tr, auth, err = sshTransport(t, ep, src.Auth, opts)
		if err != nil {
			return nil, err
		}
	case kindFile:
		tr = server.NewClient(dirLoader{})
		ep.Path = t.path
	}

	r, err := download(ctx, tr, ep, auth, refName, max)
	if err != nil {
		return nil, classify(err, src, t, max)
	}
	return &Repo{impl: r}, nil
}

// download runs one upload-pack exchange for refName into a new memory
// storage.
func download(ctx context.Context, tr transport.Transport, ep *transport.Endpoint, auth transport.AuthMethod, refName plumbing.ReferenceName, max int64) (r *repo, err error) {
	sess, err := tr.NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := sess.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, err
	}
	if ar.IsEmpty() {
		return nil, transport.ErrEmptyRemoteRepository
	}
	refs, err := ar.AllReferences()
	if err != nil {
		return nil, err
	}
	ref, err := storer.ResolveReference(refs, refName)
	if err != nil {
		return nil, errBranchMissing
	}
	want := ref.Hash()

	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	if ar.Capabilities.Supports(capability.NoProgress) {
		if err := req.Capabilities.Set(capability.NoProgress); err != nil {
			return nil, err
		}
	}
	req.Wants = []plumbing.Hash{want}
	resp, err := sess.UploadPack(ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Close()

	var body io.Reader = &limitReader{r: resp, left: max}
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		body = sideband.NewDemuxer(sideband.Sideband64k, body)
	case req.Capabilities.Supports(capability.Sideband):
		body = sideband.NewDemuxer(sideband.Sideband, body)
	}
	st := memory.NewStorage()
	if err := packfile.UpdateObjectStorage(st, body); err != nil {
		return nil, err
	}
	c, err := object.GetCommit(st, want)
	if err != nil {
		return nil, fmt.Errorf("the server did not send the branch's commit: %w", err)
	}
	if err := st.SetReference(plumbing.NewHashReference(refName, want)); err != nil {
		return nil, err
	}
	if err := st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, refName)); err != nil {
		return nil, err
	}
	return &repo{st: st, headHash: want, headC: toCommit(c)}, nil
}

var (
	errBranchMissing = errors.New("branch not found")
	errPrivateAddr   = errors.New("address not allowed")
	errPlainHTTP     = errors.New("plain HTTP to a public address")
)

// limitReader fails with ErrTooLarge once more than left bytes are read.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, ErrTooLarge
	}
	return n, err
}

// httpClient is a client of its own for one fetch. Its dialer checks every
// address it connects to (after DNS resolution, so a name that later
// resolves elsewhere cannot reach a private network), and it does not use
// proxies from the environment, which would resolve names out of its
// sight. Redirects may not downgrade HTTPS to HTTP.
func httpClient(k kind, opts Options) *http.Client {
	d := &net.Dialer{
		Timeout: dialTimeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			return checkDial(address, k, opts)
		},
	}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: headerTimeout,
		MaxIdleConns:          2,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 0 && via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return errors.New("redirect from HTTPS to HTTP refused")
			}
			return nil
		},
	}
}

// checkDial refuses connecting to address (an IP and port) when opts do
// not allow it: private addresses without AllowPrivate, and plain HTTP to a
// public address.
func checkDial(address string, k kind, opts Options) error {
	ip, ok := addrIP(address)
	if !ok {
		return errPrivateAddr
	}
	private := privateAddr(ip)
	if private && !opts.AllowPrivate {
		return errPrivateAddr
	}
	if k == kindHTTP && !private {
		return errPlainHTTP
	}
	return nil
}

// dirLoader opens a local repository: a work tree's .git directory or a
// bare repository.
type dirLoader struct{}

func (dirLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	dir := filepath.FromSlash(ep.Path)
	if fi, err := os.Stat(filepath.Join(dir, ".git")); err == nil && fi.IsDir() {
		dir = filepath.Join(dir, ".git")
	} else if _, err := os.Stat(filepath.Join(dir, "objects")); err != nil {
		return nil, transport.ErrRepositoryNotFound
	}
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		return nil, transport.ErrRepositoryNotFound
	}
	return filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault()), nil
}

// classify turns an error of a fetch into a userError. Messages name the
// repository and branch, never the credentials.
func classify(err error, src Source, t *target, max int64) error {
	var ue *userError
	if errors.As(err, &ue) {
		return err
	}
	where := displayURL(t)
	var e *userError
	switch {
	case errors.Is(err, ErrTooLarge):
		e = &userError{kind: ErrTooLarge, msg: fmt.Sprintf("%s is larger than the download limit (%s).", where, sizeText(max))}
	case errors.Is(err, errBranchMissing):
		e = &userError{kind: ErrNotFound, msg: fmt.Sprintf("%s has no branch %q.", where, src.Branch)}
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		e = &userError{kind: ErrNoCommits, msg: fmt.Sprintf("%s has no commits.", where)}
	case errors.Is(err, transport.ErrRepositoryNotFound):
		e = &userError{kind: ErrNotFound, msg: fmt.Sprintf("%s was not found.", where)}
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		msg := fmt.Sprintf("%s refused the credentials: check the token and that it may read the repository (some hosts answer this way for a repository that does not exist).", where)
		if src.Auth.Token == "" {
			msg = fmt.Sprintf("%s needs credentials: enter a token that may read the repository (some hosts answer this way for a repository that does not exist).", where)
		}
		e = &userError{kind: ErrAuth, msg: msg}
	case errors.Is(err, errHostKey):
		e = &userError{kind: ErrAuth, msg: fmt.Sprintf("The SSH host key of %s does not match the known hosts given.", t.host)}
	case errors.Is(err, errSSHKey):
		e = &userError{kind: ErrAuth, msg: "The SSH deploy key cannot be read: " + err.Error() + "."}
	case isSSHAuthError(err):
		e = &userError{kind: ErrAuth, msg: fmt.Sprintf("%s refused the deploy key: check that it is added to the repository.", where)}
	case errors.Is(err, errPrivateAddr):
		e = &userError{kind: ErrURL, msg: fmt.Sprintf("%s resolves to a private or local address; only repositories on the internet are allowed.", t.host)}
	case errors.Is(err, errPlainHTTP):
		e = &userError{kind: ErrURL, msg: fmt.Sprintf("%s is not on a private network; use https://.", t.host)}
	case errors.Is(err, context.Canceled):
		e = &userError{kind: ErrNetwork, msg: fmt.Sprintf("Fetching %s was cancelled.", where)}
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		e = &userError{kind: ErrNetwork, msg: fmt.Sprintf("%s did not answer in time.", where)}
	case isDNS(err):
		e = &userError{kind: ErrNetwork, msg: fmt.Sprintf("The host %s cannot be found.", t.host)}
	case isNet(err):
		e = &userError{kind: ErrNetwork, msg: fmt.Sprintf("%s cannot be reached: %s.", where, redact(rootMessage(err), src))}
	default:
		e = &userError{kind: ErrNetwork, msg: fmt.Sprintf("%s could not be read: %s.", where, redact(err.Error(), src))}
	}
	e.cause = err
	return e
}

// sizeText formats a byte count for messages.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// displayURL is the repository as shown in messages.
func displayURL(t *target) string {
	if t.kind == kindFile {
		return "The repository " + t.path
	}
	return "The repository " + t.endpoint
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isDNS(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de)
}

func isNet(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED)
}

// rootMessage is the innermost error's message (without URLs the outer
// layers add).
func rootMessage(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// redact removes the credentials from msg, in case a layer repeated them.
func redact(msg string, src Source) string {
	for _, s := range []string{src.Auth.Token, src.Auth.SSHKeyPassphrase} {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

func toCommit(c *object.Commit) Commit {
	out := Commit{
		Hash:        c.Hash.String(),
		Author:      c.Author.Name,
		AuthorEmail: c.Author.Email,
		When:        c.Author.When,
		Message:     strings.TrimRight(c.Message, "\r\n"),
	}
	for _, p := range c.ParentHashes {
		out.Parents = append(out.Parents, p.String())
	}
	return out
}

func (r *repo) head() Commit {
	c := r.headC
	c.Parents = append([]string(nil), c.Parents...)
	return c
}

// commit finds a commit of the fetched branch by its full hash.
func (r *repo) commit(hash string) (*object.Commit, error) {
	if len(hash) != 40 || !plumbing.IsHash(hash) {
		return nil, fmt.Errorf("%q is not a commit hash", hash)
	}
	c, err := object.GetCommit(r.st, plumbing.NewHash(hash))
	if err != nil {
		return nil, fmt.Errorf("commit %s is not in the fetched branch: %w", hash, ErrNotFound)
	}
	return c, nil
}

// log walks first parents from the head: the branch's own line of
// history, as `git log --first-parent` shows it. Commits merged in from
// other branches are not listed; their changes appear in the merge.
func (r *repo) log(stop string, max int) ([]Commit, error) {
	var out []Commit
	h := r.headHash
	for {
		if stop != "" && h.String() == stop {
			break
		}
		c, err := object.GetCommit(r.st, h)
		if err != nil {
			return nil, fmt.Errorf("reading commit %s: %w", h, err)
		}
		out = append(out, toCommit(c))
		if max > 0 && len(out) >= max {
			break
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	return out, nil
}

func (r *repo) changed(hash string) ([]string, error) {
	c, err := r.commit(hash)
	if err != nil {
		return nil, err
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var parent *object.Tree
	if len(c.ParentHashes) > 0 {
		p, err := object.GetCommit(r.st, c.ParentHashes[0])
		if err != nil {
			return nil, fmt.Errorf("reading the parent of %s: %w", hash, err)
		}
		if parent, err = p.Tree(); err != nil {
			return nil, err
		}
	}
	changes, err := object.DiffTree(parent, tree)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, ch := range changes {
		for _, n := range []string{ch.From.Name, ch.To.Name} {
			if n != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
