package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/cli"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/templates"
	"sendops/internal/testutil/gittest"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// emailRepo is a repository of templates in folders, which a rule maps:
// two files named welcome.html (a collision under the rule {name}), and a
// receipt whose sample data is not an object (a lint error that does not
// stop a sync).
func emailRepo(t *testing.T) *gittest.Repo {
	t.Helper()
	repo := gittest.New(t)
	repo.Commit(t, map[string]string{
		"README.md":                   "# Emails\n",
		"emails/account/welcome.html": "---\nsubject: Welcome {{name}}\n---\n<h1>Hello {{name}}</h1>\n<p>Your plan: {{plan}}.</p>\n",
		"emails/account/welcome.txt":  "Hello {{name}}, your plan: {{plan}}.\n",
		"emails/account/welcome.json": `{"name": "Ana", "plan": "Pro"}`,
		"emails/billing/welcome.html": "---\nsubject: Billing starts\n---\n<p>Billing for {{name}}</p>\n",
		"emails/billing/welcome.txt":  "Billing for {{name}}\n",
		"emails/billing/welcome.json": `{"name": "Ana"}`,
		"emails/billing/receipt.html": "---\nsubject: Receipt {{n}}\n---\n<p>Receipt {{n}}</p>\n",
		"emails/billing/receipt.txt":  "Receipt {{n}}\n",
		"emails/billing/receipt.json": `[1, 2]`,
	}, "Add the emails", "Ann Author <ann@example.com>")
	return repo
}

var sourceLinkRE = regexp.MustCompile(`href="/templates/([^/"]+)/edit"`)

// TestTemplatePages drives the template pages through the real server: a
// developer previews a mapping (a collision shown, nothing saved), adds
// the repository (its webhook secret shown once), previews a template
// (the HTML served sandboxed), pushes to SES and sees no drift, and reads
// a template's history with a diff; a viewer sees every page and is
// refused every action.
func TestTemplatePages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, func(p *cli.Program) { p.GitAllowFile = true })
		conn, _ := v.roleConnection(t, "prod")
		repo := emailRepo(t)
		b := v.App.SignIn(t, "aws@example.com", "password-aws@example.com")

		sesPage(t, "no sources", b.Get("/templates"), 200, "No template repository yet", `href="/templates/new"`)
		form := url.Values{"name": {"Emails"}, "url": {repo.URL()}, "branch": {"main"}, "sync_interval_minutes": {"0"},
			"mapping_mode": {"rules"}, "rule_html": {"emails/**/*.html", ""}, "rule_name": {"{name}", ""}, "action": {"preview"}}

		// A preview shows what the rule matches, and the collision.
		p := b.Post("/templates/new", "/templates/new", form)
		sesPage(t, "preview with a collision", p, 200, `id="mapping-preview"`, "A sync would fail", `template name &#34;welcome&#34; is also mapped from`,
			"emails/account/welcome.html", "emails/billing/welcome.html", `value="Emails"`, `value="emails/**/*.html"`)
		sesPage(t, "nothing saved by a preview", b.Get("/templates"), 200, "No template repository yet")

		// A bad URL is refused by its field, keeping the rest.
		bad := cloneValues(form)
		bad.Set("url", "ftp://example.com/x.git")
		bad.Set("action", "save")
		p = b.Post("/templates/new", "/templates/new", bad)
		sesPage(t, "a bad URL", p, 400, `id="e-url"`, `value="ftp://example.com/x.git"`, `value="emails/**/*.html"`)

		// {dir}-{name}: no collision; saved, the secret shown once.
		form.Set("rule_name", "{dir}-{name}")
		form["rule_name"] = []string{"{dir}-{name}", ""}
		p = b.Post("/templates/new", "/templates/new", form)
		sesPage(t, "preview", p, 200, "A sync would succeed", "account-welcome", "billing-receipt", "billing-welcome", "the data must be a JSON object")
		form.Set("action", "save")
		p = b.Post("/templates/new", "/templates/new", form)
		sesPage(t, "created", p, 200, `id="webhook-secret-value"`, "GitHub", "GitLab", "/hooks/git/", "account-welcome")
		m := sourceLinkRE.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no source link on the created page:\n%s", p.Body)
		}
		id := m[1]
		sp := "/templates/" + id
		src := b.Get(sp)
		sesPage(t, "source page", src, 200, "account-welcome", "billing-receipt", "emails/billing/receipt.json:1:1", "the data must be a JSON object", "Sync history", "create")
		if strings.Contains(src.Body, `id="webhook-secret-value"`) {
			t.Error("the webhook secret is shown again on the source page")
		}
		sesPage(t, "list", b.Get("/templates"), 200, `href="/templates/`+id+`"`, "Emails")

		// The template page, and its HTML from its own sandboxed route.
		tp := sp + "/t/account-welcome"
		p = b.Get(tp)
		sesPage(t, "template", p, 200, `<strong id="subject">Welcome Ana</strong>`, "Hello Ana, your plan: Pro.", `<iframe sandbox src="`+tp+`/preview.html"`)
		if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src 'self'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("the template page's CSP: %q", csp)
		}
		pv := b.Get(tp + "/preview.html")
		if pv.Status != 200 || !strings.Contains(pv.Body, "<h1>Hello Ana</h1>") {
			t.Fatalf("preview.html: %d\n%s", pv.Status, pv.Body)
		}
		csp := pv.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "img-src data:", "style-src 'unsafe-inline'", "sandbox", "frame-ancestors 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("preview.html's CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "script-src") || pv.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
			t.Errorf("preview.html may run scripts or not be framed: CSP %q, X-Frame-Options %q", csp, pv.Header.Get("X-Frame-Options"))
		}
		// Data is never taken from a URL.
		pv = b.Get(tp + "/preview.html?data=" + url.QueryEscape(`{"name":"Bo","plan":"Free"}`))
		if !strings.Contains(pv.Body, "<h1>Hello Ana</h1>") {
			t.Errorf("preview.html rendered data from its URL:\n%s", pv.Body)
		}

		// Typed JSON: rendered, and the frame shows the rendering kept
		// under a random key (the data is in no URL); bad JSON refused by
		// the field, kept.
		p = b.Post(tp, tp, url.Values{"data": {`{"name": "Bo", "plan": "Free"}`}})
		sesPage(t, "typed data", p, 200, `<strong id="subject">Welcome Bo</strong>`, "Hello Bo, your plan: Free.", `<iframe sandbox src="`+tp+`/preview.html?preview=`)
		frame := frameSrc(t, p.Body, "html-frame")
		// The frame's URL carries one random key and nothing of the data
		// (a key may hold "Bo" by chance, so the check is on its shape).
		if u, err := url.Parse(frame); err != nil || len(u.Query()) != 1 || len(u.Query()["preview"]) != 1 ||
			strings.Contains(frame, "Free") || strings.Contains(frame, "%7B") || strings.Contains(frame, "%22") {
			t.Errorf("the typed data is in the frame's URL: %s", frame)
		}
		if pv := b.Get(frame); pv.Status != 200 || !strings.Contains(pv.Body, "<h1>Hello Bo</h1>") || pv.Header.Get("Content-Security-Policy") != csp {
			t.Errorf("the kept preview: %d %q\n%s", pv.Status, pv.Header.Get("Content-Security-Policy"), pv.Body)
		}
		if pv := b.Get(tp + "/preview.html?preview=not-a-key"); pv.Status != 200 || !strings.Contains(pv.Body, "This preview has expired") {
			t.Errorf("an unknown preview key: %d\n%s", pv.Status, pv.Body)
		}
		if pv := b.Get(sp + "/t/billing-receipt/preview.html?" + frame[strings.Index(frame, "?")+1:]); !strings.Contains(pv.Body, "This preview has expired") {
			t.Errorf("a preview shown for another template:\n%s", pv.Body)
		}
		p = b.Post(tp, tp, url.Values{"data": {`{"name": "Bo",`}})
		sesPage(t, "bad JSON", p, 400, `id="e-data"`, "the data is not valid JSON", `{&#34;name&#34;: &#34;Bo&#34;,</textarea>`)

		// The template is not in SES yet: SES's sentence beside ours.
		p = b.Get(tp + "?connection=" + conn)
		sesPage(t, "not in SES", p, 200, `id="ses-error"`, "account-welcome")

		// Plan (SES's own templates are extras, kept unless ticked), apply,
		// no drift; SES's rendering beside ours.
		admin := sesAdmin(t, v)
		for _, name := range []string{"legacy", "manual"} {
			if _, err := admin.CreateEmailTemplate(t.Context(), &sesv2.CreateEmailTemplateInput{TemplateName: aws.String(name),
				TemplateContent: &sestypes.EmailTemplateContent{Subject: aws.String("Old"), Text: aws.String("old")}}); err != nil {
				t.Fatal(err)
			}
		}
		p = b.Get(sp + "/push?connection=" + conn)
		sesPage(t, "plan", p, 200, `data-action="create" data-template="account-welcome"`, "3 to create", "2 only in SES", `id="apply"`,
			`<input type="checkbox" name="delete" value="`+conn+`/legacy">`, `<input type="checkbox" name="delete" value="`+conn+`/manual">`)
		commit := regexp.MustCompile(`name="commit" value="([0-9a-f]{40})"`).FindStringSubmatch(p.Body)
		state := regexp.MustCompile(`name="state" value="([0-9a-f]{64})"`).FindStringSubmatch(p.Body)
		if commit == nil || state == nil {
			t.Fatalf("no commit or state in the plan:\n%s", p.Body)
		}
		p = b.Post(sp+"/push?connection="+conn, sp+"/push", url.Values{"connection": {conn}, "commit": {"0123456789012345678901234567890123456789"}})
		sesPage(t, "a stale plan", p, 409, "The repository changed since the plan", `id="apply"`)
		p = b.Post(sp+"/push?connection="+conn, sp+"/push", url.Values{"connection": {conn}, "state": {state[1]}, "commit": {commit[1]}, "delete": {conn + "/legacy"}})
		sesPage(t, "pushed", p, 200, "3 created", "1 deleted", `data-action="create" data-ok="true" data-template="billing-receipt"`,
			`data-action="delete" data-ok="true" data-template="legacy"`, `data-action="extra" data-ok="true" data-template="manual"`)
		if _, err := admin.GetEmailTemplate(t.Context(), &sesv2.GetEmailTemplateInput{TemplateName: aws.String("manual")}); err != nil {
			t.Errorf("the unticked extra is gone from SES: %v", err)
		}
		if _, err := admin.GetEmailTemplate(t.Context(), &sesv2.GetEmailTemplateInput{TemplateName: aws.String("legacy")}); err == nil {
			t.Error("the ticked extra is still in SES")
		}
		sesPage(t, "no drift", b.Get(sp+"/drift?connection="+conn), 200, `id="no-drift"`, "3 in sync", "1 only in SES")
		p = b.Get(tp + "?connection=" + conn)
		sesPage(t, "SES's rendering", p, 200, `<strong id="ses-subject">Welcome Ana</strong>`, `id="ses-text">Hello Ana, your plan: Pro.`, `/ses.html?connection=`+conn)
		if pv := b.Get(tp + "/ses.html?connection=" + conn); pv.Status != 200 || !strings.Contains(pv.Body, "<h1>Hello Ana</h1>") || pv.Header.Get("Content-Security-Policy") != csp {
			t.Errorf("ses.html: %d %q\n%s", pv.Status, pv.Header.Get("Content-Security-Policy"), pv.Body)
		}
		// With typed data, SES's rendering is kept for its frame too.
		p = b.Post(tp, tp, url.Values{"data": {`{"name": "Cy", "plan": "Team"}`}, "connection": {conn}})
		sesPage(t, "SES's rendering of typed data", p, 200, `<strong id="ses-subject">Welcome Cy</strong>`, `/ses.html?preview=`)
		if frame := frameSrc(t, p.Body, "ses-frame"); strings.Contains(frame, "Cy") || !strings.Contains(b.Get(frame).Body, "<h1>Hello Cy</h1>") {
			t.Errorf("SES's frame with typed data: %s", frame)
		}

		// A new commit: history, diff, a past version's preview; SES drifts.
		second := repo.Commit(t, map[string]string{"emails/account/welcome.html": "---\nsubject: Welcome {{name}}\n---\n<h1>Hi {{name}}</h1>\n<p>Your plan: {{plan}}.</p>\n"},
			"Friendlier greeting", "Bea Writer <bea@example.com>")
		if p := b.Post(sp, sp+"/sync", nil); p.Status != http.StatusSeeOther {
			t.Fatalf("sync: %d\n%s", p.Status, p.Body)
		}
		p = b.Get(tp + "/history")
		sesPage(t, "history", p, 200, "Friendlier greeting", "Bea Writer", "Add the emails", `class="d-insert"`, `<ins>&lt;h1&gt;Hi {{name}}&lt;/h1&gt;</ins>`,
			`<del>&lt;h1&gt;Hello {{name}}&lt;/h1&gt;</del>`)
		first := regexp.MustCompile(`data-commit="([0-9a-f]{40})"`).FindAllStringSubmatch(p.Body, -1)
		if len(first) != 2 || first[0][1] != second {
			t.Fatalf("history rows: %v, want the new commit %s first", first, second)
		}
		sesPage(t, "a past version", b.Get(tp+"?commit="+first[1][1]), 200, "A past version", `preview.html?commit=`+first[1][1])
		if pv := b.Get(tp + "/preview.html?commit=" + first[1][1]); !strings.Contains(pv.Body, "<h1>Hello Ana</h1>") {
			t.Errorf("the past version's preview:\n%s", pv.Body)
		}
		// A mapping change is SendOps's entry in the history, not a commit's.
		owner := &domain.Actor{OrgID: v.Org.ID, UserID: v.User.ID, Email: v.User.Email, Role: domain.RoleOwner}
		if _, err := v.App.Service.UpdateTemplateSource(t.Context(), owner, id, service.TemplateSourceUpdate{Mapping: &templates.Mapping{
			Templates: []templates.Entry{{Name: "account-welcome", Subject: "Hello {{name}}", HTML: "emails/account/welcome.html"}},
			Rules:     []templates.Rule{{HTML: "emails/**/*.html", Name: "{dir}-{name}"}},
		}}); err != nil {
			t.Fatal(err)
		}
		if p := b.Post(sp, sp+"/sync", nil); p.Status != http.StatusSeeOther {
			t.Fatalf("sync: %d\n%s", p.Status, p.Body)
		}
		sesPage(t, "history after a mapping change", b.Get(tp+"/history"), 200, `<tr data-commit="`+second+`" data-cause="mapping">`,
			"Mapping changed by "+v.User.Email, "not a commit", `<tr data-commit="`+second+`" data-cause="commit">`)
		sesPage(t, "drift", b.Get(sp+"/drift?connection="+conn), 200, `data-state="changed" data-template="account-welcome"`, `class="d-insert"`)

		// A viewer sees every page and is refused every action.
		viewer := memberBrowser(t, v.App, v.Org.ID, "viewer@example.com", domain.RoleViewer)
		for _, path := range []string{"/templates", sp, tp, tp + "/history", tp + "/preview.html", sp + "/push?connection=" + conn, sp + "/drift?connection=" + conn} {
			p := viewer.Get(path)
			if p.Status != 200 {
				t.Errorf("viewer GET %s: %d", path, p.Status)
			}
			for _, action := range []string{"Add a repository", `id="sync-now"`, `id="rotate-secret"`, `id="apply"`, "Remove Emails"} {
				if strings.Contains(p.Body, action) {
					t.Errorf("viewer sees %q on %s", action, path)
				}
			}
		}
		if p := viewer.Post(tp, tp, url.Values{"data": {`{"name":"Vi","plan":"x"}`}}); p.Status != 200 || !strings.Contains(p.Body, `<strong id="subject">Hello Vi</strong>`) || !strings.Contains(p.Body, "/preview.html?preview=") {
			t.Errorf("a viewer may render with typed data: %d", p.Status)
		}
		if p := viewer.Get("/templates/new"); p.Status != http.StatusForbidden {
			t.Errorf("viewer GET /templates/new: %d", p.Status)
		}
		for _, post := range []struct {
			path string
			form url.Values
		}{
			{"/templates/new", form},
			{sp + "/edit", url.Values{"name": {"Mine"}, "branch": {"main"}, "action": {"save"}}},
			{sp + "/sync", nil},
			{sp + "/webhook-secret", nil},
			{sp + "/delete", url.Values{"confirm": {"Emails"}}},
			{sp + "/push", url.Values{"connection": {conn}, "commit": {second}}},
		} {
			if p := viewer.Post("/templates", post.path, post.form); p.Status != http.StatusForbidden {
				t.Errorf("viewer POST %s: %d, want 403", post.path, p.Status)
			}
		}
		sesPage(t, "the source intact", b.Get(sp), 200, "Emails", "account-welcome")

		// A new webhook secret, shown once.
		p = b.Post(sp, sp+"/webhook-secret", nil)
		sesPage(t, "rotated", p, 200, "A new webhook secret", `id="webhook-secret-value"`, "The old secret no longer works")
		if strings.Contains(b.Get(sp).Body, `id="webhook-secret-value"`) {
			t.Error("the new secret is shown again")
		}

		// A failed sync shows its error and keeps the last good commit.
		repo.Delete(t)
		p = b.Post(sp, sp+"/sync", nil)
		if p.Status != http.StatusSeeOther {
			t.Fatalf("sync of a deleted repository: %d", p.Status)
		}
		p = b.Get(sp)
		sesPage(t, "failed sync", p, 200, `id="last-error"`, "The last sync failed", "SendOps keeps the last good state: commit <code title=\""+second+"\">"+second[:12]+"</code>",
			`data-status="failed"`, "account-welcome")

		// Delete needs the name typed.
		sesPage(t, "delete unconfirmed", b.Post(sp, sp+"/delete", url.Values{"confirm": {"x"}}), 400, "Type Emails to confirm")
		if p := b.Post(sp, sp+"/delete", url.Values{"confirm": {"Emails"}}); p.Status != http.StatusSeeOther {
			t.Fatalf("delete: %d\n%s", p.Status, p.Body)
		}
		sesPage(t, "deleted", b.Get(sp), 404)
	})
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

var sealedRE = regexp.MustCompile(`name="token_sealed" value="([^"]+)"`)

// TestTemplateSourceForm: a repository behind a token, over smart HTTP.
// The token typed is never sent back to the browser: a preview carries it
// sealed, and the save uses it; a tampered seal is no token. Editing
// previews and saves a mapping; a bad schedule keeps what was typed.
func TestTemplateSourceForm(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		app := testapp.Start(t, e.DSN, "SENDOPS_GIT_ALLOW_PRIVATE", "1")
		owner(t, app, "dev@example.com")
		b := app.SignIn(t, "dev@example.com", "password-dev@example.com")
		const token = "glpat-s3cret-token-0123"
		srv := gittest.NewHTTPServer(t, token)
		repoURL := srv.Add("acme/mail.git", emailRepo(t))

		form := url.Values{"name": {"Private"}, "url": {repoURL}, "branch": {"main"}, "sync_interval_minutes": {"0"},
			"mapping_mode": {"rules"}, "rule_html": {"emails/**/*.html"}, "rule_name": {"{dir}-{name}"}, "action": {"preview"}}
		p := b.Post("/templates/new", "/templates/new", form)
		sesPage(t, "no token", p, 400, `id="e-auth"`, `value="`+repoURL+`"`)

		form.Set("token", token)
		p = b.Post("/templates/new", "/templates/new", form)
		sesPage(t, "preview with a token", p, 200, "A sync would succeed", `id="token-kept"`)
		if strings.Contains(p.Body, token) {
			t.Fatal("the preview sends the token back to the browser")
		}
		m := sealedRE.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no sealed token on the preview:\n%s", p.Body)
		}
		sealed := html.UnescapeString(m[1])

		// A tampered seal is no token.
		form.Del("token")
		form.Set("action", "save")
		form.Set("token_sealed", sealed[:len(sealed)-4]+"AAAA")
		sesPage(t, "tampered seal", b.Post("/templates/new", "/templates/new", form), 400, `id="e-auth"`)
		sesPage(t, "nothing saved", b.Get("/templates"), 200, "No template repository yet")

		form.Set("token_sealed", sealed)
		p = b.Post("/templates/new", "/templates/new", form)
		sesPage(t, "saved with the sealed token", p, 200, `id="webhook-secret-value"`, "a token", "account-welcome")
		id := sourceLinkRE.FindStringSubmatch(p.Body)[1]
		sp := "/templates/" + id
		for _, path := range []string{sp, sp + "/edit", "/templates"} {
			if body := b.Get(path).Body; strings.Contains(body, token) || strings.Contains(body, "token_sealed") {
				t.Errorf("%s shows the token", path)
			}
		}

		// Edit: preview a colliding rule, keep the saved credentials.
		sesPage(t, "edit page", b.Get(sp+"/edit"), 200, `value="Private"`, `value="emails/**/*.html"`, `value="{dir}-{name}"`, "Now: a token")
		edit := url.Values{"name": {"Private mail"}, "branch": {"main"}, "sync_interval_minutes": {"0"},
			"mapping_mode": {"rules"}, "rule_html": {"emails/**/*.html"}, "rule_name": {"{name}"}, "action": {"preview"}}
		sesPage(t, "edit preview", b.Post(sp+"/edit", sp+"/edit", edit), 200, "A sync would fail", "is also mapped from", `value="Private mail"`)
		edit.Set("sync_interval_minutes", "often")
		edit.Set("action", "save")
		sesPage(t, "a bad schedule", b.Post(sp+"/edit", sp+"/edit", edit), 400, `id="e-sync_interval_minutes"`, `value="often"`, `value="Private mail"`)
		edit.Set("sync_interval_minutes", "60")
		edit.Set("rule_name", "{dir}_{name}")
		if p := b.Post(sp+"/edit", sp+"/edit", edit); p.Status != http.StatusSeeOther || p.Location != sp {
			t.Fatalf("save the edit: %d %s\n%s", p.Status, p.Location, p.Body)
		}
		sesPage(t, "edited", b.Get(sp), 200, "Private mail", "every 60 minutes", "<code>{dir}_{name}</code>", "a token")
		if p := b.Post(sp, sp+"/sync", nil); p.Status != http.StatusSeeOther {
			t.Fatalf("sync: %d", p.Status)
		}
		sesPage(t, "synced with the saved token", b.Get(sp), 200, "account_welcome", "billing_receipt")
	})
}

// frameSrc is the address of the page's frame with id, unescaped.
func frameSrc(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<iframe sandbox src="([^"]+)"[^>]* id="` + id + `"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no frame %s on the page", id)
	}
	return html.UnescapeString(m[1])
}
