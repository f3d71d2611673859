package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/store"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// apiErr is the API's error shape.
type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeErr(t *testing.T, body string) apiErr {
	t.Helper()
	var e apiErr
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not an API error body: %s", body)
	}
	return e
}

// owner makes a user owning an organisation and an API key with scopes.
func owner(t *testing.T, app *testapp.App, email string, scopes ...domain.Scope) (*domain.User, *domain.Org, string) {
	t.Helper()
	u, org, err := app.Service.CreateUser(context.Background(), service.SignUp{Name: "Owner", Email: email, Password: "password-" + email, OrgName: "Org of " + email})
	if err != nil {
		t.Fatal(err)
	}
	if len(scopes) == 0 {
		scopes = domain.Scopes
	}
	_, key, err := app.Service.CreateAPIKey(context.Background(), service.SystemActor(org.ID), "test", scopes)
	if err != nil {
		t.Fatal(err)
	}
	return u, org, key
}

func TestAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		app := testapp.Start(t, e.DSN)
		_, org, key := owner(t, app, "owner@example.com")
		_, _, readKey := owner(t, app, "reader@example.com", domain.ScopeRead)

		t.Run("errors", func(t *testing.T) {
			cases := []struct {
				name, key, method, path, body string
				status                        int
				code                          string
			}{
				{"no key", "", "GET", "/api/v1/org", "", 401, "unauthorized"},
				{"wrong key", "sk_nope", "GET", "/api/v1/org", "", 401, "unauthorized"},
				{"missing scope", readKey, "GET", "/api/v1/apikeys", "", 403, "forbidden"},
				{"unknown route", key, "GET", "/api/v1/nothing", "", 404, "not_found"},
				{"unknown id", key, "DELETE", "/api/v1/apikeys/01nothing", "", 404, "not_found"},
				{"unknown field", key, "POST", "/api/v1/invitations", `{"email":"x@example.com","role":"viewer","admin":true}`, 400, "invalid"},
				{"bad json", key, "POST", "/api/v1/invitations", `{"email":`, 400, "invalid"},
				{"empty body", key, "POST", "/api/v1/apikeys", ``, 400, "invalid"},
				{"bad role", key, "POST", "/api/v1/invitations", `{"email":"x@example.com","role":"king"}`, 400, "invalid"},
				{"bad scope", key, "POST", "/api/v1/apikeys", `{"name":"k","scopes":["root"]}`, 400, "invalid"},
				{"too large", key, "POST", "/api/v1/invitations", `{"email":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "too_large"},
				{"bad limit", key, "GET", "/api/v1/apikeys?limit=0", "", 400, "invalid"},
				{"limit over 200", key, "GET", "/api/v1/apikeys?limit=201", "", 400, "invalid"},
				{"bad cursor", key, "GET", "/api/v1/apikeys?cursor=!!not-a-cursor", "", 400, "invalid"},
				{"bad audit date", key, "GET", "/api/v1/audit?since=yesterday", "", 400, "invalid"},
				{"emulator endpoint off", key, "POST", "/api/v1/connections", `{"name":"x","aws_account_id":"123456789012","region":"us-east-1","access_key_id":"AKIA","secret_access_key":"s","endpoint":"http://127.0.0.1:1"}`, 400, "invalid"},
				{"role in another account", key, "POST", "/api/v1/connections", `{"name":"x","aws_account_id":"123456789012","region":"us-east-1","role_arn":"arn:aws:iam::999999999999:role/SendOps"}`, 400, "invalid"},
			}
			for _, c := range cases {
				status, body := apiCall(t, app, c.key, c.method, c.path, c.body)
				if status != c.status {
					t.Errorf("%s: status %d, want %d: %.200s", c.name, status, c.status, body)
					continue
				}
				if e := decodeErr(t, body); e.Error.Code != c.code {
					t.Errorf("%s: code %q, want %q", c.name, e.Error.Code, c.code)
				}
			}
		})

		t.Run("keys paginate, show last use, revoke", func(t *testing.T) {
			var created []string
			for i := range 5 {
				status, body := apiCall(t, app, key, "POST", "/api/v1/apikeys", fmt.Sprintf(`{"name":"k%d","scopes":["read"]}`, i))
				var k struct{ ID, Key, Prefix string }
				json.Unmarshal([]byte(body), &k)
				if status != 201 || !strings.HasPrefix(k.Key, "sk_") || !strings.HasPrefix(k.Key, k.Prefix) {
					t.Fatalf("create key: %d %s", status, body)
				}
				created = append(created, k.ID)
			}
			var seen []string
			cursor := ""
			for pages := 0; ; pages++ {
				status, body := apiCall(t, app, key, "GET", "/api/v1/apikeys?limit=2&cursor="+cursor, "")
				var l struct {
					Data []struct {
						ID  string
						Key string
					}
					NextCursor string `json:"next_cursor"`
				}
				if err := json.Unmarshal([]byte(body), &l); status != 200 || err != nil || len(l.Data) > 2 {
					t.Fatalf("page: %d %s", status, body)
				}
				for _, k := range l.Data {
					if k.Key != "" {
						t.Fatal("a listed key shows its secret")
					}
					seen = append(seen, k.ID)
				}
				if cursor = l.NextCursor; cursor == "" || pages > 10 {
					break
				}
			}
			// 5 made here + 1 of owner(): newest first, no duplicates.
			if len(seen) != 6 || !slices.IsSortedFunc(seen, func(a, b string) int { return strings.Compare(b, a) }) {
				t.Fatalf("pages gave %v", seen)
			}
			for _, id := range created {
				if !slices.Contains(seen, id) {
					t.Errorf("key %s missing from the pages", id)
				}
			}
			// The key used for these calls shows when it was last used.
			_, body := apiCall(t, app, key, "GET", "/api/v1/apikeys?limit=200", "")
			if !strings.Contains(body, `"name":"test","prefix":"`+key[:11]+`"`) || strings.Contains(body, `"last_used_at":null,"revoked_at":null}]`) && !strings.Contains(body, `"last_used_at":"`) {
				t.Errorf("last use not shown: %s", body)
			}
			// A revoked key stops working at once.
			status, body := apiCall(t, app, key, "POST", "/api/v1/apikeys", `{"name":"short-lived","scopes":["read"]}`)
			var k struct{ ID, Key string }
			json.Unmarshal([]byte(body), &k)
			if s, _ := apiCall(t, app, k.Key, "GET", "/api/v1/org", ""); s != 200 || status != 201 {
				t.Fatalf("new key: %d then %d", status, s)
			}
			if s, b := apiCall(t, app, key, "DELETE", "/api/v1/apikeys/"+k.ID, ""); s != 204 {
				t.Fatalf("revoke: %d %s", s, b)
			}
			if s, _ := apiCall(t, app, k.Key, "GET", "/api/v1/org", ""); s != 401 {
				t.Fatalf("revoked key answered %d", s)
			}
			if s, _ := apiCall(t, app, key, "DELETE", "/api/v1/apikeys/"+k.ID, ""); s != 404 {
				t.Fatalf("revoking twice answered %d", s)
			}
		})

		t.Run("a key cannot grant scopes it lacks", func(t *testing.T) {
			_, _, adminOnly := owner(t, app, "adminonly@example.com", domain.ScopeAdmin)
			status, body := apiCall(t, app, adminOnly, "POST", "/api/v1/apikeys", `{"name":"escalate","scopes":["admin","recipients:read"]}`)
			if status != 403 {
				t.Fatalf("escalation answered %d %s", status, body)
			}
		})

		t.Run("members and the last owner", func(t *testing.T) {
			status, body := apiCall(t, app, key, "GET", "/api/v1/members", "")
			var l struct {
				Data []struct {
					UserID string `json:"user_id"`
					Role   string
				}
			}
			json.Unmarshal([]byte(body), &l)
			if status != 200 || len(l.Data) != 1 || l.Data[0].Role != "owner" {
				t.Fatalf("members: %d %s", status, body)
			}
			ownerID := l.Data[0].UserID
			// Keys never touch the owner role; a signed-in owner does, and
			// cannot demote the last one.
			status, body = apiCall(t, app, key, "PATCH", "/api/v1/members/"+ownerID, `{"role":"admin"}`)
			if status != 403 || decodeErr(t, body).Error.Code != "forbidden" {
				t.Fatalf("a key demoting an owner: %d %s", status, body)
			}
			if status, body = apiCall(t, app, key, "DELETE", "/api/v1/members/"+ownerID, ""); status != 403 {
				t.Fatalf("a key removing an owner: %d %s", status, body)
			}
			b := app.SignIn(t, "owner@example.com", "password-owner@example.com")
			if p := b.Post("/settings/members", "/settings/members/"+ownerID+"/role", url.Values{"role": {"admin"}}); p.Status != 409 || !strings.Contains(p.Body, "last owner") {
				t.Fatalf("demoting the last owner: %d", p.Status)
			}

			// An admin cannot mint an admin key (it could act as an owner),
			// and the keys of a member who leaves are revoked.
			ctx := context.Background()
			owner := &domain.Actor{OrgID: org.ID, UserID: ownerID, Role: domain.RoleOwner}
			adm, _, err := app.Service.CreateUser(ctx, service.SignUp{Name: "Adm", Email: "adm@example.com", Password: "adm-password-1"})
			if err != nil {
				t.Fatal(err)
			}
			if err := app.Service.DB.Update(ctx, func(tx *store.Tx) error { return store.PutMember(ctx, tx, org.ID, adm.ID, domain.RoleAdmin) }); err != nil {
				t.Fatal(err)
			}
			admin := &domain.Actor{OrgID: org.ID, UserID: adm.ID, Email: adm.Email, Role: domain.RoleAdmin}
			if _, _, err := app.Service.CreateAPIKey(ctx, admin, "escalate", []domain.Scope{domain.ScopeAdmin}); domain.ErrorCode(err) != domain.EForbidden {
				t.Fatalf("an admin made an admin key: %v", err)
			}
			_, admKey, err := app.Service.CreateAPIKey(ctx, admin, "ci", []domain.Scope{domain.ScopeRead})
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := apiCall(t, app, admKey, "GET", "/api/v1/org", ""); s != 200 {
				t.Fatalf("admin's key: %d", s)
			}
			if err := app.Service.RemoveMember(ctx, owner, adm.ID); err != nil {
				t.Fatal(err)
			}
			if s, _ := apiCall(t, app, admKey, "GET", "/api/v1/org", ""); s != 401 {
				t.Fatalf("the key of a removed member still works: %d", s)
			}
		})

		t.Run("invitation by API, accepted in the browser, once", func(t *testing.T) {
			status, body := apiCall(t, app, key, "POST", "/api/v1/invitations", `{"email":"Dev@Example.com","role":"developer"}`)
			if status != 201 || !strings.Contains(body, `"email":"dev@example.com"`) {
				t.Fatalf("invite: %d %s", status, body)
			}
			msg := app.Mail.Wait(t, "dev@example.com", "You are invited", defaultWait)
			link := linkIn(t, msg.Text, app.URL+"/invitations/")
			path := strings.TrimPrefix(link, app.URL)

			dev := app.SignUp(t, "Dev", "dev@example.com", "password-of-dev")
			// Not verified yet: refused with a clear message.
			if p := dev.Post(path, path+"/accept", nil); p.Status != 403 || !strings.Contains(p.Body, "Verify your email address first") {
				t.Fatalf("accept unverified: %d %.300s", p.Status, p.Body)
			}
			verify := linkIn(t, app.Mail.Wait(t, "dev@example.com", "Verify your email", defaultWait).Text, app.URL+"/verify/")
			if p := dev.Get(strings.TrimPrefix(verify, app.URL)); p.Status != 200 || !strings.Contains(p.Body, "verified") {
				t.Fatalf("verify: %d", p.Status)
			}
			if p := dev.Post(path, path+"/accept", nil); p.Status != 303 {
				t.Fatalf("accept: %d %.300s", p.Status, p.Body)
			}
			if p := dev.Get("/overview"); !strings.Contains(p.Body, org.Name) {
				t.Fatal("after accepting, the organisation is not the current one")
			}
			_, body = apiCall(t, app, key, "GET", "/api/v1/members", "")
			if !strings.Contains(body, `"email":"dev@example.com","role":"developer"`) {
				t.Fatalf("member not added as developer: %s", body)
			}
			// The link works once.
			if p := dev.Get(path); p.Status != 404 {
				t.Fatalf("used invitation page: %d", p.Status)
			}
		})

		t.Run("audit log lists and exports", func(t *testing.T) {
			status, body := apiCall(t, app, key, "GET", "/api/v1/audit?action=member.", "")
			if status != 200 || !strings.Contains(body, `"action":"member.invited"`) || !strings.Contains(body, `"action":"member.joined"`) || strings.Contains(body, `"action":"apikey.`) {
				t.Fatalf("audit filtered by member.: %d %s", status, body)
			}
			status, body = apiCall(t, app, key, "GET", "/api/v1/audit/export.csv?action=apikey.revoked", "")
			lines := strings.Split(strings.TrimSpace(body), "\n")
			if status != 200 || lines[0] != "time,actor,actor_id,action,target,details,ip" || len(lines) != 3 || !strings.Contains(body, ",apikey.revoked,sk_") || !strings.Contains(body, "short-lived") || strings.Contains(body, "member.") {
				t.Fatalf("audit CSV: %d %q", status, body)
			}
		})

		t.Run("org settings", func(t *testing.T) {
			status, body := apiCall(t, app, key, "PATCH", "/api/v1/org", `{"name":"Renamed"}`)
			if status != 200 || !strings.Contains(body, `"name":"Renamed"`) {
				t.Fatalf("rename: %d %s", status, body)
			}
			// Requiring MFA needs the acting owner to have it: a key may set it.
			if status, body = apiCall(t, app, key, "PATCH", "/api/v1/org", `{"require_mfa":true}`); status != 200 || !strings.Contains(body, `"require_mfa":true`) {
				t.Fatalf("require MFA: %d %s", status, body)
			}
			if status, _ = apiCall(t, app, readKey, "PATCH", "/api/v1/org", `{"name":"x"}`); status != 403 {
				t.Fatalf("read key renamed the org: %d", status)
			}
			// Retention: a stored setting, bounded, audited.
			if status, body = apiCall(t, app, key, "PATCH", "/api/v1/org", `{"retention_days":0}`); status != 400 || !strings.Contains(body, "retention_days") {
				t.Fatalf("retention 0: %d %s", status, body)
			}
			if status, body = apiCall(t, app, key, "PATCH", "/api/v1/org", `{"retention_days":30}`); status != 200 || !strings.Contains(body, `"retention_days":30`) {
				t.Fatalf("retention 30: %d %s", status, body)
			}
			if _, body = apiCall(t, app, key, "GET", "/api/v1/audit?action=org.retention_changed", ""); !strings.Contains(body, "to 30 days") {
				t.Fatalf("retention change not audited: %s", body)
			}
		})

		t.Run("openapi document", func(t *testing.T) {
			status, body := apiCall(t, app, "", "GET", "/api/v1/openapi.json", "")
			var doc struct {
				OpenAPI string `json:"openapi"`
			}
			if status != 200 || json.Unmarshal([]byte(body), &doc) != nil || doc.OpenAPI != "3.1.0" {
				t.Fatalf("openapi: %d", status)
			}
		})
	})
}

// TestOpenAPICoversRoutes fails when an /api/v1 route is missing from the
// OpenAPI document, or the document names a route the server lacks.
func TestOpenAPICoversRoutes(t *testing.T) {
	app := testapp.Start(t, testdb.SQLite(t))
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, rt := range app.Server.Routes() {
		if !rt.API {
			continue
		}
		served[strings.ToLower(rt.Method)+" "+rt.Pattern] = true
		if _, ok := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s is not in openapi.json", rt.Method, rt.Pattern)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if !served[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which the server does not serve", strings.ToUpper(method), path)
			}
		}
	}
	if len(served) < 10 {
		t.Fatalf("only %d API routes found", len(served))
	}
}
