package gitsrc

import (
	"bytes"
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
	"unicode/utf8"

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
	"golang.org/x/crypto/ssh"
)

// Defaults of Options' limits.
const (
	// DefaultMaxBytes bounds a fetch's download when Options.MaxBytes is 0.
	DefaultMaxBytes = 256 << 20
	// DefaultMaxObjectBytes bounds one unpacked object when
	// Options.MaxObjectBytes is 0. Templates are far smaller: SES takes at
	// most 500 KB for a whole template.
	DefaultMaxObjectBytes = 16 << 20
)

// Timeouts of one fetch's network steps; the whole fetch is bounded by the
// caller's context.
const (
	dialTimeout   = 15 * time.Second
	headerTimeout = 60 * time.Second
)

// userError is an error Fetch returns: a sentence a user can act on,
// matching one of the Err* sentinels with errors.Is. The cause is kept for
// errors.Is and errors.As (context.Canceled, a *net.OpError, ...) and for
// logs, but not shown.
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

// limits are a fetch's bounds, defaults applied.
type limits struct {
	download, object, unpacked int64
}

func limitsOf(opts Options) limits {
	l := limits{download: opts.MaxBytes, object: opts.MaxObjectBytes, unpacked: opts.MaxUnpackedBytes}
	if l.download <= 0 {
		l.download = DefaultMaxBytes
	}
	if l.object <= 0 {
		l.object = DefaultMaxObjectBytes
	}
	if l.unpacked <= 0 {
		l.unpacked = 4 * l.download
	}
	return l
}

// session is the part of an upload-pack session download uses; go-git's
// transport.UploadPackSession and sshSession implement it.
type session interface {
	AdvertisedReferencesContext(context.Context) (*packp.AdvRefs, error)
	UploadPack(context.Context, *packp.UploadPackRequest) (*packp.UploadPackResponse, error)
	Close() error
}

// fetch downloads src's branch: it asks the server for the branch's
// reference only (no tags, no other branches) and the full history behind
// it, within the limits of opts. It uses go-git's HTTP and file transports
// directly rather than git.Clone so that the HTTP client (which connects
// only to addresses it checked) and the file loader are per call, not
// installed globally, and speaks SSH itself (see sshSession).
func fetch(ctx context.Context, src Source, opts Options) (*Repo, error) {
	t, err := parseTarget(src.URL, opts)
	if err != nil {
		return nil, err
	}
	branch := strings.TrimPrefix(strings.TrimSpace(src.Branch), "refs/heads/")
	if err := checkBranch(branch); err != nil {
		return nil, err
	}
	refName := plumbing.NewBranchReferenceName(branch)
	lim := limitsOf(opts)

	ep, err := transport.NewEndpoint(t.endpoint)
	if err != nil {
		return nil, urlErr("The repository URL is not valid.")
	}
	var sess session
	switch t.kind {
	case kindHTTPS, kindHTTP:
		tr := githttp.NewClientWithOptions(httpClient(t.kind, opts), &githttp.ClientOptions{
			RedirectPolicy: githttp.FollowInitialRedirects,
		})
		var auth transport.AuthMethod
		if src.Auth.Token != "" {
			user := src.Auth.Username
			if user == "" {
				user = "x-access-token"
			}
			auth = &githttp.BasicAuth{Username: user, Password: src.Auth.Token}
		}
		sess, err = tr.NewUploadPackSession(ep, auth)
	case kindSSH:
		var cfg *ssh.ClientConfig
		if cfg, err = sshConfig(ep, src.Auth); err != nil {
			return nil, err
		}
		sess, err = dialSSH(ctx, ep, cfg, opts)
	case kindFile:
		ep.Path = t.path
		sess, err = server.NewClient(dirLoader{}).NewUploadPackSession(ep, nil)
	}
	if err != nil {
		return nil, classify(ctx, err, src, t, lim)
	}
	r, err := download(ctx, sess, refName, lim)
	if err != nil {
		return nil, classify(ctx, err, src, t, lim)
	}
	return &Repo{impl: r}, nil
}

// checkBranch checks a branch's short name as CheckBranch documents.
func checkBranch(name string) error {
	b := strings.TrimPrefix(name, "refs/heads/")
	if strings.TrimSpace(b) == "" {
		return &userError{kind: ErrNotFound, msg: "Enter the branch to read."}
	}
	bad := &userError{kind: ErrNotFound, msg: fmt.Sprintf("%q is not a valid branch name.", b)}
	if len(b) > 255 || !utf8.ValidString(b) || b == "HEAD" || strings.ContainsRune(b, 0x7f) {
		return bad
	}
	if err := plumbing.NewBranchReferenceName(b).Validate(); err != nil {
		return bad
	}
	return nil
}

// download runs one upload-pack exchange for refName into a new memory
// storage, and closes sess.
func download(ctx context.Context, sess session, refName plumbing.ReferenceName, lim limits) (r *repo, err error) {
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

	var body io.Reader = &limitReader{r: resp, left: lim.download}
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		body = sideband.NewDemuxer(sideband.Sideband64k, body)
	case req.Capabilities.Supports(capability.Sideband):
		body = sideband.NewDemuxer(sideband.Sideband, body)
	}
	// The pack is held compressed (within the download limit) and its
	// objects' sizes are checked before anything is unpacked.
	pack, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if err := checkPack(pack, lim); err != nil {
		return nil, err
	}
	st := memory.NewStorage()
	p, err := packfile.NewParserWithStorage(packfile.NewScanner(bytes.NewReader(pack)), st)
	if err != nil {
		return nil, err
	}
	if _, err := p.Parse(); err != nil {
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

// httpClient is a client of its own for one fetch. It connects only to
// addresses it checked (dialChecked), and does not use proxies from the
// environment, which would resolve names out of its sight. Redirects may
// not downgrade HTTPS to HTTP.
func httpClient(k kind, opts Options) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			return dialChecked(ctx, network, address, k, opts)
		},
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
// repository and branch, never the credentials. Every failure to reach
// the host or to keep talking to it reads the same (whether the name does
// not resolve, nothing listens, something else than Git answers, or it
// takes too long), so that the messages tell nothing of a network beyond
// "it cannot be reached"; the cause stays in the error for logs.
func classify(ctx context.Context, err error, src Source, t *target, lim limits) error {
	var ue *userError
	if errors.As(err, &ue) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%w)", cerr, err)
	}
	where := displayURL(t)
	var (
		e   *userError
		big *tooLargeError
		he  *githttp.Err
	)
	switch {
	case errors.As(err, &big) && big.object:
		e = &userError{kind: ErrTooLarge, msg: fmt.Sprintf("%s holds a file larger than %s, the limit for one file.", where, sizeText(lim.object))}
	case errors.As(err, &big):
		e = &userError{kind: ErrTooLarge, msg: fmt.Sprintf("%s is larger than the limit of %s once unpacked.", where, sizeText(lim.unpacked))}
	case errors.Is(err, ErrTooLarge):
		e = &userError{kind: ErrTooLarge, msg: fmt.Sprintf("%s is larger than the download limit (%s).", where, sizeText(lim.download))}
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
	case isSSHAuthError(err):
		e = &userError{kind: ErrAuth, msg: fmt.Sprintf("%s refused the deploy key: check that it is added to the repository.", where)}
	case errors.Is(err, errPrivateAddr):
		e = &userError{kind: ErrURL, msg: fmt.Sprintf("%s resolves to a private or local address; only repositories on the internet are allowed.", t.host)}
	case errors.Is(err, errPlainHTTP):
		e = &userError{kind: ErrURL, msg: fmt.Sprintf("%s is not on a private network; use https://.", t.host)}
	case errors.Is(err, context.Canceled):
		e = &userError{kind: ErrNetwork, msg: fmt.Sprintf("%s was not fetched: the fetch was cancelled.", where)}
	case errors.Is(err, context.DeadlineExceeded):
		e = &userError{kind: ErrNetwork, msg: fmt.Sprintf("%s was not fetched in the time allowed.", where)}
	case errors.As(err, &he) && he.Response != nil:
		e = &userError{kind: ErrNetwork, msg: fmt.Sprintf("%s could not be read: the server answered HTTP %d.", where, he.Response.StatusCode)}
	case isNetwork(err):
		e = &userError{kind: ErrNetwork, msg: unreachable(where)}
	default:
		e = &userError{kind: ErrNetwork, msg: fmt.Sprintf("%s could not be read: the server's answer is not one SendOps understands.", where)}
	}
	e.cause = err
	return e
}

// unreachable is the one sentence for every network failure.
func unreachable(where string) string {
	return where + " cannot be reached: check the URL, and that the host is up and accepts connections from SendOps."
}

// isNetwork reports whether err is a failure to reach the host or to keep
// talking to it.
func isNetwork(err error) bool {
	var (
		ne net.Error
		oe *net.OpError
		de *net.DNSError
	)
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.As(err, &de) ||
		errors.Is(err, errNoAddress) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "ssh: handshake failed")
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
