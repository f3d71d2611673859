package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/insight"
	"sendops/internal/service"
	"sendops/internal/sesevent"
	"sendops/internal/store"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// ingestEvents stores SES events of a connection through the ingest writer,
// as the ingest endpoints do.
func ingestEvents(t testing.TB, app *testapp.App, conn *domain.Connection, evs ...sesEv) {
	t.Helper()
	for _, e := range evs {
		ev, err := sesevent.Parse(mustJSON(t, e.detail()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Ingest.Write(context.Background(), conn, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// memberBrowser adds a user with a role to an organisation and returns
// their signed-in browser, acting in that organisation.
func memberBrowser(t *testing.T, app *testapp.App, orgID, email string, role domain.Role) *testapp.Browser {
	t.Helper()
	ctx := context.Background()
	u, _, err := app.Service.CreateUser(ctx, service.SignUp{Name: string(role), Email: email, Password: "password-" + email})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Service.DB.Update(ctx, func(tx *store.Tx) error { return store.PutMember(ctx, tx, orgID, u.ID, role) }); err != nil {
		t.Fatal(err)
	}
	b := app.SignIn(t, email, "password-"+email)
	if p := b.Post("/settings/profile", "/orgs/"+orgID+"/switch", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("switch to the organisation: %d", p.Status)
	}
	return b
}

var eventTypeRE = regexp.MustCompile(`<li class="event" data-type="([A-Za-z]+)">`)

// TestMessagePage shows a message's events in time order, each explained,
// with its raw JSON, and its recipients linked to their pages; the API
// gives the same, and without recipients:read neither shows addresses,
// diagnostics, links or raw events (the explanations stay).
func TestMessagePage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		app := testapp.Start(t, e.DSN)
		ctx := context.Background()
		_, org, key := owner(t, app, "owner@example.com")
		_, readKey, err := app.Service.CreateAPIKey(ctx, service.SystemActor(org.ID), "read only", []domain.Scope{domain.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		conn, _, err := app.Service.CreateConnection(ctx, service.SystemActor(org.ID), service.ConnectionInput{Name: "Prod", AWSAccountID: awsAccount, Region: awsRegion})
		if err != nil {
			t.Fatal(err)
		}
		sent := time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Millisecond)
		to := []string{"ann@example.com", "bob@example.org"}
		ann, bob := []string{"ann@example.com"}, []string{"bob@example.org"}
		const id = "0100018f-detail-message"
		// Stored out of order, as events arrive.
		ingestEvents(t, app, conn,
			sesEv{Type: "Complaint", MessageID: id, MailTime: sent, At: sent.Add(3 * time.Hour), To: to, Rcpts: ann},
			sesEv{Type: "Send", MessageID: id, MailTime: sent, To: to},
			sesEv{Type: "Bounce", MessageID: id, MailTime: sent, At: sent.Add(2 * time.Hour), To: to, Rcpts: bob},
			sesEv{Type: "Delivery", MessageID: id, MailTime: sent, At: sent.Add(2 * time.Second), To: to, Rcpts: ann},
			sesEv{Type: "DeliveryDelay", MessageID: id, MailTime: sent, At: sent.Add(time.Minute), To: to, Rcpts: bob},
			sesEv{Type: "Open", MessageID: id, MailTime: sent, At: sent.Add(10 * time.Minute), To: to},
			sesEv{Type: "Click", MessageID: id, MailTime: sent, At: sent.Add(11 * time.Minute), To: to},
		)
		order := []string{"Send", "Delivery", "DeliveryDelay", "Open", "Click", "Bounce", "Complaint"}
		adv := insight.ExplainBounce("Permanent", "General", "smtp; 550 5.1.1 user unknown")
		expires := sent.Add(time.Minute + 24*time.Hour).Format("2006-01-02 15:04 UTC")

		owner := app.SignIn(t, "owner@example.com", "password-owner@example.com")
		viewer := memberBrowser(t, app, org.ID, "viewer@example.com", domain.RoleViewer)
		for who, b := range map[string]*testapp.Browser{"owner": owner, "viewer": viewer} {
			p := b.Get("/messages/" + id)
			if p.Status != http.StatusOK {
				t.Fatalf("%s: message page %d\n%s", who, p.Status, p.Body)
			}
			var types []string
			for _, m := range eventTypeRE.FindAllStringSubmatch(p.Body, -1) {
				types = append(types, m[1])
			}
			if !slices.Equal(types, order) {
				t.Errorf("%s: events %v, want in time order %v", who, types, order)
			}
			for _, want := range []string{
				"Spring sale", "news@mail.shop.example", ">Prod</a>", "marketing", "<code>campaign</code>: spring",
				// Recipients, their statuses and their pages.
				`<a href="/recipients/ann@example.com">ann@example.com</a>`, `<a href="/recipients/bob@example.org">bob@example.org</a>`,
				`data-status="complained"`, `data-status="bounced_hard"`,
				// The bounce explained by its code.
				"Hard bounce (Permanent, General), 5.1.1: " + html.EscapeString(adv.Title) + ".", html.EscapeString(adv.Explanation),
				html.EscapeString(adv.Action), "<code>5.1.1</code>", "smtp; 550 5.1.1 user unknown", "dsn; e226-55.smtp-out.us-east-1.amazonses.com",
				// The complaint's feedback type, the click's link, the open's user agent.
				"Complaint, feedback type abuse.", "The recipient reported the message as spam", `<dd class="feedback-type">abuse</dd>`,
				`<a href="https://shop.example/sale" rel="noreferrer noopener">https://shop.example/sale</a>`,
				"Opened in Mozilla/5.0 (iPhone).", `<dd class="user-agent">Mozilla/5.0 (iPhone)</dd>`,
				// The delay's reason, and until when SES tries.
				"Delivery delayed (TransientCommunicationFailure): SES keeps trying until " + expires + ".",
				"The conversation with the recipient&#39;s mail server failed for now", `<dd class="expiration">` + expires + `</dd>`,
				// Each event's raw JSON, indented.
				"\n  &#34;bounce&#34;: {\n    &#34;bounceSubType&#34;: &#34;General&#34;,",
				"&#34;complaintFeedbackType&#34;: &#34;abuse&#34;",
			} {
				if !strings.Contains(p.Body, want) {
					t.Errorf("%s: the message page lacks %q", who, want)
				}
			}
			if n := strings.Count(p.Body, `<details class="raw"><summary>Raw event</summary>`); n != len(order) {
				t.Errorf("%s: %d raw events, want %d", who, n, len(order))
			}
		}
		if p := owner.Get("/messages/no-such-message"); p.Status != http.StatusNotFound {
			t.Errorf("unknown message: %d", p.Status)
		}

		// The API: the same summaries, each event once.
		var m struct {
			Redacted bool `json:"recipients_redacted"`
			Events   []struct {
				Type        string
				Summary     string
				Recipients  []string
				Diagnostic  string `json:"diagnostic_code"`
				StatusCode  string `json:"status_code"`
				Explanation *struct {
					Title, Action string
				}
				DelayType  string     `json:"delay_type"`
				Expiration *time.Time `json:"expiration_time"`
				Complaint  string     `json:"complaint_feedback_type"`
				Link       string
				UserAgent  string `json:"user_agent"`
				Raw        json.RawMessage
			}
		}
		for _, c := range []struct {
			name     string
			key      string
			redacted bool
		}{{"all scopes", key, false}, {"read only", readKey, true}} {
			status, body := apiCall(t, app, c.key, "GET", "/api/v1/messages/"+url.PathEscape(id), "")
			m.Events = nil
			if err := json.Unmarshal([]byte(body), &m); status != 200 || err != nil || len(m.Events) != len(order) || m.Redacted != c.redacted {
				t.Fatalf("%s: GET message: %d %s", c.name, status, body)
			}
			for i, ev := range m.Events {
				if ev.Type != order[i] || ev.Summary == "" {
					t.Errorf("%s: event %d is %s %q, want %s with a summary", c.name, i, ev.Type, ev.Summary, order[i])
				}
				if hidden := len(ev.Recipients) == 0 && ev.Diagnostic == "" && ev.Link == "" && ev.Raw == nil; hidden != c.redacted {
					t.Errorf("%s: %s event shows recipients %v, diagnostic %q, link %q, raw %d bytes", c.name, ev.Type, ev.Recipients, ev.Diagnostic, ev.Link, len(ev.Raw))
				}
				switch ev.Type {
				case "Bounce":
					if ev.StatusCode != "5.1.1" || ev.Explanation == nil || ev.Explanation.Title != adv.Title || ev.Explanation.Action != adv.Action {
						t.Errorf("%s: bounce %+v", c.name, ev)
					}
				case "DeliveryDelay":
					if ev.DelayType != "TransientCommunicationFailure" || ev.Expiration == nil || !ev.Expiration.Equal(sent.Add(time.Minute+24*time.Hour)) {
						t.Errorf("%s: delay %+v", c.name, ev)
					}
				case "Complaint":
					if ev.Complaint != "abuse" {
						t.Errorf("%s: complaint %+v", c.name, ev)
					}
				case "Open":
					if ev.UserAgent != "Mozilla/5.0 (iPhone)" {
						t.Errorf("%s: open %+v", c.name, ev)
					}
				}
			}
			if c.redacted && (strings.Contains(body, "ann@example.com") || strings.Contains(body, "bob@example.org") || strings.Contains(body, "shop.example/sale")) {
				t.Errorf("%s: the answer shows an address or a link: %s", c.name, body)
			}
		}
	})
}
