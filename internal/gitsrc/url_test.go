package gitsrc_test

import (
	"errors"
	"strings"
	"testing"

	"sendops/internal/gitsrc"
)

func TestValidateURL(t *testing.T) {
	t.Parallel()
	none := gitsrc.Options{}
	private := gitsrc.Options{AllowPrivate: true}
	file := gitsrc.Options{AllowFile: true}
	for _, tc := range []struct {
		url  string
		opts gitsrc.Options
		msg  string // "" when accepted
	}{
		{"https://github.com/acme/mail.git", none, ""},
		{"https://gitlab.example.com:8443/group/sub/mail", none, ""},
		{"ssh://git@github.com/acme/mail.git", none, ""},
		{"ssh://git@git.example.com:2222/acme/mail.git", none, ""},
		{"git@github.com:acme/mail.git", none, ""},
		{"github.com:acme/mail.git", none, ""},
		{"", none, "Enter the repository URL"},
		{"http://github.com/acme/mail.git", none, "http:// is not allowed"},
		{"http://10.1.2.3/acme/mail.git", none, "http:// is not allowed"},
		{"http://10.1.2.3/acme/mail.git", private, ""},
		{"http://git.internal/acme/mail.git", private, ""}, // the address is checked when connecting
		{"http://8.8.8.8/acme/mail.git", private, "only allowed for a server on a private network"},
		{"https://127.0.0.1/acme/mail.git", none, "private or local address"},
		{"https://127.0.0.1/acme/mail.git", private, ""},
		{"https://localhost/acme/mail.git", none, "local address"},
		{"https://[::1]:8443/acme/mail.git", none, "private or local address"},
		{"https://192.168.1.10/acme/mail.git", none, "private or local address"},
		{"https://169.254.169.254/latest", none, "private or local address"},
		{"https://[::ffff:10.0.0.1]/x", none, "private or local address"},
		{"git@10.0.0.5:acme/mail.git", none, "private or local address"},
		{"ssh://git@172.16.0.1/acme/mail.git", none, "private or local address"},
		{"https://x-access-token:ghp_secret@github.com/acme/mail.git", none, "enter the token in the token field"},
		{"https://ann@github.com/acme/mail.git", none, "enter the token in the token field"},
		{"ssh://git:pw@github.com/acme/mail.git", none, "Do not put a password"},
		{"file:///srv/git/mail.git", none, "file:// URLs are not allowed"},
		{"file:///srv/git/mail.git", file, ""},
		{"/srv/git/mail.git", none, "is not a repository URL"},
		{"/srv/git/mail.git", file, ""},
		{"./mail", file, ""},
		{"git://github.com/acme/mail.git", none, "git:// is not supported"},
		{"ftp://example.com/mail.git", none, "ftp:// is not supported"},
		{"https://github.com", none, "no repository path"},
		{"https:///acme/mail.git", none, "no host"},
		{"https://github.com/acme/mail.git?x=1", none, "query"},
		{"https://github.com/acme mail.git", none, "spaces"},
	} {
		err := gitsrc.ValidateURL(tc.url, tc.opts)
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("ValidateURL(%q, %+v) = %v, want ok", tc.url, tc.opts, err)
		case tc.msg != "" && (!errors.Is(err, gitsrc.ErrURL) || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("ValidateURL(%q, %+v) = %v, want ErrURL saying %q", tc.url, tc.opts, err, tc.msg)
		case err != nil && strings.Contains(err.Error(), "ghp_secret"):
			t.Errorf("ValidateURL(%q) shows the credentials: %v", tc.url, err)
		}
	}
}
