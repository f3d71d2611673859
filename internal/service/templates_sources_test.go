package service

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/store"
	"sendops/internal/templates"
	"sendops/internal/testutil/gittest"
	"sendops/internal/testutil/testdb"
)

const templateTestKey = "template-sources-test-secret-key-0123456789"

// tsEnv is a service on a fresh database with an organisation whose
// owner acts.
type tsEnv struct {
	svc   *Service
	db    *store.DB
	owner *domain.Actor
}

// newTemplateEnv opens a migrated database of the engine and a service
// that may fetch file:// and loopback repositories (the tests' own).
func newTemplateEnv(t *testing.T, e testdb.Engine) *tsEnv {
	t.Helper()
	ctx := context.Background()
	db := openTemplateDB(t, e.DSN)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	env := &tsEnv{db: db, svc: templateService(t, db)}
	u, org, err := env.svc.CreateUser(ctx, SignUp{Name: "Ann", Email: "ann@shop.example", Password: "password-of-ann", OrgName: "Shop"})
	if err != nil {
		t.Fatal(err)
	}
	env.owner = &domain.Actor{OrgID: org.ID, UserID: u.ID, Email: u.Email, Role: domain.RoleOwner}
	return env
}

func openTemplateDB(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func templateService(t *testing.T, db *store.DB) *Service {
	t.Helper()
	kr, err := db.Keyring(context.Background(), []byte(templateTestKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Service{DB: db, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BaseURL: "https://sendops.example",
		GitAllowFile: true, GitAllowPrivate: true}
}

// create adds a source and fails the test unless its first sync is ok.
func (env *tsEnv) create(t *testing.T, in TemplateSourceInput) *CreatedTemplateSource {
	t.Helper()
	c, err := env.svc.CreateTemplateSource(context.Background(), env.owner, in)
	if err != nil {
		t.Fatalf("CreateTemplateSource(%s): %v", in.URL, err)
	}
	if c.Sync.Status != store.SyncOK {
		t.Fatalf("first sync of %s: %+v", in.URL, c.Sync)
	}
	return c
}

func (env *tsEnv) templates(t *testing.T, id string) []SourceTemplate {
	t.Helper()
	ts, err := env.svc.SourceTemplates(context.Background(), env.owner, id)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func names(ts []SourceTemplate) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name+" ["+t.Origin+"]")
	}
	return out
}

// The layouts teams keep templates in, each read over file:// and over
// smart HTTP with a token, on both engines.
func TestTemplateSourceLayouts(t *testing.T) {
	t.Parallel()
	const page = "<!doctype html><html><body><p>Hello {{name}}</p><a href=\"https://shop.example\">Shop</a></body></html>\n"
	layouts := []struct {
		name    string
		files   map[string]string
		mapping *templates.Mapping
		want    []string // name [origin]
		// one template's files and subject
		check      string
		wantFiles  TemplateFiles
		wantSubj   string
		wantData   string
		wantErrors int
	}{
		{
			name: "flat, mapped by a rule",
			files: map[string]string{
				"welcome.html": "---\nsubject: Welcome, {{name}}\n---\n" + page,
				"welcome.txt":  "Hello {{name}}\n",
				"welcome.json": `{"name":"Ana"}`,
				"reset.html":   "---\nsubject: Your reset link\n---\n<p>{{link}}</p>\n",
				"README.md":    "# Mail\n",
			},
			mapping: &templates.Mapping{Rules: []templates.Rule{{HTML: "*.html"}}},
			want:    []string{`reset [rule "*.html"]`, `welcome [rule "*.html"]`},
			check:   "welcome", wantFiles: TemplateFiles{Subject: "welcome.html", HTML: "welcome.html", Text: "welcome.txt", Data: "welcome.json"},
			wantSubj: "Welcome, {{name}}", wantData: `{"name":"Ana"}`,
		},
		{
			name: "nested, named from the path",
			files: map[string]string{
				"emails/account/welcome.html": "---\nsubject: Welcome\n---\n" + page,
				"emails/billing/invoice.html": "---\nsubject: Invoice {{number}}\n---\n<p>{{number}}</p>\n",
				"emails/billing/invoice.txt":  "Invoice {{number}}\n",
				"site/index.html":             "<p>not mail</p>\n",
			},
			mapping: &templates.Mapping{Rules: []templates.Rule{{HTML: "emails/**/*.html", Name: "{dir}-{name}"}}},
			want:    []string{`account-welcome [rule "emails/**/*.html"]`, `billing-invoice [rule "emails/**/*.html"]`},
			check:   "billing-invoice", wantFiles: TemplateFiles{Subject: "emails/billing/invoice.html", HTML: "emails/billing/invoice.html", Text: "emails/billing/invoice.txt"},
			wantSubj: "Invoice {{number}}",
		},
		{
			name: "front matter",
			files: map[string]string{
				"src/mail/shipped.html":    "---\nname: order-shipped\nsubject: Your order shipped\ntext: shipped.txt\ndata: ../samples/shipped.json\n---\n<p>{{order}}</p>\n",
				"src/mail/shipped.txt":     "Order {{order}} shipped\n",
				"src/samples/shipped.json": `{"order":"A-1"}`,
				"src/mail/partial.html":    "<p>no front matter: not a template</p>\n",
			},
			want:  []string{"order-shipped [front matter]"},
			check: "order-shipped", wantFiles: TemplateFiles{Subject: "src/mail/shipped.html", HTML: "src/mail/shipped.html", Text: "src/mail/shipped.txt", Data: "src/samples/shipped.json"},
			wantSubj: "Your order shipped", wantData: `{"order":"A-1"}`,
		},
		{
			name: "manifest",
			files: map[string]string{
				"sendops.json": `{"templates":[{"name":"receipt","subject":"Receipt {{id}}","html":"t/receipt.html","text":"t/receipt.txt","data":"t/receipt.json"}],
					"rules":[{"html":"other/*.html","name":"other-{name}"}]}`,
				"t/receipt.html":   "<p>Receipt {{id}}</p>\n",
				"t/receipt.txt":    "Receipt {{id}}\n",
				"t/receipt.json":   `{"id":7}`,
				"other/note.html":  "---\nsubject: A note\n---\n<p>note</p>\n",
				"other/nested.htm": "<p>not matched by other/*.html</p>",
			},
			want:  []string{`other-note [rule "other/*.html"]`, "receipt [sendops.json]"},
			check: "receipt", wantFiles: TemplateFiles{Subject: "sendops.json", HTML: "t/receipt.html", Text: "t/receipt.txt", Data: "t/receipt.json"},
			wantSubj: "Receipt {{id}}", wantData: `{"id":7}`,
		},
	}
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		srv := gittest.NewHTTPServer(t, "s3cret-token")
		for i, l := range layouts {
			repo := gittest.New(t)
			repo.Commit(t, l.files, "Add templates", "Ann Author <ann@shop.example>")
			for _, transport := range []string{"file", "http"} {
				t.Run(l.name+" over "+transport, func(t *testing.T) {
					in := TemplateSourceInput{Name: l.name, URL: repo.URL(), Mapping: l.mapping}
					if transport == "http" {
						in.URL = srv.Add(strings.ReplaceAll(l.name, " ", "-")+".git", repo)
						in.Auth = GitAuth{Token: "s3cret-token"}
					}
					c := env.create(t, in)
					if c.Sync.Commit != repo.Head(t) || c.Sync.Templates != len(l.want) || c.Sync.Versions != len(l.want) || c.Sync.Trigger != "create" {
						t.Fatalf("first sync: %+v; want head %s, %d templates and versions", c.Sync, repo.Head(t), len(l.want))
					}
					if c.Source.SyncedCommit != repo.Head(t) || c.Source.LastError != "" || c.Source.Branch != "main" ||
						c.WebhookURL != "https://sendops.example/hooks/git/"+c.Source.ID || len(c.WebhookSecret) < 40 {
						t.Fatalf("created source: %+v, hook %s", c.Source, c.WebhookURL)
					}
					if transport == "http" && (c.Source.AuthKind != AuthToken) {
						t.Fatalf("auth kind %q, want token", c.Source.AuthKind)
					}
					ts := env.templates(t, c.Source.ID)
					if got := names(ts); !slices.Equal(got, l.want) {
						t.Fatalf("templates %q, want %q", got, l.want)
					}
					for _, st := range ts {
						if st.Changed == nil || st.Changed.Author != "Ann Author" || st.Changed.Message != "Add templates" || st.Errors != 0 {
							t.Errorf("template %s: %+v", st.Name, st)
						}
						if st.Name == l.check && st.Files != l.wantFiles {
							t.Errorf("%s's files: %+v, want %+v", st.Name, st.Files, l.wantFiles)
						}
					}
					got, err := env.svc.TemplateAt(context.Background(), env.owner, c.Source.ID, l.check, "")
					if err != nil {
						t.Fatal(err)
					}
					if got.Subject != l.wantSubj || got.Data != l.wantData || !got.Current || got.Version == nil || got.Version.Commit != repo.Head(t) {
						t.Fatalf("%s at the synced commit: %+v", l.check, got)
					}
					if strings.HasPrefix(got.HTML, "---") {
						t.Fatalf("the front matter is part of the HTML: %q", got.HTML)
					}
					// The push side reads the same state.
					ps, err := env.svc.loadPushSource(context.Background(), env.owner, c.Source.ID)
					if err != nil || ps.Commit != repo.Head(t) || len(ps.Templates) != len(l.want) || ps.State != pushState(ps.Commit, ps.Templates) {
						t.Fatalf("loadPushSource = %+v, %v", ps, err)
					}
					for _, rt := range ps.Templates {
						if rt.BlobHash != templateHash(rt.Subject, rt.HTML, rt.Text, rt.Data) {
							t.Errorf("%s's hash does not name its content", rt.Name)
						}
					}
				})
			}
			_ = i
		}
		// The token is stored sealed and never shown.
		var sealed []string
		err := env.db.View(context.Background(), func(tx *store.Tx) error {
			srcs, err := store.TemplateSourcesOf(context.Background(), tx, env.owner.OrgID)
			for _, s := range srcs {
				sealed = append(sealed, s.AuthSecret, s.WebhookSecret)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sealed {
			if strings.Contains(s, "s3cret-token") {
				t.Fatalf("a token is stored in the clear: %q", s)
			}
		}
		// A viewer sees the sources; only developers and up add them.
		viewer := &domain.Actor{OrgID: env.owner.OrgID, UserID: "v", Role: domain.RoleViewer}
		if list, err := env.svc.TemplateSources(context.Background(), viewer); err != nil || len(list) != 2*len(layouts) {
			t.Fatalf("sources as a viewer: %d, %v", len(list), err)
		}
		_, err = env.svc.CreateTemplateSource(context.Background(), viewer, TemplateSourceInput{Name: "x", URL: "https://git.example.com/x.git"})
		if domain.ErrorCode(err) != domain.EForbidden {
			t.Fatalf("a viewer adding a source: %v", err)
		}
	})
}

// Bad input is refused with the field at fault, and nothing is stored.
func TestTemplateSourceRefused(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{"a.html": "---\nsubject: A\n---\n<p>a</p>"}, "init", "")
		srv := gittest.NewHTTPServer(t, "right-token")
		url := srv.Add("shop/mail.git", repo)
		strict := templateService(t, env.db)
		strict.GitAllowFile, strict.GitAllowPrivate = false, false
		for _, c := range []struct {
			name  string
			svc   *Service
			in    TemplateSourceInput
			field string
			msg   string
		}{
			{"no name", env.svc, TemplateSourceInput{URL: url}, "name", "Enter a name"},
			{"no URL", env.svc, TemplateSourceInput{Name: "m"}, "url", "Enter the repository URL"},
			{"a token in the URL", env.svc, TemplateSourceInput{Name: "m", URL: strings.Replace(url, "http://", "http://x:right-token@", 1)}, "url", "credentials"},
			{"file:// from configuration", strict, TemplateSourceInput{Name: "m", URL: repo.URL()}, "url", ""},
			{"a loopback host without SENDOPS_GIT_ALLOW_PRIVATE", strict, TemplateSourceInput{Name: "m", URL: url, Auth: GitAuth{Token: "right-token"}}, "url", ""},
			{"a wrong token", env.svc, TemplateSourceInput{Name: "m", URL: url, Auth: GitAuth{Token: "wrong"}}, "auth", ""},
			{"no token", env.svc, TemplateSourceInput{Name: "m", URL: url}, "auth", ""},
			{"a missing branch", env.svc, TemplateSourceInput{Name: "m", URL: url, Branch: "release", Auth: GitAuth{Token: "right-token"}}, "branch", "release"},
			{"a bad branch name", env.svc, TemplateSourceInput{Name: "m", URL: url, Branch: "a..b"}, "branch", "not a valid branch name"},
			{"a missing repository", env.svc, TemplateSourceInput{Name: "m", URL: srv.URL + "/nope.git", Auth: GitAuth{Token: "right-token"}}, "url", "not found"},
			{"a token for SSH", env.svc, TemplateSourceInput{Name: "m", URL: "git@github.com:shop/mail.git", Auth: GitAuth{Token: "t"}}, "auth", "deploy key"},
			{"a deploy key for https", env.svc, TemplateSourceInput{Name: "m", URL: url, Auth: GitAuth{SSHKey: "-----BEGIN OPENSSH PRIVATE KEY-----"}}, "auth", "token"},
			{"a bad rule", env.svc, TemplateSourceInput{Name: "m", URL: url, Mapping: &templates.Mapping{Rules: []templates.Rule{{HTML: ""}}}}, "mapping", "Rule 1"},
			{"a schedule too often", env.svc, TemplateSourceInput{Name: "m", URL: url, SyncIntervalMinutes: 1}, "sync_interval_minutes", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := c.svc.CreateTemplateSource(context.Background(), env.owner, c.in)
				var de *domain.Error
				if !asErr(err, &de) || de.Code != domain.EInvalid || de.Field != c.field || !strings.Contains(de.Message, c.msg) {
					t.Fatalf("error %v; want invalid %s containing %q", err, c.field, c.msg)
				}
				if strings.Contains(de.Message, "right-token") {
					t.Fatalf("the message shows the token: %s", de.Message)
				}
			})
		}
		if list, err := env.svc.TemplateSources(context.Background(), env.owner); err != nil || len(list) != 0 {
			t.Fatalf("sources after refusals: %v, %v", list, err)
		}
	})
}

// PreviewMapping shows what each rule matches and the collisions before
// anything is saved.
func TestPreviewMapping(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newTemplateEnv(t, e)
		ctx := context.Background()
		repo := gittest.New(t)
		repo.Commit(t, map[string]string{
			"mail/welcome.html":        "---\nsubject: Welcome\n---\n<p>{{name}}</p>",
			"mail/welcome.txt":         "Hi {{name}}",
			"mail/legacy/welcome.html": "<p>old, without front matter</p>",
			"mail/reset.html":          "---\nsubject: Reset\n---\n<p>{{link}}</p>",
		}, "init", "")
		p, err := env.svc.PreviewMapping(ctx, env.owner, PreviewInput{URL: repo.URL(), Mapping: &templates.Mapping{Rules: []templates.Rule{
			{HTML: "mail/**/*.html"}, {HTML: "none/*.html"},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Commit.Hash != repo.Head(t) || p.MappingFrom != "mapping" || len(p.Rules) != 2 || p.WouldSync {
			t.Fatalf("preview: %+v", p)
		}
		if got := p.Rules[0].Templates; !slices.Equal(got, []string{"reset", "welcome", "welcome"}) {
			t.Fatalf("the first rule matched %q", got)
		}
		if len(p.Rules[1].Templates) != 0 {
			t.Fatalf("the second rule matched %q", p.Rules[1].Templates)
		}
		var collisions, unmatched int
		for _, pr := range p.Problems {
			if strings.Contains(pr.Message, `template name "welcome" is also mapped from`) && pr.Severity == "error" {
				collisions++
			}
			if strings.Contains(pr.Message, "matches no file") && pr.Severity == "warning" {
				unmatched++
			}
		}
		if collisions != 2 || unmatched != 1 || !strings.Contains(p.Reason, "The mapping has 2 errors") {
			t.Fatalf("problems %+v, reason %q; want the collision twice and the rule that matches nothing", p.Problems, p.Reason)
		}
		// A narrower rule maps cleanly; so does the repository's own
		// mapping (front matter).
		p, err = env.svc.PreviewMapping(ctx, env.owner, PreviewInput{URL: repo.URL(), Mapping: &templates.Mapping{Rules: []templates.Rule{{HTML: "mail/*.html"}}}})
		if err != nil || !p.WouldSync || len(p.Templates) != 2 || p.Templates[1].Files.Text != "mail/welcome.txt" || p.Templates[1].Subject != "Welcome" {
			t.Fatalf("narrow preview: %+v, %v", p, err)
		}
		p, err = env.svc.PreviewMapping(ctx, env.owner, PreviewInput{URL: repo.URL()})
		if err != nil || p.MappingFrom != "front matter" || !p.WouldSync || len(p.Templates) != 2 {
			t.Fatalf("front matter preview: %+v, %v", p, err)
		}
		// Nothing was saved.
		if list, _ := env.svc.TemplateSources(ctx, env.owner); len(list) != 0 {
			t.Fatalf("a preview saved a source: %+v", list)
		}
		// A saved source is previewed with its stored URL and credentials.
		c := env.create(t, TemplateSourceInput{Name: "mail", URL: repo.URL(), Mapping: &templates.Mapping{Rules: []templates.Rule{{HTML: "mail/*.html"}}}})
		p, err = env.svc.PreviewMapping(ctx, env.owner, PreviewInput{SourceID: c.Source.ID})
		if err != nil || !p.WouldSync || len(p.Rules) != 1 || len(p.Rules[0].Templates) != 2 {
			t.Fatalf("preview of the saved source: %+v, %v", p, err)
		}
		other := &domain.Actor{OrgID: "another-org", UserID: "x", Role: domain.RoleOwner}
		if _, err := env.svc.PreviewMapping(ctx, other, PreviewInput{SourceID: c.Source.ID}); !domain.IsNotFound(err) {
			t.Fatalf("another organisation previewing the source: %v", err)
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
