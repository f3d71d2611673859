package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

// simGate serves the emulator through a hook that sees each request
// before the emulator does, and may hold it.
type simGate struct {
	mu   sync.Mutex
	hook func(op string)
}

// gateSim points the environment's connections at a gate in front of the
// emulator.
func (v *awsEnv) gateSim(t *testing.T) *simGate {
	t.Helper()
	g := &simGate{}
	h := v.Sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		hook := g.hook
		g.mu.Unlock()
		if hook != nil {
			hook(r.Method + " " + r.URL.Path)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	v.SimURL = srv.URL
	return g
}

// set replaces the hook (nil: none).
func (g *simGate) set(hook func(op string)) {
	g.mu.Lock()
	g.hook = hook
	g.mu.Unlock()
}

// slow makes every call whose operation starts with op take d.
func (g *simGate) slow(op string, d time.Duration) {
	g.set(func(got string) {
		if strings.HasPrefix(got, op) {
			time.Sleep(d)
		}
	})
}

// abandon sends a request whose client goes away when SendOps makes its
// nth call starting with op, before AWS answers that call.
func (g *simGate) abandon(t *testing.T, v *awsEnv, op string, nth int, method, path, ctype, body string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	seen := 0
	g.set(func(got string) {
		if !strings.HasPrefix(got, op) {
			return
		}
		mu.Lock()
		seen++
		n := seen
		mu.Unlock()
		if n == nth {
			cancel()
			time.Sleep(300 * time.Millisecond) // SendOps sees the client go
		}
	})
	defer g.set(nil)
	req, err := http.NewRequestWithContext(ctx, method, v.App.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+v.Key)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if seen < nth {
		t.Fatalf("%s %s: SendOps made %d calls of %s, and the client never left", method, path, seen, op)
	}
}

// waitAudit waits for an audit entry of action that holds every fragment.
func waitAudit(t *testing.T, v *awsEnv, action string, fragments ...string) {
	t.Helper()
	var body string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, body = apiCall(t, v.App, v.Key, "GET", "/api/v1/audit?action="+url.QueryEscape(action), "")
		ok := strings.Contains(body, `"action":"`+action+`"`)
		for _, f := range fragments {
			ok = ok && strings.Contains(body, f)
		}
		if ok {
			return
		}
	}
	t.Fatalf("no audit entry %s with %q: %s", action, fragments, body)
}

// A change SendOps began in AWS is finished, undone when half made, and
// audited, even when the client goes away while AWS answers.
func TestSESChangesOutliveTheClient(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		g := v.gateSim(t)
		conn, _ := v.roleConnection(t, "prod")
		base := "/api/v1/connections/" + conn
		ctx := context.Background()
		admin := sesAdmin(t, v)

		g.abandon(t, v, "PUT /v2/email/suppression/addresses", 1, "PUT", base+"/suppression/gone@example.com", "application/json", `{"reason":"BOUNCE"}`)
		waitAudit(t, v, "suppression.added", `"target":"gone@example.com"`)
		if _, err := admin.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("gone@example.com")}); err != nil {
			t.Fatalf("the address is not on the list: %v", err)
		}

		g.abandon(t, v, "DELETE /v2/email/suppression/addresses", 1, "DELETE", base+"/suppression/gone@example.com", "", "")
		waitAudit(t, v, "suppression.removed", `"target":"gone@example.com"`)

		// An import stops when its client goes; what AWS took is audited.
		file := "email,reason\n"
		for i := range 10 {
			file += fmt.Sprintf("user%d@example.com,BOUNCE\n", i)
		}
		g.abandon(t, v, "PUT /v2/email/suppression/addresses", 3, "POST", base+"/suppression/import", "text/csv", file)
		waitAudit(t, v, "suppression.imported", "3 of 10 addresses applied; stopped at line 5")
		out, err := admin.ListSuppressedDestinations(ctx, &sesv2.ListSuppressedDestinationsInput{})
		if err != nil || len(out.SuppressedDestinationSummaries) != 3 {
			t.Fatalf("after the import stopped, the list holds %d addresses (%v), want 3", len(out.SuppressedDestinationSummaries), err)
		}

		// A domain whose MAIL FROM domain AWS refuses is removed again.
		v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", append([]string{"ses:CreateEmailIdentity", "ses:DeleteEmailIdentity"}, sesValidation...))
		g.abandon(t, v, "PUT /v2/email/identities/half.example/mail-from", 1, "POST", base+"/identities", "application/json",
			`{"identity":"half.example","mail_from_domain":"bounce.half.example"}`)
		var gerr error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, gerr = admin.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("half.example")}); gerr != nil {
				break
			}
		}
		if gerr == nil || !strings.Contains(gerr.Error(), "NotFound") {
			t.Fatalf("the half-made identity is still in SES: %v", gerr)
		}
	})
}

// A suppression list export is audited before the first address leaves,
// so that a download cut short is in the audit log too.
func TestSESSuppressionExportAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		g := v.gateSim(t)
		conn, _ := v.roleConnection(t, "prod")
		for i := range 2500 {
			v.Sim.AddSuppressedDestination(v.Customer, fmt.Sprintf("user%05d@example.com", i), "BOUNCE", time.Now())
		}
		g.abandon(t, v, "GET /v2/email/suppression/addresses", 2, "GET", "/api/v1/connections/"+conn+"/suppression/export.csv?reason=bounce", "", "")
		waitAudit(t, v, "suppression.exported", "reason BOUNCE")
	})
}

// The addresses of the suppression list are read and removed in the form
// they are stored in, whatever the case they are given in.
func TestSESSuppressionAddressForms(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		conn, _ := v.roleConnection(t, "prod")
		base := "/api/v1/connections/" + conn + "/suppression/"
		status, body := apiCall(t, v.App, v.Key, "PUT", base+"gone@example.com", `{"reason":"BOUNCE"}`)
		sesExpect(t, "put", status, body, 200)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"%20Gone@Example.COM", "")
		sesExpect(t, "get in another case", status, body, 200, `"email":"gone@example.com"`)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"not-an-address", "")
		sesExpect(t, "get a non-address", status, body, 400, `"field":"email"`, "Enter an email address")
		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"Gone@Example.com", "")
		sesExpect(t, "delete in another case", status, body, 204)
		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"Gone@Example.com", "")
		sesExpect(t, "delete again", status, body, 404, "gone@example.com is not on the suppression list.")
		waitAudit(t, v, "suppression.removed", `"target":"gone@example.com"`)
		// An address SES holds in a form SendOps would not take as input.
		v.Sim.AddSuppressedDestination(v.Customer, `"odd,one"@example.com`, "BOUNCE", time.Now())
		status, body = apiCall(t, v.App, v.Key, "DELETE", base+url.PathEscape(`"Odd,One"@Example.com`), "")
		sesExpect(t, "delete an odd address", status, body, 204)
	})
}

// The pages that read several things from AWS read them side by side, and
// show what could not be read instead of failing whole.
func TestSESPagesReadSideBySide(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		g := v.gateSim(t)
		var conns []string
		for i := range 4 {
			id, _ := v.roleConnection(t, fmt.Sprintf("account%d", i))
			conns = append(conns, id)
		}
		b := v.App.SignIn(t, "aws@example.com", "password-aws@example.com")
		const delay = 600 * time.Millisecond
		g.slow("GET /v2/email/identities", delay)
		start := time.Now()
		sesPage(t, "identities section", b.Get("/identities"), 200, "account0", "account3")
		if took := time.Since(start); took > 3*delay {
			t.Errorf("the Identities section took %v to read 4 accounts of %v each", took, delay)
		}
		g.set(nil)

		cp := "/connections/" + conns[0] + "/configuration-sets"
		for i := range 6 {
			if status, body := apiCall(t, v.App, v.Key, "POST", "/api/v1"+cp, fmt.Sprintf(`{"name":"set%d"}`, i)); status != 201 {
				t.Fatalf("create a set: %d %s", status, body)
			}
		}
		g.slow("GET /v2/email/configuration-sets/", delay)
		start = time.Now()
		p := b.Get(cp)
		took := time.Since(start)
		sesPage(t, "configuration sets", p, 200, "<strong>set0</strong>", "<strong>set5</strong>")
		if took > 4*delay {
			t.Errorf("the configuration sets page took %v to read 6 sets of %v each", took, delay)
		}
		g.set(nil)

		v.Sim.SetRolePermissions(v.Customer, "SendOps-account0", append([]string{"ses:GetConfigurationSet"}, sesValidation...))
		p = b.Get(cp)
		sesPage(t, "destinations denied", p, 200, "<strong>set3</strong>", "Could not be read: ses:GetConfigurationSetEventDestinations is denied")
		if n := strings.Count(p.Body, "Could not be read"); n != 6 {
			t.Errorf("%d sets say their destinations could not be read, want 6", n)
		}
	})
}

// Showing a connection reads the organisation's ExternalId without
// writing: a page view does not wait for the database's writer.
func TestExternalIDRead(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		conn, _ := v.roleConnection(t, "prod")
		b := v.App.SignIn(t, "aws@example.com", "password-aws@example.com")
		sesPage(t, "connection", b.Get("/connections/"+conn), 200, "prod")

		// Hold the writer (and, on PostgreSQL, every write to orgs).
		held, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- v.App.DB.Update(context.Background(), func(tx *store.Tx) error {
				if e.Name == "postgres" {
					if _, err := tx.Exec(context.Background(), `LOCK TABLE orgs IN EXCLUSIVE MODE`); err != nil {
						return err
					}
				}
				close(held)
				<-release
				return nil
			})
		}()
		<-held
		defer func() {
			close(release)
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		for _, path := range []string{"/connections/" + conn, "/connections"} {
			got := make(chan int, 1)
			go func() { got <- b.Get(path).Status }()
			select {
			case status := <-got:
				if status != 200 {
					t.Errorf("%s: %d", path, status)
				}
			case <-time.After(3 * time.Second):
				t.Fatalf("%s waits for the database's writer", path)
			}
		}
	})
}
