package gitsrc

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

var (
	errHostKey = errors.New("host key mismatch")
	errSSHKey  = errors.New("bad deploy key")
)

// sshTransport is an SSH client for one fetch authenticating with the
// deploy key. The host key is checked against auth.SSHKnownHosts when
// given; without it any host key is accepted (the connection is then
// encrypted but not protected against an impostor server, which could only
// serve other content: the deploy key is never revealed by public key
// authentication). The address connected to is checked like HTTP's.
//
// go-git's SSH transport honours Hostname and Port of the ssh_config files
// of the user running SendOps for the repository's host.
func sshTransport(t *target, ep *transport.Endpoint, auth Auth, opts Options) (transport.Transport, transport.AuthMethod, error) {
	if len(auth.SSHKey) == 0 {
		return nil, nil, &userError{kind: ErrAuth, msg: "An SSH repository URL needs a deploy key (a private key in PEM format)."}
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
		return nil, nil, &userError{kind: ErrAuth, msg: msg, cause: errSSHKey}
	}
	check := func(string, net.Addr, ssh.PublicKey) error { return nil }
	var algos []string
	if len(bytes.TrimSpace(auth.SSHKnownHosts)) > 0 {
		check, algos, err = knownHostsCallback(auth.SSHKnownHosts)
		if err != nil {
			return nil, nil, &userError{kind: ErrAuth, msg: "The SSH known hosts cannot be read: " + err.Error() + "."}
		}
	}
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if tcp, ok := remote.(*net.TCPAddr); ok {
				if err := checkDial(tcp.String(), kindSSH, opts); err != nil {
					return err
				}
			}
			if err := check(hostname, remote, key); err != nil {
				return fmt.Errorf("%w: %v", errHostKey, err)
			}
			return nil
		},
		HostKeyAlgorithms: algos,
		Timeout:           dialTimeout,
	}
	// The config given to NewClient replaces the one go-git builds from
	// keys; keys still needs a callback, or go-git reads the user's
	// ~/.ssh/known_hosts.
	keys := &gitssh.PublicKeys{User: user, Signer: signer}
	keys.HostKeyCallback = cfg.HostKeyCallback
	return gitssh.NewClient(cfg), keys, nil
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
