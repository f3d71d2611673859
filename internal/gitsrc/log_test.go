package gitsrc_test

import (
	"reflect"
	"testing"

	"sendops/internal/gitsrc"
	"sendops/internal/testutil/gittest"
)

func TestLogAndChanged(t *testing.T) {
	t.Parallel()
	r := gittest.New(t)
	c1 := r.Commit(t, map[string]string{"welcome.html": "v1", "reset/body.html": "r1", "README.md": "x"}, "Add templates", "Ann Lee <ann@example.com>")
	c2 := r.Commit(t, map[string]string{"welcome.html": "v2", "invoice.html": "i1"}, "Edit welcome, add invoice", "Bob <bob@example.com>")
	c3 := r.Commit(t, map[string]string{"reset/body.html": ""}, "Remove reset", "Ann Lee <ann@example.com>")
	repo, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: r.URL(), Branch: "main"}, local)
	if err != nil {
		t.Fatal(err)
	}
	hashes := func(cs []gitsrc.Commit) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Hash)
		}
		return out
	}
	for _, tc := range []struct {
		stop string
		max  int
		want []string
	}{
		{"", 0, []string{c3, c2, c1}},
		{"", 2, []string{c3, c2}},
		{c1, 0, []string{c3, c2}},
		{c2, 0, []string{c3}},
		{c3, 0, nil},
		{"0000000000000000000000000000000000000000", 0, []string{c3, c2, c1}},
	} {
		got, err := repo.Log(tc.stop, tc.max)
		if err != nil || !reflect.DeepEqual(hashes(got), tc.want) {
			t.Errorf("Log(%.7s, %d) = %v, %v; want %v", tc.stop, tc.max, hashes(got), err, tc.want)
		}
	}
	all, _ := repo.Log("", 0)
	if c := all[1]; c.Author != "Bob" || c.AuthorEmail != "bob@example.com" || c.Message != "Edit welcome, add invoice" ||
		!reflect.DeepEqual(c.Parents, []string{c1}) || !c.When.Equal(gittest.Epoch.Add(1*60e9)) {
		t.Errorf("second commit = %+v", c)
	}
	if len(all[2].Parents) != 0 {
		t.Errorf("root commit has parents %v", all[2].Parents)
	}
	for _, tc := range []struct {
		hash string
		want []string
	}{
		{c1, []string{"README.md", "reset/body.html", "welcome.html"}},
		{c2, []string{"invoice.html", "welcome.html"}},
		{c3, []string{"reset/body.html"}},
	} {
		got, err := repo.Changed(tc.hash)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Changed(%.7s) = %q, %v; want %q", tc.hash, got, err, tc.want)
		}
	}
	if _, err := repo.Changed("ffffffffffffffffffffffffffffffffffffffff"); err == nil {
		t.Error("Changed(unknown) succeeded")
	}
}
