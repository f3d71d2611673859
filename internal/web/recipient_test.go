package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/testutil/testdb"
)

// recipientAnswer is GET /api/v1/recipients/{address}.
type recipientAnswer struct {
	Address string
	Data    []struct {
		MessageID      string    `json:"message_id"`
		ConnectionName string    `json:"connection_name"`
		Subject        string    `json:"subject"`
		SentAt         time.Time `json:"sent_at"`
		Status         string
	}
	NextCursor  string `json:"next_cursor"`
	Suppression []struct {
		ConnectionName string `json:"connection_name"`
		Managed        bool
		Checked        bool
		Suppressed     bool
		Reason         string
		Problem        string
	}
}

// TestRecipientPage lists every message to one address across connections,
// newest first, within the range and the retention window, with its state
// on each connection's SES suppression list (read from sesim through a role
// holding the policy's actions); a developer takes it off the list from
// the page (audited), a viewer cannot.
func TestRecipientPage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, nil)
		app := v.App
		ctx := context.Background()
		ownerActor := service.SystemActor(v.Org.ID)
		prodID, _ := v.roleConnection(t, "prod", awsconn.PolicyActions()...)
		prod, err := app.Service.Connection(ctx, ownerActor, prodID)
		if err != nil {
			t.Fatal(err)
		}
		events, _, err := app.Service.CreateConnection(ctx, ownerActor, service.ConnectionInput{Name: "events only", AWSAccountID: "210987654321", Region: "eu-west-1"})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		bob := []string{"bob@example.com"}
		ingestEvents(t, app, prod,
			sesEv{Type: "Send", MessageID: "msg-bob-1", MailTime: now.Add(-3 * time.Hour), To: bob},
			sesEv{Type: "Bounce", MessageID: "msg-bob-1", MailTime: now.Add(-3 * time.Hour), At: now.Add(-3*time.Hour + time.Second), To: bob},
			sesEv{Type: "Send", MessageID: "msg-bob-old", MailTime: now.AddDate(0, 0, -40), To: bob},
			sesEv{Type: "Send", MessageID: "msg-ann", MailTime: now.Add(-time.Hour), To: []string{"ann@example.com"}},
		)
		ingestEvents(t, app, events,
			sesEv{Type: "Send", MessageID: "msg-bob-2", MailTime: now.Add(-2 * time.Hour), To: []string{"ann@example.com", "Bob@Example.com"}},
			sesEv{Type: "Delivery", MessageID: "msg-bob-2", MailTime: now.Add(-2 * time.Hour), At: now.Add(-2*time.Hour + time.Second), To: bob},
			sesEv{Type: "Send", MessageID: "msg-bob-3", MailTime: now.Add(-time.Minute), To: bob},
		)
		if status, body := apiCall(t, app, v.Key, "PUT", "/api/v1/connections/"+prodID+"/suppression/bob@example.com", `{"reason":"BOUNCE"}`); status != 200 {
			t.Fatalf("put on the suppression list: %d %s", status, body)
		}

		var answer struct{ From time.Time }
		status, body := apiCall(t, app, v.Key, "GET", "/api/v1/recipients/bob@example.com", "")
		y, m, d := now.AddDate(0, 0, -7).Date()
		if err := json.Unmarshal([]byte(body), &answer); status != 200 || err != nil || !answer.From.Equal(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("with 7 days of retention the range starts at %s (%d %s), want the start of the day 7 days ago", answer.From, status, body)
		}
		if status, body := apiCall(t, app, v.Key, "PATCH", "/api/v1/org", `{"retention_days":90}`); status != 200 {
			t.Fatalf("retention: %d %s", status, body)
		}

		get := func(key, path string) (int, recipientAnswer, string) {
			t.Helper()
			status, body := apiCall(t, app, key, "GET", path, "")
			var a recipientAnswer
			if status == 200 {
				if err := json.Unmarshal([]byte(body), &a); err != nil {
					t.Fatalf("%s: %v %s", path, err, body)
				}
			}
			return status, a, body
		}
		ids := func(a recipientAnswer) string {
			var out []string
			for _, d := range a.Data {
				out = append(out, d.MessageID+"/"+d.ConnectionName+"/"+d.Status)
			}
			return strings.Join(out, " ")
		}

		// The API: the last 30 days by default, newest first, across both
		// connections, with the suppression state of each.
		status, a, body := get(v.Key, "/api/v1/recipients/BOB@example.com")
		if status != 200 || a.Address != "bob@example.com" || ids(a) != "msg-bob-3/events only/sent msg-bob-2/events only/delivered msg-bob-1/prod/bounced_hard" || a.NextCursor != "" {
			t.Fatalf("recipient: %d %s", status, body)
		}
		if len(a.Suppression) != 2 {
			t.Fatalf("suppression of %d connections: %s", len(a.Suppression), body)
		}
		for _, s := range a.Suppression {
			switch s.ConnectionName {
			case "prod":
				if !s.Managed || !s.Checked || !s.Suppressed || s.Reason != "BOUNCE" || s.Problem != "" {
					t.Errorf("prod's suppression state: %+v", s)
				}
			case "events only":
				if s.Managed || s.Checked || s.Suppressed || !strings.Contains(s.Problem, "only receives events") {
					t.Errorf("events only's suppression state: %+v", s)
				}
			}
		}
		// A range reaching back further, in pages.
		from := now.AddDate(0, 0, -60).Format(time.RFC3339)
		status, a, body = get(v.Key, "/api/v1/recipients/bob@example.com?limit=2&from="+url.QueryEscape(from))
		if status != 200 || ids(a) != "msg-bob-3/events only/sent msg-bob-2/events only/delivered" || a.NextCursor == "" || len(a.Suppression) != 2 {
			t.Fatalf("page 1: %d %s", status, body)
		}
		status, a, body = get(v.Key, "/api/v1/recipients/bob@example.com?limit=2&from="+url.QueryEscape(from)+"&cursor="+a.NextCursor)
		if status != 200 || ids(a) != "msg-bob-1/prod/bounced_hard msg-bob-old/prod/sent" || a.NextCursor != "" || a.Suppression != nil {
			t.Fatalf("page 2: %d %s", status, body)
		}
		// Refusals.
		_, readKey, err := app.Service.CreateAPIKey(ctx, ownerActor, "read", []domain.Scope{domain.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, key, path string
			status          int
			code            string
		}{
			{"before retention", v.Key, "/api/v1/recipients/bob@example.com?from=" + now.AddDate(0, 0, -120).Format("2006-01-02"), 403, "retention_exceeded"},
			{"bad date", v.Key, "/api/v1/recipients/bob@example.com?from=yesterday", 400, "invalid"},
			{"unknown address", v.Key, "/api/v1/recipients/nobody@example.com", 404, "not_found"},
			{"without recipients:read", readKey, "/api/v1/recipients/bob@example.com", 403, "forbidden"},
		} {
			status, _, body := get(c.key, c.path)
			if status != c.status || decodeErr(t, body).Error.Code != c.code {
				t.Errorf("%s: %d %s, want %d %s", c.name, status, body, c.status, c.code)
			}
		}

		// The page: messages linked to theirs, the state, the button.
		dev := memberBrowser(t, app, v.Org.ID, "dev@example.com", domain.RoleDeveloper)
		viewer := memberBrowser(t, app, v.Org.ID, "viewer@example.com", domain.RoleViewer)
		const page = "/recipients/bob@example.com"
		for who, b := range map[string]bool{"dev": true, "viewer": false} {
			br := dev
			if !b {
				br = viewer
			}
			p := br.Get(page)
			if p.Status != 200 {
				t.Fatalf("%s: recipient page %d\n%s", who, p.Status, p.Body)
			}
			for _, want := range []string{`<a href="/messages/msg-bob-3">`, `<a href="/messages/msg-bob-2">`, `<a href="/messages/msg-bob-1">`,
				`data-status="bounced_hard"`, "On the suppression list", "reason BOUNCE", "only receives events"} {
				if !strings.Contains(p.Body, want) {
					t.Errorf("%s: the recipient page lacks %q", who, want)
				}
			}
			if strings.Contains(p.Body, "msg-bob-old") || strings.Contains(p.Body, "msg-ann") {
				t.Errorf("%s: the page shows a message outside the range or to another address", who)
			}
			if has := strings.Contains(p.Body, `action="/connections/`+prodID+`/suppression/remove"`); has != b {
				t.Errorf("%s: remove button shown: %v", who, has)
			}
		}
		if p := dev.Get(page + "?from=" + now.AddDate(0, 0, -120).Format("2006-01-02")); p.Status != 403 || !strings.Contains(p.Body, "keeps event data for 90 days") {
			t.Errorf("page before retention: %d", p.Status)
		}
		if p := dev.Get("/recipients/nobody@example.com"); p.Status != 404 {
			t.Errorf("unknown address: %d", p.Status)
		}

		// The viewer is refused; the developer removes it and comes back.
		form := url.Values{"email": {"bob@example.com"}, "confirm": {"yes"}, "next": {page}}
		if p := viewer.Post(page, "/connections/"+prodID+"/suppression/remove", form); p.Status != 403 {
			t.Fatalf("the viewer removed it: %d", p.Status)
		}
		p := dev.Post(page, "/connections/"+prodID+"/suppression/remove", form)
		if p.Status != http.StatusSeeOther || p.Location != page {
			t.Fatalf("remove: %d to %q\n%s", p.Status, p.Location, p.Body)
		}
		p = dev.Get(page)
		if !strings.Contains(p.Body, "Removed bob@example.com from the suppression list") || !strings.Contains(p.Body, "Not on the suppression list.") ||
			strings.Contains(p.Body, "suppression/remove") {
			t.Errorf("after removing, the page shows:\n%s", p.Body)
		}
		if status, body := apiCall(t, app, v.Key, "GET", "/api/v1/connections/"+prodID+"/suppression/bob@example.com", ""); status != 404 {
			t.Errorf("still on the list in SES: %d %s", status, body)
		}
		status, body = apiCall(t, app, v.Key, "GET", "/api/v1/audit?action=suppression.removed", "")
		if status != 200 || !strings.Contains(body, `"actor":"dev@example.com"`) || !strings.Contains(body, `"target":"bob@example.com"`) {
			t.Errorf("audit: %d %s", status, body)
		}
		// A next that leaves the recipient pages is not followed.
		apiCall(t, app, v.Key, "PUT", "/api/v1/connections/"+prodID+"/suppression/bob@example.com", `{"reason":"BOUNCE"}`)
		form.Set("next", "https://evil.example/")
		if p := dev.Post(page, "/connections/"+prodID+"/suppression/remove", form); p.Status != http.StatusSeeOther || p.Location != "/connections/"+prodID+"/suppression" {
			t.Errorf("remove with a foreign next: %d to %q", p.Status, p.Location)
		}
	})
}
