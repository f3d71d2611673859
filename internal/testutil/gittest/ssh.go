package gittest

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DeployKey is an SSH key pair for tests.
type DeployKey struct {
	PEM    []byte // the private key, OpenSSH PEM format
	Public ssh.PublicKey
}

// NewDeployKey generates an Ed25519 key, encrypted with passphrase when
// it is not empty.
func NewDeployKey(t testing.TB, passphrase string) DeployKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "gittest")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "gittest", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return DeployKey{PEM: pem.EncodeToMemory(block), Public: sp}
}

// SSHServer serves repositories over SSH on 127.0.0.1, read-only
// (git-upload-pack only), to clients authenticating with one of its
// authorized keys as any user.
type SSHServer struct {
	// Addr is host:port; KnownHosts is a known_hosts line pinning the
	// server's host key for it.
	Addr       string
	KnownHosts []byte

	l        net.Listener
	cfg      *ssh.ServerConfig
	mu       sync.Mutex
	repos    map[string]*Repo
	requests atomic.Int64
	wg       sync.WaitGroup
}

// NewSSHServer starts a server accepting the authorized keys; it stops when
// the test ends.
func NewSSHServer(t testing.TB, authorized ...ssh.PublicKey) *SSHServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, a := range authorized {
				if string(a.Marshal()) == string(key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SSHServer{Addr: l.Addr().String(), l: l, cfg: cfg, repos: map[string]*Repo{}}
	s.KnownHosts = []byte(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, signer.PublicKey()) + "\n")
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		l.Close()
		s.wg.Wait()
	})
	return s
}

// Add serves r at path (such as "acme/mail.git") and returns its
// ssh:// URL.
func (s *SSHServer) Add(path string, r *Repo) string {
	path = strings.Trim(path, "/")
	s.mu.Lock()
	s.repos[path] = r
	s.mu.Unlock()
	return "ssh://git@" + s.Addr + "/" + path
}

// Requests is how many commands clients have run.
func (s *SSHServer) Requests() int { return int(s.requests.Load()) }

func (s *SSHServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

func (s *SSHServer) serveConn(c net.Conn) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveSession(ch, creqs)
		}()
	}
}

func (s *SSHServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "env":
			_ = req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			s.requests.Add(1)
			status := s.exec(ch, p.Command)
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// exec runs "git-upload-pack '<path>'" on ch, returning the exit status.
func (s *SSHServer) exec(ch ssh.Channel, command string) uint32 {
	name, arg, _ := strings.Cut(command, " ")
	if name != transport.UploadPackServiceName {
		_, _ = ch.Stderr().Write([]byte("gittest: only git-upload-pack is served (read-only)\n"))
		return 128
	}
	path := strings.Trim(strings.Trim(arg, "'"), "/")
	s.mu.Lock()
	r := s.repos[path]
	s.mu.Unlock()
	if r == nil || r.gitDir() == "" {
		_, _ = ch.Stderr().Write([]byte("fatal: '" + path + "' does not appear to be a git repository\n"))
		return 128
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sess, err := server.NewServer(repoLoader{r.gitDir()}).NewUploadPackSession(&transport.Endpoint{}, nil)
	if err != nil {
		return 128
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferences()
	if err != nil || ar.Encode(ch) != nil {
		return 128
	}
	upr := packp.NewUploadPackRequest()
	if err := upr.Decode(bufio.NewReader(ch)); err != nil {
		return 0 // the client hung up after reading the references
	}
	resp, err := sess.UploadPack(context.Background(), upr)
	if err != nil {
		_, _ = ch.Stderr().Write([]byte("fatal: " + err.Error() + "\n"))
		return 128
	}
	if err := resp.Encode(ch); err != nil {
		return 128
	}
	return 0
}
