package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/store"
	"sendops/internal/templates"
	"sendops/internal/testutil/gittest"
	"sendops/internal/testutil/testdb"
)

func (env *tsEnv) sync(t *testing.T, id string) *TemplateSync {
	t.Helper()
	r, err := env.svc.SyncTemplateSource(context.Background(), env.owner, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (env *tsEnv) source(t *testing.T, id string) *TemplateSource {
	t.Helper()
	s, err := env.svc.GetTemplateSource(context.Background(), env.owner, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func commitsOf(vs []TemplateVersion) []string {
	var out []string
	for _, v := range vs {
		s := v.Commit[:7] + " " + v.Message
		if v.Removed {
			s += " (removed)"
		}
		out = append(out, s)
	}
	return out
}

func short(hashes ...string) []string {
	var out []string
	for _, h := range hashes {
		out = append(out, h[:7])
	}
	return out
}

// A template's history after three commits: the commits that changed it,
// the content, a diff and a render of any version.
func TestTemplateHistory(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		repo := gittest.New(t)
		c1 := repo.Commit(t, map[string]string{
			"mail/welcome.html": "---\nsubject: Welcome, {{name}}\n---\n<p>Hello {{name}}</p>\n",
			"mail/welcome.txt":  "Hello {{name}}\n",
			"mail/welcome.json": `{"name":"Ana"}`,
			"mail/reset.html":   "---\nsubject: Reset\n---\n<p>{{link}}</p>\n",
		}, "Add welcome and reset", "Ann Author <ann@shop.example>")
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: repo.URL()})
		id := c.Source.ID

		c2 := repo.Commit(t, map[string]string{"mail/welcome.html": "---\nsubject: Welcome, {{name}}\n---\n<p>Hello {{name}}!</p>\n<p>Thanks for joining.</p>\n"},
			"Warmer welcome", "Bo Writer <bo@shop.example>")
		docs := repo.Commit(t, map[string]string{"README.md": "# Our mail\n"}, "Docs only", "")
		c3 := repo.Commit(t, map[string]string{
			"mail/welcome.html": "---\nsubject: Welcome aboard, {{name}}\n---\n<p>Hello {{name}}!</p>\n<p>Thanks for joining.</p>\n",
			"mail/reset.html":   "",
		}, "New subject; drop reset", "Ann Author <ann@shop.example>")
		r := env.sync(t, id)
		if r.Status != store.SyncOK || r.Commit != repo.Head(t) || r.Versions != 3 || r.Templates != 1 || r.Trigger != "manual" {
			t.Fatalf("sync: %+v; want 3 versions (welcome twice, reset removed)", r)
		}

		hist, err := env.svc.TemplateHistory(ctx, env.owner, id, "welcome")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{c3[:7] + " New subject; drop reset", c2[:7] + " Warmer welcome", c1[:7] + " Add welcome and reset"}
		if got := commitsOf(hist); !slices.Equal(got, want) {
			t.Fatalf("welcome's history %q, want %q", got, want)
		}
		if h := hist[1]; h.Author != "Bo Writer" || h.AuthorEmail != "bo@shop.example" || !h.Date.Equal(gittest.Epoch.Add(time.Minute)) {
			t.Fatalf("the second version: %+v", h)
		}
		hist, err = env.svc.TemplateHistory(ctx, env.owner, id, "reset")
		if got := commitsOf(hist); err != nil || !slices.Equal(got, []string{c3[:7] + " New subject; drop reset (removed)", c1[:7] + " Add welcome and reset"}) {
			t.Fatalf("reset's history %q, %v", got, err)
		}
		if _, err := env.svc.TemplateHistory(ctx, env.owner, id, "nope"); !domain.IsNotFound(err) {
			t.Fatalf("history of an unknown template: %v", err)
		}
		if ts := env.templates(t, id); len(ts) != 1 || ts[0].Name != "welcome" || ts[0].Changed.Commit != c3 {
			t.Fatalf("templates at the head: %+v", ts)
		}

		// Any version's content, by full or abbreviated hash.
		old, err := env.svc.TemplateAt(ctx, env.owner, id, "welcome", c1[:8])
		if err != nil || old.Subject != "Welcome, {{name}}" || old.HTML != "<p>Hello {{name}}</p>\n" || old.Current || old.Version.Commit != c1 {
			t.Fatalf("welcome at %s: %+v, %v", c1[:8], old, err)
		}
		for _, c := range []struct {
			name, commit, code string
		}{
			{"welcome", docs[:7], domain.ENotFound}, // the docs commit did not change it
			{"reset", c3, domain.ENotFound},         // removed there
			{"welcome", "abc", domain.EInvalid},
			{"welcome", "zzzzzzzz", domain.EInvalid},
		} {
			if _, err := env.svc.TemplateAt(ctx, env.owner, id, c.name, c.commit); domain.ErrorCode(err) != c.code {
				t.Errorf("%s at %s: %v, want %s", c.name, c.commit, err, c.code)
			}
		}
		if r, err := env.svc.TemplateAt(ctx, env.owner, id, "reset", c1); err != nil || r.HTML != "<p>{{link}}</p>\n" {
			t.Fatalf("a removed template's old version: %+v, %v", r, err)
		}

		// A diff between any two versions, part by part.
		d, err := env.svc.DiffTemplate(ctx, env.owner, id, "welcome", c1, "")
		if err != nil {
			t.Fatal(err)
		}
		if !d.Changed || d.From.Commit != c1 || d.To.Commit != c3 {
			t.Fatalf("diff: %+v", d)
		}
		byPart := map[string]PartDiff{}
		for _, p := range d.Parts {
			byPart[p.Part] = p
		}
		wantHTML := "--- welcome.html@" + c1[:12] + "\n+++ welcome.html@" + c3[:12] + "\n@@ -1 +1,2 @@\n-<p>Hello {{name}}</p>\n+<p>Hello {{name}}!</p>\n+<p>Thanks for joining.</p>\n"
		if got := byPart["html"].Unified; got != wantHTML {
			t.Fatalf("html diff:\n%s\nwant:\n%s", got, wantHTML)
		}
		if p := byPart["subject"]; !p.Changed || p.Inserted != 1 || p.Deleted != 1 || !strings.Contains(p.Unified, "+Welcome aboard, {{name}}") {
			t.Fatalf("subject diff: %+v", p)
		}
		if byPart["text"].Changed || byPart["text"].Unified != "" || byPart["data"].Changed {
			t.Fatalf("unchanged parts differ: %+v %+v", byPart["text"], byPart["data"])
		}
		if d, err := env.svc.DiffTemplate(ctx, env.owner, id, "welcome", c3, c3); err != nil || d.Changed {
			t.Fatalf("a version against itself: %+v, %v", d, err)
		}

		// Render any version with the repository's sample data or typed data.
		rv, err := env.svc.RenderTemplate(ctx, env.owner, id, "welcome", c1, "")
		if err != nil || !rv.OK || rv.Subject != "Welcome, Ana" || rv.HTML != "<p>Hello Ana</p>\n" || rv.Text != "Hello Ana\n" || len(rv.Problems) != 0 {
			t.Fatalf("render of %s with the sample data: %+v, %v", c1[:7], rv, err)
		}
		rv, err = env.svc.RenderTemplate(ctx, env.owner, id, "welcome", "", `{"name":"Bo <b>"}`)
		if err != nil || !rv.OK || rv.Subject != "Welcome aboard, Bo <b>" || rv.Version.Commit != c3 {
			t.Fatalf("render of the synced state with typed data: %+v, %v", rv, err)
		}
		rv, err = env.svc.RenderTemplate(ctx, env.owner, id, "welcome", "", `{}`)
		if err != nil || !rv.OK || len(rv.Problems) == 0 || rv.Problems[0].Severity != "warning" || !strings.Contains(rv.Problems[0].Message, `"name" is not in the data`) {
			t.Fatalf("render without the variable: %+v, %v", rv, err)
		}
		rv, err = env.svc.RenderTemplate(ctx, env.owner, id, "welcome", "", `{"name":`)
		if err != nil || rv.OK || len(rv.Problems) != 1 || rv.Problems[0].File != "data" || !strings.Contains(rv.Problems[0].Message, "not valid JSON") {
			t.Fatalf("render with broken data: %+v, %v", rv, err)
		}
		// Data longer than SES takes is refused, with the limit it passed.
		long := `{"name":"` + strings.Repeat("é", templates.MaxDataLength) + `"}`
		if _, err := env.svc.RenderTemplate(ctx, env.owner, id, "welcome", "", long); domain.ErrorCode(err) != domain.EInvalid ||
			!strings.Contains(err.Error(), fmt.Sprintf("The data is %d characters; SES takes at most %d.", templates.MaxDataLength+11, templates.MaxDataLength)) {
			t.Fatalf("render with data longer than SES takes: %v", err)
		}

		// Changing the mapping records versions at the head, without a new
		// commit: the templates now have other names.
		prefix := "mail-{name}"
		if _, err := env.svc.UpdateTemplateSource(ctx, env.owner, id, TemplateSourceUpdate{Mapping: &templates.Mapping{Rules: []templates.Rule{{HTML: "mail/*.html", Name: prefix}}}}); err != nil {
			t.Fatal(err)
		}
		if s := env.source(t, id); !s.SyncPending || s.Mapping == nil {
			t.Fatalf("after a mapping change: %+v", s)
		}
		r = env.sync(t, id)
		if r.Status != store.SyncOK || r.Versions != 2 {
			t.Fatalf("sync after the mapping change: %+v; want mail-welcome added and welcome removed", r)
		}
		if got := names(env.templates(t, id)); !slices.Equal(got, []string{`mail-welcome [rule "mail/*.html"]`}) {
			t.Fatalf("templates after the mapping change: %q", got)
		}
		// No commit made the change: the history says SendOps recorded it
		// for the user who changed the mapping.
		hist, _ = env.svc.TemplateHistory(ctx, env.owner, id, "welcome")
		if h := hist[0]; !h.Removed || h.Commit != repo.Head(t) || h.Cause != "mapping" || h.Author != "SendOps" || h.AuthorEmail != "" ||
			h.Message != "Mapping changed by ann@shop.example" || hist[1].Cause != "commit" {
			t.Fatalf("welcome after the mapping change: %+v", h)
		}
		if hist, _ := env.svc.TemplateHistory(ctx, env.owner, id, "mail-welcome"); len(hist) != 1 || hist[0].Cause != "mapping" || hist[0].Author != "SendOps" {
			t.Fatalf("mail-welcome's history: %+v", hist)
		}
		// Nothing new: nothing recorded.
		if r := env.sync(t, id); r.Status != store.SyncOK || r.Versions != 0 {
			t.Fatalf("a sync with nothing new: %+v", r)
		}
		// A head that changes no template moves the synced commit only.
		head := repo.Commit(t, map[string]string{"README.md": "# Our mail, documented\n"}, "More docs", "")
		if r := env.sync(t, id); r.Status != store.SyncOK || r.Versions != 0 || r.Commit != head || r.Templates != 1 {
			t.Fatalf("a sync of a docs-only head: %+v", r)
		}
		if s := env.source(t, id); s.SyncedCommit != head {
			t.Fatalf("synced commit %s, want %s", s.SyncedCommit, head)
		}
	})
}

// The first sync walks at most the newest 200 commits, oldest first.
func TestTemplateFirstSyncBounded(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		repo := gittest.New(t)
		var hashes []string
		for i := range maxSyncCommits + 5 {
			hashes = append(hashes, repo.Commit(t, map[string]string{"a.html": fmt.Sprintf("---\nsubject: A\n---\n<p>version %d</p>\n", i)}, fmt.Sprintf("v%d", i), ""))
		}
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: repo.URL()})
		if c.Sync.Versions != maxSyncCommits {
			t.Fatalf("the first sync recorded %d versions, want %d", c.Sync.Versions, maxSyncCommits)
		}
		hist, err := env.svc.TemplateHistory(context.Background(), env.owner, c.Source.ID, "a")
		if err != nil || len(hist) != maxSyncCommits || hist[0].Commit != hashes[len(hashes)-1] || hist[len(hist)-1].Commit != hashes[5] {
			t.Fatalf("history of %d versions from %s to %s, %v", len(hist), hist[len(hist)-1].Commit[:7], hist[0].Commit[:7], err)
		}
	})
}

// A sync that fails keeps the last good state and says why: a template
// that does not parse, a name mapped twice, a repository gone, a token
// revoked. The next good sync moves on.
func TestTemplateSyncFailures(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		srv := gittest.NewHTTPServer(t, "token-1")
		repo := gittest.New(t)
		good := repo.Commit(t, map[string]string{"welcome.html": "---\nsubject: Hi {{name}}\n---\n<p>{{name}}</p>\n"}, "Good", "")
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: srv.Add("shop/mail.git", repo), Auth: GitAuth{Token: "token-1"}})
		id := c.Source.ID
		contentAt := func() string {
			t.Helper()
			tc, err := env.svc.TemplateAt(ctx, env.owner, id, "welcome", "")
			if err != nil {
				t.Fatal(err)
			}
			return tc.HTML
		}

		steps := []struct {
			name    string
			change  func()
			wantErr string
		}{
			{"a template that does not parse", func() {
				repo.Commit(t, map[string]string{"welcome.html": "---\nsubject: Hi {{name}}\n---\n<p>{{#if name}}{{name}}</p>\n"}, "Broken", "")
			}, `Template "welcome" does not parse: welcome.html:4:`},
			{"a name mapped twice", func() {
				repo.Commit(t, map[string]string{
					"welcome.html":       "---\nsubject: Hi {{name}}\n---\n<p>{{name}}</p>\n",
					"again/welcome.html": "---\nsubject: Again\n---\n<p>again</p>\n",
				}, "Twice", "")
			}, `The mapping has 2 errors: again/welcome.html:1:1: error: template name "welcome" is also mapped from welcome.html`},
			{"a revoked token", func() {
				repo.Commit(t, map[string]string{"again/welcome.html": ""}, "Fixed", "")
				srv.Token = "token-2"
			}, "refused"},
			{"a repository gone", func() {
				srv.Token = "token-1"
				repo.Delete(t)
			}, "not found"},
		}
		for _, st := range steps {
			st.change()
			r := env.sync(t, id)
			if r.Status != store.SyncFailed || !strings.Contains(r.Error, st.wantErr) {
				t.Fatalf("%s: sync %+v; want failed with %q", st.name, r, st.wantErr)
			}
			s := env.source(t, id)
			if s.SyncedCommit != good || s.LastError != r.Error || s.LastErrorAt == nil {
				t.Fatalf("%s: source %+v; want the last good state %s and the error", st.name, s, good[:7])
			}
			if html := contentAt(); html != "<p>{{name}}</p>\n" {
				t.Fatalf("%s: the synced content became %q", st.name, html)
			}
			if hist, _ := env.svc.TemplateHistory(ctx, env.owner, id, "welcome"); len(hist) != 1 {
				t.Fatalf("%s: a failed sync recorded versions: %+v", st.name, hist)
			}
			if strings.Contains(r.Error, "token-") {
				t.Fatalf("%s: the error shows the token: %s", st.name, r.Error)
			}
		}
		syncs, err := env.svc.TemplateSyncs(ctx, env.owner, id, 0)
		if err != nil || len(syncs) != 1+len(steps) || syncs[0].Status != store.SyncFailed || syncs[len(syncs)-1].Trigger != "create" {
			t.Fatalf("syncs: %+v, %v", syncs, err)
		}
		if p := syncs[len(steps)-1].Problems; len(p) != 1 || p[0].File != "welcome.html" || p[0].Line != 4 {
			t.Fatalf("the failed parse's problems: %+v", p)
		}

		// The repository comes back, fixed: the next sync walks every
		// commit since the last good one.
		back := gittest.New(t)
		back.Commit(t, map[string]string{"welcome.html": "---\nsubject: Hi {{name}}\n---\n<p>{{name}}</p>\n"}, "Good", "")
		srv.Add("shop/mail.git", back)
		back.Commit(t, map[string]string{"welcome.html": "---\nsubject: Hi {{name}}\n---\n<p>Dear {{name}}</p>\n"}, "Better", "")
		r := env.sync(t, id)
		if r.Status != store.SyncOK || contentAt() != "<p>Dear {{name}}</p>\n" {
			t.Fatalf("the sync after the fix: %+v", r)
		}
		if s := env.source(t, id); s.LastError != "" || s.SyncedCommit != back.Head(t) {
			t.Fatalf("the source after the fix: %+v", s)
		}
	})
}

// The schedule syncs a due source once, however many workers race for it
// (two services on one database, as two replicas).
func TestTemplateScheduleClaimsOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{"a.html": "---\nsubject: A\n---\n<p>a</p>"}, "init", "")
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: repo.URL(), SyncIntervalMinutes: 15})
		if c.Source.NextSyncAt == nil || c.Source.NextSyncAt.Sub(c.Sync.FinishedAt) != 15*time.Minute {
			t.Fatalf("next sync %v after a sync at %v; want 15 minutes later", c.Source.NextSyncAt, c.Sync.FinishedAt)
		}
		replica := templateService(t, openTemplateDB(t, e.DSN))
		workers := []*Service{env.svc, replica, env.svc, replica}

		// Not due yet: nobody syncs.
		for _, w := range workers {
			if n, err := w.SyncDueTemplateSources(ctx); err != nil || n != 0 {
				t.Fatalf("a pass before the schedule synced %d, %v", n, err)
			}
		}
		repo.Commit(t, map[string]string{"b.html": "---\nsubject: B\n---\n<p>b</p>"}, "add b", "")
		later := time.Now().UTC().Add(16 * time.Minute)
		for _, w := range workers {
			w.DB.Now = func() time.Time { return later }
		}
		var wg sync.WaitGroup
		counts := make([]int, len(workers))
		for i, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := w.SyncDueTemplateSources(ctx)
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
				}
				counts[i] = n
			}()
		}
		wg.Wait()
		total := 0
		for _, n := range counts {
			total += n
		}
		syncs, err := env.svc.TemplateSyncs(ctx, env.owner, c.Source.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if total != 1 || len(syncs) != 2 || syncs[0].Trigger != "schedule" || syncs[0].Templates != 2 {
			t.Fatalf("racing workers synced %v times; syncs %+v; want one scheduled sync", counts, syncs)
		}
		s := env.source(t, c.Source.ID)
		if s.SyncedCommit != repo.Head(t) || s.NextSyncAt == nil || !s.NextSyncAt.Equal(later.Truncate(time.Microsecond).Add(15*time.Minute)) || s.Syncing {
			t.Fatalf("after the scheduled sync: %+v", s)
		}
		for _, w := range workers {
			if n, _ := w.SyncDueTemplateSources(ctx); n != 0 {
				t.Fatal("a source synced again before its next time")
			}
		}
	})
}

func githubSignature(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Push webhooks: GitHub's signature and GitLab's token are checked, a
// replay is refused, pushes to other branches are ignored, and a burst of
// pushes is one sync.
func TestGitHook(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{"a.html": "---\nsubject: A\n---\n<p>a</p>"}, "init", "")
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: repo.URL()})
		id, sec := c.Source.ID, c.WebhookSecret
		push := `{"ref":"refs/heads/main","after":"abc"}`
		n := 0
		delivery := func() string { n++; return fmt.Sprintf("delivery-%d", n) }
		gh := func(event, body, sig string) GitHook {
			return GitHook{ContentType: "application/json", Body: []byte(body), GitHubEvent: event, GitHubDelivery: delivery(), GitHubSignature: sig}
		}
		gl := func(event, body, token string) GitHook {
			return GitHook{ContentType: "application/json", Body: []byte(body), GitLabEvent: event, GitLabDelivery: delivery(), GitLabToken: token}
		}
		replayed := gh("push", push, githubSignature(sec, push))
		// A push's body differs from any other push's (its commits, times).
		glPush := `{"ref":"refs/heads/main","after":"def","object_kind":"push"}`
		for _, c := range []struct {
			name   string
			id     string
			hook   GitHook
			code   string
			status string
		}{
			{"GitHub push, signed", id, replayed, "", HookAccepted},
			{"the same delivery again", id, replayed, domain.EConflict, ""},
			{"the same signed body under a new delivery id", id, gh("push", push, githubSignature(sec, push)), domain.EConflict, ""},
			{"GitHub push, wrong signature", id, gh("push", push, githubSignature("not-the-secret", push)), domain.EUnauthorized, ""},
			{"GitHub push, signature of another body", id, gh("push", push, githubSignature(sec, `{"ref":"refs/heads/other"}`)), domain.EUnauthorized, ""},
			{"GitHub push, malformed signature", id, gh("push", push, "sha1=abc"), domain.EUnauthorized, ""},
			{"unsigned", id, GitHook{Body: []byte(push), GitHubEvent: "push", GitHubDelivery: delivery()}, domain.EUnauthorized, ""},
			{"an unknown source, signed with a secret", "no-such-source", gh("push", push, githubSignature(sec, push)), domain.EUnauthorized, ""},
			{"GitHub ping", id, gh("ping", `{"zen":"Keep it simple."}`, githubSignature(sec, `{"zen":"Keep it simple."}`)), "", HookPong},
			{"GitHub push to another branch", id, gh("push", `{"ref":"refs/heads/feature"}`, githubSignature(sec, `{"ref":"refs/heads/feature"}`)), "", HookIgnored},
			{"GitHub issue event", id, gh("issues", `{}`, githubSignature(sec, `{}`)), "", HookIgnored},
			{"GitHub push without a delivery id", id, GitHook{Body: []byte(push), GitHubEvent: "push", GitHubSignature: githubSignature(sec, push)}, domain.EInvalid, ""},
			{"GitHub push form-encoded", id, GitHook{ContentType: "application/x-www-form-urlencoded", Body: []byte("payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D"),
				GitHubEvent: "push", GitHubDelivery: delivery(), GitHubSignature: githubSignature(sec, "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D")}, "", HookAccepted},
			{"GitLab push, right token", id, gl("Push Hook", glPush, sec), "", HookAccepted},
			{"GitLab push, the same body under a new id", id, gl("Push Hook", glPush, sec), domain.EConflict, ""},
			{"GitLab push, wrong token", id, gl("Push Hook", push, sec+"x"), domain.EUnauthorized, ""},
			{"GitLab tag push", id, gl("Tag Push Hook", `{"ref":"refs/tags/v1"}`, sec), "", HookIgnored},
			{"GitLab push to another branch", id, gl("Push Hook", `{"ref":"refs/heads/dev"}`, sec), "", HookIgnored},
			{"GitLab push with a body that is not JSON", id, gl("Push Hook", `not json`, sec), domain.EInvalid, ""},
		} {
			res, err := env.svc.ReceiveGitHook(ctx, c.id, c.hook)
			if domain.ErrorCode(err) != c.code || (c.code == "" && res.Status != c.status) {
				t.Errorf("%s: %+v, %v; want %q %s", c.name, res, err, c.code, c.status)
			}
		}
		if s := env.source(t, id); !s.SyncPending {
			t.Fatalf("no sync pending after accepted pushes: %+v", s)
		}
		// Pushes in a burst: one sync, a debounce after the first.
		repo.Commit(t, map[string]string{"b.html": "---\nsubject: B\n---\n<p>b</p>"}, "b", "")
		start := time.Now().UTC()
		clock := start
		env.db.Now = func() time.Time { return clock }
		err := env.db.Update(ctx, func(tx *store.Tx) error { // forget the earlier pushes' request
			_, err := tx.Exec(ctx, `UPDATE template_sources SET sync_requested_at = NULL`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			clock = start.Add(time.Duration(i) * time.Second)
			body := fmt.Sprintf(`{"ref":"refs/heads/main","after":"%d"}`, i)
			if res, err := env.svc.ReceiveGitHook(ctx, id, gh("push", body, githubSignature(sec, body))); err != nil || res.Status != HookAccepted {
				t.Fatalf("push %d: %+v, %v", i, res, err)
			}
			if n, err := env.svc.SyncDueTemplateSources(ctx); err != nil || n != 0 {
				t.Fatalf("a sync started during the burst (push %d): %d, %v", i, n, err)
			}
		}
		clock = start.Add(SyncDebounce)
		if n, err := env.svc.SyncDueTemplateSources(ctx); err != nil || n != 1 {
			t.Fatalf("after the debounce: %d syncs, %v; want 1", n, err)
		}
		clock = start.Add(time.Minute)
		if n, err := env.svc.SyncDueTemplateSources(ctx); err != nil || n != 0 {
			t.Fatalf("a second sync for the burst: %d, %v", n, err)
		}
		syncs, _ := env.svc.TemplateSyncs(ctx, env.owner, id, 0)
		if len(syncs) != 2 || syncs[0].Trigger != "webhook" || syncs[0].Templates != 2 || syncs[0].Status != store.SyncOK {
			t.Fatalf("syncs: %+v; want the first and one webhook sync", syncs)
		}

		// A rotated secret replaces the old one at once.
		rot, err := env.svc.RotateWebhookSecret(ctx, env.owner, id)
		if err != nil || rot.WebhookSecret == sec || rot.WebhookURL != c.WebhookURL {
			t.Fatalf("rotate: %+v, %v", rot, err)
		}
		if _, err := env.svc.ReceiveGitHook(ctx, id, gh("push", push, githubSignature(sec, push))); domain.ErrorCode(err) != domain.EUnauthorized {
			t.Fatalf("the old secret after rotation: %v", err)
		}
		later := `{"ref":"refs/heads/main","after":"later"}`
		if res, err := env.svc.ReceiveGitHook(ctx, id, gh("push", later, githubSignature(rot.WebhookSecret, later))); err != nil || res.Status != HookAccepted {
			t.Fatalf("the new secret: %+v, %v", res, err)
		}
	})
}

// keys rotate re-seals the sources' credentials and webhook secrets; the
// service opens them after.
func TestTemplateSourceKeysRotate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		srv := gittest.NewHTTPServer(t, "rotating-token")
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{"a.html": "---\nsubject: A\n---\n<p>a</p>"}, "init", "")
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: srv.Add("mail.git", repo), Auth: GitAuth{Token: "rotating-token"}})
		sealed := func() (string, string) {
			var s *store.TemplateSource
			if err := env.db.View(ctx, func(tx *store.Tx) (err error) {
				s, err = store.TemplateSourceByID(ctx, tx, env.owner.OrgID, c.Source.ID)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return s.AuthSecret, s.WebhookSecret
		}
		auth1, hook1 := sealed()
		if !strings.HasPrefix(auth1, "v1:") || !strings.HasPrefix(hook1, "v1:") {
			t.Fatalf("sealed as %.4s… and %.4s…, want key version 1", auth1, hook1)
		}
		r, err := env.db.RotateKeys(ctx, env.svc.Keyring)
		if err != nil {
			t.Fatal(err)
		}
		auth2, hook2 := sealed()
		if !strings.HasPrefix(auth2, "v2:") || !strings.HasPrefix(hook2, "v2:") || auth2 == auth1 || hook2 == hook1 {
			t.Fatalf("after keys rotate: %.4s… and %.4s…, want both re-sealed under version 2 (%+v)", auth2, hook2, r)
		}
		// The token still reaches the repository, the secret still verifies.
		if s := env.sync(t, c.Source.ID); s.Status != store.SyncOK {
			t.Fatalf("a sync after rotation: %+v", s)
		}
		if res, err := env.svc.ReceiveGitHook(ctx, c.Source.ID, GitHook{Body: []byte(`{"ref":"refs/heads/main"}`), GitLabEvent: "Push Hook",
			GitLabDelivery: "d1", GitLabToken: c.WebhookSecret}); err != nil || res.Status != HookAccepted {
			t.Fatalf("the webhook secret after rotation: %+v, %v", res, err)
		}
	})
}

// Updating and deleting a source: credentials are tried before they are
// kept, and everything is audited.
func TestTemplateSourceUpdate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		srv := gittest.NewHTTPServer(t, "token-a")
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{"a.html": "---\nsubject: A\n---\n<p>a</p>"}, "init", "")
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: srv.Add("mail.git", repo), Auth: GitAuth{Token: "token-a"}})
		id := c.Source.ID
		str := func(s string) *string { return &s }
		num := func(n int) *int { return &n }

		// A wrong token is refused and the right one kept.
		_, err := env.svc.UpdateTemplateSource(ctx, env.owner, id, TemplateSourceUpdate{Auth: &GitAuth{Token: "wrong"}, Name: str("renamed")})
		if de, ok := err.(*domain.Error); !ok || de.Field != "auth" {
			t.Fatalf("a wrong token: %v", err)
		}
		if s := env.source(t, id); s.Name != "mail" {
			t.Fatalf("a refused update changed the source: %+v", s)
		}
		srv.Token = "token-b"
		if r := env.sync(t, id); r.Status != store.SyncFailed {
			t.Fatalf("a sync with a revoked token: %+v", r)
		}
		s, err := env.svc.UpdateTemplateSource(ctx, env.owner, id, TemplateSourceUpdate{Auth: &GitAuth{Token: "token-b"}, Name: str("Mail"), SyncIntervalMinutes: num(60)})
		if err != nil || s.Name != "Mail" || s.SyncIntervalMinutes != 60 || s.NextSyncAt == nil || !s.SyncPending {
			t.Fatalf("update: %+v, %v", s, err)
		}
		if r := env.sync(t, id); r.Status != store.SyncOK {
			t.Fatalf("a sync with the new token: %+v", r)
		}
		if _, err := env.svc.UpdateTemplateSource(ctx, env.owner, id, TemplateSourceUpdate{Branch: str("nope")}); domain.ErrorCode(err) != domain.EInvalid {
			t.Fatalf("a branch that does not exist: %v", err)
		}
		viewer := &domain.Actor{OrgID: env.owner.OrgID, UserID: "v", Role: domain.RoleViewer}
		if _, err := env.svc.SyncTemplateSource(ctx, viewer, id); domain.ErrorCode(err) != domain.EForbidden {
			t.Fatalf("a viewer syncing: %v", err)
		}
		if err := env.svc.DeleteTemplateSource(ctx, viewer, id); domain.ErrorCode(err) != domain.EForbidden {
			t.Fatalf("a viewer deleting: %v", err)
		}
		if err := env.svc.DeleteTemplateSource(ctx, env.owner, id); err != nil {
			t.Fatal(err)
		}
		if _, err := env.svc.GetTemplateSource(ctx, env.owner, id); !domain.IsNotFound(err) {
			t.Fatalf("a deleted source: %v", err)
		}
		var actions []string
		if _, err := env.svc.Audit(ctx, env.owner, domain.AuditFilter{Action: "template_source."}, func(e *domain.AuditEntry) error {
			actions = append(actions, e.Action)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Reverse(actions)
		want := []string{"template_source.created", "template_source.synced", "template_source.sync_failed", "template_source.updated",
			"template_source.synced", "template_source.deleted"}
		if !slices.Equal(actions, want) {
			t.Fatalf("audit %q, want %q", actions, want)
		}
	})
}

// A file the mapping names but the repository lacks is looked for again
// when a later commit adds it, even when that commit changes nothing
// else a template reads; and its later changes are versions of their own.
func TestTemplateSyncFileNamedLater(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		repo := gittest.New(t)
		manifest := repo.Commit(t, map[string]string{"sendops.json": `{"templates":[{"name":"w","subject":"Hi {{name}}","html":"mail/w.hbs"}]}`}, "Manifest first", "")
		c, err := env.svc.CreateTemplateSource(ctx, env.owner, TemplateSourceInput{Name: "mail", URL: repo.URL()})
		if err != nil || c.Sync.Status != store.SyncFailed || !strings.Contains(c.Sync.Error, "mail/w.hbs does not exist") {
			t.Fatalf("the first sync: %+v, %v; want it failed for the missing file", c.Sync, err)
		}
		added := repo.Commit(t, map[string]string{"mail/w.hbs": "<p>Hi {{name}}</p>\n"}, "Add w", "")
		repo.Commit(t, map[string]string{"README.md": "docs\n"}, "Docs", "")
		changed := repo.Commit(t, map[string]string{"mail/w.hbs": "<p>Hello {{name}}</p>\n"}, "Change w", "")
		repo.Commit(t, map[string]string{"README.md": "more docs\n"}, "More docs", "")
		if r := env.sync(t, c.Source.ID); r.Status != store.SyncOK || r.Templates != 1 || r.Versions != 3 {
			t.Fatalf("the sync after the file was added: %+v", r)
		}
		// The manifest's commit made w with its subject alone.
		hist, err := env.svc.TemplateHistory(ctx, env.owner, c.Source.ID, "w")
		if got := commitsOf(hist); err != nil || !slices.Equal(got, []string{changed[:7] + " Change w", added[:7] + " Add w", manifest[:7] + " Manifest first"}) {
			t.Fatalf("w's history %q, %v", got, err)
		}
		if tc, err := env.svc.TemplateAt(ctx, env.owner, c.Source.ID, "w", ""); err != nil || tc.HTML != "<p>Hello {{name}}</p>\n" {
			t.Fatalf("w at the head: %+v, %v", tc, err)
		}
	})
}

// A mapping change and new commits in one sync: what the mapping changed
// is SendOps's entry at the last synced commit, what the commits changed
// is theirs.
func TestTemplateSyncMappingThenCommits(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		repo := gittest.New(t)
		first := repo.Commit(t, map[string]string{"mail/a.html": "<p>a</p>\n", "mail/b.html": "<p>b</p>\n"}, "Two files", "Ann <ann@shop.example>")
		rules := func(glob string) *templates.Mapping {
			return &templates.Mapping{Rules: []templates.Rule{{HTML: glob, Name: "{name}"}}}
		}
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: repo.URL(), Mapping: rules("mail/a.html")})
		if _, err := env.svc.UpdateTemplateSource(ctx, env.owner, c.Source.ID, TemplateSourceUpdate{Mapping: rules("mail/*.html")}); err != nil {
			t.Fatal(err)
		}
		second := repo.Commit(t, map[string]string{"mail/a.html": "<p>A</p>\n"}, "Capital A", "Bo <bo@shop.example>")
		if r := env.sync(t, c.Source.ID); r.Status != store.SyncOK || r.Versions != 2 {
			t.Fatalf("sync: %+v; want b mapped and a changed", r)
		}
		hist, _ := env.svc.TemplateHistory(ctx, env.owner, c.Source.ID, "b")
		if len(hist) != 1 || hist[0].Cause != "mapping" || hist[0].Commit != first || hist[0].Author != "SendOps" || hist[0].Message != "Mapping changed by ann@shop.example" {
			t.Fatalf("b's history: %+v", hist)
		}
		hist, _ = env.svc.TemplateHistory(ctx, env.owner, c.Source.ID, "a")
		if len(hist) != 2 || hist[0].Cause != "commit" || hist[0].Commit != second || hist[0].Author != "Bo" {
			t.Fatalf("a's history: %+v", hist)
		}
		// The change is recorded once: the next sync finds nothing new.
		if r := env.sync(t, c.Source.ID); r.Versions != 0 {
			t.Fatalf("a second sync recorded %d versions", r.Versions)
		}
		var s *store.TemplateSource
		env.db.View(ctx, func(tx *store.Tx) (err error) {
			s, err = store.TemplateSourceByID(ctx, tx, env.owner.OrgID, c.Source.ID)
			return err
		})
		if s.MappingChangedBy != "" {
			t.Fatalf("the mapping change is still pending after a good sync: %q", s.MappingChangedBy)
		}
	})
}

// A sync by hand that outlives its lease (another sync took the source
// over meanwhile) is a conflict, not a success: what it found is not
// stored.
func TestTemplateSyncOutlivesLease(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{"a.html": "---\nsubject: A\n---\n<p>a</p>"}, "init", "")
		upstream, err := url.Parse(gittest.NewHTTPServer(t, "").Add("mail.git", repo))
		if err != nil {
			t.Fatal(err)
		}
		// The repository's host answers the next request only when told.
		var hold atomic.Bool
		arrived, release := make(chan struct{}), make(chan struct{})
		forward := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: upstream.Scheme, Host: upstream.Host})
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hold.CompareAndSwap(true, false) {
				close(arrived)
				<-release
			}
			forward.ServeHTTP(w, r)
		}))
		t.Cleanup(proxy.Close)
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: proxy.URL + upstream.Path})
		repo.Commit(t, map[string]string{"b.html": "---\nsubject: B\n---\n<p>b</p>"}, "add b", "")

		hold.Store(true)
		type result struct {
			r   *TemplateSync
			err error
		}
		done := make(chan result, 1)
		go func() {
			r, err := env.svc.SyncTemplateSource(ctx, env.owner, c.Source.ID)
			done <- result{r, err}
		}()
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatal("the sync did not fetch")
		}
		// Its lease runs out (as a replica with a later clock sees it), and
		// another worker takes the source.
		other := templateService(t, openTemplateDB(t, e.DSN))
		other.DB.Now = func() time.Time { return time.Now().UTC().Add(syncLease + time.Minute) }
		var taken *store.TemplateSource
		if err := other.DB.Update(ctx, func(tx *store.Tx) (err error) {
			taken, _, err = store.ClaimTemplateSource(ctx, tx, env.owner.OrgID, c.Source.ID, "other-worker", tx.Now().Add(syncLease), false, 0)
			return err
		}); err != nil || taken == nil {
			t.Fatalf("the other worker could not take the source: %v", err)
		}
		close(release)
		res := <-done
		if domain.ErrorCode(res.err) != domain.EConflict || res.r != nil {
			t.Fatalf("a sync that lost its lease: %+v, %v; want a conflict", res.r, res.err)
		}
		syncs, err := env.svc.TemplateSyncs(ctx, env.owner, c.Source.ID, 0)
		if err != nil || len(syncs) != 1 {
			t.Fatalf("syncs %+v, %v; want only the first", syncs, err)
		}
		if s := env.source(t, c.Source.ID); s.SyncedCommit == repo.Head(t) {
			t.Fatal("the sync that lost its lease stored its state")
		}
	})
}

// A worker's pass with nothing due only reads: it does not wait for the
// write lock, which on SQLite one writer holds at a time (ingest's).
func TestTemplateWorkerIdlePassReads(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{"a.html": "---\nsubject: A\n---\n<p>a</p>"}, "init", "")
		env.create(t, TemplateSourceInput{Name: "mail", URL: repo.URL(), SyncIntervalMinutes: 15})
		held, release := make(chan struct{}), make(chan struct{})
		writer := make(chan error, 1)
		go func() {
			writer <- env.db.Update(ctx, func(tx *store.Tx) error {
				close(held)
				<-release
				return nil
			})
		}()
		<-held
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		n, err := env.svc.SyncDueTemplateSources(pctx)
		close(release)
		if err != nil || n != 0 {
			t.Fatalf("an idle pass beside a writer: %d, %v", n, err)
		}
		if err := <-writer; err != nil {
			t.Fatal(err)
		}
	})
}
