package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"sendops/internal/cli"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/sesevent"
	"sendops/internal/testutil/gittest"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

var paramRE = regexp.MustCompile(`\{[a-z_]+\}`)

// TestTenantIsolation takes every route of the route table that names an id
// and asks for each id of organisation A as a member and as an API key of
// organisation B: every answer must be 404, and A's data must be intact.
// Routes added later are covered without editing this test.
func TestTenantIsolation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		// Template sources read the test's own file:// repository.
		app := testapp.StartWith(t, e.DSN, func(p *cli.Program) { p.GitAllowFile = true })
		ctx := context.Background()
		svc := app.Service

		// Organisation A: an owner, a second member, a key, an invitation, a session.
		userA, orgA, err := svc.CreateUser(ctx, service.SignUp{Name: "Ann", Email: "ann@a.example", Password: "password-of-ann", OrgName: "A"})
		if err != nil {
			t.Fatal(err)
		}
		actorA := &domain.Actor{OrgID: orgA.ID, UserID: userA.ID, Email: userA.Email, Role: domain.RoleOwner}
		memberA, _, err := svc.CreateUser(ctx, service.SignUp{Name: "Abe", Email: "abe@a.example", Password: "password-of-abe"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, actorA, "abe@a.example", domain.RoleViewer); err != nil {
			t.Fatal(err)
		}
		keyA, tokenA, err := svc.CreateAPIKey(ctx, actorA, "A key", domain.Scopes)
		if err != nil {
			t.Fatal(err)
		}
		invA, err := svc.Invite(ctx, actorA, "later@a.example", domain.RoleDeveloper)
		if err != nil {
			t.Fatal(err)
		}
		browserA := app.SignIn(t, "ann@a.example", "password-of-ann")
		sessionsA, err := svc.Sessions(ctx, userA.ID)
		if err != nil || len(sessionsA) != 1 {
			t.Fatalf("sessions of A: %v, %v", sessionsA, err)
		}
		connA, _, err := svc.CreateConnection(ctx, actorA, service.ConnectionInput{Name: "A prod", AWSAccountID: "111111111111", Region: "us-east-1"})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := sesevent.Parse([]byte(`{"eventType":"Send","send":{},"mail":{"timestamp":"2026-01-02T03:04:05.000Z","messageId":"msg-of-a","source":"a@a.example","destination":["ann@a.example"]}}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Ingest.Write(ctx, connA, ev); err != nil {
			t.Fatal(err)
		}
		repoA := gittest.New(t)
		repoA.Commit(t, map[string]string{"welcome.html": "---\nsubject: Welcome\n---\n<p>Hi</p>\n"}, "init", "")
		srcA, err := svc.CreateTemplateSource(ctx, actorA, service.TemplateSourceInput{Name: "A mail", URL: repoA.URL()})
		if err != nil {
			t.Fatal(err)
		}
		jobA, err := svc.StartPlan(ctx, actorA, srcA.Source.ID, []string{connA.ID})
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{orgA.ID, userA.ID, memberA.ID, keyA.ID, invA.ID, sessionsA[0].ID, connA.ID, "msg-of-a", srcA.Source.ID, jobA.ID}

		// Organisation B: an owner (every permission) and an all-scopes key.
		_, orgB, err := svc.CreateUser(ctx, service.SignUp{Name: "Bob", Email: "bob@b.example", Password: "password-of-bob", OrgName: "B"})
		if err != nil {
			t.Fatal(err)
		}
		_, tokenB, err := svc.CreateAPIKey(ctx, service.SystemActor(orgB.ID), "B key", domain.Scopes)
		if err != nil {
			t.Fatal(err)
		}
		browserB := app.SignIn(t, "bob@b.example", "password-of-bob")
		csrfB := browserB.Get("/settings/profile").CSRF()

		checked := 0
		for _, rt := range app.Server.Routes() {
			// Ingest routes take their own credentials, not ids: a wrong one is 401 (TestIngest).
			if !paramRE.MatchString(rt.Pattern) || rt.Auth == "ingest" {
				continue
			}
			for _, id := range ids {
				path := paramRE.ReplaceAllString(rt.Pattern, url.PathEscape(id))
				var status int
				var body string
				if rt.API {
					status, body = apiCall(t, app, tokenB, rt.Method, path, `{"role":"viewer"}`)
				} else if rt.Method == "GET" {
					p := browserB.Get(path)
					status, body = p.Status, p.Body
				} else {
					p := browserB.PostRaw(path, url.Values{"csrf": {csrfB}, "role": {"viewer"}, "name": {"x"}, "password": {"password-of-bob"}})
					status, body = p.Status, p.Body
				}
				if status != http.StatusNotFound {
					t.Errorf("%s %s with an id of organisation A (%s) as organisation B: status %d, want 404\n%.300s", rt.Method, rt.Pattern, id, status, body)
				}
				checked++
			}
		}
		if checked < 10*len(ids) {
			t.Fatalf("only %d requests checked: the route table lost its id routes?", checked)
		}

		// Listings of B show nothing of A.
		for _, rt := range app.Server.Routes() {
			if !rt.API || rt.Method != "GET" || paramRE.MatchString(rt.Pattern) || rt.Auth != "key" {
				continue
			}
			status, body := apiCall(t, app, tokenB, "GET", rt.Pattern, "")
			if status != http.StatusOK {
				t.Errorf("GET %s as B: %d %s", rt.Pattern, status, body)
			}
			for _, leak := range []string{orgA.ID, "ann@a.example", "abe@a.example", keyA.Prefix, invA.ID, connA.ID, "msg-of-a", srcA.Source.ID} {
				if strings.Contains(body, leak) {
					t.Errorf("GET %s as B shows %q of organisation A", rt.Pattern, leak)
				}
			}
		}

		// A is intact: its key works, its invitation is pending, its member
		// and owner are there, its session is live.
		if status, body := apiCall(t, app, tokenA, "GET", "/api/v1/invitations", ""); status != 200 || !strings.Contains(body, invA.ID) {
			t.Errorf("A's invitation after the run: %d %s", status, body)
		}
		if status, body := apiCall(t, app, tokenA, "GET", "/api/v1/members", ""); status != 200 || !strings.Contains(body, `"role":"owner"`) || !strings.Contains(body, "ann@a.example") {
			t.Errorf("A's members after the run: %d %s", status, body)
		}
		if status, body := apiCall(t, app, tokenA, "GET", "/api/v1/template-sources/"+srcA.Source.ID+"/templates", ""); status != 200 || !strings.Contains(body, `"welcome"`) {
			t.Errorf("A's template source after the run: %d %s", status, body)
		}
		if status, body := apiCall(t, app, tokenA, "GET", "/api/v1/template-jobs/"+jobA.ID, ""); status != 200 || !strings.Contains(body, `"kind":"plan"`) {
			t.Errorf("A's template job after the run: %d %s", status, body)
		}
		if p := browserA.Get("/settings/security"); p.Status != 200 {
			t.Errorf("A's session after the run: %d", p.Status)
		}
	})
}

// apiCall sends an API request with a bearer key and returns status and body.
func apiCall(t testing.TB, app *testapp.App, key, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" && method != "GET" && method != "DELETE" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, app.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
