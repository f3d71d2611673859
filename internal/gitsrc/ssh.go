package gitsrc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

var (
	errHostKey = errors.New("host key mismatch")
	errSSHKey  = errors.New("bad deploy key")
)

// sshConfig is the SSH client configuration for one fetch, authenticating
// with the deploy key. The host key is checked against auth.SSHKnownHosts
// when given, under the host name of the URL (not the address connected
// to); without it any host key is accepted (the connection is then
// encrypted but not protected against an impostor server, which could
// only serve other content: the deploy key is never revealed by public key
// authentication).
func sshConfig(ep *transport.Endpoint, auth Auth) (*ssh.ClientConfig, error) {
	if len(auth.SSHKey) == 0 {
		return nil, &userError{kind: ErrAuth, msg: "An SSH repository URL needs a deploy key (a private key in PEM format)."}
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	signer, err := ssh.ParsePrivateKey(auth.SSHKey)
	var pm *ssh.PassphraseMissingError
	if errors.As(err, &pm) && auth.SSHKeyPassphrase != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(auth.SSHKey, []byte(auth.SSHKeyPassphrase))
	}
	if err != nil {
		msg := "The SSH deploy key cannot be read: it must be a private key in PEM or OpenSSH format."
		switch {
		case errors.As(err, &pm):
			msg = "The SSH deploy key is encrypted: enter its passphrase."
		case errors.Is(err, x509.IncorrectPasswordError):
			msg = "The passphrase of the SSH deploy key is wrong."
		}
		return nil, &userError{kind: ErrAuth, msg: msg, cause: errSSHKey}
	}
	check := func(string, net.Addr, ssh.PublicKey) error { return nil }
	var algos []string
	if len(bytes.TrimSpace(auth.SSHKnownHosts)) > 0 {
		check, algos, err = knownHostsCallback(auth.SSHKnownHosts)
		if err != nil {
			return nil, &userError{kind: ErrAuth, msg: "The SSH known hosts cannot be read: " + err.Error() + "."}
		}
	}
	return &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if err := check(hostname, remote, key); err != nil {
				return fmt.Errorf("%w: %v", errHostKey, err)
			}
			return nil
		},
		HostKeyAlgorithms: algos,
		Timeout:           dialTimeout,
	}, nil
}

// sshSession is one git-upload-pack command over SSH. SendOps speaks this
// part of Git's protocol itself rather than through go-git's SSH
// transport, which connects through the proxies of the environment
// (ALL_PROXY) and the ssh_config files of the user running SendOps,
// resolves names out of sight and lets a check run only after connecting.
// Here the address is checked before connecting (dialChecked), nothing
// else is read, and the context bounds every step.
type sshSession struct {
	conn   net.Conn
	client *ssh.Client
	sess   *ssh.Session
	stdin  io.WriteCloser
	stdout io.Reader
	stderr *headBuffer
	stop   func() bool // ends closing conn when the context ends
	ar     *packp.AdvRefs
}

var _ session = (*sshSession)(nil)

// dialSSH connects to ep's host, authenticates with cfg and starts
// git-upload-pack for ep's path.
func dialSSH(ctx context.Context, ep *transport.Endpoint, cfg *ssh.ClientConfig, opts Options) (*sshSession, error) {
	port := ep.Port
	if port <= 0 {
		port = 22
	}
	// The host name as the URL gives it: known_hosts lines name it.
	hostport := net.JoinHostPort(ep.Host, strconv.Itoa(port))
	conn, err := dialChecked(ctx, "tcp", hostport, kindSSH, opts)
	if err != nil {
		return nil, err
	}
	s := &sshSession{conn: conn, stderr: &headBuffer{max: 4 << 10}}
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	_ = conn.SetDeadline(time.Now().Add(dialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, hostport, cfg)
	if err != nil {
		return nil, err
	}
	s.client = ssh.NewClient(c, chans, reqs)
	// Until the server lists its references; the pack itself may take
	// longer, bounded by the context.
	_ = conn.SetDeadline(time.Now().Add(headerTimeout))
	if s.sess, err = s.client.NewSession(); err != nil {
		return nil, err
	}
	if s.stdin, err = s.sess.StdinPipe(); err != nil {
		return nil, err
	}
	if s.stdout, err = s.sess.StdoutPipe(); err != nil {
		return nil, err
	}
	s.sess.Stderr = s.stderr
	if err := s.sess.Start(transport.UploadPackServiceName + " " + shellQuote(ep.Path)); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// AdvertisedReferencesContext reads the references the server lists.
func (s *sshSession) AdvertisedReferencesContext(context.Context) (*packp.AdvRefs, error) {
	if s.ar != nil {
		return s.ar, nil
	}
	ar := packp.NewAdvRefs()
	err := ar.Decode(s.stdout)
	var el *pktline.ErrorLine
	switch {
	case err == nil:
	case errors.Is(err, packp.ErrEmptyAdvRefs):
		return nil, transport.ErrEmptyRemoteRepository
	case errors.As(err, &el) && isRepoNotFound(el.Text):
		return nil, transport.ErrRepositoryNotFound
	case errors.Is(err, packp.ErrEmptyInput):
		// The server ended the command without a word on its output; it
		// says why on its error output.
		_ = s.sess.Wait()
		if isRepoNotFound(s.stderr.String()) {
			return nil, transport.ErrRepositoryNotFound
		}
		return nil, fmt.Errorf("the server ended git-upload-pack: %q: %w", s.stderr.String(), io.ErrUnexpectedEOF)
	default:
		return nil, err
	}
	_ = s.conn.SetDeadline(time.Time{})
	transport.FilterUnsupportedCapabilities(ar.Capabilities)
	s.ar = ar
	return ar, nil
}

// UploadPack sends the request and returns the server's answer, whose
// reader is the pack.
func (s *sshSession) UploadPack(_ context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := req.UploadRequest.Encode(s.stdin); err != nil {
		return nil, err
	}
	if err := req.UploadHaves.Encode(s.stdin, true); err != nil {
		return nil, err
	}
	if err := pktline.NewEncoder(s.stdin).Encodef("done\n"); err != nil {
		return nil, err
	}
	if err := s.stdin.Close(); err != nil {
		return nil, err
	}
	resp := packp.NewUploadPackResponse(req)
	if err := resp.Decode(io.NopCloser(s.stdout)); err != nil {
		return nil, err
	}
	return resp, nil
}

// Close ends the command and the connection.
func (s *sshSession) Close() error {
	s.stop()
	if s.sess != nil {
		_ = s.sess.Close()
	}
	if s.client != nil {
		_ = s.client.Close()
	}
	_ = s.conn.Close()
	return nil
}

// headBuffer keeps the first max bytes written to it.
type headBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.max - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.TrimSpace(string(h.b))
}

// isRepoNotFound reports whether a Git server's message says the
// repository does not exist (or is not readable with the key), in the
// words of common hosts.
func isRepoNotFound(msg string) bool {
	for _, s := range []string{
		"does not appear to be a git repository",
		"Repository not found",
		"repository does not exist",
		"no such repository",
		"access denied",
		"Repository does not exist or you do not have access",
		"The project you were looking for could not be found",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// shellQuote quotes a path for the remote shell as Git does: in single
// quotes, with ' and ! each closed, escaped and reopened.
func shellQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\'' || c == '!' {
			b.WriteString("'\\")
			b.WriteByte(c)
			b.WriteByte('\'')
			continue
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// knownHostsCallback builds a host key check from known_hosts content, and
// lists the key algorithms it names so the server offers a key that can
// be checked.
func knownHostsCallback(data []byte) (ssh.HostKeyCallback, []string, error) {
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, s := range a {
			if !seen[s] {
				seen[s] = true
				algos = append(algos, s)
			}
		}
	}
	rest := data
	n := 0
	for len(bytes.TrimSpace(rest)) > 0 {
		marker, _, key, _, r, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, nil, errors.New("it is not in known_hosts format")
		}
		rest = r
		if marker == "revoked" {
			continue
		}
		n++
		switch t := key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	if n == 0 {
		return nil, nil, errors.New("it lists no host key")
	}
	// knownhosts reads files only; the content lives in a temporary file
	// for as long as New reads it.
	f, err := os.CreateTemp("", "sendops-known-hosts-*")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	if _, err := w.Write(data); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := f.Close(); err != nil {
		return nil, nil, err
	}
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, nil, errors.New("it is not in known_hosts format")
	}
	return cb, algos, nil
}

// isSSHAuthError reports whether the SSH server refused the key.
func isSSHAuthError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ssh: unable to authenticate")
}
