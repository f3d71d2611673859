package gitsrc_test

import (
	"errors"
	"strings"
	"testing"

	"sendops/internal/gitsrc"
	"sendops/internal/testutil/gittest"
)

func TestFetchSSH(t *testing.T) {
	t.Parallel()
	r := gittest.New(t)
	head := r.Commit(t, map[string]string{"a.html": "A"}, "one", "Ann")
	key := gittest.NewDeployKey(t, "")
	locked := gittest.NewDeployKey(t, "pass phrase")
	other := gittest.NewDeployKey(t, "")
	srv := gittest.NewSSHServer(t, key.Public, locked.Public)
	u := srv.Add("acme/mail.git", r)
	otherSrv := gittest.NewSSHServer(t, key.Public)

	type sshCase struct {
		name string
		url  string
		auth gitsrc.Auth
		opts gitsrc.Options
		want error
		msg  string
	}
	cases := []sshCase{
		{"deploy key", u, gitsrc.Auth{SSHKey: key.PEM}, local, nil, ""},
		{"known host", u, gitsrc.Auth{SSHKey: key.PEM, SSHKnownHosts: srv.KnownHosts}, local, nil, ""},
		{"encrypted key", u, gitsrc.Auth{SSHKey: locked.PEM, SSHKeyPassphrase: "pass phrase"}, local, nil, ""},
		{"wrong passphrase", u, gitsrc.Auth{SSHKey: locked.PEM, SSHKeyPassphrase: "nope"}, local, gitsrc.ErrAuth, "passphrase of the SSH deploy key is wrong"},
		{"missing passphrase", u, gitsrc.Auth{SSHKey: locked.PEM}, local, gitsrc.ErrAuth, "enter its passphrase"},
		{"key not authorized", u, gitsrc.Auth{SSHKey: other.PEM}, local, gitsrc.ErrAuth, "refused the deploy key"},
		{"no key", u, gitsrc.Auth{}, local, gitsrc.ErrAuth, "needs a deploy key"},
		{"garbage key", u, gitsrc.Auth{SSHKey: []byte("not a key")}, local, gitsrc.ErrAuth, "cannot be read"},
		{"host key mismatch", u, gitsrc.Auth{SSHKey: key.PEM, SSHKnownHosts: otherSrv.KnownHosts}, local, gitsrc.ErrAuth, "host key"},
		{"bad known hosts", u, gitsrc.Auth{SSHKey: key.PEM, SSHKnownHosts: []byte("garbage")}, local, gitsrc.ErrAuth, "known hosts"},
		{"missing repository", strings.Replace(u, "mail.git", "gone.git", 1), gitsrc.Auth{SSHKey: key.PEM}, local, gitsrc.ErrNotFound, "not found"},
	}
	// A name is resolved by Options.Resolver and the address it gives
	// connected to; the host key is checked under the name.
	named := strings.Replace(u, "127.0.0.1", "git.corp.test", 1)
	namedHosts := []byte(strings.Replace(string(srv.KnownHosts), "127.0.0.1", "git.corp.test", 1))
	viaName := gitsrc.Options{AllowPrivate: true, Resolver: testResolver}
	cases = append(cases,
		sshCase{"name", named, gitsrc.Auth{SSHKey: key.PEM, SSHKnownHosts: namedHosts}, viaName, nil, ""},
		sshCase{"name, host key of the address", named, gitsrc.Auth{SSHKey: key.PEM, SSHKnownHosts: srv.KnownHosts}, viaName, gitsrc.ErrAuth, "host key"},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repo, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: tc.url, Branch: "main", Auth: tc.auth}, tc.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if repo.Head().Hash != head {
					t.Errorf("head %s, want %s", repo.Head().Hash, head)
				}
				return
			}
			t.Log(err)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Fetch = %v; want %v saying %q", err, tc.want, tc.msg)
			}
		})
	}
}
