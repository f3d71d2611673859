package web_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sendops/internal/cli"
	"sendops/internal/domain"
	"sendops/internal/ingest"
	"sendops/internal/service"
	"sendops/internal/snsverify"
	"sendops/internal/store"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// The customer's AWS account and region of every fixture.
const (
	awsAccount = "123456789012"
	awsRegion  = "us-east-1"
	snsHost    = "sns.us-east-1.amazonaws.com"
	snsCertURL = "https://" + snsHost + "/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"
	snsTopic   = "arn:aws:sns:us-east-1:" + awsAccount + ":ses-events"
)

// sesEv describes one SES event; detail renders it in the shapes of the SES
// developer guide.
type sesEv struct {
	Type       string    // eventType (or notificationType): Send, Delivery, Bounce, …, "Rendering Failure"
	MessageID  string    // mail.messageId
	MailTime   time.Time // mail.timestamp
	At         time.Time // the type's own timestamp (zero: MailTime)
	To         []string  // mail.destination
	Rcpts      []string  // bounced, complained, delivered or delayed recipients (nil: To)
	BounceType string    // Bounce: Permanent (default), Transient, Undetermined
	Template   string    // Rendering Failure: failure.templateName
	// Notification renders the older identity-notification format
	// (notificationType, no tags), as SES sends to an SNS feedback topic.
	Notification bool
}

func sesTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (e sesEv) at() time.Time {
	if e.At.IsZero() {
		return e.MailTime
	}
	return e.At
}

// detail returns the event object: the EventBridge detail, or the SNS Message.
func (e sesEv) detail() map[string]any {
	rcpts := e.Rcpts
	if rcpts == nil {
		rcpts = e.To
	}
	const from = "news@mail.shop.example"
	mail := map[string]any{
		"timestamp":        sesTime(e.MailTime),
		"source":           from,
		"sourceArn":        "arn:aws:ses:us-east-1:" + awsAccount + ":identity/mail.shop.example",
		"sourceIp":         "192.0.2.10",
		"sendingAccountId": awsAccount,
		"callerIdentity":   "sender",
		"messageId":        e.MessageID,
		"destination":      e.To,
		"headersTruncated": false,
		"headers": []map[string]string{
			{"name": "From", "value": "Shop <" + from + ">"},
			{"name": "To", "value": strings.Join(e.To, ", ")},
			{"name": "Subject", "value": "Spring sale"},
		},
		"commonHeaders": map[string]any{"from": []string{"Shop <" + from + ">"}, "to": e.To, "messageId": e.MessageID, "subject": "Spring sale"},
	}
	d := map[string]any{"mail": mail}
	if e.Notification {
		d["notificationType"] = e.Type
	} else {
		d["eventType"] = e.Type
		mail["tags"] = map[string][]string{
			"ses:configuration-set": {"marketing"},
			"ses:operation":         {"SendEmail"},
			"ses:source-ip":         {"192.0.2.10"},
			"ses:from-domain":       {"mail.shop.example"},
			"ses:caller-identity":   {"sender"},
			"campaign":              {"spring"},
		}
	}
	at := sesTime(e.at())
	switch e.Type {
	case "Send":
		d["send"] = map[string]any{}
	case "Delivery":
		d["delivery"] = map[string]any{"timestamp": at, "processingTimeMillis": 546, "recipients": rcpts,
			"smtpResponse": "250 2.6.0 Message received", "remoteMtaIp": "198.51.100.7", "reportingMTA": "a8-70.smtp-out.amazonses.com"}
	case "Bounce":
		bt := e.BounceType
		if bt == "" {
			bt = "Permanent"
		}
		var brs []map[string]any
		for _, r := range rcpts {
			brs = append(brs, map[string]any{"emailAddress": r, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"})
		}
		d["bounce"] = map[string]any{"feedbackId": "0100018f-bounce-" + e.MessageID, "bounceType": bt, "bounceSubType": "General",
			"bouncedRecipients": brs, "timestamp": at, "reportingMTA": "dsn; e226-55.smtp-out.us-east-1.amazonses.com"}
	case "Complaint":
		var crs []map[string]any
		for _, r := range rcpts {
			crs = append(crs, map[string]any{"emailAddress": r})
		}
		d["complaint"] = map[string]any{"feedbackId": "0100018f-complaint-" + e.MessageID, "complaintSubType": nil, "complainedRecipients": crs,
			"timestamp": at, "userAgent": "Yahoo!-Mail-Feedback/2.0", "complaintFeedbackType": "abuse", "arrivalDate": at}
	case "DeliveryDelay":
		var drs []map[string]any
		for _, r := range rcpts {
			drs = append(drs, map[string]any{"emailAddress": r, "status": "4.4.1", "diagnosticCode": "smtp; 421 4.4.1 Unable to connect"})
		}
		d["deliveryDelay"] = map[string]any{"timestamp": at, "delayType": "TransientCommunicationFailure",
			"expirationTime": sesTime(e.at().Add(24 * time.Hour)), "delayedRecipients": drs, "reportingMTA": "a8-70.smtp-out.amazonses.com"}
	case "Open":
		d["open"] = map[string]any{"ipAddress": "192.0.2.1", "timestamp": at, "userAgent": "Mozilla/5.0 (iPhone)"}
	case "Click":
		d["click"] = map[string]any{"ipAddress": "192.0.2.1", "timestamp": at, "userAgent": "Mozilla/5.0", "link": "https://shop.example/sale",
			"linkTags": map[string][]string{"samplekey0": {"samplevalue0"}}}
	case "Rendering Failure":
		d["failure"] = map[string]any{"templateName": e.Template, "errorMessage": "Attribute 'name' is not present in the rendering data."}
	}
	return d
}

// detailType is the EventBridge detail-type SES gives each event type.
var detailType = map[string]string{
	"Send": "Email Sent", "Delivery": "Email Delivered", "Bounce": "Email Bounced", "Complaint": "Email Complaint Received",
	"DeliveryDelay": "Email Delivery Delayed", "Open": "Email Opened", "Click": "Email Clicked", "Reject": "Email Rejected",
	"Rendering Failure": "Email Rendering Failed",
}

// envelope returns the event as an EventBridge API destination posts it.
func (e sesEv) envelope() map[string]any {
	id := sha256.Sum256([]byte(e.MessageID + e.Type + sesTime(e.at())))
	h := hex.EncodeToString(id[:16])
	return map[string]any{
		"version": "0", "id": h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:],
		"detail-type": detailType[e.Type], "source": "aws.ses", "account": awsAccount, "time": e.at().UTC().Format(time.RFC3339),
		"region": awsRegion, "resources": []string{"arn:aws:ses:us-east-1:" + awsAccount + ":configuration-set/marketing"},
		"detail": e.detail(),
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answer is an ingest response.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

// result is the "status" of a 200 ingest answer: stored, duplicate, ignored.
func (a answer) result() string {
	var v struct{ Status string }
	json.Unmarshal([]byte(a.Body), &v)
	return v.Status
}

func post(t testing.TB, rawURL string, header http.Header, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest("POST", rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// postEB posts an EventBridge body with the ingest secret.
func postEB(t testing.TB, app *testapp.App, secret string, body []byte) answer {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "User-Agent": {"Amazon/EventBridge/ApiDestinations"}}
	if secret != "" {
		h.Set(ingest.HeaderName, secret)
	}
	return post(t, app.URL+"/ingest/eventbridge", h, body)
}

// sendEB posts an event through EventBridge and wants 200 with result want.
func sendEB(t testing.TB, app *testapp.App, secret string, e sesEv, want string) {
	t.Helper()
	a := postEB(t, app, secret, mustJSON(t, e.envelope()))
	if a.Status != http.StatusOK || a.result() != want {
		t.Fatalf("%s %s via EventBridge: %d %s, want 200 %q", e.Type, e.MessageID, a.Status, a.Body, want)
	}
}

// creds is a connection as the API returns it on creation or rotation.
type creds struct {
	ID     string `json:"id"`
	Ingest struct {
		EventBridgeURL string `json:"eventbridge_url"`
		SNSURL         string `json:"sns_url"`
		HeaderName     string `json:"header_name"`
		Secret         string `json:"secret"`
	} `json:"ingest"`
}

// snsPath is the path of the connection's SNS URL.
func (c creds) snsPath(t testing.TB) string {
	u, err := url.Parse(c.Ingest.SNSURL)
	if err != nil || !strings.HasPrefix(u.Path, "/ingest/sns/") {
		t.Fatalf("SNS URL %q", c.Ingest.SNSURL)
	}
	return u.Path
}

func createConnection(t testing.TB, app *testapp.App, key, account, region string) creds {
	t.Helper()
	status, body := apiCall(t, app, key, "POST", "/api/v1/connections", fmt.Sprintf(`{"name":"prod %s","aws_account_id":%q,"region":%q}`, region, account, region))
	var c creds
	if err := json.Unmarshal([]byte(body), &c); status != http.StatusCreated || err != nil || c.Ingest.Secret == "" || c.Ingest.SNSURL == "" {
		t.Fatalf("create connection: %d %s", status, body)
	}
	if c.Ingest.EventBridgeURL != app.URL+"/ingest/eventbridge" || c.Ingest.HeaderName != ingest.HeaderName {
		t.Fatalf("connection credentials: %+v", c.Ingest)
	}
	return c
}

// ingestCounts reads sendops_ingest_events_total by result from /metrics.
func ingestCounts(t testing.TB, app *testapp.App) map[string]float64 {
	t.Helper()
	resp, err := http.Get(app.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	const prefix = `sendops_ingest_events_total{result="`
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		label, value, _ := strings.Cut(rest, `"} `)
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metrics line %q", sc.Text())
		}
		out[label] = n
	}
	if resp.StatusCode != 200 || len(out) != 5 {
		t.Fatalf("metrics: status %d, ingest counters %v", resp.StatusCode, out)
	}
	return out
}

// wantDelta checks that the ingest counters moved by exactly want since before.
func wantDelta(t testing.TB, app *testapp.App, before map[string]float64, want map[string]float64) {
	t.Helper()
	after := ingestCounts(t, app)
	for _, r := range []string{"stored", "duplicate", "invalid", "unauthorized", "overloaded"} {
		if d := after[r] - before[r]; d != want[r] {
			t.Errorf("sendops_ingest_events_total{result=%q} moved by %v, want %v", r, d, want[r])
		}
	}
}

// query runs a query on the app's database and returns every row, each
// column rendered as text.
func query(t testing.TB, app *testapp.App, q string, args ...any) [][]string {
	t.Helper()
	var out [][]string
	err := app.DB.View(context.Background(), func(tx *store.Tx) error {
		rows, err := tx.Query(context.Background(), q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				switch v := v.(type) {
				case []byte:
					row[i] = string(v)
				case time.Time:
					row[i] = v.UTC().Format(time.RFC3339)
				case string:
					if tm, err := time.Parse(time.RFC3339Nano, v); err == nil {
						row[i] = tm.UTC().Format(time.RFC3339)
					} else {
						row[i] = v
					}
				default:
					row[i] = fmt.Sprint(v)
				}
			}
			out = append(out, row)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func count(t testing.TB, app *testapp.App, q string, args ...any) int {
	t.Helper()
	rows := query(t, app, q, args...)
	n, err := strconv.Atoi(rows[0][0])
	if err != nil {
		t.Fatalf("%s: %v", q, rows)
	}
	return n
}

// message is GET /api/v1/messages/{id}.
type message struct {
	MessageID     string `json:"message_id"`
	ConnectionID  string `json:"connection_id"`
	Sender        string `json:"sender"`
	SendingDomain string `json:"sending_domain"`
	Subject       string `json:"subject"`
	ConfigSet     string `json:"configuration_set"`
	Tags          map[string][]string
	Redacted      bool `json:"recipients_redacted"`
	Recipients    []struct {
		Address, Domain, Status string
	}
	Events []struct {
		Type       string
		Time       time.Time
		Recipients []string
		BounceType string `json:"bounce_type"`
		Raw        json.RawMessage
	}
}

func getMessage(t testing.TB, app *testapp.App, key, id string) (message, string) {
	t.Helper()
	status, body := apiCall(t, app, key, "GET", "/api/v1/messages/"+url.PathEscape(id), "")
	var m message
	if err := json.Unmarshal([]byte(body), &m); status != http.StatusOK || err != nil {
		t.Fatalf("GET message %s: %d %s", id, status, body)
	}
	return m, body
}

// orgHashKey returns the organisation's recipient-hash key, as the writer
// made it.
func orgHashKey(t testing.TB, app *testapp.App, orgID string) []byte {
	t.Helper()
	var sealed string
	if err := app.DB.View(context.Background(), func(tx *store.Tx) (err error) {
		sealed, err = store.OrgKey(context.Background(), tx, orgID)
		return err
	}); err != nil || sealed == "" {
		t.Fatalf("org key: %q, %v", sealed, err)
	}
	plain, err := app.Service.Keyring.Open(sealed, "orgkey:"+orgID)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(plain)
	if err != nil || len(key) != 32 {
		t.Fatalf("org key %q: %v", plain, err)
	}
	return key
}

// startIngestApp starts the program like testapp.Start, with an SNS verifier
// and a confirmation client that stay off the network.
func startIngestApp(t *testing.T, dsn string, sns *snsverify.Verifier, snsClient *http.Client) *testapp.App {
	t.Helper()
	return testapp.StartWith(t, dsn, func(p *cli.Program) { p.SNS, p.SNSClient = sns, snsClient })
}

// TestIngestEventBridge drives POST /ingest/eventbridge like an EventBridge
// API destination and checks what is answered, stored and counted.
func TestIngestEventBridge(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		pki := getSNSPKI(t)
		app := startIngestApp(t, e.DSN, pki.verifier(), offlineClient(t))
		ctx := context.Background()
		_, org, key := owner(t, app, "owner@shop.example")
		_, readKey, err := app.Service.CreateAPIKey(ctx, service.SystemActor(org.ID), "reader", []domain.Scope{domain.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		conn := createConnection(t, app, key, awsAccount, awsRegion)
		secret := conn.Ingest.Secret
		base := time.Date(2026, 3, 10, 9, 59, 58, 0, time.UTC)

		t.Run("refusals", func(t *testing.T) {
			before := ingestCounts(t, app)
			good := sesEv{Type: "Send", MessageID: "refused-1", MailTime: base.Add(-48 * time.Hour), To: []string{"x@example.com"}}
			env := func(edit func(m map[string]any)) []byte {
				m := good.envelope()
				edit(m)
				return mustJSON(t, m)
			}
			valid := mustJSON(t, good.envelope())
			// Exactly at the limit is accepted (below); one byte more is not.
			tooLarge := append(bytes.Clone(valid), bytes.Repeat([]byte(" "), 256<<10-len(valid)+1)...)
			cases := []struct {
				name, secret string
				body         []byte
				status       int
				code         string
			}{
				{"no secret", "", valid, 401, "unauthorized"},
				{"wrong secret", "whsec_" + strings.Repeat("x", 40), valid, 401, "unauthorized"},
				{"secret with a character more", secret + "x", valid, 401, "unauthorized"},
				{"SNS token as secret", strings.TrimPrefix(conn.snsPath(t), "/ingest/sns/"), valid, 401, "unauthorized"},
				{"oversized secret", strings.Repeat("s", 5000), valid, 401, "unauthorized"},
				{"malformed JSON", secret, []byte(`{"version":"0","source":"aws.ses","detail":{`), 400, "invalid"},
				{"not an object", secret, []byte(`[` + string(valid) + `]`), 400, "invalid"},
				{"empty body", secret, nil, 400, "invalid"},
				{"wrong source", secret, env(func(m map[string]any) { m["source"] = "aws.ec2" }), 400, "invalid"},
				{"no source", secret, env(func(m map[string]any) { delete(m, "source") }), 400, "invalid"},
				{"no detail", secret, env(func(m map[string]any) { delete(m, "detail") }), 400, "invalid"},
				{"null detail", secret, env(func(m map[string]any) { m["detail"] = nil }), 400, "invalid"},
				{"detail without mail", secret, env(func(m map[string]any) { delete(m["detail"].(map[string]any), "mail") }), 400, "invalid"},
				{"detail without messageId", secret, env(func(m map[string]any) {
					delete(m["detail"].(map[string]any)["mail"].(map[string]any), "messageId")
				}), 400, "invalid"},
				{"body over 256 KiB", secret, tooLarge, 413, "too_large"},
				{"another account", secret, env(func(m map[string]any) { m["account"] = "999999999999" }), 403, "forbidden"},
				{"another region", secret, env(func(m map[string]any) { m["region"] = "eu-west-1" }), 403, "forbidden"},
			}
			want := map[string]float64{}
			var unauthorized []string
			for _, c := range cases {
				a := postEB(t, app, c.secret, c.body)
				if a.Status != c.status {
					t.Errorf("%s: status %d, want %d: %.300s", c.name, a.Status, c.status, a.Body)
					continue
				}
				if e := decodeErr(t, a.Body); e.Error.Code != c.code {
					t.Errorf("%s: code %q, want %q", c.name, e.Error.Code, c.code)
				}
				if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("%s: Content-Type %q", c.name, ct)
				}
				switch c.status {
				case 401:
					want["unauthorized"]++
					unauthorized = append(unauthorized, decodeErr(t, a.Body).Error.Message)
				case 403:
					want["unauthorized"]++
				default:
					want["invalid"]++
				}
			}
			// One answer for every bad credential: it does not say which part is wrong.
			if u := slices.Compact(slices.Clone(unauthorized)); len(u) != 1 {
				t.Errorf("the 401 answers differ: %q", unauthorized)
			}
			for _, m := range unauthorized {
				if strings.Contains(strings.ToLower(m), "header") || strings.Contains(m, ingest.HeaderName) {
					t.Errorf("the 401 answer says which part is wrong: %q", m)
				}
			}
			if n := count(t, app, `SELECT count(*) FROM events WHERE message_ref IN (SELECT id FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?))`, org.ID); n != 0 {
				t.Errorf("%d events stored by refused requests", n)
			}
			wantDelta(t, app, before, want)

			atLimit := append(bytes.Clone(valid), bytes.Repeat([]byte(" "), 256<<10-len(valid))...)
			if a := postEB(t, app, secret, atLimit); a.Status != 200 || a.result() != "stored" {
				t.Errorf("a body of exactly 256 KiB: %d %s", a.Status, a.Body)
			}
		})

		t.Run("message lifecycle", func(t *testing.T) {
			before := ingestCounts(t, app)
			m1 := []string{"Alice@Example.COM", "bob@example.org", "Carol <carol@example.net>"}
			send1 := sesEv{Type: "Send", MessageID: "0100018f-m1", MailTime: base, To: m1}
			// Arrival order is not time order: the delivery comes before the send.
			sendEB(t, app, secret, sesEv{Type: "Delivery", MessageID: "0100018f-m1", MailTime: base, At: base.Add(3 * time.Second), To: m1, Rcpts: m1[:2]}, "stored")
			sendEB(t, app, secret, send1, "stored")
			sendEB(t, app, secret, send1, "duplicate") // EventBridge retried
			sendEB(t, app, secret, sesEv{Type: "Bounce", MessageID: "0100018f-m1", MailTime: base, At: base.Add(4 * time.Second), To: m1, Rcpts: []string{"carol@example.net"}}, "stored")
			sendEB(t, app, secret, sesEv{Type: "Complaint", MessageID: "0100018f-m1", MailTime: base, At: base.Add(30 * time.Minute), To: m1, Rcpts: []string{"BOB@example.org"}}, "stored")
			open := sesEv{Type: "Open", MessageID: "0100018f-m1", MailTime: base, At: base.Add(50 * time.Minute), To: m1}
			sendEB(t, app, secret, open, "stored")
			sendEB(t, app, secret, open, "duplicate")
			// A second open by the same reader, later, is a distinct event.
			open2 := open
			open2.At = open.At.Add(time.Minute)
			sendEB(t, app, secret, open2, "stored")

			// A complaint before its delivery and its send: still complained.
			base2 := base.Add(2 * time.Hour)
			m2 := []string{"dave@example.com"}
			sendEB(t, app, secret, sesEv{Type: "Complaint", MessageID: "0100018f-m2", MailTime: base2, At: base2.Add(10 * time.Minute), To: m2}, "stored")
			sendEB(t, app, secret, sesEv{Type: "Delivery", MessageID: "0100018f-m2", MailTime: base2, At: base2.Add(5 * time.Second), To: m2}, "stored")
			sendEB(t, app, secret, sesEv{Type: "Send", MessageID: "0100018f-m2", MailTime: base2, To: m2}, "stored")

			// A template that failed to render.
			sendEB(t, app, secret, sesEv{Type: "Rendering Failure", MessageID: "0100018f-m3", MailTime: base, To: []string{"erin@example.com"}, Template: "welcome"}, "stored")
			wantDelta(t, app, before, map[string]float64{"stored": 10, "duplicate": 2})

			// One row per event and recipient.
			for id, want := range map[string]int{"0100018f-m1": 3 + 2 + 1 + 1 + 3 + 3, "0100018f-m2": 3, "0100018f-m3": 1} {
				if n := count(t, app, `SELECT count(*) FROM events WHERE message_ref = (SELECT id FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?) AND message_id = ?)`, org.ID, id); n != want {
					t.Errorf("%s: %d event rows, want %d", id, n, want)
				}
			}

			// The message as the API shows it: one entry per SES event, in time order.
			m, body := getMessage(t, app, key, "0100018f-m1")
			if m.MessageID != "0100018f-m1" || m.ConnectionID != conn.ID || m.Sender != "news@mail.shop.example" || m.SendingDomain != "mail.shop.example" ||
				m.Subject != "Spring sale" || m.ConfigSet != "marketing" || m.Redacted || !slices.Equal(m.Tags["campaign"], []string{"spring"}) {
				t.Errorf("message: %s", body)
			}
			type entry struct {
				typ   string
				at    time.Time
				rcpts []string
			}
			all := []string{"alice@example.com", "bob@example.org", "carol@example.net"}
			wantEvents := []entry{
				{"Send", base, all},
				{"Delivery", base.Add(3 * time.Second), all[:2]},
				{"Bounce", base.Add(4 * time.Second), all[2:]},
				{"Complaint", base.Add(30 * time.Minute), all[1:2]},
				{"Open", base.Add(50 * time.Minute), all},
				{"Open", base.Add(51 * time.Minute), all},
			}
			if len(m.Events) != len(wantEvents) {
				t.Fatalf("%d events, want %d: %s", len(m.Events), len(wantEvents), body)
			}
			for i, w := range wantEvents {
				got := m.Events[i]
				rcpts := slices.Sorted(slices.Values(got.Recipients))
				if got.Type != w.typ || !got.Time.Equal(w.at) || !slices.Equal(rcpts, w.rcpts) {
					t.Errorf("event %d: %s %s %v, want %s %s %v", i, got.Type, got.Time, rcpts, w.typ, w.at, w.rcpts)
				}
				var raw struct {
					EventType string
					Mail      struct{ MessageID string }
				}
				if err := json.Unmarshal(got.Raw, &raw); err != nil || raw.EventType != w.typ || raw.Mail.MessageID != "0100018f-m1" {
					t.Errorf("event %d raw JSON: %v %.200s", i, err, got.Raw)
				}
			}
			if m.Events[2].BounceType != "Permanent" {
				t.Errorf("bounce type %q", m.Events[2].BounceType)
			}
			wantRcpts := map[string][2]string{
				"alice@example.com": {"example.com", domain.StatusOpened},
				"bob@example.org":   {"example.org", domain.StatusComplained},
				"carol@example.net": {"example.net", domain.StatusBouncedHard},
			}
			if len(m.Recipients) != len(wantRcpts) {
				t.Errorf("recipients: %s", body)
			}
			for _, r := range m.Recipients {
				if w, ok := wantRcpts[r.Address]; !ok || r.Domain != w[0] || r.Status != w[1] {
					t.Errorf("recipient %+v, want %v", r, w)
				}
			}
			m2v, body2 := getMessage(t, app, key, "0100018f-m2")
			if len(m2v.Recipients) != 1 || m2v.Recipients[0].Status != domain.StatusComplained || len(m2v.Events) != 3 ||
				m2v.Events[0].Type != "Send" || m2v.Events[1].Type != "Delivery" || m2v.Events[2].Type != "Complaint" {
				t.Errorf("complaint before delivery: %s", body2)
			}
			m3v, body3 := getMessage(t, app, key, "0100018f-m3")
			if len(m3v.Recipients) != 1 || m3v.Recipients[0].Status != domain.StatusFailed {
				t.Errorf("rendering failure: %s", body3)
			}

			// Without recipients:read: statuses and domains, no address, no raw JSON.
			rm, rbody := getMessage(t, app, readKey, "0100018f-m1")
			if !rm.Redacted || len(rm.Recipients) != 3 || len(rm.Events) != len(wantEvents) {
				t.Errorf("redacted message: %s", rbody)
			}
			for _, r := range rm.Recipients {
				if r.Address != "" || r.Domain == "" || r.Status == "" {
					t.Errorf("redacted recipient %+v", r)
				}
			}
			for _, ev := range rm.Events {
				if len(ev.Raw) != 0 || len(ev.Recipients) != 0 {
					t.Errorf("redacted event shows recipients or raw JSON: %+v", ev)
				}
			}
			for _, a := range []string{"alice", "bob@", "carol", "Alice"} {
				if strings.Contains(rbody, a) {
					t.Errorf("redacted message shows %q: %s", a, rbody)
				}
			}
			if status, body := apiCall(t, app, key, "GET", "/api/v1/messages/0100018f-nothing", ""); status != 404 {
				t.Errorf("unknown message: %d %s", status, body)
			}

			// The recipient search index: plaintext, lower-cased, with the domain.
			idx := query(t, app, `SELECT recipient, domain, status FROM message_recipients WHERE message_ref = (SELECT id FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?) AND message_id = ?) ORDER BY recipient`, org.ID, "0100018f-m1")
			wantIdx := [][]string{
				{"alice@example.com", "example.com", "opened"},
				{"bob@example.org", "example.org", "complained"},
				{"carol@example.net", "example.net", "bounced_hard"},
			}
			if !slices.EqualFunc(idx, wantIdx, slices.Equal) {
				t.Errorf("message_recipients = %v, want %v", idx, wantIdx)
			}

			// Hourly rollups: exact counts per key.
			rollups := map[string]int{}
			for _, r := range query(t, app, `SELECT hour, connection_id, config_set, sending_domain, template, recipient_domain, event_type, bounce_type, count
				FROM rollups_hourly WHERE org_id = ?`, org.ID) {
				if r[1] != conn.ID {
					t.Errorf("rollup of connection %s", r[1])
				}
				n, _ := strconv.Atoi(r[8])
				rollups[strings.Join(append([]string{r[0]}, r[2:8]...), "|")] += n
			}
			cell := func(hour int, template, rdom, typ, bounce string) string {
				return strings.Join([]string{time.Date(2026, 3, 10, hour, 0, 0, 0, time.UTC).Format(time.RFC3339), "marketing", "mail.shop.example", template, rdom, typ, bounce}, "|")
			}
			wantRollups := map[string]int{
				cell(9, "", "example.com", "Send", ""):                    1,
				cell(9, "", "example.org", "Send", ""):                    1,
				cell(9, "", "example.net", "Send", ""):                    1,
				cell(9, "welcome", "example.com", "RenderingFailure", ""): 1,
				cell(10, "", "example.com", "Delivery", ""):               1,
				cell(10, "", "example.org", "Delivery", ""):               1,
				cell(10, "", "example.net", "Bounce", "Permanent"):        1,
				cell(10, "", "example.org", "Complaint", ""):              1,
				cell(10, "", "example.com", "Open", ""):                   2,
				cell(10, "", "example.org", "Open", ""):                   2,
				cell(10, "", "example.net", "Open", ""):                   2,
				cell(11, "", "example.com", "Send", ""):                   1,
				cell(12, "", "example.com", "Delivery", ""):               1,
				cell(12, "", "example.com", "Complaint", ""):              1,
			}
			// The event of exactly 256 KiB, two days earlier.
			wantRollups["2026-03-08T09:00:00Z|marketing|mail.shop.example||example.com|Send|"] = 1
			for k, n := range wantRollups {
				if rollups[k] != n {
					t.Errorf("rollup %s = %d, want %d", k, rollups[k], n)
				}
			}
			for k, n := range rollups {
				if _, ok := wantRollups[k]; !ok {
					t.Errorf("unexpected rollup %s = %d", k, n)
				}
			}

			// Per-recipient analytics on keyed hashes.
			hkey := orgHashKey(t, app, org.ID)
			stats := map[string]string{}
			for _, r := range query(t, app, `SELECT recipient_hash, sent, delivered, bounced, complained, opened, clicked FROM recipient_stats WHERE org_num = (SELECT num FROM orgs WHERE id = ?)`, org.ID) {
				stats[r[0]] = strings.Join(r[1:], " ")
			}
			for addr, want := range map[string]string{
				"alice@example.com": "1 1 0 0 2 0",
				"bob@example.org":   "1 1 0 1 2 0",
				"carol@example.net": "1 0 1 0 2 0",
				"dave@example.com":  "1 1 0 1 0 0",
			} {
				if got := stats[string(ingest.RecipientHash(hkey, addr))]; got != want {
					t.Errorf("recipient_stats of %s = %q, want %q (sent delivered bounced complained opened clicked)", addr, got, want)
				}
				plain := sha256.Sum256([]byte(addr))
				if _, ok := stats[string(plain[:])]; ok {
					t.Errorf("recipient_stats holds an unkeyed hash of %s", addr)
				}
			}

			// No plaintext address outside message_recipients and events.
			for table, byOrg := range map[string]string{"rollups_hourly": "org_id = ?", "recipient_stats": "org_num = (SELECT num FROM orgs WHERE id = ?)",
				"ses_messages": "org_num = (SELECT num FROM orgs WHERE id = ?)"} {
				rows := query(t, app, `SELECT * FROM `+table+` WHERE `+byOrg, org.ID)
				if len(rows) == 0 {
					t.Errorf("%s: no rows of the organisation to check", table)
				}
				for _, row := range rows {
					text := strings.ToLower(strings.Join(row, "\x00"))
					for _, local := range []string{"alice@", "bob@", "carol@", "dave@", "erin@"} {
						if strings.Contains(text, local) {
							t.Errorf("%s holds a plaintext address (%s…): %q", table, local, row)
						}
					}
				}
			}
		})

		t.Run("rotated secret", func(t *testing.T) {
			status, body := apiCall(t, app, key, "POST", "/api/v1/connections/"+conn.ID+"/rotate", "")
			var rotated creds
			if err := json.Unmarshal([]byte(body), &rotated); status != 200 || err != nil || rotated.Ingest.Secret == "" || rotated.Ingest.Secret == secret {
				t.Fatalf("rotate: %d %s", status, body)
			}
			before := ingestCounts(t, app)
			at := base.Add(24 * time.Hour)
			sendEB(t, app, secret, sesEv{Type: "Send", MessageID: "rotated-old", MailTime: at, To: []string{"x@example.com"}}, "stored")
			sendEB(t, app, rotated.Ingest.Secret, sesEv{Type: "Send", MessageID: "rotated-new", MailTime: at, To: []string{"x@example.com"}}, "stored")
			// The same event with either secret is the same event.
			sendEB(t, app, rotated.Ingest.Secret, sesEv{Type: "Send", MessageID: "rotated-old", MailTime: at, To: []string{"x@example.com"}}, "duplicate")
			if a := postEB(t, app, "whsec_guess", mustJSON(t, sesEv{Type: "Send", MessageID: "rotated-bad", MailTime: at, To: []string{"x@example.com"}}.envelope())); a.Status != 401 {
				t.Errorf("a wrong secret after rotation: %d %s", a.Status, a.Body)
			}
			wantDelta(t, app, before, map[string]float64{"stored": 2, "duplicate": 1, "unauthorized": 1})
		})

		t.Run("concurrent deliveries", func(t *testing.T) {
			// Another organisation, so that its tables hold only these events.
			_, corg, ckey := owner(t, app, "busy@shop.example")
			cconn := createConnection(t, app, ckey, awsAccount, awsRegion)
			before := ingestCounts(t, app)
			const events, copies = 100, 3
			hour := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
			bodies := make([][]byte, events)
			for i := range bodies {
				bodies[i] = mustJSON(t, sesEv{Type: "Send", MessageID: fmt.Sprintf("busy-%03d", i), MailTime: hour.Add(time.Duration(i) * time.Second),
					To: []string{fmt.Sprintf("User%d@Example.com", i), fmt.Sprintf("user%d@example.net", i)}}.envelope())
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			results := map[string]int{}
			start := make(chan struct{})
			for c := range copies {
				for i := range events {
					wg.Go(func() {
						<-start
						a := postEB(t, app, cconn.Ingest.Secret, bodies[(i+c*37)%events])
						mu.Lock()
						defer mu.Unlock()
						if a.Status != 200 {
							results[fmt.Sprintf("status %d: %.100s", a.Status, a.Body)]++
							return
						}
						results[a.result()]++
					})
				}
			}
			close(start)
			wg.Wait()
			if results["stored"] != events || results["duplicate"] != events*(copies-1) || len(results) != 2 {
				t.Errorf("answers: %v, want %d stored and %d duplicate", results, events, events*(copies-1))
			}
			if n := count(t, app, `SELECT count(*) FROM events WHERE message_ref IN (SELECT id FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?))`, corg.ID); n != events*2 {
				t.Errorf("%d event rows, want %d (event × recipient)", n, events*2)
			}
			if n := count(t, app, `SELECT count(*) FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?)`, corg.ID); n != events {
				t.Errorf("%d messages, want %d", n, events)
			}
			if n := count(t, app, `SELECT count(*) FROM message_recipients WHERE org_num = (SELECT num FROM orgs WHERE id = ?) AND status = 'sent'`, corg.ID); n != events*2 {
				t.Errorf("%d recipients, want %d", n, events*2)
			}
			rollups := query(t, app, `SELECT recipient_domain, event_type, count FROM rollups_hourly WHERE org_id = ? ORDER BY recipient_domain`, corg.ID)
			if want := [][]string{{"example.com", "Send", "100"}, {"example.net", "Send", "100"}}; !slices.EqualFunc(rollups, want, slices.Equal) {
				t.Errorf("rollups = %v, want %v", rollups, want)
			}
			if n := count(t, app, `SELECT count(*) FROM recipient_stats WHERE org_num = (SELECT num FROM orgs WHERE id = ?) AND sent = 1 AND delivered = 0`, corg.ID); n != events*2 {
				t.Errorf("%d recipient_stats rows with sent = 1, want %d", n, events*2)
			}
			wantDelta(t, app, before, map[string]float64{"stored": events, "duplicate": events * (copies - 1)})
		})

		// Last: it stops this program's ingest.
		t.Run("shutdown", func(t *testing.T) {
			before := ingestCounts(t, app)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := app.Ingest.Close(ctx); err != nil {
				t.Fatal(err)
			}
			a := postEB(t, app, secret, mustJSON(t, sesEv{Type: "Send", MessageID: "after-close", MailTime: base, To: []string{"x@example.com"}}.envelope()))
			if a.Status != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" || decodeErr(t, a.Body).Error.Code == "" {
				t.Errorf("after Close: %d Retry-After %q %s", a.Status, a.Header.Get("Retry-After"), a.Body)
			}
			if n := count(t, app, `SELECT count(*) FROM events WHERE message_ref = (SELECT id FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?) AND message_id = ?)`, org.ID, "after-close"); n != 0 {
				t.Errorf("%d rows stored after Close", n)
			}
			wantDelta(t, app, before, map[string]float64{"overloaded": 1})
		})
	})
}

// TestIngestDatabaseDown closes the database under a running program: an
// event is answered 503 with Retry-After (EventBridge will send it again)
// and nothing is acknowledged.
func TestIngestDatabaseDown(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		pki := getSNSPKI(t)
		app := startIngestApp(t, e.DSN, pki.verifier(), offlineClient(t))
		_, org, key := owner(t, app, "owner@down.example")
		conn := createConnection(t, app, key, awsAccount, awsRegion)
		at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		// A first event: the organisation's hash key and the secret are known.
		sendEB(t, app, conn.Ingest.Secret, sesEv{Type: "Send", MessageID: "before-outage", MailTime: at, To: []string{"x@example.com"}}, "stored")
		before := ingestCounts(t, app)
		if err := app.DB.Close(); err != nil {
			t.Fatal(err)
		}
		a := postEB(t, app, conn.Ingest.Secret, mustJSON(t, sesEv{Type: "Send", MessageID: "during-outage", MailTime: at, To: []string{"x@example.com"}}.envelope()))
		if a.Status != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" {
			t.Errorf("database down: %d Retry-After %q %s", a.Status, a.Header.Get("Retry-After"), a.Body)
		}
		if strings.Contains(a.Body, "closed") || strings.Contains(a.Body, "sql") {
			t.Errorf("the 503 shows internal detail: %s", a.Body)
		}
		wantDelta(t, app, before, map[string]float64{"overloaded": 1})

		db, err := store.Open(context.Background(), e.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.View(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE message_ref = (SELECT id FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?) AND message_id = ?)`, org.ID, "during-outage").Scan(&n)
		}); err != nil || n != 0 {
			t.Errorf("during the outage: %d rows stored, %v", n, err)
		}
	})
}

// The test SNS PKI: a root CA and a leaf for sns.us-east-1.amazonaws.com,
// valid now, made once.
type snsPKI struct {
	roots    *x509.CertPool
	key      *rsa.PrivateKey // the leaf's
	otherKey *rsa.PrivateKey // not the leaf's
	pem      []byte
}

var (
	snsPKIOnce sync.Once
	snsPKIVal  *snsPKI
	snsPKIErr  error
)

func getSNSPKI(t testing.TB) *snsPKI {
	t.Helper()
	snsPKIOnce.Do(func() { snsPKIVal, snsPKIErr = newSNSPKI() })
	if snsPKIErr != nil {
		t.Fatal(snsPKIErr)
	}
	return snsPKIVal
}

func newSNSPKI() (*snsPKI, error) {
	var keys [3]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "SendOps Test Root CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &keys[0].PublicKey, keys[0])
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: snsHost}, DNSNames: []string{snsHost},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &keys[1].PublicKey, keys[0])
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	return &snsPKI{roots: roots, key: keys[1], otherKey: keys[2], pem: leafPEM}, nil
}

// certFetcher serves the leaf at snsCertURL and fails for any other URL,
// as an unreachable host would.
type certFetcher struct {
	pem []byte
	n   atomic.Int32
}

func (f *certFetcher) Fetch(ctx context.Context, u string) ([]byte, error) {
	f.n.Add(1)
	if u == snsCertURL {
		return f.pem, nil
	}
	return nil, errors.New("connection refused")
}

func (p *snsPKI) verifier() *snsverify.Verifier {
	return &snsverify.Verifier{Fetcher: &certFetcher{pem: p.pem}, Roots: p.roots}
}

// confirmer stands in for SNS's ConfirmSubscription endpoint.
type confirmer struct {
	mu   sync.Mutex
	urls []string
}

func (c *confirmer) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.urls = append(c.urls, r.URL.String())
	c.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/xml"}}, Request: r,
		Body: io.NopCloser(strings.NewReader(`<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>` + snsTopic + `:1</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`))}, nil
}

func (c *confirmer) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.urls)
}

// offlineClient is a confirmation client that fails the test if used.
func offlineClient(t *testing.T) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("unexpected request to %s", r.URL)
		return nil, errors.New("offline")
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// snsMsg is an SNS HTTPS message body.
type snsMsg struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token,omitempty"`
	TopicArn         string `json:"TopicArn"`
	Subject          string `json:"Subject,omitempty"`
	Message          string `json:"Message"`
	SubscribeURL     string `json:"SubscribeURL,omitempty"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
	UnsubscribeURL   string `json:"UnsubscribeURL,omitempty"`
}

// sign signs m with key, SignatureVersion 2 (SHA256withRSA), over the string
// AWS documents for its type.
func (m *snsMsg) sign(t testing.TB, key *rsa.PrivateKey) *snsMsg {
	t.Helper()
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	if m.Type == "Notification" {
		if m.Subject != "" {
			add("Subject", m.Subject)
		}
	} else {
		add("SubscribeURL", m.SubscribeURL)
	}
	add("Timestamp", m.Timestamp)
	if m.Type != "Notification" {
		add("Token", m.Token)
	}
	add("TopicArn", m.TopicArn)
	add("Type", m.Type)
	sum := sha256.Sum256([]byte(b.String()))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	m.SignatureVersion, m.Signature = "2", base64.StdEncoding.EncodeToString(sig)
	return m
}

func snsNotification(t testing.TB, id, message string) *snsMsg {
	return &snsMsg{
		Type: "Notification", MessageID: id, TopicArn: snsTopic, Message: message,
		Timestamp: sesTime(time.Now()), SigningCertURL: snsCertURL,
		UnsubscribeURL: "https://" + snsHost + "/?Action=Unsubscribe&SubscriptionArn=" + snsTopic + ":0b5a6c5e-7f0c-4b1e-9b0e-3c1d2f3a4b5c",
	}
}

func snsEvent(t testing.TB, id string, e sesEv) *snsMsg {
	return snsNotification(t, id, string(mustJSON(t, e.detail())))
}

func postSNS(t testing.TB, app *testapp.App, path string, m *snsMsg) answer {
	t.Helper()
	h := http.Header{
		"Content-Type":               {"text/plain; charset=UTF-8"},
		"User-Agent":                 {"Amazon Simple Notification Service Agent"},
		"X-Amz-Sns-Message-Type":     {m.Type},
		"X-Amz-Sns-Message-Id":       {m.MessageID},
		"X-Amz-Sns-Topic-Arn":        {m.TopicArn},
		"X-Amz-Sns-Subscription-Arn": {m.TopicArn + ":0b5a6c5e-7f0c-4b1e-9b0e-3c1d2f3a4b5c"},
	}
	return post(t, app.URL+path, h, mustJSON(t, m))
}

// TestSNSIngest drives POST /ingest/sns/{token} like SNS: messages signed
// with a test CA's certificate for sns.us-east-1.amazonaws.com.
func TestSNSIngest(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		pki := getSNSPKI(t)
		conf := &confirmer{}
		v := pki.verifier()
		app := startIngestApp(t, e.DSN, v, &http.Client{Transport: conf})
		_, org, key := owner(t, app, "owner@sns.example")
		conn := createConnection(t, app, key, awsAccount, awsRegion)
		path := conn.snsPath(t)
		at := time.Date(2026, 6, 1, 8, 30, 0, 0, time.UTC)
		stored := func(id string) int {
			return count(t, app, `SELECT count(*) FROM events WHERE message_ref = (SELECT id FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?) AND message_id = ?)`, org.ID, id)
		}

		t.Run("subscription confirmation", func(t *testing.T) {
			subscribe := "https://" + snsHost + "/?Action=ConfirmSubscription&TopicArn=" + snsTopic + "&Token=2336412f37fb687f5d51e6e2425e90cda7"
			confirmation := func() *snsMsg {
				return &snsMsg{Type: "SubscriptionConfirmation", MessageID: "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", Token: "2336412f37fb687f5d51e6e2425e90cda7",
					TopicArn: snsTopic, Message: "You have chosen to subscribe to the topic " + snsTopic + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
					SubscribeURL: subscribe, Timestamp: sesTime(time.Now()), SigningCertURL: snsCertURL}
			}
			forged := confirmation().sign(t, pki.otherKey)
			if a := postSNS(t, app, path, forged); a.Status != 403 {
				t.Errorf("forged confirmation: %d %s", a.Status, a.Body)
			}
			altered := confirmation().sign(t, pki.key)
			altered.Token = "0000"
			if a := postSNS(t, app, path, altered); a.Status != 403 {
				t.Errorf("altered confirmation: %d %s", a.Status, a.Body)
			}
			offSNS := confirmation()
			offSNS.SubscribeURL = "https://attacker.example/?Action=ConfirmSubscription&Token=2336412f37fb687f5d51e6e2425e90cda7"
			if a := postSNS(t, app, path, offSNS.sign(t, pki.key)); a.Status != 403 {
				t.Errorf("SubscribeURL off SNS: %d %s", a.Status, a.Body)
			}
			if got := conf.got(); len(got) != 0 {
				t.Fatalf("refused confirmations were confirmed: %v", got)
			}
			if a := postSNS(t, app, path, confirmation().sign(t, pki.key)); a.Status != 200 || a.result() != "confirmed" {
				t.Errorf("confirmation: %d %s", a.Status, a.Body)
			}
			if got := conf.got(); !slices.Equal(got, []string{subscribe}) {
				t.Errorf("confirmation GETs %v, want the SubscribeURL once", got)
			}
			unsub := confirmation()
			unsub.Type, unsub.MessageID = "UnsubscribeConfirmation", "47138184-6831-46b8-8f7c-afc488602d7d"
			if a := postSNS(t, app, path, unsub.sign(t, pki.key)); a.Status != 200 {
				t.Errorf("unsubscribe confirmation: %d %s", a.Status, a.Body)
			}
			if got := conf.got(); len(got) != 1 {
				t.Errorf("an unsubscribe confirmation made requests: %v", got)
			}
		})

		t.Run("notifications", func(t *testing.T) {
			before := ingestCounts(t, app)
			bounce := sesEv{Type: "Bounce", MessageID: "sns-m1", MailTime: at, At: at.Add(2 * time.Second), To: []string{"Gina@Example.com", "hal@example.com"}, Rcpts: []string{"gina@example.com"}}
			// Event-publishing format.
			n1 := snsEvent(t, "b0f7a1d2-0001-4c6f-9d8e-7f6a5b4c3d2e", bounce).sign(t, pki.key)
			if a := postSNS(t, app, path, n1); a.Status != 200 || a.result() != "stored" {
				t.Fatalf("bounce via SNS: %d %s", a.Status, a.Body)
			}
			// SNS delivers at least once: the same message again.
			if a := postSNS(t, app, path, n1); a.Status != 200 || a.result() != "duplicate" {
				t.Errorf("the same SNS message again: %d %s", a.Status, a.Body)
			}
			// The same SES event through EventBridge too.
			secret := conn.Ingest.Secret
			sendEB(t, app, secret, bounce, "duplicate")
			if n := stored("sns-m1"); n != 1 {
				t.Errorf("sns-m1: %d rows, want 1", n)
			}

			// The older notification format, with a subject.
			delivery := sesEv{Type: "Delivery", MessageID: "sns-m1", MailTime: at, At: at.Add(time.Second), To: bounce.To, Rcpts: []string{"hal@example.com"}, Notification: true}
			n2 := snsEvent(t, "b0f7a1d2-0002-4c6f-9d8e-7f6a5b4c3d2e", delivery)
			n2.Subject = "Amazon SES Email Event Notification"
			if a := postSNS(t, app, path, n2.sign(t, pki.key)); a.Status != 200 || a.result() != "stored" {
				t.Fatalf("delivery notification via SNS: %d %s", a.Status, a.Body)
			}
			// … is the same event as its event-publishing twin.
			delivery.Notification = false
			sendEB(t, app, secret, delivery, "duplicate")

			m, body := getMessage(t, app, key, "sns-m1")
			if len(m.Events) != 2 || m.Events[0].Type != "Delivery" || m.Events[1].Type != "Bounce" || m.ConnectionID != conn.ID {
				t.Errorf("message after SNS: %s", body)
			}
			statuses := map[string]string{}
			for _, r := range m.Recipients {
				statuses[r.Address] = r.Status
			}
			if statuses["gina@example.com"] != domain.StatusBouncedHard || statuses["hal@example.com"] != domain.StatusDelivered || len(statuses) != 2 {
				t.Errorf("recipients after SNS: %v", statuses)
			}
			for _, ev := range m.Events {
				var raw map[string]any
				if err := json.Unmarshal(ev.Raw, &raw); err != nil || raw["mail"] == nil {
					t.Errorf("%s raw: %v %.200s", ev.Type, err, ev.Raw)
				}
			}

			// SES's test message when the topic is set up: answered, not stored.
			test := snsNotification(t, "b0f7a1d2-0003-4c6f-9d8e-7f6a5b4c3d2e", "Successfully validated SNS topic for Amazon SES event publishing.")
			if a := postSNS(t, app, path, test.sign(t, pki.key)); a.Status != 200 || a.result() != "ignored" {
				t.Errorf("SES test notification: %d %s", a.Status, a.Body)
			}
			wantDelta(t, app, before, map[string]float64{"stored": 2, "duplicate": 3})
		})

		t.Run("refusals", func(t *testing.T) {
			before := ingestCounts(t, app)
			ev := sesEv{Type: "Complaint", MessageID: "sns-refused", MailTime: at, At: at.Add(time.Hour), To: []string{"ivy@example.com"}}
			fresh := func() *snsMsg { return snsEvent(t, "c1d2e3f4-0001-4c6f-9d8e-7f6a5b4c3d2e", ev) }
			altered := fresh().sign(t, pki.key)
			altered.Message = strings.Replace(altered.Message, "abuse", "not-spam", 1)
			otherAccount := fresh()
			otherAccount.TopicArn = "arn:aws:sns:us-east-1:999999999999:ses-events"
			otherRegion := fresh()
			otherRegion.TopicArn = "arn:aws:sns:eu-west-1:" + awsAccount + ":ses-events"
			badURL := fresh()
			badURL.SigningCertURL = "https://sns.us-east-1.amazonaws.com.attacker.example/cert.pem"
			v1 := fresh().sign(t, pki.key)
			v1.SignatureVersion = "1"
			notSES := snsNotification(t, "c1d2e3f4-0002-4c6f-9d8e-7f6a5b4c3d2e", `{"hello":"world"}`).sign(t, pki.key)
			cases := []struct {
				name   string
				path   string
				m      *snsMsg
				status int
				result string
			}{
				{"unknown token", "/ingest/sns/" + strings.Repeat("a", 43), fresh().sign(t, pki.key), 401, "unauthorized"},
				{"altered message", path, altered, 403, "unauthorized"},
				{"signed with another key", path, fresh().sign(t, pki.otherKey), 403, "unauthorized"},
				{"unsigned", path, fresh(), 400, "invalid"},
				{"signature version changed", path, v1, 403, "unauthorized"},
				{"topic of another account", path, otherAccount.sign(t, pki.key), 403, "unauthorized"},
				{"topic in another region", path, otherRegion.sign(t, pki.key), 403, "unauthorized"},
				{"certificate off SNS", path, badURL.sign(t, pki.key), 403, "unauthorized"},
				{"message not an SES event", path, notSES, 400, "invalid"},
			}
			want := map[string]float64{}
			for _, c := range cases {
				a := postSNS(t, app, c.path, c.m)
				if a.Status != c.status {
					t.Errorf("%s: status %d, want %d: %s", c.name, a.Status, c.status, a.Body)
					continue
				}
				if c.result != "" {
					decodeErr(t, a.Body)
					want[c.result]++
				}
			}
			wantDelta(t, app, before, want)
			if n := stored("sns-refused"); n != 0 {
				t.Errorf("refused notifications stored %d rows", n)
			}

			// The signing certificate cannot be fetched: 5xx, so that SNS retries.
			unreachable := fresh()
			unreachable.SigningCertURL = "https://" + snsHost + "/SimpleNotificationService-unreachable.pem"
			if a := postSNS(t, app, path, unreachable.sign(t, pki.key)); a.Status != 503 || a.Header.Get("Retry-After") == "" {
				t.Errorf("certificate unreachable: %d Retry-After %q %s", a.Status, a.Header.Get("Retry-After"), a.Body)
			}
			if n := stored("sns-refused"); n != 0 {
				t.Errorf("stored %d rows without a certificate", n)
			}
			// And the genuine message is accepted.
			if a := postSNS(t, app, path, fresh().sign(t, pki.key)); a.Status != 200 || a.result() != "stored" {
				t.Errorf("genuine complaint: %d %s", a.Status, a.Body)
			}
			want["overloaded"]++
			want["stored"]++
			wantDelta(t, app, before, want)
		})

		t.Run("rotated token", func(t *testing.T) {
			status, body := apiCall(t, app, key, "POST", "/api/v1/connections/"+conn.ID+"/rotate", "")
			var rotated creds
			if err := json.Unmarshal([]byte(body), &rotated); status != 200 || err != nil {
				t.Fatalf("rotate: %d %s", status, body)
			}
			newPath := rotated.snsPath(t)
			if newPath == path {
				t.Fatalf("rotation kept the SNS URL %s", path)
			}
			// SNS counts a 401 as delivered: the old URL keeps working for
			// the grace period, so no event is lost while the subscription
			// is switched.
			ev := sesEv{Type: "Send", MessageID: "sns-rotated", MailTime: at, To: []string{"jo@example.com"}}
			if a := postSNS(t, app, path, snsEvent(t, "d1d2e3f4-0001-4c6f-9d8e-7f6a5b4c3d2e", ev).sign(t, pki.key)); a.Status != 200 || a.result() != "stored" {
				t.Errorf("old SNS URL within the grace period: %d %s", a.Status, a.Body)
			}
			if a := postSNS(t, app, newPath, snsEvent(t, "d1d2e3f4-0002-4c6f-9d8e-7f6a5b4c3d2e", ev).sign(t, pki.key)); a.Status != 200 || a.result() != "duplicate" {
				t.Errorf("new SNS URL: %d %s", a.Status, a.Body)
			}
			// A second rotation ends the first URL's grace.
			if status, body := apiCall(t, app, key, "POST", "/api/v1/connections/"+conn.ID+"/rotate", ""); status != 200 {
				t.Fatalf("rotate again: %d %s", status, body)
			}
			if a := postSNS(t, app, path, snsEvent(t, "d1d2e3f4-0003-4c6f-9d8e-7f6a5b4c3d2e", ev).sign(t, pki.key)); a.Status != 401 {
				t.Errorf("the URL of two rotations ago: %d %s", a.Status, a.Body)
			}
		})
	})
}
