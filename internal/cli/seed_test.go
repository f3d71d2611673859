package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/seed"
	"sendops/internal/service"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// testappKey is the secret key testapp starts the server with: the
// commands seal with it too, so that the server opens what they sealed.
const testappKey = "test-secret-key-0123456789abcdef0123456789"

// TestSeedCommand seeds two organisations with the same seed: each has
// exactly the messages asked for, which the API shows, the same in both;
// seeding again adds nothing; an unknown organisation is refused in one
// line.
func TestSeedCommand(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		env := with(engineEnv(e), "SENDOPS_DB", e.DSN, "SENDOPS_SECRET_KEY", testappKey)
		pwFile := filepath.Join(t.TempDir(), "password")
		if err := os.WriteFile(pwFile, []byte("correct horse battery staple\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var orgs []string
		for _, email := range []string{"a@example.com", "b@example.com"} {
			status, out, errOut := sendops(ctx, env, "user", "create", "--email", email, "--password-file", pwFile, "--org", "Org of "+email)
			if status != 0 {
				t.Fatalf("user create = %d, %q, %q", status, out, errOut)
			}
			orgs = append(orgs, strings.TrimSpace(out))
		}
		// Within the organisations' retention (7 days), so that searches
		// see every message; --end makes the two runs alike.
		const n = 120
		end := time.Now().UTC().Truncate(time.Minute)
		args := func(org string) []string {
			return []string{"seed", "--messages", "120", "--org", org, "--seed", "7", "--days", "5", "--end", end.Format(time.RFC3339)}
		}
		for _, org := range orgs {
			status, out, errOut := sendops(ctx, env, args(org)...)
			if status != 0 || !strings.Contains(out, `into the connection "Seed data"`) || !strings.Contains(out, "made now") ||
				!strings.Contains(out, "stored 120 messages") || !strings.Contains(out, "events/s on "+e.Name) {
				t.Fatalf("seed = %d\nstdout %s\nstderr %s", status, out, errOut)
			}
		}
		// Again: the same connection, nothing new.
		status, out, errOut := sendops(ctx, env, args(orgs[0])...)
		if status != 0 || strings.Contains(out, "made now") || !strings.Contains(out, "stored 120 messages") || !strings.Contains(out, " (0 new)") {
			t.Fatalf("seed again = %d\nstdout %s\nstderr %s", status, out, errOut)
		}

		status, out, errOut = sendops(ctx, env, "seed", "--messages", "10", "--org", "01nosuchorganisation")
		if status != 1 || out != "" || errOut != "sendops: No organisation has the id \"01nosuchorganisation\".\n" {
			t.Errorf("seed of an unknown organisation = %d, stdout %q, stderr %q; want 1 and one line", status, out, errOut)
		}
		status, _, errOut = sendops(ctx, env, "seed", "--org", orgs[0])
		if status != 2 || !strings.Contains(errOut, "--messages") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("seed without --messages = %d, stderr %q; want 2 naming --messages", status, errOut)
		}

		// Through the API: every message of the seed, the same in both
		// organisations, and no other.
		app := testapp.Start(t, e.DSN)
		var keys []string
		for _, org := range orgs {
			_, key, err := app.Service.CreateAPIKey(context.Background(), service.SystemActor(org), "k", domain.Scopes)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, key)
		}
		ids, err := seed.MessageIDs(seed.Options{Messages: n, Seed: 7, Days: 5, End: end})
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, id := range ids {
			var bodies [2]map[string]any
			for i, key := range keys {
				status, body := seedAPIGet(t, app.URL+"/api/v1/messages/"+url.PathEscape(id), key)
				if status != http.StatusOK || json.Unmarshal([]byte(body), &bodies[i]) != nil {
					t.Fatalf("GET message %s: %d %s", id, status, body)
				}
				delete(bodies[i], "connection_id")
			}
			if !reflect.DeepEqual(bodies[0], bodies[1]) {
				t.Fatalf("message %s differs between the organisations seeded alike:\n%v\n%v", id, bodies[0], bodies[1])
			}
			if len(bodies[0]["events"].([]any)) == 0 {
				t.Errorf("message %s has no events", id)
			}
			found++
		}
		// The search counts them: one row per recipient, n messages.
		searched := map[string]bool{}
		cursor := ""
		for range 100 {
			q := url.Values{"from": {end.AddDate(0, 0, -5).Format(time.RFC3339)}, "to": {end.Format(time.RFC3339)}, "limit": {"200"}, "cursor": {cursor}}
			status, body := seedAPIGet(t, app.URL+"/api/v1/messages?"+q.Encode(), keys[0])
			var page struct {
				Data []struct {
					MessageID string `json:"message_id"`
				}
				NextCursor string `json:"next_cursor"`
			}
			if status != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
				t.Fatalf("search: %d %s", status, body)
			}
			for _, h := range page.Data {
				searched[h.MessageID] = true
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if found != n || len(searched) != n {
			t.Errorf("%d of %d messages read through the API, %d found by the search; want %d", found, len(ids), len(searched), n)
		}
		for _, id := range ids {
			if !searched[id] {
				t.Errorf("the search does not find %s", id)
				break
			}
		}
	})
}

func seedAPIGet(t *testing.T, u, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
