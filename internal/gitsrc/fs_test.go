package gitsrc_test

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"sendops/internal/gitsrc"
	"sendops/internal/templates"
	"sendops/internal/testutil/gittest"
)

// fetchLocal builds a repository with files in one commit and fetches it.
func fetchLocal(t *testing.T, files map[string]string) (*gitsrc.Repo, *gittest.Repo, string) {
	t.Helper()
	r := gittest.New(t)
	h := r.Commit(t, files, "layout", "Ann")
	repo, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: r.URL(), Branch: "main"}, local)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return repo, r, h
}

func TestFSPassesTestFS(t *testing.T) {
	t.Parallel()
	repo, _, h := fetchLocal(t, map[string]string{
		"README.md":                   "# mail",
		"emails/welcome.html":         "<p>Hi</p>",
		"emails/welcome.txt":          "Hi",
		"emails/billing/invoice.html": "<p>invoice</p>",
		"emails/b.html":               "b",
		"emails-x/z.txt":              "z", // sorts between emails/ entries in Git's tree order
		"z/y/x/deep.json":             "{}",
	})
	fsys, err := repo.FS(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys, "README.md", "emails/welcome.html", "emails/welcome.txt",
		"emails/billing/invoice.html", "emails/b.html", "emails-x/z.txt", "z/y/x/deep.json"); err != nil {
		t.Fatal(err)
	}
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"README.md", "emails", "emails-x", "z"}; !reflect.DeepEqual(names, want) {
		t.Errorf("ReadDir(.) = %q, want %q", names, want)
	}
	if _, err := repo.FS(strings.Repeat("0", 40)); !errors.Is(err, gitsrc.ErrNotFound) {
		t.Errorf("FS(unknown commit) = %v, want ErrNotFound", err)
	}
	if _, err := repo.FS("main"); err == nil {
		t.Error("FS(\"main\") accepted a branch name as a hash")
	}
}

func TestFSSymlinks(t *testing.T) {
	t.Parallel()
	r := gittest.New(t)
	r.Commit(t, map[string]string{
		"sendops.json": `{"templates": [{"name": "x", "subject": "s", "html": "x.html", "text": "link.txt"}, {"name": "y", "subject": "s", "text": "dir/secret.txt"}]}`,
		"x.html":       "<p>x</p>",
	}, "files", "Ann")
	r.Link(t, "link.txt", "../secret.txt", "file link", "Ann")
	h := r.Link(t, "dir", "../outside", "dir link", "Ann")
	repo, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: r.URL(), Branch: "main"}, local)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := repo.FS(h)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]fs.FileMode{}
	for _, e := range ents {
		modes[e.Name()] = e.Type()
	}
	if modes["link.txt"] != fs.ModeSymlink || modes["dir"] != fs.ModeSymlink || modes["x.html"] != 0 {
		t.Errorf("entry types = %v", modes)
	}
	if _, err := fsys.Open("link.txt"); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Open(link.txt) = %v, want a symbolic link error", err)
	}
	if _, err := fs.ReadFile(fsys, "dir/secret.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile through a link = %v, want not exist", err)
	}
	if fi, err := fs.Lstat(fsys, "link.txt"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(link.txt) = %v, %v", fi, err)
	}
	if target, err := fs.ReadLink(fsys, "link.txt"); err != nil || target != "../secret.txt" {
		t.Errorf("ReadLink = %q, %v", target, err)
	}
	ts, probs := templates.Load(fsys, nil)
	var got []string
	for _, p := range probs {
		got = append(got, p.String())
	}
	want := []string{
		"sendops.json:1:64: error: link.txt is a symbolic link; only the repository's own files are read",
		"sendops.json:1:115: error: dir is a symbolic link; only the repository's own files are read",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	for _, tm := range ts {
		if tm.Text.Present() {
			t.Errorf("template %q read a linked file", tm.Name)
		}
	}
}

func TestFSLoadsTemplates(t *testing.T) {
	t.Parallel()
	repo, _, h := fetchLocal(t, map[string]string{
		"sendops.json": `{
  "templates": [
    {"name": "reset", "subject": "Reset: {{code}}", "html": "mail/reset.html", "data": "mail/reset-sample.json"}
  ],
  "rules": [
    {"html": "emails/**/*.html", "name": "{dir}-{name}"}
  ]
}`,
		"mail/reset.html":             "<p>{{code}}</p>",
		"mail/reset-sample.json":      `{"code":"1"}`,
		"emails/welcome.html":         "<p>welcome</p>",
		"emails/welcome.txt":          "welcome",
		"emails/billing/invoice.html": "---\nsubject: Invoice\n---\n<p>invoice</p>",
		"other/fm.html":               "---\nname: loose\nsubject: s\n---\n<p>loose</p>",
		"flat.html":                   "<p>flat, no front matter: not a template</p>",
	})
	fsys, err := repo.FS(h)
	if err != nil {
		t.Fatal(err)
	}
	ts, probs := templates.Load(fsys, nil)
	if len(probs) != 0 {
		t.Errorf("problems: %v", probs)
	}
	got := map[string]string{}
	for _, tm := range ts {
		got[tm.Name] = tm.Subject.Source + "|" + tm.HTML.Source + "|" + tm.Text.Source + "|" + tm.Data.Source
	}
	want := map[string]string{
		"reset":           `Reset: {{code}}|<p>{{code}}</p>||{"code":"1"}`,
		"welcome":         "|<p>welcome</p>|welcome|",
		"billing-invoice": "Invoice|<p>invoice</p>||",
		"loose":           "s|<p>loose</p>||",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("templates:\n got %q\nwant %q", got, want)
	}
}
