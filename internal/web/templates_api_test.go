package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sendops/internal/cli"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/testutil/gittest"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// hookCall posts a webhook to the server as a Git host would.
func hookCall(t *testing.T, app *testapp.App, id string, headers map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", app.URL+"/hooks/git/"+url.PathEscape(id), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func hubSignature(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func decodeTemplateJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}

// Template sources through the real server: add a repository served over
// smart HTTP with a token, sync it, read its templates, their history,
// diffs and renders, and take its push webhooks.
func TestTemplateSourcesAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		app := testapp.StartWith(t, e.DSN, func(p *cli.Program) { p.GitAllowFile = true }, "SENDOPS_GIT_ALLOW_PRIVATE", "true")
		_, org, key := owner(t, app, "owner@shop.example")
		_, readKey, err := app.Service.CreateAPIKey(context.Background(), service.SystemActor(org.ID), "read", []domain.Scope{domain.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		git := gittest.NewHTTPServer(t, "repo-token-123")
		repo := gittest.New(t)
		c1 := repo.Commit(t, map[string]string{
			"emails/welcome.html": "---\nsubject: Welcome, {{name}}\n---\n<p>Hello {{name}}</p>\n",
			"emails/welcome.txt":  "Hello {{name}}\n",
			"emails/welcome.json": `{"name":"Ana"}`,
		}, "Add welcome", "Ann <ann@shop.example>")
		repoURL := git.Add("shop/mail.git", repo)

		// Before saving: what the mapping makes of the repository.
		status, body := apiCall(t, app, key, "POST", "/api/v1/template-sources/preview",
			`{"url":"`+repoURL+`","auth":{"token":"repo-token-123"},"mapping":{"rules":[{"html":"emails/*.html","name":"shop-{name}"}]}}`)
		var prev service.MappingPreview
		decodeTemplateJSON(t, body, &prev)
		if status != 200 || !prev.WouldSync || len(prev.Rules) != 1 || len(prev.Rules[0].Templates) != 1 || prev.Rules[0].Templates[0] != "shop-welcome" {
			t.Fatalf("preview: %d %s", status, body)
		}

		// Refused input names the field; a read key may not add a source.
		for _, c := range []struct {
			key, body string
			status    int
			field     string
		}{
			{key, `{"name":"m","url":"` + repoURL + `","auth":{"token":"wrong"}}`, 400, "auth"},
			{key, `{"name":"m","url":"ftp://x/y"}`, 400, "url"},
			{key, `{"name":"m","url":"` + repoURL + `","colour":"red"}`, 400, ""},
			{readKey, `{"name":"m","url":"` + repoURL + `"}`, 403, ""},
		} {
			status, body := apiCall(t, app, c.key, "POST", "/api/v1/template-sources", c.body)
			var e struct {
				Error struct{ Field string } `json:"error"`
			}
			json.Unmarshal([]byte(body), &e)
			if status != c.status || e.Error.Field != c.field || strings.Contains(body, "repo-token-123") {
				t.Errorf("POST %s: %d %s; want %d on %q", c.body, status, body, c.status, c.field)
			}
		}

		status, body = apiCall(t, app, key, "POST", "/api/v1/template-sources",
			`{"name":"Shop mail","url":"`+repoURL+`","auth":{"token":"repo-token-123"},"sync_interval_minutes":60}`)
		var created service.CreatedTemplateSource
		decodeTemplateJSON(t, body, &created)
		if status != 201 || created.Sync.Status != "ok" || created.Sync.Templates != 1 || created.WebhookSecret == "" ||
			created.WebhookURL != app.Config.BaseURL+"/hooks/git/"+created.Source.ID || strings.Contains(body, "repo-token-123") {
			t.Fatalf("create: %d %s", status, body)
		}
		id, hookSecret := created.Source.ID, created.WebhookSecret
		base := "/api/v1/template-sources/" + id

		// The token and the webhook secret are never shown again.
		for _, path := range []string{"/api/v1/template-sources", base} {
			status, body := apiCall(t, app, readKey, "GET", path, "")
			if status != 200 || !strings.Contains(body, `"Shop mail"`) || strings.Contains(body, "repo-token-123") || strings.Contains(body, hookSecret) {
				t.Fatalf("GET %s: %d %s", path, status, body)
			}
		}

		// A new commit, synced by hand.
		c2 := repo.Commit(t, map[string]string{"emails/welcome.html": "---\nsubject: Welcome aboard, {{name}}\n---\n<p>Hello {{name}}</p>\n"}, "New subject", "Bo <bo@shop.example>")
		if status, body := apiCall(t, app, readKey, "POST", base+"/sync", ""); status != 403 {
			t.Fatalf("a read key syncing: %d %s", status, body)
		}
		status, body = apiCall(t, app, key, "POST", base+"/sync", "")
		var run service.TemplateSync
		decodeTemplateJSON(t, body, &run)
		if status != 200 || run.Status != "ok" || run.Commit != c2 || run.Versions != 1 || run.Trigger != "manual" {
			t.Fatalf("sync: %d %s", status, body)
		}
		status, body = apiCall(t, app, readKey, "GET", base+"/syncs", "")
		var syncs struct{ Data []service.TemplateSync }
		decodeTemplateJSON(t, body, &syncs)
		if status != 200 || len(syncs.Data) != 2 || syncs.Data[1].Trigger != "create" {
			t.Fatalf("syncs: %d %s", status, body)
		}

		// The templates, a version, the history, a diff, renders.
		status, body = apiCall(t, app, readKey, "GET", base+"/templates", "")
		var ts struct{ Data []service.SourceTemplate }
		decodeTemplateJSON(t, body, &ts)
		if status != 200 || len(ts.Data) != 1 || ts.Data[0].Name != "welcome" || ts.Data[0].Files.Text != "emails/welcome.txt" || ts.Data[0].Changed.Commit != c2 {
			t.Fatalf("templates: %d %s", status, body)
		}
		status, body = apiCall(t, app, readKey, "GET", base+"/templates/welcome?commit="+c1[:10], "")
		var tc service.TemplateContent
		decodeTemplateJSON(t, body, &tc)
		if status != 200 || tc.Subject != "Welcome, {{name}}" || tc.Current || tc.Version.Author != "Ann" {
			t.Fatalf("welcome at %s: %d %s", c1[:10], status, body)
		}
		status, body = apiCall(t, app, readKey, "GET", base+"/templates/welcome/history", "")
		var hist struct{ Data []service.TemplateVersion }
		decodeTemplateJSON(t, body, &hist)
		if status != 200 || len(hist.Data) != 2 || hist.Data[0].Commit != c2 || hist.Data[0].Message != "New subject" || hist.Data[1].AuthorEmail != "ann@shop.example" ||
			hist.Data[0].Cause != "commit" {
			t.Fatalf("history: %d %s", status, body)
		}
		status, body = apiCall(t, app, readKey, "GET", base+"/templates/welcome/diff?from="+c1+"&to="+c2, "")
		var diff service.TemplateDiff
		decodeTemplateJSON(t, body, &diff)
		if status != 200 || !diff.Changed || !strings.Contains(diff.Parts[0].Unified, "-Welcome, {{name}}\n") || !strings.Contains(diff.Parts[0].Unified, "+Welcome aboard, {{name}}\n") || diff.Parts[1].Changed {
			t.Fatalf("diff: %d %s", status, body)
		}
		for _, c := range []struct {
			body, subject string
		}{
			{"", "Welcome aboard, Ana"},
			{`{"data":{"name":"Bo"}}`, "Welcome aboard, Bo"},
			{`{"commit":"` + c1 + `","data":{"name":"Cy"}}`, "Welcome, Cy"},
			{`{"data":"{\"name\":\"Di\"}"}`, "Welcome aboard, Di"}, // a string holding the object, as test-render takes it
		} {
			status, body := apiCall(t, app, readKey, "POST", base+"/templates/welcome/render", c.body)
			var rv service.RenderedVersion
			decodeTemplateJSON(t, body, &rv)
			if status != 200 || !rv.OK || rv.Subject != c.subject {
				t.Fatalf("render %s: %d %s", c.body, status, body)
			}
		}
		for _, c := range []struct {
			method, path, body string
			status             int
		}{
			{"GET", base + "/templates/nope", "", 404},
			{"GET", base + "/templates/welcome?commit=xyz", "", 400},
			{"GET", base + "/templates/welcome/diff?from=0000000000", "", 404},
			{"POST", base + "/templates/welcome/render", `{"data":"not an object"}`, 200},
			{"GET", "/api/v1/template-sources/nope", "", 404},
		} {
			if status, body := apiCall(t, app, readKey, c.method, c.path, c.body); status != c.status {
				t.Errorf("%s %s: %d %s, want %d", c.method, c.path, status, body, c.status)
			}
		}

		// Webhooks: outside /api/v1, no key, signed.
		push := `{"ref":"refs/heads/main"}`
		c3 := repo.Commit(t, map[string]string{"emails/welcome.txt": "Hello {{name}}!\n"}, "Exclaim", "")
		wrong := map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-0", "X-Hub-Signature-256": hubSignature("wrong", push)}
		status, wrongBody := hookCall(t, app, id, wrong, push)
		unknownStatus, unknownBody := hookCall(t, app, "no-such-source", wrong, push)
		if status != 401 || unknownStatus != 401 || wrongBody != unknownBody {
			t.Fatalf("wrong signature %d %s; unknown source %d %s; want the same 401", status, wrongBody, unknownStatus, unknownBody)
		}
		if status, body := hookCall(t, app, id, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-u"}, push); status != 401 {
			t.Fatalf("unsigned: %d %s", status, body)
		}
		signed := map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": hubSignature(hookSecret, push)}
		if status, body := hookCall(t, app, id, signed, push); status != 202 || !strings.Contains(body, `"accepted"`) {
			t.Fatalf("signed push: %d %s", status, body)
		}
		if status, body := hookCall(t, app, id, signed, push); status != 409 {
			t.Fatalf("the same delivery again: %d %s", status, body)
		}
		// A captured delivery sent again under a new id: its signed body
		// gives it away.
		resent := map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1-again", "X-Hub-Signature-256": hubSignature(hookSecret, push)}
		if status, body := hookCall(t, app, id, resent, push); status != 409 || !strings.Contains(body, "a replay is refused") {
			t.Fatalf("the same body under a new delivery id: %d %s", status, body)
		}
		ping := `{"zen":"Design for failure."}`
		if status, body := hookCall(t, app, id, map[string]string{"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-2", "X-Hub-Signature-256": hubSignature(hookSecret, ping)}, ping); status != 200 {
			t.Fatalf("ping: %d %s", status, body)
		}
		other := `{"ref":"refs/heads/feature"}`
		if status, body := hookCall(t, app, id, map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "g-1", "X-Gitlab-Token": hookSecret}, other); status != 202 || !strings.Contains(body, `"ignored"`) {
			t.Fatalf("GitLab push to another branch: %d %s", status, body)
		}
		glPush := `{"object_kind":"push","ref":"refs/heads/main","after":"c3"}`
		if status, body := hookCall(t, app, id, map[string]string{"X-Gitlab-Event": "Push Hook", "Idempotency-Key": "g-2", "X-Gitlab-Token": hookSecret}, glPush); status != 202 {
			t.Fatalf("GitLab push: %d %s", status, body)
		}
		big := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 1<<20) + `"}`
		if status, body := hookCall(t, app, id, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-3", "X-Hub-Signature-256": hubSignature(hookSecret, big)}, big); status != 413 {
			t.Fatalf("a body over 1 MiB: %d %.200s", status, body)
		}
		// The server's worker syncs the pushes, once.
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, body := apiCall(t, app, readKey, "GET", base, "")
			var s service.TemplateSource
			decodeTemplateJSON(t, body, &s)
			if s.SyncedCommit == c3 && !s.SyncPending && !s.Syncing {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the webhook's sync did not happen: %s", body)
			}
			time.Sleep(200 * time.Millisecond)
		}
		_, body = apiCall(t, app, readKey, "GET", base+"/syncs", "")
		decodeTemplateJSON(t, body, &syncs)
		if len(syncs.Data) != 3 || syncs.Data[0].Trigger != "webhook" || syncs.Data[0].Commit != c3 {
			t.Fatalf("syncs after the webhooks: %s", body)
		}

		// Rotate the webhook secret; change and delete the source.
		status, body = apiCall(t, app, key, "POST", base+"/webhook-secret", "")
		var rot service.WebhookSecret
		decodeTemplateJSON(t, body, &rot)
		if status != 200 || rot.WebhookSecret == "" || rot.WebhookSecret == hookSecret {
			t.Fatalf("rotate: %d %s", status, body)
		}
		if status, _ := hookCall(t, app, id, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-4", "X-Hub-Signature-256": hubSignature(hookSecret, push)}, push); status != 401 {
			t.Fatalf("the old secret after rotation: %d", status)
		}
		status, body = apiCall(t, app, key, "PATCH", base, `{"name":"Mail","mapping":{"rules":[{"html":"emails/*.html","name":"shop-{name}"}]}}`)
		var upd service.TemplateSource
		decodeTemplateJSON(t, body, &upd)
		if status != 200 || upd.Name != "Mail" || upd.Mapping == nil || !upd.SyncPending {
			t.Fatalf("update: %d %s", status, body)
		}
		if status, body := apiCall(t, app, key, "PATCH", base, `{"branch":"a..b"}`); status != 400 || decodeErr(t, body).Error.Code != "invalid" {
			t.Fatalf("a bad branch: %d %s", status, body)
		}
		if status, body := apiCall(t, app, key, "DELETE", base, ""); status != 204 {
			t.Fatalf("delete: %d %s", status, body)
		}
		if status, _ := apiCall(t, app, key, "GET", base, ""); status != 404 {
			t.Fatalf("a deleted source: %d", status)
		}
		if status, _ := hookCall(t, app, id, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-5", "X-Hub-Signature-256": hubSignature(rot.WebhookSecret, push)}, push); status != 401 {
			t.Fatalf("a webhook for a deleted source: %d", status)
		}
	})
}
