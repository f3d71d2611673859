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

func TestKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want, msg string }{
		{"https://github.com/acme/mail.git", "https", ""},
		{"HTTPS://github.com/acme/mail.git", "https", ""},
		{"http://10.1.2.3/acme/mail.git", "http", ""},
		{"http://8.8.8.8/acme/mail.git", "http", ""}, // the form only: ValidateURL refuses it
		{"https://127.0.0.1/acme/mail.git", "https", ""},
		{"ssh://git@github.com/acme/mail.git", "ssh", ""},
		{"git@github.com:acme/mail.git", "ssh", ""},
		{"github.com:acme/mail.git", "ssh", ""},
		{" git@github.com:acme/mail.git ", "ssh", ""},
		{"file:///srv/git/mail.git", "file", ""},
		{"/srv/git/mail.git", "file", ""},
		{"./mail", "file", ""},
		{"C:/repos/mail", "file", ""}, // a drive letter, not a host
		{"", "", "Enter the repository URL"},
		{"git://github.com/acme/mail.git", "", "git:// is not supported"},
		{"https://x-access-token:ghp_secret@github.com/acme/mail.git", "", "token field"},
		{"https://github.com", "", "no repository path"},
		{"file://server/share/mail", "", "local directory"},
	} {
		got, err := gitsrc.Kind(tc.url)
		switch {
		case tc.msg == "" && (err != nil || got != tc.want):
			t.Errorf("Kind(%q) = %q, %v; want %q", tc.url, got, err, tc.want)
		case tc.msg != "" && (!errors.Is(err, gitsrc.ErrURL) || !strings.Contains(err.Error(), tc.msg) || got != ""):
			t.Errorf("Kind(%q) = %q, %v; want ErrURL saying %q", tc.url, got, err, tc.msg)
		case err != nil && strings.Contains(err.Error(), "ghp_secret"):
			t.Errorf("Kind(%q) shows the credentials: %v", tc.url, err)
		}
	}
}

func TestCheckBranch(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"main", "release/2025", "feature/a-b_c.d", "refs/heads/main", "v1.2", "ünïcode", "a@b", strings.Repeat("x", 255)} {
		if err := gitsrc.CheckBranch(name); err != nil {
			t.Errorf("CheckBranch(%q) = %v, want ok", name, err)
		}
	}
	for _, name := range []string{
		"", " ", "refs/heads/", "a..b", "/main", "main/", "a//b", ".hidden", "a/.b", "main.lock", "a.lock/b",
		"main.", "-main", "a b", " main", "a\tb", "a~1", "a^", "a:b", "a?", "a*", "a[b", `a\b`, "a@{1}", "@",
		"HEAD", "a\x00b", "a\x1fb", "a\x7fb", "\xff", strings.Repeat("x", 256),
	} {
		err := gitsrc.CheckBranch(name)
		if !errors.Is(err, gitsrc.ErrNotFound) {
			t.Errorf("CheckBranch(%q) = %v, want an error", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "not a valid branch name") && !strings.Contains(err.Error(), "Enter the branch") {
			t.Errorf("CheckBranch(%q) says %q", name, err)
		}
	}
}
