package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/sesevent"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// statsEv is one SES event in the event-publishing format.
type statsEv struct {
	Type   string // Send, Delivery, Bounce, Complaint, DeliveryDelay, Open, Click, Reject, Rendering Failure
	Msg    string
	At     time.Time // the event's own timestamp; also mail.timestamp
	To     []string  // mail.destination
	Rcpts  []string  // bounced, complained, delivered or delayed recipients (nil: To)
	Config string
	Tags   map[string][]string
	// Bounce: type, sub-type, diagnostic; Complaint: sub-type.
	BounceType, Sub, Diag string
	Template              string // Rendering Failure
}

func (e statsEv) json(t testing.TB) []byte {
	rcpts := e.Rcpts
	if rcpts == nil {
		rcpts = e.To
	}
	ts := sesTime(e.At)
	tags := map[string][]string{"ses:operation": {"SendEmail"}}
	if e.Config != "" {
		tags["ses:configuration-set"] = []string{e.Config}
	}
	for k, v := range e.Tags {
		tags[k] = v
	}
	d := map[string]any{"eventType": e.Type, "mail": map[string]any{
		"timestamp": ts, "source": "news@mail.shop.example", "messageId": e.Msg, "destination": e.To, "tags": tags,
		"commonHeaders": map[string]any{"subject": "Spring sale"},
	}}
	var list []map[string]any
	for _, r := range rcpts {
		list = append(list, map[string]any{"emailAddress": r, "diagnosticCode": e.Diag, "status": "5.0.0"})
	}
	switch e.Type {
	case "Send":
		d["send"] = map[string]any{}
	case "Delivery":
		d["delivery"] = map[string]any{"timestamp": ts, "recipients": rcpts, "smtpResponse": "250 2.6.0 ok"}
	case "Bounce":
		d["bounce"] = map[string]any{"feedbackId": "fb-" + e.Msg + ts, "bounceType": e.BounceType, "bounceSubType": e.Sub, "bouncedRecipients": list, "timestamp": ts}
	case "Complaint":
		var sub any
		if e.Sub != "" {
			sub = e.Sub
		}
		d["complaint"] = map[string]any{"feedbackId": "fc-" + e.Msg + ts, "complaintSubType": sub, "complainedRecipients": list, "timestamp": ts, "complaintFeedbackType": "abuse"}
	case "DeliveryDelay":
		d["deliveryDelay"] = map[string]any{"timestamp": ts, "delayType": "TransientCommunicationFailure", "delayedRecipients": list}
	case "Open":
		d["open"] = map[string]any{"timestamp": ts, "ipAddress": "192.0.2.1", "userAgent": "Mozilla/5.0"}
	case "Click":
		d["click"] = map[string]any{"timestamp": ts, "ipAddress": "192.0.2.1", "userAgent": "Mozilla/5.0", "link": "https://shop.example/"}
	case "Reject":
		d["reject"] = map[string]any{"reason": "Bad content"}
	case "Rendering Failure":
		d["failure"] = map[string]any{"templateName": e.Template, "errorMessage": "Attribute 'name' is not present."}
	}
	return mustJSON(t, d)
}

// statsIngest stores events through the ingest writer, in order, and
// returns whether each was new.
func statsIngest(t testing.TB, app *testapp.App, conn *domain.Connection, evs ...statsEv) []bool {
	t.Helper()
	out := make([]bool, len(evs))
	for i, e := range evs {
		ev, err := sesevent.Parse(e.json(t))
		if err != nil {
			t.Fatalf("parse %s of %s: %v", e.Type, e.Msg, err)
		}
		if out[i], err = app.Ingest.Write(context.Background(), conn, ev); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// statsOrg is an organisation with an owner, a read-only API key and a
// connection.
type statsOrg struct {
	org   *domain.Org
	owner *domain.User
	key   string // scope read only
	conn  *domain.Connection
	email string
}

func newStatsOrg(t *testing.T, app *testapp.App, name string) statsOrg {
	t.Helper()
	email := name + "@stats.example"
	u, org, key := owner(t, app, email, domain.ScopeRead)
	conn, _, err := app.Service.CreateConnection(context.Background(), service.SystemActor(org.ID), service.ConnectionInput{Name: name + " prod", AWSAccountID: "123456789012", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return statsOrg{org: org, owner: u, key: key, conn: conn, email: email}
}

func statsGet(t *testing.T, app *testapp.App, key, path string, v any) {
	t.Helper()
	status, body := apiCall(t, app, key, "GET", path, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

type statsCounts struct {
	Send, Delivery, BounceHard, BounceSoft, Complaint, Reject, DeliveryDelay, Open, Click, RenderingFailure int64
}

func (c *statsCounts) UnmarshalJSON(b []byte) error {
	var raw map[string]any // a bucket's start among the counts
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	n := func(k string) int64 { f, _ := raw[k].(float64); return int64(f) }
	*c = statsCounts{n("send"), n("delivery"), n("bounce_hard"), n("bounce_soft"), n("complaint"), n("reject"), n("delivery_delay"), n("open"), n("click"), n("rendering_failure")}
	return nil
}

type statsAnswer struct {
	Interval string
	From, To time.Time
	Series   []struct {
		Start time.Time
		C     statsCounts
	}
	Totals statsCounts
	Rates  map[string]*float64
}

func (a *statsAnswer) UnmarshalJSON(b []byte) error {
	var raw struct {
		Interval string
		From, To time.Time
		Series   []json.RawMessage
		Totals   statsCounts
		Rates    map[string]*float64
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	a.Interval, a.From, a.To, a.Totals, a.Rates = raw.Interval, raw.From, raw.To, raw.Totals, raw.Rates
	for _, s := range raw.Series {
		var x struct{ Start time.Time }
		var c statsCounts
		if err := json.Unmarshal(s, &x); err != nil {
			return err
		}
		if err := json.Unmarshal(s, &c); err != nil {
			return err
		}
		a.Series = append(a.Series, struct {
			Start time.Time
			C     statsCounts
		}{x.Start, c})
	}
	return nil
}

func near(p *float64, want float64) bool { return p != nil && *p > want-1e-9 && *p < want+1e-9 }

// The dashboards' numbers, on both engines: counts per interval as stored
// by ingest (out of order and repeated events counted once, in the hour of
// their own timestamp), rates, breakdowns with providers and tags, SES's
// reputation and the bounces explained; the retention window and the
// scopes; the pages with their SVG charts, for a viewer.
func TestStats(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		app := testapp.Start(t, e.DSN)
		now := time.Now().UTC()
		h := now.Truncate(time.Hour).Add(-3 * time.Hour) // an hour of the events
		m := func(min int) time.Time { return h.Add(time.Duration(min) * time.Minute) }
		spring, reset := map[string][]string{"campaign": {"spring"}}, map[string][]string{"campaign": {"reset"}}

		s := newStatsOrg(t, app, "stats")
		stored := statsIngest(t, app, s.conn,
			// Outcomes before the Send they follow: ingest order does not matter.
			statsEv{Type: "Complaint", Msg: "m1", At: m(120), To: []string{"ann@gmail.com", "bob@outlook.com"}, Rcpts: []string{"ann@gmail.com"}, Config: "marketing", Tags: spring},
			statsEv{Type: "Delivery", Msg: "m1", At: m(61), To: []string{"ann@gmail.com", "bob@outlook.com"}, Rcpts: []string{"ann@gmail.com"}, Config: "marketing", Tags: spring},
			statsEv{Type: "Send", Msg: "m1", At: m(5), To: []string{"ann@gmail.com", "bob@outlook.com"}, Config: "marketing", Tags: spring},
			statsEv{Type: "Bounce", Msg: "m1", At: m(10), To: []string{"ann@gmail.com", "bob@outlook.com"}, Rcpts: []string{"bob@outlook.com"}, Config: "marketing", Tags: spring,
				BounceType: "Permanent", Sub: "General", Diag: "smtp; 550 5.1.1 user unknown"},
			statsEv{Type: "Delivery", Msg: "m2", At: m(20), To: []string{"cy@yahoo.com"}, Config: "transactional", Tags: reset},
			statsEv{Type: "Send", Msg: "m2", At: m(15), To: []string{"cy@yahoo.com"}, Config: "transactional", Tags: reset},
			statsEv{Type: "Send", Msg: "m2", At: m(15), To: []string{"cy@yahoo.com"}, Config: "transactional", Tags: reset}, // again
			statsEv{Type: "Send", Msg: "m3", At: m(30), To: []string{"dan@gmail.com"}, Config: "marketing", Tags: spring},
			statsEv{Type: "DeliveryDelay", Msg: "m3", At: m(35), To: []string{"dan@gmail.com"}, Config: "marketing", Tags: spring, Diag: "smtp; 421 4.4.1 try later"},
			statsEv{Type: "Bounce", Msg: "m3", At: m(40), To: []string{"dan@gmail.com"}, Config: "marketing", Tags: spring, BounceType: "Transient", Sub: "General", Diag: "smtp; 421 4.4.7 expired"},
			statsEv{Type: "Reject", Msg: "m4", At: m(50), To: []string{"eve@example.com"}},
			statsEv{Type: "Rendering Failure", Msg: "m5", At: m(55), To: []string{"fay@example.com"}, Template: "welcome"},
			statsEv{Type: "Send", Msg: "m6", At: m(6), To: []string{"gus@gmail.com"}, Config: "marketing", Tags: spring},
			statsEv{Type: "Delivery", Msg: "m6", At: m(62), To: []string{"gus@gmail.com"}, Config: "marketing", Tags: spring},
			statsEv{Type: "Open", Msg: "m6", At: m(90), To: []string{"gus@gmail.com"}, Config: "marketing", Tags: spring},
			statsEv{Type: "Click", Msg: "m6", At: m(91), To: []string{"gus@gmail.com"}, Config: "marketing", Tags: spring},
		)
		if stored[5] != true || stored[6] != false {
			t.Fatalf("the repeated Send was stored again: %v", stored)
		}
		rng := url.Values{"from": {h.Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {h.Add(3 * time.Hour).Format(time.RFC3339)}}

		t.Run("counts per interval", func(t *testing.T) {
			var a statsAnswer
			statsGet(t, app, s.key, "/api/v1/stats?interval=hour&"+rng.Encode(), &a)
			want := []statsCounts{{}, {},
				{Send: 5, Delivery: 1, BounceHard: 1, BounceSoft: 1, Reject: 1, DeliveryDelay: 1, RenderingFailure: 1},
				{Delivery: 2, Open: 1, Click: 1},
				{Complaint: 1}}
			if a.Interval != "hour" || len(a.Series) != len(want) || !a.From.Equal(h.Add(-2*time.Hour)) || !a.To.Equal(h.Add(3*time.Hour)) {
				t.Fatalf("answer: %s %v–%v, %d buckets", a.Interval, a.From, a.To, len(a.Series))
			}
			for i, w := range want {
				if !a.Series[i].Start.Equal(h.Add(time.Duration(i-2)*time.Hour)) || a.Series[i].C != w {
					t.Errorf("bucket %d (%v): %+v, want %+v", i, a.Series[i].Start, a.Series[i].C, w)
				}
			}
			total := statsCounts{Send: 5, Delivery: 3, BounceHard: 1, BounceSoft: 1, Complaint: 1, Reject: 1, DeliveryDelay: 1, Open: 1, Click: 1, RenderingFailure: 1}
			if a.Totals != total {
				t.Fatalf("totals %+v, want %+v", a.Totals, total)
			}
			if !near(a.Rates["delivery"], 0.6) || !near(a.Rates["bounce"], 0.2) || !near(a.Rates["complaint"], 1.0/3) || !near(a.Rates["open"], 1.0/3) || !near(a.Rates["click"], 1.0/3) {
				t.Fatalf("rates %v", a.Rates)
			}
			// Per UTC day: the same totals, in whole days.
			var d statsAnswer
			statsGet(t, app, s.key, "/api/v1/stats?interval=day&"+rng.Encode(), &d)
			if d.Interval != "day" || d.Totals != total || !d.From.Equal(h.Add(-2*time.Hour).Truncate(24*time.Hour)) || d.To.Sub(d.From)%(24*time.Hour) != 0 {
				t.Fatalf("per day: %s %v–%v %+v", d.Interval, d.From, d.To, d.Totals)
			}
			// Another organisation sees none of it.
			other := newStatsOrg(t, app, "other")
			var o statsAnswer
			statsGet(t, app, other.key, "/api/v1/stats?"+rng.Encode(), &o)
			if o.Totals != (statsCounts{}) || o.Rates["delivery"] != nil {
				t.Fatalf("another organisation's stats: %+v %v", o.Totals, o.Rates)
			}
		})

		t.Run("refusals", func(t *testing.T) {
			for _, c := range []struct {
				query, code, field string
				status             int
			}{
				{"from=" + now.AddDate(0, 0, -10).Format(time.RFC3339), "retention_exceeded", "from", 403},
				{"from=" + now.AddDate(0, 0, -40).Format("2006-01-02") + "&interval=hour", "invalid", "interval", 400},
				{"interval=week", "invalid", "interval", 400},
				{"from=yesterday", "invalid", "from", 400},
			} {
				for _, path := range []string{"/api/v1/stats", "/api/v1/breakdowns", "/api/v1/reputation", "/api/v1/bounces/summary"} {
					if path != "/api/v1/stats" && c.field == "interval" {
						continue
					}
					status, body := apiCall(t, app, s.key, "GET", path+"?"+c.query, "")
					var e struct{ Error struct{ Code, Field string } }
					json.Unmarshal([]byte(body), &e)
					if status != c.status || e.Error.Code != c.code || e.Error.Field != c.field {
						t.Errorf("GET %s?%s: %d %s, want %d %s on %s", path, c.query, status, body, c.status, c.code, c.field)
					}
				}
			}
			if status, body := apiCall(t, app, s.key, "GET", "/api/v1/breakdowns?by=recipient", ""); status != 400 || !strings.Contains(body, `"field":"by"`) {
				t.Errorf("unknown dimension: %d %s", status, body)
			}
			// The read scope is enough (the key has nothing else); a key
			// without it is refused.
			_, _, writeKey := owner(t, app, "writer@stats.example", domain.ScopeWrite)
			for _, path := range []string{"/api/v1/stats", "/api/v1/breakdowns", "/api/v1/reputation", "/api/v1/bounces/summary"} {
				if status, _ := apiCall(t, app, s.key, "GET", path, ""); status != 200 {
					t.Errorf("GET %s with the read scope: %d", path, status)
				}
				if status, _ := apiCall(t, app, writeKey, "GET", path, ""); status != 403 {
					t.Errorf("GET %s without the read scope: %d, want 403", path, status)
				}
			}
		})

		type bdRow struct {
			Key, Label string
			Send       int64
			Delivery   int64
			BounceHard int64 `json:"bounce_hard"`
			Complaint  int64
			Rates      map[string]*float64
			Filter     map[string]string
			Domains    []struct {
				Domain string
				Count  int64
			}
		}
		type bdAnswer struct {
			By, Sort, Order string
			TotalRows       int `json:"total_rows"`
			Rows            []bdRow
		}
		breakdown := func(t *testing.T, key, query string) bdAnswer {
			t.Helper()
			var b bdAnswer
			statsGet(t, app, key, "/api/v1/breakdowns?"+query+"&"+rng.Encode(), &b)
			return b
		}
		rowsOf := func(b bdAnswer) map[string]bdRow {
			out := map[string]bdRow{}
			for _, r := range b.Rows {
				out[r.Key] = r
			}
			return out
		}

		t.Run("breakdowns", func(t *testing.T) {
			b := breakdown(t, s.key, "by=configuration_set")
			rows := rowsOf(b)
			mk, tr, none := rows["marketing"], rows["transactional"], rows[""]
			if b.By != "configuration_set" || b.Sort != "sent" || b.Order != "desc" || len(b.Rows) != 3 || b.Rows[0].Key != "marketing" {
				t.Fatalf("configuration sets: %+v", b)
			}
			if mk.Send != 4 || mk.Delivery != 2 || mk.BounceHard != 1 || mk.Complaint != 1 || !near(mk.Rates["delivery"], 0.5) || !near(mk.Rates["bounce"], 0.25) ||
				!near(mk.Rates["complaint"], 0.5) || !near(mk.Rates["open"], 0.5) || mk.Filter["configuration_set"] != "marketing" {
				t.Errorf("marketing: %+v", mk)
			}
			if tr.Send != 1 || tr.Delivery != 1 || none.Label != "(none)" || none.Filter != nil || none.Rates["delivery"] != nil {
				t.Errorf("transactional %+v, none %+v", tr, none)
			}

			// Providers group recipient domains; rows without a rate sort last.
			b = breakdown(t, s.key, "by=provider&sort=bounce_rate")
			var order []string
			for _, r := range b.Rows {
				order = append(order, r.Key)
			}
			if strings.Join(order, " ") != "microsoft google yahoo other" {
				t.Errorf("providers by bounce rate: %v", order)
			}
			rows = rowsOf(b)
			if g := rows["google"]; g.Label != "Gmail / Google Workspace" || g.Send != 3 || g.Delivery != 2 || len(g.Domains) != 1 || g.Domains[0].Domain != "gmail.com" ||
				g.Domains[0].Count != 3 || g.Filter != nil {
				t.Errorf("google: %+v", g)
			}
			if ms := rows["microsoft"]; ms.Send != 1 || ms.BounceHard != 1 || !near(ms.Rates["bounce"], 1) {
				t.Errorf("microsoft: %+v", ms)
			}
			b = breakdown(t, s.key, "by=provider&sort=name")
			if b.Order != "asc" || b.Rows[0].Key != "google" || b.Rows[3].Key != "yahoo" {
				t.Errorf("providers by name: %+v", b.Rows)
			}

			// Tags, templates, connections, sending domains.
			rows = rowsOf(breakdown(t, s.key, "by=tag"))
			if sp := rows["campaign:spring"]; sp.Label != "campaign: spring" || sp.Send != 4 || sp.Filter["tag"] != "campaign:spring" || rows["campaign:reset"].Send != 1 {
				t.Errorf("tags: %+v", rows)
			}
			rows = rowsOf(breakdown(t, s.key, "by=template"))
			if w := rows["welcome"]; w.Filter["template"] != "welcome" || rows[""].Send != 5 {
				t.Errorf("templates: %+v", rows)
			}
			rows = rowsOf(breakdown(t, s.key, "by=connection"))
			if c := rows[s.conn.ID]; c.Label != "stats prod" || c.Send != 5 || c.Filter["connection"] != s.conn.ID {
				t.Errorf("connections: %+v", rows)
			}
			rows = rowsOf(breakdown(t, s.key, "by=sending_domain"))
			if d := rows["mail.shop.example"]; d.Send != 5 || d.Filter["sender"] != "@mail.shop.example" {
				t.Errorf("sending domains: %+v", rows)
			}
			if b := breakdown(t, s.key, "by=configuration_set&limit=1"); len(b.Rows) != 1 || b.TotalRows != 3 {
				t.Errorf("limit: %d rows of %d", len(b.Rows), b.TotalRows)
			}
		})

		t.Run("tag bounds", func(t *testing.T) {
			tg := newStatsOrg(t, app, "tags")
			// Written concurrently, as requests arrive: on PostgreSQL several
			// writers count the same hour's tags at once.
			var wg sync.WaitGroup
			sem := make(chan struct{}, 8)
			errs := make(chan error, 105)
			for i := range 105 {
				ev, err := sesevent.Parse(statsEv{Type: "Send", Msg: fmt.Sprintf("cap-%03d", i), At: m(i % 60), To: []string{fmt.Sprintf("u%03d@example.org", i)},
					Tags: map[string][]string{"order_id": {fmt.Sprintf("o-%03d", i)}}}.json(t))
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					if _, err := app.Ingest.Write(context.Background(), tg.conn, ev); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			b := breakdown(t, tg.key, "by=tag&limit=1000")
			rows := rowsOf(b)
			other := rows["order_id:"]
			if b.TotalRows != 101 || other.Label != "order_id: (other values)" || other.Send != 5 || other.Filter != nil {
				t.Fatalf("105 values of a tag in an hour: %d rows, other values %+v", b.TotalRows, other)
			}
			p := app.SignIn(t, tg.email, "password-"+tg.email).Get("/breakdowns?by=tag&range=24h")
			if p.Status != 200 || !strings.Contains(p.Body, "order_id: (other values)") || !strings.Contains(p.Body, "100 values of a key") {
				t.Fatalf("tag breakdown page: %d\n%s", p.Status, p.Body)
			}
		})

		// Reputation: 41 sent, one of them to an address on the account's
		// suppression list (counted neither as sent nor as a bounce); 2 hard
		// bounces of 40 sent is 5 %, SES's review threshold; 1 complaint of
		// 37 delivered is over 0.5 %; soft bounces do not count.
		r := newStatsOrg(t, app, "rep")
		var evs []statsEv
		for i := range 40 {
			rcpt := fmt.Sprintf("u%02d@gmail.com", i)
			if i >= 20 {
				rcpt = fmt.Sprintf("u%02d@yahoo.com", i)
			}
			msg := fmt.Sprintf("r-%02d", i)
			evs = append(evs, statsEv{Type: "Send", Msg: msg, At: m(i), To: []string{rcpt}})
			switch i {
			case 0, 1:
				evs = append(evs, statsEv{Type: "Bounce", Msg: msg, At: m(i + 1), To: []string{rcpt}, BounceType: "Permanent", Sub: "General", Diag: "smtp; 550 5.1.1 user unknown"})
			case 20:
				evs = append(evs, statsEv{Type: "Bounce", Msg: msg, At: m(i + 1), To: []string{rcpt}, BounceType: "Transient", Sub: "MailboxFull", Diag: "smtp; 452 4.2.2 mailbox full"})
			default:
				evs = append(evs, statsEv{Type: "Delivery", Msg: msg, At: m(i + 1), To: []string{rcpt}})
			}
			switch i {
			case 21:
				evs = append(evs, statsEv{Type: "Complaint", Msg: msg, At: m(i + 2), To: []string{rcpt}})
			case 22:
				evs = append(evs, statsEv{Type: "Complaint", Msg: msg, At: m(i + 2), To: []string{rcpt}, Sub: "OnAccountSuppressionList"})
			}
		}
		evs = append(evs, statsEv{Type: "Send", Msg: "r-40", At: m(45), To: []string{"gone@outlook.com"}},
			statsEv{Type: "Bounce", Msg: "r-40", At: m(45), To: []string{"gone@outlook.com"}, BounceType: "Permanent", Sub: "OnAccountSuppressionList",
				Diag: "Amazon SES did not send the message to this address because it is on the suppression list for your account."})
		statsIngest(t, app, r.conn, evs...)

		t.Run("reputation", func(t *testing.T) {
			type metrics struct {
				Sent, Delivered, Bounces, Complaints int64
				BounceRate                           *float64 `json:"bounce_rate"`
				ComplaintRate                        *float64 `json:"complaint_rate"`
				BounceStatus                         string   `json:"bounce_status"`
				ComplaintStatus                      string   `json:"complaint_status"`
				Status                               string
				LowVolume                            bool `json:"low_volume"`
			}
			type contributor struct {
				Key, Label string
				Volume     int64
				Count      int64
				Rate       *float64
				Share      float64
				Filter     map[string]string
				Domains    []struct{ Domain string }
			}
			type contributors struct {
				Template      []contributor
				SendingDomain []contributor `json:"sending_domain"`
				Provider      []contributor
			}
			var a struct {
				Thresholds  map[string]struct{ Review, Pause float64 }
				MinVolume   int `json:"min_volume"`
				Overall     metrics
				Connections []struct {
					ConnectionID string `json:"connection_id"`
					Name         string
					metrics
				}
				Trend []struct {
					Day string
					metrics
				}
				Bounces, Complaints contributors
			}
			statsGet(t, app, r.key, "/api/v1/reputation?"+rng.Encode(), &a)
			o := a.Overall
			if o.Sent != 40 || o.Bounces != 2 || o.Delivered != 37 || o.Complaints != 1 || !near(o.BounceRate, 0.05) || !near(o.ComplaintRate, 1.0/37) {
				t.Fatalf("overall: %+v", o)
			}
			if o.BounceStatus != "under_review_risk" || o.ComplaintStatus != "pause_risk" || o.Status != "pause_risk" || !o.LowVolume {
				t.Fatalf("statuses: %+v", o)
			}
			if a.Thresholds["bounce"].Review != 0.05 || a.Thresholds["bounce"].Pause != 0.1 || a.Thresholds["complaint"].Review != 0.001 || a.Thresholds["complaint"].Pause != 0.005 {
				t.Errorf("thresholds: %+v", a.Thresholds)
			}
			if len(a.Connections) != 1 || a.Connections[0].Name != "rep prod" || a.Connections[0].Sent != 40 || a.Connections[0].Status != "pause_risk" {
				t.Errorf("connections: %+v", a.Connections)
			}
			var trendSent, trendBounces int64
			for _, d := range a.Trend {
				trendSent += d.Sent
				trendBounces += d.Bounces
			}
			if trendSent != 40 || trendBounces != 2 || len(a.Trend) < 1 || len(a.Trend) > 2 {
				t.Errorf("trend: %+v", a.Trend)
			}
			bp := a.Bounces.Provider
			if len(bp) != 1 || bp[0].Key != "google" || bp[0].Count != 2 || bp[0].Volume != 20 || bp[0].Rate != nil || bp[0].Share != 1 || len(bp[0].Domains) != 1 || bp[0].Domains[0].Domain != "gmail.com" {
				t.Errorf("bounces by provider: %+v", bp)
			}
			cp := a.Complaints.Provider
			if len(cp) != 1 || cp[0].Key != "yahoo" || cp[0].Count != 1 || cp[0].Volume != 19 {
				t.Errorf("complaints by provider: %+v", cp)
			}
			if sd := a.Bounces.SendingDomain; len(sd) != 1 || sd[0].Key != "mail.shop.example" || sd[0].Volume != 40 || sd[0].Filter["sender"] != "@mail.shop.example" {
				t.Errorf("bounces by sending domain: %+v", sd)
			}
			if tp := a.Bounces.Template; len(tp) != 1 || tp[0].Label != "(none)" || tp[0].Filter != nil {
				t.Errorf("bounces by template: %+v", tp)
			}
		})

		t.Run("bounces explained", func(t *testing.T) {
			var a struct {
				Total, Counted int64
				Groups         []struct {
					Provider, Key, Title, Explanation, Action string
					StatusCode                                string `json:"status_code"`
					Total, Hard, Soft, Counted                int64
					Domains                                   []struct {
						Domain string
						Count  int64
					}
				}
			}
			statsGet(t, app, r.key, "/api/v1/bounces/summary?"+rng.Encode(), &a)
			if a.Total != 4 || a.Counted != 2 || len(a.Groups) != 3 {
				t.Fatalf("summary: %+v", a)
			}
			g := a.Groups[0]
			if g.Provider != "google" || g.StatusCode != "5.1.1" || g.Title != "The address does not exist" || g.Hard != 2 || g.Counted != 2 ||
				!strings.Contains(g.Action, "Remove the address") || g.Domains[0].Domain != "gmail.com" || g.Domains[0].Count != 2 {
				t.Errorf("5.1.1 at Google: %+v", g)
			}
			byProvider := map[string]int{}
			for i, g := range a.Groups {
				byProvider[g.Provider] = i
			}
			if g := a.Groups[byProvider["microsoft"]]; g.Key != "OnAccountSuppressionList" || g.StatusCode != "" || g.Counted != 0 || g.Hard != 1 || g.Title != "On your account's suppression list" {
				t.Errorf("suppressed at Microsoft: %+v", g)
			}
			if g := a.Groups[byProvider["yahoo"]]; g.StatusCode != "4.2.2" || g.Soft != 1 || g.Counted != 0 || g.Title != "The mailbox is full (for now)" {
				t.Errorf("4.2.2 at Yahoo: %+v", g)
			}
		})

		t.Run("pages", func(t *testing.T) {
			// A viewer of the stats organisation.
			ctx := context.Background()
			ownerActor := &domain.Actor{OrgID: s.org.ID, UserID: s.owner.ID, Email: s.owner.Email, Role: domain.RoleOwner}
			if _, err := app.Service.Invite(ctx, ownerActor, "vera@stats.example", domain.RoleViewer); err != nil {
				t.Fatal(err)
			}
			vera, _, err := app.Service.CreateUser(ctx, service.SignUp{Name: "Vera", Email: "vera@stats.example", Password: "vera-password-1"})
			if err != nil {
				t.Fatal(err)
			}
			tok := strings.TrimPrefix(linkIn(t, app.Mail.Wait(t, "vera@stats.example", "invited", defaultWait).Text, app.URL+"/invitations/"), app.URL+"/invitations/")
			if _, err := app.Service.AcceptInvitation(ctx, vera, tok, service.Client{}); err != nil {
				t.Fatal(err)
			}
			v := app.SignIn(t, "vera@stats.example", "vera-password-1")
			v.Post("/settings/profile", "/orgs/"+s.org.ID+"/switch", nil)

			p := v.Get("/overview?range=24h")
			for _, want := range []string{`role="img"`, `<title id="chart-volume-title">Messages sent, delivered, opened and clicked per hour</title>`,
				`<title id="chart-problems-title">`, `<title id="chart-rates-title">`, "Sent: 5 in total.", `<span class="tile-label">Sent</span> <strong>5</strong>`,
				"60.0% of sent", `aria-current="page">24 hours</a>`, `<span class="disabled" title="Beyond this organisation&#39;s retention of 7 days">30 days</span>`,
				`href="/breakdowns"`} {
				if !strings.Contains(p.Body, want) {
					t.Errorf("overview lacks %q", want)
				}
			}
			if p.Status != 200 || t.Failed() {
				t.Fatalf("overview: %d\n%s", p.Status, p.Body)
			}
			// A range before the retention window is refused.
			if p := v.Get("/overview?range=30d"); p.Status != 403 || !strings.Contains(p.Body, "keeps event data for 7 days") {
				t.Errorf("30 days with a retention of 7: %d", p.Status)
			}

			p = v.Get("/breakdowns?range=24h&by=configuration_set")
			if p.Status != 200 || !strings.Contains(p.Body, `<a href="/messages?configuration_set=marketing&amp;from=`) || !strings.Contains(p.Body, `aria-sort="descending"`) ||
				!strings.Contains(p.Body, `sort=bounce_rate`) {
				t.Errorf("breakdowns: %d\n%s", p.Status, p.Body)
			}
			p = v.Get("/breakdowns?range=24h&by=provider")
			if p.Status != 200 || !strings.Contains(p.Body, "Gmail / Google Workspace") || !strings.Contains(p.Body, `recipient=%40gmail.com`) {
				t.Errorf("providers page: %d\n%s", p.Status, p.Body)
			}

			// The reputation page of the other organisation, by its owner.
			p = app.SignIn(t, r.email, "password-"+r.email).Get("/reputation")
			for _, want := range []string{`<title id="chart-bounce-rate-title">`, `stroke-dasharray`, "Review at 5%", "Pause risk at 0.5%",
				"Risk of pause", "Risk of review", "5.0%", "The address does not exist", "On your account&#39;s suppression list", "Bounces explained",
				"Gmail / Google Workspace", "— (under 100)", `aria-current="page">7 days</a>`} {
				if !strings.Contains(p.Body, want) {
					t.Errorf("reputation lacks %q", want)
				}
			}
			if p.Status != 200 || t.Failed() {
				t.Fatalf("reputation: %d\n%s", p.Status, p.Body)
			}

			// An organisation without events sees the empty states, no chart.
			empty := newStatsOrg(t, app, "empty")
			eb := app.SignIn(t, empty.email, "password-"+empty.email)
			for path, want := range map[string]string{"/overview": "No events in this range", "/breakdowns": "No events in this range", "/reputation": "No mail in this range"} {
				if p := eb.Get(path); p.Status != 200 || !strings.Contains(p.Body, want) || strings.Contains(p.Body, "<svg") {
					t.Errorf("empty %s: %d\n%s", path, p.Status, p.Body)
				}
			}
		})
	})
}
