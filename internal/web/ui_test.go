package web_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

func TestWebSecurity(t *testing.T) {
	app := testapp.Start(t, testdb.SQLite(t))
	b := app.NewBrowser(t)

	t.Run("headers", func(t *testing.T) {
		p := b.Get("/login")
		want := map[string]string{
			"Content-Security-Policy": "frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
		}
		for h, v := range want {
			if !strings.Contains(p.Header.Get(h), v) {
				t.Errorf("%s = %q, want it to hold %q", h, p.Header.Get(h), v)
			}
		}
		if csp := p.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows unsafe-inline: %s", csp)
		}
		if p.Header.Get("Strict-Transport-Security") != "" {
			t.Error("HSTS sent over plain http")
		}
		if p.Header.Get("X-Request-Id") == "" {
			t.Error("no request id")
		}
	})

	t.Run("assets are content-hashed and cached", func(t *testing.T) {
		p := b.Get("/login")
		i := strings.Index(p.Body, `href="/static/app.`)
		if i < 0 {
			t.Fatal("no hashed stylesheet link")
		}
		href := p.Body[i+6 : i+6+strings.Index(p.Body[i+6:], `"`)]
		css := b.Get(href)
		if css.Status != 200 || !strings.Contains(css.Header.Get("Cache-Control"), "immutable") || !strings.Contains(css.Body, "--brand") {
			t.Fatalf("%s: %d %q", href, css.Status, css.Header.Get("Cache-Control"))
		}
		if b.Get("/static/app.css").Status != 404 {
			t.Error("an unhashed asset name is served")
		}
	})

	t.Run("forms refuse missing tokens and other sites", func(t *testing.T) {
		if _, _, err := app.Service.CreateUser(context.Background(), service.SignUp{Name: "C", Email: "csrf@example.com", Password: "password-of-csrf"}); err != nil {
			t.Fatal(err)
		}
		form := url.Values{"email": {"csrf@example.com"}, "password": {"password-of-csrf"}}
		if p := b.PostRaw("/login", form); p.Status != 403 {
			t.Errorf("login without a CSRF token: %d", p.Status)
		}
		form.Set("csrf", b.Get("/login").CSRF())
		req, _ := http.NewRequest("POST", app.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := b.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("cross-site login: %d", resp.StatusCode)
		}
	})

	t.Run("session cookie", func(t *testing.T) {
		b := app.NewBrowser(t)
		p := b.Post("/login", "/login", url.Values{"email": {"csrf@example.com"}, "password": {"password-of-csrf"}})
		var ck *http.Cookie
		for _, c := range (&http.Response{Header: p.Header}).Cookies() {
			if c.Name == "sendops_session" {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || len(ck.Value) < 43 {
			t.Fatalf("session cookie %+v", ck)
		}
	})

	t.Run("sign-in does not tell which part was wrong", func(t *testing.T) {
		b := app.NewBrowser(t)
		known := b.Post("/login", "/login", url.Values{"email": {"csrf@example.com"}, "password": {"wrong-password!"}})
		unknown := b.Post("/login", "/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong-password!"}})
		if known.Status != 401 || unknown.Status != 401 {
			t.Fatalf("statuses %d and %d", known.Status, unknown.Status)
		}
		msg := "The email address or the password is wrong."
		if !strings.Contains(known.Body, msg) || !strings.Contains(unknown.Body, msg) {
			t.Fatal("the two failures read differently")
		}
		// What the user typed is kept, the password is not.
		if !strings.Contains(known.Body, `value="csrf@example.com"`) || strings.Contains(known.Body, "wrong-password!") {
			t.Error("the form did not keep the email, or echoed the password")
		}
	})

	t.Run("sign-in is throttled per account", func(t *testing.T) {
		if _, _, err := app.Service.CreateUser(context.Background(), service.SignUp{Name: "T", Email: "throttle@example.com", Password: "password-of-throttle"}); err != nil {
			t.Fatal(err)
		}
		b := app.NewBrowser(t)
		var last *testapp.Page
		for i := 0; i < 11; i++ {
			last = b.Post("/login", "/login", url.Values{"email": {"throttle@example.com"}, "password": {"guess-number-" + string(rune('a'+i))}})
		}
		if last.Status != 429 || last.Header.Get("Retry-After") == "" {
			t.Fatalf("11th failure: %d, Retry-After %q", last.Status, last.Header.Get("Retry-After"))
		}
		// Even the right password waits now.
		if p := b.Post("/login", "/login", url.Values{"email": {"throttle@example.com"}, "password": {"password-of-throttle"}}); p.Status != 429 {
			t.Fatalf("right password while throttled: %d", p.Status)
		}
	})
}

func TestHTTPSBaseURL(t *testing.T) {
	app := testapp.Start(t, testdb.SQLite(t), "SENDOPS_BASE_URL", "https://sendops.example.com")
	if _, _, err := app.Service.CreateUser(context.Background(), service.SignUp{Name: "S", Email: "s@example.com", Password: "password-of-s!"}); err != nil {
		t.Fatal(err)
	}
	b := app.NewBrowser(t)
	csrf := b.Get("/login")
	if !strings.Contains(csrf.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Error("no HSTS behind https")
	}
	var secure bool
	for _, c := range (&http.Response{Header: csrf.Header}).Cookies() {
		secure = secure || (c.Name == "sendops_csrf" && c.Secure)
	}
	if !secure {
		t.Error("cookies are not Secure behind https")
	}
}

func TestAccountFlows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		app := testapp.Start(t, e.DSN)
		ctx := context.Background()

		t.Run("sign-up form keeps input and names the field", func(t *testing.T) {
			b := app.NewBrowser(t)
			p := b.Post("/signup", "/signup", url.Values{"name": {"Grace"}, "email": {"grace@example.com"}, "password": {"short"}})
			if p.Status != 400 || !strings.Contains(p.Body, "Use at least 10 characters.") || !strings.Contains(p.Body, `value="grace@example.com"`) {
				t.Fatalf("weak password: %d %.500s", p.Status, p.Body)
			}
			if _, err := app.Service.UserByEmail(ctx, "grace@example.com"); !domain.IsNotFound(err) {
				t.Fatal("a refused sign-up stored a user")
			}
		})

		t.Run("password reset signs out everywhere", func(t *testing.T) {
			old := app.SignUp(t, "Rita", "rita@example.com", "first-password-1")
			other := app.SignIn(t, "rita@example.com", "first-password-1")
			b := app.NewBrowser(t)
			p := b.Post("/forgot", "/forgot", url.Values{"email": {"rita@example.com"}})
			p2 := b.Post("/forgot", "/forgot", url.Values{"email": {"nobody@example.com"}})
			if p.Status != 200 || p2.Status != 200 || !strings.Contains(p.Body, "Check your email") || !strings.Contains(p2.Body, "Check your email") {
				t.Fatalf("forgot: %d/%d", p.Status, p2.Status)
			}
			link := linkIn(t, app.Mail.Wait(t, "rita@example.com", "Reset your SendOps password", defaultWait).Text, app.URL+"/reset/")
			path := strings.TrimPrefix(link, app.URL)
			if p := b.Post(path, path, url.Values{"password": {"second-password-2"}}); p.Status != 303 {
				t.Fatalf("reset: %d %.300s", p.Status, p.Body)
			}
			app.Mail.Wait(t, "rita@example.com", "password was changed", defaultWait)
			for _, br := range []*testapp.Browser{old, other} {
				if p := br.Get("/settings/profile"); p.Status != 303 || !strings.HasPrefix(p.Location, "/login") {
					t.Errorf("a session survived the reset: %d", p.Status)
				}
			}
			if p := b.Get(path); p.Status != 404 {
				t.Errorf("reset link works twice: %d", p.Status)
			}
			app.SignIn(t, "rita@example.com", "second-password-2")
		})

		t.Run("change password keeps this session only", func(t *testing.T) {
			a := app.SignUp(t, "Carl", "carl@example.com", "carl-password-1")
			other := app.SignIn(t, "carl@example.com", "carl-password-1")
			p := a.Post("/settings/profile", "/settings/password", url.Values{"current_password": {"nope-nope-nope"}, "new_password": {"carl-password-2"}})
			if p.Status != 400 || !strings.Contains(p.Body, "This is not your current password.") {
				t.Fatalf("wrong current password: %d", p.Status)
			}
			p = a.Post("/settings/profile", "/settings/password", url.Values{"current_password": {"carl-password-1"}, "new_password": {"carl-password-2"}})
			if p.Status != 303 {
				t.Fatalf("change: %d %.300s", p.Status, p.Body)
			}
			if a.Get("/settings/profile").Status != 200 {
				t.Error("the changing session was signed out")
			}
			if other.Get("/settings/profile").Status != 303 {
				t.Error("another session survived the change")
			}
		})

		t.Run("change email needs the new address confirmed", func(t *testing.T) {
			a := app.SignUp(t, "Eve", "eve@example.com", "eve-password-1")
			p := a.Post("/settings/profile", "/settings/email", url.Values{"new_email": {"eve@new.example"}, "password": {"eve-password-1"}})
			if p.Status != 303 {
				t.Fatalf("request: %d %.300s", p.Status, p.Body)
			}
			link := linkIn(t, app.Mail.Wait(t, "eve@new.example", "Confirm your new email", defaultWait).Text, app.URL+"/email/confirm/")
			if p := a.Get(strings.TrimPrefix(link, app.URL)); p.Status != 200 {
				t.Fatalf("confirm: %d", p.Status)
			}
			app.Mail.Wait(t, "eve@example.com", "email address was changed", defaultWait)
			app.SignIn(t, "eve@new.example", "eve-password-1")
		})

		t.Run("MFA sign-in, recovery codes, required by the organisation", func(t *testing.T) {
			u, org, err := app.Service.CreateUser(ctx, service.SignUp{Name: "Max", Email: "max@example.com", Password: "max-password-1", OrgName: "MFA org"})
			if err != nil {
				t.Fatal(err)
			}
			b := app.SignIn(t, "max@example.com", "max-password-1")
			if p := b.Post("/settings/security", "/settings/mfa/start", nil); p.Status != 303 {
				t.Fatalf("start: %d", p.Status)
			}
			u, _ = app.Service.User(ctx, u.ID)
			setup, err := app.Service.PendingMFA(ctx, u)
			if err != nil || setup == nil {
				t.Fatal(err)
			}
			if p := b.Post("/settings/security", "/settings/mfa/enable", url.Values{"code": {"000000"}}); p.Status != 400 || !strings.Contains(p.Body, "does not match") {
				t.Fatalf("wrong code: %d", p.Status)
			}
			code, _ := totp.GenerateCode(setup.Secret, time.Now())
			before := sessionCookie(t, app, b)
			p := b.Post("/settings/security", "/settings/mfa/enable", url.Values{"code": {code}})
			if after := sessionCookie(t, app, b); after == before || after == "" {
				t.Error("the session was not rotated when MFA was turned on")
			}
			stale := app.NewBrowser(t)
			appURL, _ := url.Parse(app.URL)
			stale.Client.Jar.SetCookies(appURL, []*http.Cookie{{Name: "sendops_session", Value: before}})
			if stale.Get("/settings/profile").Status != 303 {
				t.Error("the session id from before MFA still works")
			}
			if p.Status != 200 || strings.Count(p.Body, "<li><code>") != 10 {
				t.Fatalf("enable: %d %.500s", p.Status, p.Body)
			}
			recovery := p.Body[strings.Index(p.Body, "<li><code>")+10:]
			recovery = recovery[:strings.Index(recovery, "<")]
			app.Mail.Wait(t, "max@example.com", "Two-factor authentication turned on", defaultWait)

			// The same code cannot be used again (replay), a recovery code works once.
			c := app.NewBrowser(t)
			if p := c.Post("/login", "/login", url.Values{"email": {"max@example.com"}, "password": {"max-password-1"}}); p.Status != 303 || !strings.HasPrefix(p.Location, "/login/mfa") {
				t.Fatalf("password step: %d %q", p.Status, p.Location)
			}
			if p := c.Get("/overview"); p.Status != 303 {
				t.Fatal("a half-signed-in session reached the app")
			}
			if p := c.Post("/login/mfa", "/login/mfa", url.Values{"code": {code}}); p.Status != 400 {
				t.Fatalf("replayed TOTP code: %d", p.Status)
			}
			if p := c.Post("/login/mfa", "/login/mfa", url.Values{"code": {recovery}}); p.Status != 303 {
				t.Fatalf("recovery code: %d %.300s", p.Status, p.Body)
			}
			if p := c.Get("/overview"); p.Status != 200 {
				t.Fatalf("after MFA: %d", p.Status)
			}
			d := app.NewBrowser(t)
			d.Post("/login", "/login", url.Values{"email": {"max@example.com"}, "password": {"max-password-1"}})
			if p := d.Post("/login/mfa", "/login/mfa", url.Values{"code": {recovery}}); p.Status != 400 {
				t.Fatalf("recovery code used twice: %d", p.Status)
			}

			// The owner requires MFA; a member without it is sent to set it up.
			owner := &domain.Actor{OrgID: org.ID, UserID: u.ID, Email: u.Email, Role: domain.RoleOwner}
			if _, err := app.Service.Invite(ctx, owner, "nomfa@example.com", domain.RoleViewer); err != nil {
				t.Fatal(err)
			}
			nm, _, err := app.Service.CreateUser(ctx, service.SignUp{Name: "No", Email: "nomfa@example.com", Password: "nomfa-password"})
			if err != nil {
				t.Fatal(err)
			}
			tok := linkIn(t, app.Mail.Wait(t, "nomfa@example.com", "invited", defaultWait).Text, app.URL+"/invitations/")
			if _, err := app.Service.AcceptInvitation(ctx, nm, strings.TrimPrefix(tok, app.URL+"/invitations/"), service.Client{}); err != nil {
				t.Fatal(err)
			}
			req := true
			if _, err := app.Service.UpdateOrg(ctx, owner, service.OrgSettings{RequireMFA: &req}); err != nil {
				t.Fatal(err)
			}
			m := app.SignIn(t, "nomfa@example.com", "nomfa-password")
			m.Post("/overview", "/orgs/"+org.ID+"/switch", nil)
			if p := m.Get("/overview"); p.Status != 303 || !strings.HasPrefix(p.Location, "/settings/security") {
				t.Fatalf("member without MFA: %d %q", p.Status, p.Location)
			}
			if p := m.Get("/settings/security"); p.Status != 200 || !strings.Contains(p.Body, "requires two-factor authentication") {
				t.Fatalf("security page: %d", p.Status)
			}
		})

		t.Run("sessions are listed and revoked", func(t *testing.T) {
			a := app.SignUp(t, "Sam", "sam@example.com", "sam-password-1")
			other := app.SignIn(t, "sam@example.com", "sam-password-1")
			u, _ := app.Service.UserByEmail(ctx, "sam@example.com")
			ss, _ := app.Service.Sessions(ctx, u.ID)
			if len(ss) != 2 {
				t.Fatalf("%d sessions", len(ss))
			}
			p := a.Get("/settings/security")
			if strings.Count(p.Body, "/revoke") != 1 || !strings.Contains(p.Body, "This session") {
				t.Fatalf("sessions list: %.300s", p.Body)
			}
			for _, s := range ss {
				if strings.Contains(p.Body, "/settings/sessions/"+s.ID+"/revoke") {
					if r := a.Post("/settings/security", "/settings/sessions/"+s.ID+"/revoke", nil); r.Status != 303 {
						t.Fatalf("revoke: %d", r.Status)
					}
				}
			}
			if other.Get("/settings/profile").Status != 303 {
				t.Error("the revoked session still works")
			}
			if a.Get("/settings/profile").Status != 200 {
				t.Error("the revoking session was signed out")
			}
		})

		t.Run("last owner cannot leave; roles follow the table", func(t *testing.T) {
			a := app.SignUp(t, "Lou", "lou@example.com", "lou-password-1")
			if p := a.Post("/settings/organisation", "/settings/organisation/leave", nil); p.Status != 409 || !strings.Contains(p.Body, "last owner") {
				t.Fatalf("last owner leaving: %d", p.Status)
			}
			if p := a.Get("/settings/audit"); p.Status != 200 || !strings.Contains(p.Body, "org.created") {
				t.Fatalf("audit page: %d", p.Status)
			}
			if p := a.Get("/settings/audit.csv?action=org.created"); p.Status != 200 || !strings.HasPrefix(p.Body, "time,actor") || !strings.Contains(p.Body, "org.created") {
				t.Fatalf("audit CSV: %d %q", p.Status, p.Body)
			}
		})
	})
}

func TestOperations(t *testing.T) {
	dsn := testdb.SQLite(t)
	app := testapp.Start(t, dsn)
	b := app.NewBrowser(t)
	if p := b.Get("/healthz"); p.Status != 200 {
		t.Fatalf("healthz %d", p.Status)
	}
	if p := b.Get("/readyz"); p.Status != 200 {
		t.Fatalf("readyz %d", p.Status)
	}
	b.Get("/login")
	p := b.Get("/metrics")
	for _, want := range []string{`sendops_http_requests_total{route="GET /login",status="200"}`, "sendops_http_request_duration_seconds_bucket", "go_sql_open_connections"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Secrets never reach the log.
	_, org, err := app.Service.CreateUser(context.Background(), service.SignUp{Name: "L", Email: "log@example.com", Password: "log-password-secret"})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := app.Service.CreateAPIKey(context.Background(), service.SystemActor(org.ID), "k", domain.Scopes)
	apiCall(t, app, key, "GET", "/api/v1/org", "")
	lb := app.SignIn(t, "log@example.com", "log-password-secret")
	session := sessionCookie(t, app, lb)
	app.Mail.Wait(t, "log@example.com", "New sign-in", defaultWait)
	logs := app.Logs.String()
	for _, secret := range []string{"log-password-secret", key, session} {
		if secret == "" || strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret (%.8s…)", secret)
		}
	}
	if !strings.Contains(logs, "request_id=") {
		t.Error("request log lines lack the request id")
	}

	// A schema newer than the binary knows: not ready.
	db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '')`); err != nil {
		t.Fatal(err)
	}
	if p := b.Get("/readyz"); p.Status != 503 {
		t.Fatalf("readyz on a future schema: %d", p.Status)
	}
}

// sessionCookie returns the browser's session cookie value.
func sessionCookie(t *testing.T, app *testapp.App, b *testapp.Browser) string {
	u, _ := url.Parse(app.URL)
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == "sendops_session" {
			return c.Value
		}
	}
	return ""
}

func TestConnectionsPage(t *testing.T) {
	app := testapp.Start(t, testdb.SQLite(t))
	b := app.SignUp(t, "Cora", "cora@example.com", "cora-password-1")
	p := b.Post("/connections", "/connections", url.Values{"name": {"Prod"}, "aws_account_id": {"12345"}, "region": {"us-east-1"}})
	if p.Status != 400 || !strings.Contains(p.Body, "An AWS account id is 12 digits.") || !strings.Contains(p.Body, `value="Prod"`) {
		t.Fatalf("bad account id: %d", p.Status)
	}
	p = b.Post("/connections", "/connections", url.Values{"name": {"Prod"}, "aws_account_id": {"123456789012"}, "region": {"us-east-1"}})
	if p.Status != 200 || !strings.Contains(p.Body, `id="ingest-secret"`) || !strings.Contains(p.Body, app.URL+"/ingest/eventbridge") {
		t.Fatalf("create: %d %.500s", p.Status, p.Body)
	}
	// A role in another account is refused by the role field, the rest kept.
	if r := b.Post("/connections", "/connections", url.Values{"name": {"Other"}, "aws_account_id": {"123456789012"}, "region": {"us-east-1"},
		"role_arn": {"arn:aws:iam::999999999999:role/SendOps"}}); r.Status != 400 || !strings.Contains(r.Body, "The role is in account 999999999999") ||
		!strings.Contains(r.Body, `value="arn:aws:iam::999999999999:role/SendOps"`) || !strings.Contains(r.Body, `id="external-id">sendops-`) {
		t.Fatalf("role in another account: %d", r.Status)
	}
	secretStart := strings.Index(p.Body, `id="ingest-secret" class="secret">`) + len(`id="ingest-secret" class="secret">`)
	secret := p.Body[secretStart : secretStart+strings.Index(p.Body[secretStart:], "<")]
	// The secret is shown once: the list does not show it again.
	if list := b.Get("/connections"); list.Status != 200 || strings.Contains(list.Body, secret) || !strings.Contains(list.Body, "123456789012") {
		t.Fatalf("list: %d", list.Status)
	}
	// A viewer sees connections but cannot add one.
	u, _ := app.Service.UserByEmail(context.Background(), "cora@example.com")
	ms, _ := app.Service.Memberships(context.Background(), u.ID)
	owner := &domain.Actor{OrgID: ms[0].OrgID, UserID: u.ID, Email: u.Email, Role: domain.RoleOwner}
	if _, err := app.Service.Invite(context.Background(), owner, "vic@example.com", domain.RoleViewer); err != nil {
		t.Fatal(err)
	}
	vic, _, _ := app.Service.CreateUser(context.Background(), service.SignUp{Name: "Vic", Email: "vic@example.com", Password: "vic-password-1"})
	tok := strings.TrimPrefix(linkIn(t, app.Mail.Wait(t, "vic@example.com", "invited", defaultWait).Text, app.URL+"/invitations/"), app.URL+"/invitations/")
	if _, err := app.Service.AcceptInvitation(context.Background(), vic, tok, service.Client{}); err != nil {
		t.Fatal(err)
	}
	v := app.SignIn(t, "vic@example.com", "vic-password-1")
	v.Post("/overview", "/orgs/"+ms[0].OrgID+"/switch", nil)
	if p := v.Get("/connections"); p.Status != 200 || !strings.Contains(p.Body, "Prod") || strings.Contains(p.Body, "Add a connection") {
		t.Fatalf("viewer's page: %d", p.Status)
	}
	if p := v.Post("/connections", "/connections", url.Values{"name": {"X"}, "aws_account_id": {"123456789012"}, "region": {"us-east-1"}}); p.Status != 403 {
		t.Fatalf("viewer added a connection: %d", p.Status)
	}
}

// A refused form keeps the choices made in it.
func TestFormsKeepChoices(t *testing.T) {
	app := testapp.Start(t, testdb.SQLite(t))
	b := app.SignUp(t, "Kim", "kim@example.com", "kim-password-1")
	p := b.Post("/settings/apikeys", "/settings/apikeys", url.Values{"name": {""}, "scopes": {"write", "recipients:read"}})
	if p.Status != 400 || !strings.Contains(p.Body, `value="write" checked`) || !strings.Contains(p.Body, `value="recipients:read" checked`) || strings.Contains(p.Body, `value="read" checked`) {
		t.Fatalf("API key form: %d", p.Status)
	}
	p = b.Post("/settings/members", "/settings/members/invite", url.Values{"email": {"not-an-address"}, "role": {"admin"}})
	if p.Status != 400 || !strings.Contains(p.Body, `<option value="admin" selected>`) || !strings.Contains(p.Body, `value="not-an-address"`) {
		t.Fatalf("invite form: %d", p.Status)
	}
}
