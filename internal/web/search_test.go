package web_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/sesevent"
	"sendops/internal/store"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// srchEv is one SES event of the search tests, in the shape SES publishes.
type srchEv struct {
	Type      string // Send, Delivery, Bounce, Complaint, DeliveryDelay, Open, Click, Reject, Rendering Failure
	MessageID string
	Sent      time.Time     // mail.timestamp
	After     time.Duration // the event's own time, after Sent
	To        []string      // mail.destination
	Rcpts     []string      // the recipients the event names (nil: To)
	Subject   string
	Source    string // default news@mail.shop.example
	ConfigSet string
	Tags      map[string][]string
	Bounce    string // Permanent (default) or Transient
	Template  string // Rendering Failure
}

func (e srchEv) json(t testing.TB) []byte {
	t.Helper()
	rcpts := e.Rcpts
	if rcpts == nil {
		rcpts = e.To
	}
	src := e.Source
	if src == "" {
		src = "news@mail.shop.example"
	}
	tags := map[string][]string{"ses:operation": {"SendEmail"}}
	if e.ConfigSet != "" {
		tags["ses:configuration-set"] = []string{e.ConfigSet}
	}
	for k, v := range e.Tags {
		tags[k] = v
	}
	at := sesTime(e.Sent.Add(e.After))
	d := map[string]any{"eventType": e.Type, "mail": map[string]any{
		"timestamp": sesTime(e.Sent), "messageId": e.MessageID, "source": "Shop <" + src + ">", "destination": e.To, "tags": tags,
		"commonHeaders": map[string]any{"from": []string{src}, "to": e.To, "subject": e.Subject},
	}}
	switch e.Type {
	case "Send":
		d["send"] = map[string]any{}
	case "Delivery":
		d["delivery"] = map[string]any{"timestamp": at, "recipients": rcpts, "smtpResponse": "250 2.0.0 OK", "reportingMTA": "a8-70.smtp-out.amazonses.com"}
	case "Bounce":
		bt := e.Bounce
		if bt == "" {
			bt = "Permanent"
		}
		var brs []map[string]any
		for _, r := range rcpts {
			brs = append(brs, map[string]any{"emailAddress": r, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 <" + r + ">: user unknown"})
		}
		d["bounce"] = map[string]any{"feedbackId": "fb-" + e.MessageID, "bounceType": bt, "bounceSubType": "General", "bouncedRecipients": brs,
			"timestamp": at, "reportingMTA": "dsn; mx.example.org"}
	case "Complaint":
		var crs []map[string]any
		for _, r := range rcpts {
			crs = append(crs, map[string]any{"emailAddress": r})
		}
		d["complaint"] = map[string]any{"feedbackId": "cf-" + e.MessageID, "complainedRecipients": crs, "timestamp": at,
			"userAgent": "Yahoo!-Mail-Feedback/2.0", "complaintFeedbackType": "abuse"}
	case "DeliveryDelay":
		var drs []map[string]any
		for _, r := range rcpts {
			drs = append(drs, map[string]any{"emailAddress": r, "status": "4.4.1", "diagnosticCode": "smtp; 421 4.4.1 try later"})
		}
		d["deliveryDelay"] = map[string]any{"timestamp": at, "delayType": "TransientCommunicationFailure", "delayedRecipients": drs,
			"expirationTime": sesTime(e.Sent.Add(24 * time.Hour))}
	case "Open":
		d["open"] = map[string]any{"ipAddress": "192.0.2.1", "timestamp": at, "userAgent": "Mozilla/5.0"}
	case "Click":
		d["click"] = map[string]any{"ipAddress": "192.0.2.1", "timestamp": at, "userAgent": "Mozilla/5.0", "link": "https://shop.example/x"}
	case "Reject":
		d["reject"] = map[string]any{"reason": "Bad content"}
	case "Rendering Failure":
		d["failure"] = map[string]any{"templateName": e.Template, "errorMessage": "Attribute 'name' is not present"}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// srchIngest stores events through the real ingest path, several at once.
// As SES does, every event of a message carries the message's mail object:
// an event that leaves Source, ConfigSet, Tags or Subject out takes them
// from the message's first event in evs.
func srchIngest(t testing.TB, app *testapp.App, conn *domain.Connection, evs ...srchEv) {
	t.Helper()
	first := map[string]srchEv{}
	for i, e := range evs {
		f, ok := first[e.MessageID]
		if !ok {
			first[e.MessageID] = e
			continue
		}
		if e.Source == "" {
			evs[i].Source = f.Source
		}
		if e.ConfigSet == "" {
			evs[i].ConfigSet = f.ConfigSet
		}
		if e.Tags == nil {
			evs[i].Tags = f.Tags
		}
		if e.Subject == "" {
			evs[i].Subject = f.Subject
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(evs))
	sem := make(chan struct{}, 16)
	for _, e := range evs {
		ev, err := sesevent.Parse(e.json(t))
		if err != nil {
			t.Fatalf("%s %s: %v", e.Type, e.MessageID, err)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := app.Ingest.Write(context.Background(), conn, ev); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// srchOrg is an organisation of the search tests: an owner key with every
// scope, a key with read only, a connection.
type srchOrg struct {
	org     *domain.Org
	key     string
	readKey string
	conn    *domain.Connection
	conn2   *domain.Connection
}

func newSrchOrg(t *testing.T, app *testapp.App, email string, retentionDays int) srchOrg {
	t.Helper()
	ctx := context.Background()
	_, org, key := owner(t, app, email)
	sys := service.SystemActor(org.ID)
	_, readKey, err := app.Service.CreateAPIKey(ctx, sys, "read only", []domain.Scope{domain.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Service.UpdateOrg(ctx, sys, service.OrgSettings{RetentionDays: &retentionDays}); err != nil {
		t.Fatal(err)
	}
	conn, _, err := app.Service.CreateConnection(ctx, sys, service.ConnectionInput{Name: "prod", AWSAccountID: "123456789012", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	conn2, _, err := app.Service.CreateConnection(ctx, sys, service.ConnectionInput{Name: "eu", AWSAccountID: "123456789012", Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	return srchOrg{org: org, key: key, readKey: readKey, conn: conn, conn2: conn2}
}

// srchRow is a row of the search's answer.
type srchRow struct {
	MessageID       string          `json:"message_id"`
	Recipient       string          `json:"recipient"`
	RecipientDomain string          `json:"recipient_domain"`
	Status          string          `json:"status"`
	LastEventAt     time.Time       `json:"last_event_at"`
	SentAt          time.Time       `json:"sent_at"`
	Subject         string          `json:"subject"`
	Template        string          `json:"template"`
	ConfigSet       string          `json:"configuration_set"`
	Tags            json.RawMessage `json:"tags"`
}

type srchPage struct {
	Data               []srchRow `json:"data"`
	NextCursor         *string   `json:"next_cursor"`
	RecipientsRedacted bool      `json:"recipients_redacted"`
}

func (r srchRow) id() string { return r.MessageID + " " + r.Recipient }

// srchGet asks for one page of a search.
func srchGet(t *testing.T, app *testapp.App, key, query string) srchPage {
	t.Helper()
	status, body := apiCall(t, app, key, "GET", "/api/v1/messages?"+query, "")
	if status != http.StatusOK {
		t.Fatalf("GET /api/v1/messages?%s: %d %s", query, status, body)
	}
	var p srchPage
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Data == nil || p.NextCursor == nil {
		t.Fatalf("GET /api/v1/messages?%s: not the contract's shape (%v): %s", query, err, body)
	}
	return p
}

// srchAll reads every page of a search, limit rows a page.
func srchAll(t *testing.T, app *testapp.App, key, query string, limit int) []srchRow {
	t.Helper()
	var out []srchRow
	cursor := ""
	for pages := 0; ; pages++ {
		q := query + "&limit=" + fmt.Sprint(limit)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := srchGet(t, app, key, q)
		if len(p.Data) > limit {
			t.Fatalf("%d rows on a page of %d", len(p.Data), limit)
		}
		out = append(out, p.Data...)
		if *p.NextCursor == "" {
			return out
		}
		if pages > 1000 {
			t.Fatal("the pages do not end")
		}
		cursor = *p.NextCursor
	}
}

func ids(rows []srchRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.id()
	}
	return out
}

// TestMessageSearch checks every filter of the message search, alone and
// combined, on both engines, with data stored by the real ingest path; and
// what it refuses: bad filters, a range before retention, addresses
// without recipients:read, another organisation's cursor.
func TestMessageSearch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		app := testapp.Start(t, e.DSN)
		a := newSrchOrg(t, app, "owner@search-a.example", 365)
		b := newSrchOrg(t, app, "owner@search-b.example", 365)
		now := time.Now().UTC()
		base := now.Add(-72 * time.Hour).Truncate(time.Hour)
		h := func(n int) time.Time { return base.Add(time.Duration(n) * time.Hour) }
		spring := map[string][]string{"campaign": {"spring"}}
		evs := []srchEv{
			{Type: "Send", MessageID: "m01", Sent: h(1), To: []string{"bob@example.com"}, Subject: "Reset your password", Source: "auth@mail.shop.example", ConfigSet: "transactional", Tags: spring},
			{Type: "Delivery", MessageID: "m01", Sent: h(1), After: time.Second, To: []string{"bob@example.com"}, Subject: "Reset your password", Source: "auth@mail.shop.example", ConfigSet: "transactional", Tags: spring},
			{Type: "Send", MessageID: "m02", Sent: h(2), To: []string{"Bob@Example.com", "carol@example.org"}, Subject: "Spring sale: 20% off", ConfigSet: "marketing",
				Tags: map[string][]string{"campaign": {"spring"}, "tier": {"gold"}}},
			{Type: "Delivery", MessageID: "m02", Sent: h(2), After: time.Second, To: []string{"bob@example.com", "carol@example.org"}, Rcpts: []string{"bob@example.com"}, Subject: "Spring sale: 20% off"},
			{Type: "Bounce", MessageID: "m02", Sent: h(2), After: 2 * time.Second, To: []string{"bob@example.com", "carol@example.org"}, Rcpts: []string{"carol@example.org"}, Subject: "Spring sale: 20% off"},
			{Type: "Send", MessageID: "m03", Sent: h(3), To: []string{"bobby@other.example"}, Subject: "Your order #1234 has shipped", Tags: map[string][]string{"campaign": {"orders"}}},
			{Type: "Bounce", MessageID: "m03", Sent: h(3), After: time.Minute, To: []string{"bobby@other.example"}, Bounce: "Transient", Subject: "Your order #1234 has shipped"},
			{Type: "Send", MessageID: "m04", Sent: h(4), To: []string{"dave@example.com"}, Subject: "Password reset"},
			{Type: "Delivery", MessageID: "m04", Sent: h(4), After: time.Second, To: []string{"dave@example.com"}, Subject: "Password reset"},
			{Type: "Complaint", MessageID: "m04", Sent: h(4), After: time.Hour, To: []string{"dave@example.com"}, Subject: "Password reset"},
			{Type: "Reject", MessageID: "m05", Sent: h(5), To: []string{"erin@example.net"}, Subject: "Weekly news"},
			{Type: "Send", MessageID: "m06", Sent: h(6), To: []string{"frank@example.com"}, Subject: "Welcome aboard"},
			{Type: "DeliveryDelay", MessageID: "m06", Sent: h(6), After: time.Hour, To: []string{"frank@example.com"}, Subject: "Welcome aboard"},
			{Type: "Send", MessageID: "m07", Sent: h(7), To: []string{"gina@example.com"}, Subject: "Welcome aboard"},
			{Type: "Delivery", MessageID: "m07", Sent: h(7), After: time.Second, To: []string{"gina@example.com"}, Subject: "Welcome aboard"},
			{Type: "Open", MessageID: "m07", Sent: h(7), After: time.Minute, To: []string{"gina@example.com"}, Subject: "Welcome aboard"},
			{Type: "Send", MessageID: "m08", Sent: h(8), To: []string{"hank@example.com"}, Subject: "Your receipt"},
			{Type: "Delivery", MessageID: "m08", Sent: h(8), After: time.Second, To: []string{"hank@example.com"}, Subject: "Your receipt"},
			{Type: "Open", MessageID: "m08", Sent: h(8), After: time.Minute, To: []string{"hank@example.com"}, Subject: "Your receipt"},
			{Type: "Click", MessageID: "m08", Sent: h(8), After: 2 * time.Minute, To: []string{"hank@example.com"}, Subject: "Your receipt"},
			{Type: "Send", MessageID: "m09", Sent: h(9), To: []string{"ivy@example.com"}, Subject: "Café opening"},
			{Type: "Rendering Failure", MessageID: "m10", Sent: h(10), To: []string{"judy@example.com"}, Template: "welcome-v2", Subject: "Welcome"},
			// Forty-five days ago: outside the default range (30 days).
			{Type: "Send", MessageID: "m00", Sent: now.Add(-45 * 24 * time.Hour), To: []string{"bob@example.com"}, Subject: "Reset your password"},
		}
		srchIngest(t, app, a.conn, evs...)
		srchIngest(t, app, a.conn2, srchEv{Type: "Send", MessageID: "m11", Sent: h(11), To: []string{"kim@example.com"}, Subject: "Hello from the EU"})
		// Organisation B has the same addresses and subjects.
		srchIngest(t, app, b.conn,
			srchEv{Type: "Send", MessageID: "b01", Sent: h(1), To: []string{"bob@example.com"}, Subject: "Reset your password", Tags: spring},
			srchEv{Type: "Bounce", MessageID: "b01", Sent: h(1), After: time.Second, To: []string{"bob@example.com"}, Subject: "Reset your password"})

		every := []string{"m11 kim@example.com", "m10 judy@example.com", "m09 ivy@example.com", "m08 hank@example.com", "m07 gina@example.com",
			"m06 frank@example.com", "m05 erin@example.net", "m04 dave@example.com", "m03 bobby@other.example", "m02 carol@example.org",
			"m02 bob@example.com", "m01 bob@example.com"}
		only := func(want ...string) []string {
			var out []string
			for _, r := range every {
				if slices.Contains(want, strings.Fields(r)[0]) || slices.Contains(want, r) {
					out = append(out, r)
				}
			}
			return out
		}
		esc := url.QueryEscape
		cases := []struct {
			name, query string
			want        []string // in order
		}{
			{"no filter: the last 30 days", "", every},
			{"exact address", "recipient=bob@example.com", []string{"m02 bob@example.com", "m01 bob@example.com"}},
			{"exact address, any case", "recipient=" + esc(" BOB@Example.COM "), []string{"m02 bob@example.com", "m01 bob@example.com"}},
			{"prefix", "recipient=" + esc("bob*"), []string{"m03 bobby@other.example", "m02 bob@example.com", "m01 bob@example.com"}},
			{"prefix with the at sign", "recipient=" + esc("bob@*"), []string{"m02 bob@example.com", "m01 bob@example.com"}},
			{"domain", "recipient=" + esc("@example.com"), only("m11", "m10", "m09", "m08", "m07", "m06", "m04", "m02 bob@example.com", "m01")},
			{"domain is not a suffix", "recipient=" + esc("@ample.com"), nil},
			{"message id", "message_id=m02", []string{"m02 carol@example.org", "m02 bob@example.com"}},
			{"subject word", "subject=password", only("m04", "m01")},
			{"subject words in any order and case", "subject=" + esc("RESET password"), only("m04", "m01")},
			{"subject prefix", "subject=" + esc("pass*"), only("m04", "m01")},
			{"subject prefix is not a suffix", "subject=" + esc("word*"), nil},
			{"subject number and punctuation", "subject=" + esc("#1234 shipped"), only("m03")},
			{"subject word is whole", "subject=ship", nil},
			{"subject with an accent", "subject=" + esc("café"), only("m09")},
			{"sender address", "sender=auth@mail.shop.example", only("m01")},
			{"sending domain", "sender=" + esc("@mail.shop.example"), every},
			{"connection", "connection=" + a.conn2.ID, only("m11")},
			{"configuration set", "configuration_set=transactional", only("m01")},
			{"template", "template=welcome-v2", only("m10")},
			{"tag", "tag=campaign:spring", only("m02", "m01")},
			{"two tags", "tag=campaign:spring&tag=tier:gold", only("m02")},
			{"tag value", "tag=campaign:orders", only("m03")},
			{"delivered includes opened and clicked", "status=delivered", only("m08", "m07", "m02 bob@example.com", "m01")},
			{"bounced hard", "status=bounced_hard", only("m02 carol@example.org")},
			{"bounced soft", "status=bounced_soft", only("m03")},
			{"bounced", "status=bounced", only("m03", "m02 carol@example.org")},
			{"complained", "status=complained", only("m04")},
			{"rejected", "status=rejected", only("m05")},
			{"delayed", "status=delayed", only("m06")},
			{"opened includes clicked", "status=opened", only("m08", "m07")},
			{"clicked", "status=clicked", only("m08")},
			{"sent, no outcome yet", "status=sent", only("m11", "m09")},
			{"rendering failed", "status=rendering_failed", only("m10")},
			{"two statuses, repeated", "status=complained&status=rejected", only("m05", "m04")},
			{"two statuses, with a comma", "status=" + esc("complained,rejected"), only("m05", "m04")},
			{"domain and status", "recipient=" + esc("@example.org") + "&status=bounced_hard", only("m02 carol@example.org")},
			{"address and subject", "recipient=dave@example.com&subject=password", only("m04")},
			{"address and another subject", "recipient=bob@example.com&subject=sale", only("m02 bob@example.com")},
			{"prefix and status", "recipient=" + esc("bob*") + "&status=delivered", only("m02 bob@example.com", "m01")},
			{"subject and tag", "subject=welcome&tag=campaign:spring", nil},
			{"until", "to=" + esc(h(2).Add(time.Minute).Format(time.RFC3339)), only("m02", "m01")},
			{"from and to", "from=" + esc(h(3).Format(time.RFC3339)) + "&to=" + esc(h(5).Format(time.RFC3339)), only("m04", "m03")},
			{"an older range", "from=" + esc(now.Add(-50*24*time.Hour).Format("2006-01-02")) + "&recipient=bob@example.com",
				[]string{"m02 bob@example.com", "m01 bob@example.com", "m00 bob@example.com"}},
		}
		for _, c := range cases {
			for _, limit := range []int{200, 2} {
				got := ids(srchAll(t, app, a.key, c.query, limit))
				if !slices.Equal(got, c.want) {
					t.Errorf("%s (%s, %d a page):\n got %q\nwant %q", c.name, c.query, limit, got, c.want)
				}
			}
		}

		// The contract's fields, and the row's other facts.
		p := srchGet(t, app, a.key, "recipient=carol@example.org")
		if len(p.Data) != 1 {
			t.Fatalf("carol: %+v", p)
		}
		r := p.Data[0]
		if r.MessageID != "m02" || r.Recipient != "carol@example.org" || r.Status != domain.StatusBouncedHard || !r.LastEventAt.Equal(h(2).Add(2*time.Second)) ||
			!r.SentAt.Equal(h(2)) || r.Subject != "Spring sale: 20% off" || r.ConfigSet != "marketing" || r.RecipientDomain != "example.org" ||
			!strings.Contains(string(r.Tags), `"tier":["gold"]`) || p.RecipientsRedacted {
			t.Errorf("carol's row: %+v", r)
		}

		// Organisation B sees its own bob, never A's.
		if got := ids(srchAll(t, app, b.key, "recipient=bob@example.com", 50)); !slices.Equal(got, []string{"b01 bob@example.com"}) {
			t.Errorf("B's search for bob: %q", got)
		}
		if got := ids(srchAll(t, app, b.key, "subject=password", 50)); !slices.Equal(got, []string{"b01 bob@example.com"}) {
			t.Errorf("B's subject search: %q", got)
		}

		// Refusals.
		for _, c := range []struct {
			query, code, field string
			status             int
		}{
			{"recipient=bob", "invalid", "recipient", 400},
			{"recipient=" + esc("b*b@example.com"), "invalid", "recipient", 400},
			{"recipient=" + esc("@"), "invalid", "recipient", 400},
			{"status=lost", "invalid", "status", 400},
			{"tag=campaign", "invalid", "tag", 400},
			{"subject=" + esc("!!! ---"), "invalid", "subject", 400},
			{"subject=" + esc("p*"), "invalid", "subject", 400},
			{"sender=news", "invalid", "sender", 400},
			{"from=yesterday", "invalid", "from", 400},
			{"from=" + esc(h(5).Format(time.RFC3339)) + "&to=" + esc(h(4).Format(time.RFC3339)), "invalid", "to", 400},
			{"recipients=bob@example.com", "invalid", "recipients", 400},
			{"limit=0", "invalid", "limit", 400},
			{"limit=201", "invalid", "limit", 400},
			{"cursor=abc", "invalid", "cursor", 400},
			{"from=" + esc(now.Add(-400*24*time.Hour).Format(time.RFC3339)), "retention_exceeded", "", 403},
		} {
			status, body := apiCall(t, app, a.key, "GET", "/api/v1/messages?"+c.query, "")
			var e struct {
				Error struct{ Code, Message, Field string } `json:"error"`
			}
			json.Unmarshal([]byte(body), &e)
			if status != c.status || e.Error.Code != c.code || e.Error.Field != c.field || e.Error.Message == "" {
				t.Errorf("%s: %d %s; want %d %s naming %q", c.query, status, body, c.status, c.code, c.field)
			}
		}

		// A shorter retention refuses what it no longer keeps, and the
		// default range follows it.
		thirty := 30
		if _, err := app.Service.UpdateOrg(context.Background(), service.SystemActor(a.org.ID), service.OrgSettings{RetentionDays: &thirty}); err != nil {
			t.Fatal(err)
		}
		status, body := apiCall(t, app, a.key, "GET", "/api/v1/messages?from="+now.Add(-40*24*time.Hour).Format("2006-01-02"), "")
		if status != 403 || !strings.Contains(body, `"code":"retention_exceeded"`) || !strings.Contains(body, "30 days") {
			t.Errorf("a range before 30 days of retention: %d %s", status, body)
		}
		if got := ids(srchAll(t, app, a.key, "from="+now.Add(-29*24*time.Hour).Format("2006-01-02"), 50)); !slices.Equal(got, every) {
			t.Errorf("within retention: %q", got)
		}
		seven := 7
		if _, err := app.Service.UpdateOrg(context.Background(), service.SystemActor(a.org.ID), service.OrgSettings{RetentionDays: &seven}); err != nil {
			t.Fatal(err)
		}
		if got := ids(srchAll(t, app, a.key, "recipient=bob@example.com", 50)); !slices.Equal(got, []string{"m02 bob@example.com", "m01 bob@example.com"}) {
			t.Errorf("default range under 7 days of retention: %q", got)
		}

		// Without recipients:read: no address filter, no addresses.
		for _, q := range []string{"recipient=bob@example.com", "recipient=" + esc("bob*"), "recipient=" + esc("@example.com")} {
			status, body := apiCall(t, app, a.readKey, "GET", "/api/v1/messages?"+q, "")
			if status != 403 || !strings.Contains(body, `"code":"forbidden"`) || !strings.Contains(body, "recipients:read") {
				t.Errorf("%s with a read key: %d %s", q, status, body)
			}
			status, body = apiCall(t, app, a.readKey, "GET", "/api/v1/messages/export?"+q, "")
			if status != 403 || strings.Contains(body, "bob@") {
				t.Errorf("export %s with a read key: %d %.200s", q, status, body)
			}
		}
		p = srchGet(t, app, a.readKey, "status=bounced")
		if len(p.Data) != 2 || !p.RecipientsRedacted {
			t.Fatalf("bounced with a read key: %+v", p)
		}
		for _, r := range p.Data {
			if r.Recipient != "" || r.RecipientDomain == "" || r.Status == "" {
				t.Errorf("row with a read key: %+v", r)
			}
		}
		// A page's cursor names a recipient: it is sealed, and opens in its
		// organisation only.
		p = srchGet(t, app, a.key, "limit=1")
		if *p.NextCursor == "" || strings.Contains(*p.NextCursor, "kim") {
			t.Fatalf("cursor %q", *p.NextCursor)
		}
		if status, body := apiCall(t, app, b.key, "GET", "/api/v1/messages?cursor="+url.QueryEscape(*p.NextCursor), ""); status != 400 || !strings.Contains(body, `"field":"cursor"`) {
			t.Errorf("A's cursor in B: %d %s", status, body)
		}
	})
}

// TestMessageSearchPagesStable pages through a search while events keep
// arriving between the pages (outcomes of messages on pages already read
// and not yet read, new messages newer and older than the page, a new
// recipient of a message): every row that was there before is read exactly
// once, and no row is read twice.
func TestMessageSearchPagesStable(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		app := testapp.Start(t, e.DSN)
		a := newSrchOrg(t, app, "owner@pages.example", 90)
		base := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Minute)
		var evs []srchEv
		for i := range 40 {
			to := []string{fmt.Sprintf("user%02d@example.com", i)}
			if i%3 == 0 {
				to = append(to, fmt.Sprintf("also%02d@example.org", i))
			}
			// Messages 20 and 21 share a send time: the message id orders them.
			sent := base.Add(time.Duration(i) * time.Minute)
			if i == 21 {
				sent = base.Add(20 * time.Minute)
			}
			evs = append(evs, srchEv{Type: "Send", MessageID: fmt.Sprintf("p%02d", i), Sent: sent, To: to, Subject: "Page test"})
		}
		srchIngest(t, app, a.conn, evs...)
		before := ids(srchAll(t, app, a.key, "subject=page", 200))
		if len(before) != 54 {
			t.Fatalf("%d rows before", len(before))
		}
		for _, query := range []string{"subject=page", "recipient=" + url.QueryEscape("@example.com"), ""} {
			want := map[string]bool{}
			for _, id := range before {
				if query == "" || query == "subject=page" || strings.HasSuffix(id, "@example.com") {
					want[id] = true
				}
			}
			seen := map[string]int{}
			var last srchRow
			cursor := ""
			for page := 0; ; page++ {
				q := query + "&limit=5"
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				p := srchGet(t, app, a.key, q)
				for _, r := range p.Data {
					seen[r.id()]++
					if last.MessageID != "" && r.SentAt.After(last.SentAt) {
						t.Errorf("%s: %s (sent %s) after %s (sent %s)", query, r.id(), r.SentAt, last.id(), last.SentAt)
					}
					last = r
				}
				// Events arrive between the pages.
				n := page + 100*len(seen)
				srchIngest(t, app, a.conn,
					// An outcome for a message already read and one not yet read.
					srchEv{Type: "Delivery", MessageID: fmt.Sprintf("p%02d", 39-page%40), Sent: base.Add(time.Duration(39-page%40) * time.Minute), After: time.Duration(n) * time.Second,
						To: []string{fmt.Sprintf("user%02d@example.com", 39-page%40)}, Subject: "Page test"},
					srchEv{Type: "Open", MessageID: fmt.Sprintf("p%02d", page%40), Sent: base.Add(time.Duration(page%40) * time.Minute), After: time.Duration(n) * time.Second,
						To: []string{fmt.Sprintf("user%02d@example.com", page%40)}, Subject: "Page test"},
					// A new message newer than all, and one in the middle.
					srchEv{Type: "Send", MessageID: fmt.Sprintf("new-top-%d", n), Sent: base.Add(time.Hour), To: []string{"late@example.com"}, Subject: "Page test"},
					srchEv{Type: "Send", MessageID: fmt.Sprintf("new-mid-%d", n), Sent: base.Add(17*time.Minute + time.Duration(page)*time.Millisecond),
						To: []string{"mid@example.com"}, Subject: "Page test"},
					// A recipient the message did not name before.
					srchEv{Type: "Bounce", MessageID: fmt.Sprintf("p%02d", (page*7)%40), Sent: base.Add(time.Duration((page*7)%40) * time.Minute), After: time.Minute,
						To: []string{fmt.Sprintf("user%02d@example.com", (page*7)%40)}, Rcpts: []string{fmt.Sprintf("extra%d@example.com", page)}, Subject: "Page test"},
				)
				if *p.NextCursor == "" {
					break
				}
				if page > 200 {
					t.Fatal("the pages do not end")
				}
				cursor = *p.NextCursor
			}
			for id := range want {
				if seen[id] != 1 {
					t.Errorf("%s: %s read %d times", query, id, seen[id])
				}
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("%s: %s read %d times", query, id, n)
				}
			}
		}
	})
}

// srchDownload fetches an export and returns the response and its body.
func srchDownload(t *testing.T, app *testapp.App, client *http.Client, key, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", app.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestMessageExport streams searches as CSV (header row, RFC 4180 quoting,
// formulas neutralised) and NDJSON, past several pages of the database,
// and the bounces and complaints of a range; from the API and from the
// messages page's links with a session.
func TestMessageExport(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		app := testapp.Start(t, e.DSN)
		a := newSrchOrg(t, app, "owner@export.example", 90)
		base := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Hour)
		evs := []srchEv{
			{Type: "Send", MessageID: "x-formula", Sent: base, To: []string{"=2+3@example.com"}, Subject: "=cmd|' /C calc'!A0"},
			{Type: "Send", MessageID: "x-quote", Sent: base.Add(time.Minute), To: []string{"ann@example.com"}, Subject: `He said "hi", then left`},
			{Type: "Send", MessageID: "x-bounce", Sent: base.Add(2 * time.Minute), To: []string{"carol@example.org", "dan@example.org"}, Subject: "Sale"},
			{Type: "Bounce", MessageID: "x-bounce", Sent: base.Add(2 * time.Minute), After: time.Second, To: []string{"carol@example.org", "dan@example.org"}, Subject: "Sale"},
			{Type: "Send", MessageID: "x-complaint", Sent: base.Add(3 * time.Minute), To: []string{"erin@example.net"}, Subject: "News"},
			{Type: "Complaint", MessageID: "x-complaint", Sent: base.Add(3 * time.Minute), After: time.Hour, To: []string{"erin@example.net"}, Subject: "News"},
		}
		// Enough messages for several of the export's database pages.
		const bulk = 2100
		for i := range bulk {
			evs = append(evs, srchEv{Type: "Send", MessageID: fmt.Sprintf("bulk-%04d", i), Sent: base.Add(time.Hour + time.Duration(i)*time.Second),
				To: []string{fmt.Sprintf("u%04d@bulk.example", i)}, Subject: "Bulk"})
		}
		srchIngest(t, app, a.conn, evs...)

		// CSV of every row.
		resp, body := srchDownload(t, app, nil, a.key, "/api/v1/messages/export")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="sendops-messages-`) {
			t.Fatalf("export: %d %v\n%.300s", resp.StatusCode, resp.Header, body)
		}
		if !slices.Contains(resp.TransferEncoding, "chunked") || resp.ContentLength != -1 {
			t.Errorf("the export is not streamed: transfer encoding %v, length %d", resp.TransferEncoding, resp.ContentLength)
		}
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		header := "sent_at,message_id,recipient,recipient_domain,status,status_at,last_event_at,subject,sender,connection_id,configuration_set,template,tags"
		if strings.Join(recs[0], ",") != header {
			t.Errorf("header %q", recs[0])
		}
		if len(recs) != 1+bulk+5 {
			t.Errorf("%d rows, want %d", len(recs)-1, bulk+5)
		}
		seen := map[string]bool{}
		for i, rec := range recs[1:] {
			k := rec[1] + " " + rec[2]
			if seen[k] {
				t.Errorf("row %s repeated", k)
			}
			seen[k] = true
			if i > 0 && rec[0] > recs[i][0] {
				t.Errorf("row %d sent %s after %s: not newest first", i, rec[0], recs[i][0])
			}
		}
		// RFC 4180 quoting, and a formula is text.
		if !strings.Contains(body, `"He said ""hi"", then left"`) {
			t.Errorf("the subject with a comma and quotes is not quoted: %s", body[strings.Index(body, "x-quote")-40:][:200])
		}
		formula := recs[len(recs)-1]
		if formula[1] != "x-formula" || formula[7] != "'=cmd|' /C calc'!A0" || formula[2] != "'=2+3@example.com" {
			t.Errorf("formula row: %q", formula)
		}

		// NDJSON of the same filters: one JSON object a line.
		resp, body = srchDownload(t, app, nil, a.key, "/api/v1/messages/export?format=ndjson&recipient="+url.QueryEscape("@example.org"))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("ndjson: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		sc := bufio.NewScanner(strings.NewReader(body))
		var lines []srchRow
		for sc.Scan() {
			var r srchRow
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			lines = append(lines, r)
		}
		if got := ids(lines); !slices.Equal(got, []string{"x-bounce dan@example.org", "x-bounce carol@example.org"}) || lines[0].Status != domain.StatusBouncedHard {
			t.Errorf("ndjson rows: %q %+v", got, lines)
		}
		// And the whole export as NDJSON: as many lines as rows.
		_, body = srchDownload(t, app, nil, a.key, "/api/v1/messages/export?format=ndjson&subject=bulk")
		if n := strings.Count(body, "\n"); n != bulk {
			t.Errorf("%d NDJSON lines, want %d", n, bulk)
		}

		// Bounces and complaints of the range.
		resp, body = srchDownload(t, app, nil, a.key, "/api/v1/bounces/export?from="+base.Add(-time.Hour).Format(time.RFC3339))
		recs, err = csv.NewReader(strings.NewReader(body)).ReadAll()
		if resp.StatusCode != 200 || err != nil || len(recs) != 3 {
			t.Fatalf("bounces: %d %v %q", resp.StatusCode, err, body)
		}
		if strings.Join(recs[0], ",") != "time,message_id,recipient,bounce_type,bounce_subtype,status_code,diagnostic_code,reporting_mta,sent_at,subject,sender,connection_id,configuration_set,template" {
			t.Errorf("bounce header %q", recs[0])
		}
		got := map[string][]string{}
		for _, rec := range recs[1:] {
			got[rec[2]] = rec
		}
		if c := got["carol@example.org"]; c == nil || c[1] != "x-bounce" || c[3] != "Permanent" || c[4] != "General" || c[5] != "5.1.1" ||
			!strings.Contains(c[6], "550 5.1.1") || c[7] != "dsn; mx.example.org" || c[9] != "Sale" {
			t.Errorf("carol's bounce: %q", c)
		}
		_, body = srchDownload(t, app, nil, a.key, "/api/v1/complaints/export?format=ndjson")
		var complaint map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &complaint); err != nil || complaint["recipient"] != "erin@example.net" ||
			complaint["complaint_feedback_type"] != "abuse" || complaint["message_id"] != "x-complaint" || complaint["type"] != "Complaint" {
			t.Errorf("complaints: %v %s", err, body)
		}
		// Without recipients:read, no addresses and no diagnostics.
		_, body = srchDownload(t, app, nil, a.readKey, "/api/v1/bounces/export")
		if strings.Contains(body, "carol") || strings.Contains(body, "550 5.1.1") || !strings.Contains(body, "5.1.1") {
			t.Errorf("bounces with a read key: %s", body)
		}
		// Refusals, answered before anything is streamed.
		for _, path := range []string{"/api/v1/messages/export?format=xlsx", "/api/v1/messages/export?status=lost", "/api/v1/bounces/export?recipient=x",
			"/api/v1/complaints/export?from=" + base.Add(-200*24*time.Hour).Format("2006-01-02")} {
			resp, body := srchDownload(t, app, nil, a.key, path)
			if resp.StatusCode < 400 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error"`) {
				t.Errorf("%s: %d %s", path, resp.StatusCode, body)
			}
		}

		// The messages page: the search, the rows with their links, and
		// its downloads with the session. A viewer sees addresses.
		ctx := context.Background()
		u, _, err := app.Service.CreateUser(ctx, service.SignUp{Name: "Vic", Email: "vic@export.example", Password: "password-of-vic"})
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Service.DB.Update(ctx, func(tx *store.Tx) error { return store.PutMember(ctx, tx, a.org.ID, u.ID, domain.RoleViewer) }); err != nil {
			t.Fatal(err)
		}
		viewer := app.SignIn(t, "vic@export.example", "password-of-vic")
		if p := viewer.Post("/settings/profile", "/orgs/"+a.org.ID+"/switch", nil); p.Status != http.StatusSeeOther {
			t.Fatalf("switch: %d", p.Status)
		}
		page := viewer.Get("/messages?recipient=" + url.QueryEscape("@example.org"))
		if page.Status != 200 || !strings.Contains(page.Body, "carol@example.org") || !strings.Contains(page.Body, `href="/messages/x-bounce"`) ||
			!strings.Contains(page.Body, `class="status status-bounced_hard"`) || strings.Contains(page.Body, "erin@example.net") ||
			!strings.Contains(page.Body, `href="/messages/export?recipient=%40example.org"`) {
			t.Errorf("messages page: %d\n%s", page.Status, page.Body)
		}
		page = viewer.Get("/messages?subject=bulk")
		if !strings.Contains(page.Body, `rel="next"`) || strings.Count(page.Body, `<tr class="hit"`) != 50 {
			t.Errorf("the first page of bulk: %d rows, next link %v", strings.Count(page.Body, `<tr class="hit"`), strings.Contains(page.Body, `rel="next"`))
		}
		if page = viewer.Get("/messages?recipient=bob"); page.Status != 400 || !strings.Contains(page.Body, `id="search-error"`) {
			t.Errorf("a bad filter on the page: %d", page.Status)
		}
		resp, body = srchDownload(t, app, viewer.Client, "", "/messages/export?recipient="+url.QueryEscape("@example.org"))
		if resp.StatusCode != 200 || !strings.Contains(body, "carol@example.org") || strings.Count(body, "\n") != 3 {
			t.Errorf("the page's CSV: %d %s", resp.StatusCode, body)
		}
		resp, body = srchDownload(t, app, viewer.Client, "", "/bounces/export?format=ndjson")
		if resp.StatusCode != 200 || strings.Count(body, "\n") != 2 || !strings.Contains(body, "dan@example.org") {
			t.Errorf("the page's bounces: %d %s", resp.StatusCode, body)
		}
		// Without a session, the download is a sign-in.
		if resp, _ := srchDownload(t, app, app.NewBrowser(t).Client, "", "/messages/export"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("export without a session: %d", resp.StatusCode)
		}
	})
}
