package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/cli"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/sesim"
	"sendops/internal/testutil/dnstest"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// newSESEnv is newAWSEnv whose server checks DNS records against a real
// DNS server on loopback, and whose AWS SDK retries as usual but waits a
// millisecond between attempts instead of up to seconds.
func newSESEnv(t *testing.T, e testdb.Engine) (*awsEnv, *dnstest.Server) {
	t.Helper()
	dns := dnstest.Start(t)
	v := newAWSEnv(t, e, func(p *cli.Program) {
		p.DNSResolver = dns.Resolver()
		p.AWSBase.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		}
	})
	return v, dns
}

// sesKey makes an API key of the environment's organisation with scopes.
func sesKey(t *testing.T, v *awsEnv, scopes ...domain.Scope) string {
	t.Helper()
	_, key, err := v.App.Service.CreateAPIKey(context.Background(), service.SystemActor(v.Org.ID), "scoped", scopes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sesRaw sends a request with a body of any type and returns the answer
// unread.
func sesRaw(t *testing.T, v *awsEnv, key, method, path, ctype, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, v.App.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// sesJSON decodes an answer's body.
func sesJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

// sesExpect checks an API answer's status and that its body holds every
// fragment.
func sesExpect(t *testing.T, what string, status int, body string, wantStatus int, fragments ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d: %s", what, status, wantStatus, body)
	}
	for _, f := range fragments {
		if !strings.Contains(body, f) {
			t.Fatalf("%s: %q is not in %s", what, f, body)
		}
	}
}

// sesAdmin is an SDK client of the customer's own account in sesim, for
// arranging what SendOps does not create.
func sesAdmin(t *testing.T, v *awsEnv) *sesv2.Client {
	id, secret := v.Sim.AddAccessKey(v.Customer, "admin")
	return sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(v.SimURL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
}

// The read-only permissions a role needs to be saved as a connection.
var sesValidation = []string{"ses:GetAccount", "ses:List*", "events:List*"}

func TestSESAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		conn, _ := v.roleConnection(t, "prod")
		path := "/api/v1/connections/" + conn + "/account"

		status, body := apiCall(t, v.App, v.Key, "GET", path, "")
		sesExpect(t, "account", status, body, 200, `"max_24_hour_send":50000`, `"max_send_rate":14`, `"production_access":true`,
			`"sandbox":false`, `"enforcement_status":"HEALTHY"`, `"sending_enabled":true`, `"suppressed_reasons":["BOUNCE","COMPLAINT"]`)

		sandbox := sesim.SandboxAccountSettings()
		sandbox.EnforcementStatus, sandbox.SendingEnabled = "PROBATION", false
		v.Sim.SetAccountSettings(v.Customer, sandbox)
		status, body = apiCall(t, v.App, v.Key, "GET", path, "")
		sesExpect(t, "sandboxed account", status, body, 200, `"max_24_hour_send":200`, `"sandbox":true`, `"enforcement_status":"PROBATION"`, `"sending_enabled":false`)

		// Throttling: the SDK retries (three attempts in all) and succeeds…
		v.Sim.Throttle("GetAccount", 2)
		status, body = apiCall(t, v.App, v.Key, "GET", path, "")
		sesExpect(t, "throttled twice", status, body, 200, `"sandbox":true`)
		// …or, when AWS keeps throttling, SendOps says so with a 429.
		v.Sim.Throttle("GetAccount", 3)
		resp := sesRaw(t, v, v.Key, "GET", path, "", "")
		b, _ := io.ReadAll(resp.Body)
		sesExpect(t, "throttled three times", resp.StatusCode, string(b), 429, `"code":"too_many_requests"`, "ses:GetAccount")
		if resp.Header.Get("Retry-After") == "" {
			t.Error("a throttled answer without Retry-After")
		}

		status, body = apiCall(t, v.App, v.Key, "GET", "/api/v1/connections/nope/account", "")
		sesExpect(t, "unknown connection", status, body, 404, `"code":"not_found"`)
		// A connection that only receives events cannot reach SES.
		status, body = apiCall(t, v.App, v.Key, "POST", "/api/v1/connections", `{"name":"events","aws_account_id":"123456789012","region":"us-east-1"}`)
		events := sesJSON[struct{ ID string }](t, body).ID
		status, body = apiCall(t, v.App, v.Key, "GET", "/api/v1/connections/"+events+"/account", "")
		sesExpect(t, "events-only connection", status, body, 400, "only receives events")
		// A role without the permission: AWS's refusal names the action.
		v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", []string{"ses:ListEmailIdentities"})
		status, body = apiCall(t, v.App, v.Key, "GET", path, "")
		sesExpect(t, "denied", status, body, 502, `"code":"aws_error"`, "ses:GetAccount is denied")
	})
}

type dnsRecord struct {
	Purpose, Type, Name, Value, Status string
	Found                              []string
}

type identityAnswer struct {
	Identity           string
	Type               string
	VerificationStatus string      `json:"verification_status"`
	DKIMStatus         string      `json:"dkim_status"`
	MailFromDomain     string      `json:"mail_from_domain"`
	DNSRecords         []dnsRecord `json:"dns_records"`
}

func TestSESIdentities(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, dns := newSESEnv(t, e)
		conn, _ := v.roleConnection(t, "prod")
		base := "/api/v1/connections/" + conn + "/identities"

		status, body := apiCall(t, v.App, v.Key, "POST", base, `{"identity":"Shop.Example","mail_from_domain":"mail.shop.example"}`)
		sesExpect(t, "add a domain", status, body, 201, `"identity":"shop.example"`, `"type":"domain"`)
		created := sesJSON[identityAnswer](t, body)
		if len(created.DNSRecords) != 6 || created.MailFromDomain != "mail.shop.example" {
			t.Fatalf("records of a new domain: %+v", created)
		}
		var tokens []string
		for _, r := range created.DNSRecords {
			if r.Purpose == "DKIM" {
				tokens = append(tokens, strings.TrimSuffix(r.Name, "._domainkey.shop.example"))
			}
			if r.Status != "missing" {
				t.Errorf("before publishing, %s %s is %s", r.Type, r.Name, r.Status)
			}
		}
		if len(tokens) != 3 {
			t.Fatalf("DKIM tokens: %v", tokens)
		}

		// Publish two DKIM records right and one wrong, the MAIL FROM MX
		// and SPF right, and no DMARC record.
		dns.CNAME(tokens[0]+"._domainkey.shop.example", tokens[0]+".dkim.amazonses.com")
		dns.CNAME(tokens[1]+"._domainkey.shop.example", tokens[1]+".dkim.amazonses.com")
		dns.CNAME(tokens[2]+"._domainkey.shop.example", "dkim.elsewhere.example")
		dns.MX("mail.shop.example", 10, "feedback-smtp.us-east-1.amazonses.com")
		dns.TXT("mail.shop.example", "v=spf1 include:amazonses.com ~all")
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/shop.example", "")
		sesExpect(t, "get the domain", status, body, 200, `"verification_status":"SUCCESS"`, `"dkim_status":"SUCCESS"`, `"mail_from_status":"SUCCESS"`, `"dns_checked_at":"`)
		got := sesJSON[identityAnswer](t, body)
		want := []struct{ purpose, status, found string }{
			{"DKIM", "published", tokens[0] + ".dkim.amazonses.com"},
			{"DKIM", "published", tokens[1] + ".dkim.amazonses.com"},
			{"DKIM", "wrong", "dkim.elsewhere.example"},
			{"MAIL FROM MX", "published", "10 feedback-smtp.us-east-1.amazonses.com"},
			{"MAIL FROM SPF", "published", "v=spf1 include:amazonses.com ~all"},
			{"DMARC", "missing", ""},
		}
		for i, w := range want {
			r := got.DNSRecords[i]
			if r.Purpose != w.purpose || r.Status != w.status || strings.Join(r.Found, "|") != w.found {
				t.Errorf("record %d: %s %s %s found %q, want %s %s %q", i, r.Purpose, r.Name, r.Status, r.Found, w.purpose, w.status, w.found)
			}
		}

		status, body = apiCall(t, v.App, v.Key, "POST", base, `{"identity":"shop.example"}`)
		sesExpect(t, "add it again", status, body, 409, `"code":"conflict"`, "already exists")
		status, body = apiCall(t, v.App, v.Key, "POST", base, `{"identity":"not a domain"}`)
		sesExpect(t, "not an identity", status, body, 400, `"code":"invalid"`)
		status, body = apiCall(t, v.App, v.Key, "POST", base, `{"identity":"other.example","mail_from_domain":"mail.shop.example"}`)
		sesExpect(t, "MAIL FROM of another domain", status, body, 400, "subdomain of other.example")
		status, body = apiCall(t, v.App, v.Key, "POST", base, `{"identity":"news@shop.example"}`)
		sesExpect(t, "add an address", status, body, 201, `"type":"email_address"`, `"dns_records":[]`)

		status, body = apiCall(t, v.App, v.Key, "GET", base, "")
		sesExpect(t, "list", status, body, 200, `{"identity":"news@shop.example","type":"email_address","verification_status":"SUCCESS","sending_enabled":true}`, `"identity":"shop.example"`)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"?limit=1", "")
		page := sesJSON[struct {
			Data       []identityAnswer
			NextCursor string `json:"next_cursor"`
		}](t, body)
		if len(page.Data) != 1 || page.NextCursor == "" {
			t.Fatalf("first page of one: %s", body)
		}
		status, body = apiCall(t, v.App, v.Key, "GET", base+"?limit=1&cursor="+page.NextCursor, "")
		if next := sesJSON[struct{ Data []identityAnswer }](t, body); status != 200 || len(next.Data) != 1 || next.Data[0].Identity == page.Data[0].Identity {
			t.Fatalf("second page: %d %s", status, body)
		}
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/nothing.example", "")
		sesExpect(t, "unknown identity", status, body, 404, `"code":"not_found"`, "nothing.example")

		// Viewers (read keys) see but cannot change.
		read := sesKey(t, v, domain.ScopeRead)
		status, body = apiCall(t, v.App, read, "GET", base+"/news@shop.example", "")
		sesExpect(t, "read key reads", status, body, 200, `"identity":"news@shop.example"`)
		status, body = apiCall(t, v.App, read, "POST", base, `{"identity":"viewer.example"}`)
		sesExpect(t, "read key adds", status, body, 403, `"code":"forbidden"`)
		status, body = apiCall(t, v.App, read, "DELETE", base+"/news@shop.example", "")
		sesExpect(t, "read key deletes", status, body, 403, `"code":"forbidden"`)

		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"/news@shop.example", "")
		sesExpect(t, "delete", status, body, 204)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/news@shop.example", "")
		sesExpect(t, "deleted", status, body, 404)
		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"/news@shop.example", "")
		sesExpect(t, "delete again", status, body, 404)

		// A role that may create identities but not set MAIL FROM: the
		// identity is removed again, so nothing is half-made.
		limited := v.Sim.AddRole(v.Customer, "SendOps-limited", v.Principal, v.externalID(t),
			append([]string{"ses:CreateEmailIdentity", "ses:DeleteEmailIdentity"}, sesValidation...))
		status, body = apiCall(t, v.App, v.Key, "POST", "/api/v1/connections", fmt.Sprintf(
			`{"name":"limited","aws_account_id":%q,"region":"us-east-1","role_arn":%q,"endpoint":%q}`, v.Customer, limited, v.SimURL))
		limitedConn := sesJSON[struct{ ID string }](t, body).ID
		status, body = apiCall(t, v.App, v.Key, "POST", "/api/v1/connections/"+limitedConn+"/identities", `{"identity":"half.example","mail_from_domain":"bounce.half.example"}`)
		sesExpect(t, "MAIL FROM denied", status, body, 502, "Nothing was added", "ses:PutEmailIdentityMailFromAttributes is denied")
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/half.example", "")
		sesExpect(t, "the half-made identity", status, body, 404)
		status, body = apiCall(t, v.App, v.Key, "GET", "/api/v1/connections/"+limitedConn+"/identities/shop.example", "")
		sesExpect(t, "reading denied", status, body, 502, "ses:GetEmailIdentity is denied")
		v.Sim.SetRolePermissions(v.Customer, "SendOps-limited", sesValidation)
		status, body = apiCall(t, v.App, v.Key, "POST", "/api/v1/connections/"+limitedConn+"/identities", `{"identity":"denied.example"}`)
		sesExpect(t, "creating denied", status, body, 502, "ses:CreateEmailIdentity is denied")

		// Throttling is retried by the SDK.
		v.Sim.Throttle("CreateEmailIdentity", 2)
		status, body = apiCall(t, v.App, v.Key, "POST", base, `{"identity":"retried.example"}`)
		sesExpect(t, "create throttled twice", status, body, 201, `"identity":"retried.example"`)
		v.Sim.Throttle("ListEmailIdentities", 5)
		status, body = apiCall(t, v.App, v.Key, "GET", base, "")
		sesExpect(t, "list throttled", status, body, 429, "ses:ListEmailIdentities")

		// Every change is in the audit log.
		status, body = apiCall(t, v.App, v.Key, "GET", "/api/v1/audit?action=identity.", "")
		sesExpect(t, "audit", status, body, 200, `"action":"identity.created","target":"shop.example"`, `"action":"identity.deleted","target":"news@shop.example"`,
			"MAIL FROM mail.shop.example")
	})
}

func TestSESConfigurationSets(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		conn, _ := v.roleConnection(t, "prod")
		base := "/api/v1/connections/" + conn + "/configuration-sets"

		status, body := apiCall(t, v.App, v.Key, "POST", base, `{"name":"marketing"}`)
		sesExpect(t, "create", status, body, 201, `"name":"marketing"`, `"sending_enabled":true`, `"event_destinations":[]`)
		status, body = apiCall(t, v.App, v.Key, "POST", base, `{"name":"marketing"}`)
		sesExpect(t, "create again", status, body, 409, "already exists")
		status, body = apiCall(t, v.App, v.Key, "POST", base, `{"name":"no spaces"}`)
		sesExpect(t, "a bad name", status, body, 400, "letters, digits")
		apiCall(t, v.App, v.Key, "POST", base, `{"name":"transactional"}`)

		// An event destination made in AWS shows with its set.
		ctx := context.Background()
		_, err := sesAdmin(t, v).CreateConfigurationSetEventDestination(ctx, &sesv2.CreateConfigurationSetEventDestinationInput{
			ConfigurationSetName: aws.String("marketing"), EventDestinationName: aws.String("to-bus"),
			EventDestination: &sestypes.EventDestinationDefinition{Enabled: true,
				MatchingEventTypes:     []sestypes.EventType{sestypes.EventTypeBounce, sestypes.EventTypeComplaint},
				EventBridgeDestination: &sestypes.EventBridgeDestination{EventBusArn: aws.String("arn:aws:events:us-east-1:" + v.Customer + ":event-bus/default")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/marketing", "")
		sesExpect(t, "get", status, body, 200, `"event_destinations":[{"name":"to-bus","enabled":true,"event_types":["BOUNCE","COMPLAINT"],"type":"eventbridge","target":"arn:aws:events:us-east-1:`+v.Customer+`:event-bus/default"}]`)
		status, body = apiCall(t, v.App, v.Key, "GET", base, "")
		sesExpect(t, "list", status, body, 200, `"data":[{"name":"marketing"},{"name":"transactional"}]`, `"next_cursor":""`)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/nope", "")
		sesExpect(t, "unknown", status, body, 404, "nope")

		read := sesKey(t, v, domain.ScopeRead)
		status, body = apiCall(t, v.App, read, "POST", base, `{"name":"viewer"}`)
		sesExpect(t, "read key creates", status, body, 403)
		status, body = apiCall(t, v.App, read, "DELETE", base+"/marketing", "")
		sesExpect(t, "read key deletes", status, body, 403)

		v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", append([]string{"ses:GetConfigurationSet"}, sesValidation...))
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/marketing", "")
		sesExpect(t, "destinations denied", status, body, 502, "ses:GetConfigurationSetEventDestinations is denied")
		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"/marketing", "")
		sesExpect(t, "delete denied", status, body, 502, "ses:DeleteConfigurationSet is denied")
		v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", []string{"ses:*", "events:*"})

		v.Sim.Throttle("DeleteConfigurationSet", 2)
		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"/marketing", "")
		sesExpect(t, "delete", status, body, 204)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/marketing", "")
		sesExpect(t, "deleted", status, body, 404)
		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"/marketing", "")
		sesExpect(t, "delete again", status, body, 404)
	})
}

type suppressionAnswer struct {
	Data []struct {
		Email, Reason string
	}
	NextCursor string `json:"next_cursor"`
	Mode       string
	Scanned    int
}

func TestSESSuppression(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		conn, _ := v.roleConnection(t, "prod")
		base := "/api/v1/connections/" + conn + "/suppression"

		status, body := apiCall(t, v.App, v.Key, "PUT", base+"/Gone@Example.com", `{"reason":"BOUNCE"}`)
		sesExpect(t, "put", status, body, 200, `"email":"gone@example.com"`, `"reason":"BOUNCE"`)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/gone@example.com", "")
		sesExpect(t, "get", status, body, 200, `"email":"gone@example.com"`, `"reason":"BOUNCE"`, `"last_update_time":"`)
		status, body = apiCall(t, v.App, v.Key, "PUT", base+"/gone@example.com", `{"reason":"COMPLAINT"}`)
		sesExpect(t, "change the reason", status, body, 200, `"reason":"COMPLAINT"`)
		status, body = apiCall(t, v.App, v.Key, "PUT", base+"/gone@example.com", `{"reason":"SPAM"}`)
		sesExpect(t, "a bad reason", status, body, 400, "BOUNCE or COMPLAINT")
		status, body = apiCall(t, v.App, v.Key, "PUT", base+"/not-an-address", `{"reason":"BOUNCE"}`)
		sesExpect(t, "a bad address", status, body, 400, "email address")
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/here@example.com", "")
		sesExpect(t, "not listed", status, body, 404, "not on the suppression list")

		// The list holds addresses: a key without recipients:read may
		// neither list nor export it; a read key may not change it.
		noRecipients := sesKey(t, v, domain.ScopeRead, domain.ScopeWrite)
		status, body = apiCall(t, v.App, noRecipients, "GET", base, "")
		sesExpect(t, "list without recipients:read", status, body, 403, "recipients:read")
		status, body = apiCall(t, v.App, noRecipients, "GET", base+"/export.csv", "")
		sesExpect(t, "export without recipients:read", status, body, 403, "recipients:read")
		status, body = apiCall(t, v.App, noRecipients, "GET", base+"/gone@example.com", "")
		sesExpect(t, "get without recipients:read", status, body, 403, "recipients:read")
		reader := sesKey(t, v, domain.ScopeRead, domain.ScopeRecipientsRead)
		status, body = apiCall(t, v.App, reader, "GET", base+"/gone@example.com", "")
		sesExpect(t, "get with recipients:read", status, body, 200)
		status, body = apiCall(t, v.App, reader, "PUT", base+"/x@example.com", `{"reason":"BOUNCE"}`)
		sesExpect(t, "put without write", status, body, 403, `write\" scope`)

		// Import: one bad row and nothing is applied, the error naming each
		// bad line.
		bad := "email,reason\none@example.com,BOUNCE\nnot-an-address,BOUNCE\nthree@example.com,complaint\nfour@example.com,SPAM\n"
		resp := sesRaw(t, v, v.Key, "POST", base+"/import", "text/csv", bad)
		b, _ := io.ReadAll(resp.Body)
		sesExpect(t, "import with bad rows", resp.StatusCode, string(b), 400, "Nothing was imported", "line 3", `\"not-an-address\"`, "line 5", `\"SPAM\"`)
		if strings.Contains(string(b), "line 2") || strings.Contains(string(b), "line 4") {
			t.Errorf("good lines reported as bad: %s", b)
		}
		for _, addr := range []string{"one@example.com", "three@example.com"} {
			status, body = apiCall(t, v.App, v.Key, "GET", base+"/"+addr, "")
			sesExpect(t, "after a refused import, "+addr, status, body, 404)
		}
		resp = sesRaw(t, v, v.Key, "POST", base+"/import", "text/csv", "address,why\na@example.com,BOUNCE\n")
		b, _ = io.ReadAll(resp.Body)
		sesExpect(t, "import without the header", resp.StatusCode, string(b), 400, "header email,reason")
		resp = sesRaw(t, v, v.Key, "POST", base+"/import", "text/csv", "email,reason\n"+strings.Repeat("someone@example.com,BOUNCE\n", 50000))
		b, _ = io.ReadAll(resp.Body)
		sesExpect(t, "import too large", resp.StatusCode, string(b), 413, `"code":"too_large"`)
		resp = sesRaw(t, v, v.Key, "POST", base+"/import", "application/json", `{}`)
		b, _ = io.ReadAll(resp.Body)
		sesExpect(t, "import as JSON", resp.StatusCode, string(b), 400, "text/csv")

		good := "\ufeffEmail,Reason,note\none@example.com,BOUNCE,x\n\"three@example.com\",complaint,\"a, b\"\n'=cmd@example.com,BOUNCE,\none@example.com,BOUNCE,again\n"
		v.Sim.Throttle("PutSuppressedDestination", 2)
		resp = sesRaw(t, v, v.Key, "POST", base+"/import", "text/csv", good)
		b, _ = io.ReadAll(resp.Body)
		sesExpect(t, "import", resp.StatusCode, string(b), 200, `"rows":3`, `"applied":3`, `"failed":[]`, `"not_applied":0`)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/three@example.com", "")
		sesExpect(t, "imported", status, body, 200, `"reason":"COMPLAINT"`)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/"+url.PathEscape("=cmd@example.com"), "")
		sesExpect(t, "imported from an export's neutralised cell", status, body, 200, `"email":"=cmd@example.com"`)

		// An import that AWS refuses from the first row applies nothing.
		v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", append([]string{"ses:GetSuppressedDestination"}, sesValidation...))
		resp = sesRaw(t, v, v.Key, "POST", base+"/import", "text/csv", "email,reason\nfive@example.com,BOUNCE\n")
		b, _ = io.ReadAll(resp.Body)
		sesExpect(t, "import denied", resp.StatusCode, string(b), 502, "ses:PutSuppressedDestination is denied")
		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"/one@example.com", "")
		sesExpect(t, "delete denied", status, body, 502, "ses:DeleteSuppressedDestination is denied")
		v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", []string{"ses:*", "events:*"})

		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"/one@example.com", "")
		sesExpect(t, "delete", status, body, 204)
		status, body = apiCall(t, v.App, v.Key, "DELETE", base+"/one@example.com", "")
		sesExpect(t, "delete again", status, body, 404)
		v.Sim.Throttle("GetSuppressedDestination", 3)
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/three@example.com", "")
		sesExpect(t, "get throttled", status, body, 429, "ses:GetSuppressedDestination")

		status, body = apiCall(t, v.App, v.Key, "GET", "/api/v1/audit?action=suppression.", "")
		sesExpect(t, "audit", status, body, 200, `"action":"suppression.added","target":"gone@example.com"`, `"action":"suppression.removed","target":"one@example.com"`,
			`"action":"suppression.imported"`, "3 of 3 addresses applied")
	})
}

// Listing, searching and exporting a list longer than SES's pages.
func TestSESSuppressionPagesSearchExport(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		conn, _ := v.roleConnection(t, "prod")
		base := "/api/v1/connections/" + conn + "/suppression"

		// 12,001 entries, newest first: user00000 is the newest, and the
		// needle the oldest, past SendOps's 10,000-entry scan bound.
		start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		const n = 12000
		for i := range n {
			reason := "BOUNCE"
			if i%4 == 0 {
				reason = "COMPLAINT"
			}
			v.Sim.AddSuppressedDestination(v.Customer, fmt.Sprintf("user%05d@example.com", i), reason, start.Add(-time.Duration(i)*time.Minute))
		}
		v.Sim.AddSuppressedDestination(v.Customer, "=cmd@example.com", "BOUNCE", start.Add(time.Hour))
		v.Sim.AddSuppressedDestination(v.Customer, `"odd,one"@example.com`, "BOUNCE", start.Add(2*time.Hour))
		v.Sim.AddSuppressedDestination(v.Customer, "needle@haystack.example", "COMPLAINT", start.Add(-30*24*time.Hour))

		list := func(query string) suppressionAnswer {
			t.Helper()
			status, body := apiCall(t, v.App, v.Key, "GET", base+"?"+query, "")
			if status != 200 {
				t.Fatalf("GET ?%s: %d %s", query, status, body)
			}
			return sesJSON[suppressionAnswer](t, body)
		}
		p1 := list("limit=3")
		if p1.Mode != "list" || len(p1.Data) != 3 || p1.Data[0].Email != `"odd,one"@example.com` || p1.Data[2].Email != "user00000@example.com" || p1.NextCursor == "" {
			t.Fatalf("first page: %+v", p1)
		}
		p2 := list("limit=3&cursor=" + p1.NextCursor)
		if len(p2.Data) != 3 || p2.Data[0].Email != "user00001@example.com" {
			t.Fatalf("second page: %+v", p2)
		}
		if c := list("reason=COMPLAINT&limit=2"); len(c.Data) != 2 || c.Data[0].Email != "user00000@example.com" || c.Data[1].Email != "user00004@example.com" {
			t.Fatalf("complaints: %+v", c)
		}

		// A whole address is looked up in SES directly.
		if l := list("q=User00042@example.com"); l.Mode != "lookup" || len(l.Data) != 1 || l.Data[0].Email != "user00042@example.com" || l.NextCursor != "" {
			t.Fatalf("lookup: %+v", l)
		}
		if l := list("q=user00042@example.com&reason=COMPLAINT"); l.Mode != "lookup" || len(l.Data) != 0 {
			t.Fatalf("lookup of another reason: %+v", l)
		}
		if l := list("q=absent@example.com"); l.Mode != "lookup" || len(l.Data) != 0 {
			t.Fatalf("lookup of an absent address: %+v", l)
		}
		// Part of an address: SendOps reads the list and filters it,
		// continuing mid-page from its cursor.
		s1 := list("q=user0010&limit=6")
		if s1.Mode != "scan" || len(s1.Data) != 6 || s1.Data[0].Email != "user00100@example.com" || s1.NextCursor == "" {
			t.Fatalf("scan: %+v", s1)
		}
		s2 := list("q=user0010&limit=6&cursor=" + s1.NextCursor)
		if len(s2.Data) != 4 || s2.Data[0].Email != "user00106@example.com" || s2.Data[3].Email != "user00109@example.com" {
			t.Fatalf("scan, continued: %+v", s2)
		}
		// The scan stops at its bound and says so: nothing found yet, and
		// a cursor to go on.
		h1 := list("q=haystack")
		if h1.Mode != "scan" || len(h1.Data) != 0 || h1.Scanned != service.SuppressionScanMax || h1.NextCursor == "" {
			t.Fatalf("bounded scan: %+v", h1)
		}
		h2 := list("q=haystack&cursor=" + h1.NextCursor)
		if len(h2.Data) != 1 || h2.Data[0].Email != "needle@haystack.example" || h2.NextCursor != "" || h2.Scanned != n+3-service.SuppressionScanMax {
			t.Fatalf("scan to the end: %+v", h2)
		}
		status, body := apiCall(t, v.App, v.Key, "GET", base+"?cursor=bogus", "")
		sesExpect(t, "a bad cursor", status, body, 400, `"code":"invalid"`)

		// Export: every entry, streamed, quoted as RFC 4180 says, with the
		// formula neutralised.
		v.Sim.Throttle("ListSuppressedDestinations", 2)
		resp := sesRaw(t, v, v.Key, "GET", base+"/export.csv", "", "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || resp.ContentLength != -1 {
			t.Fatalf("export: %d %s, length %d", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength)
		}
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != n+4 || strings.Join(rows[0], ",") != "email,reason,last_update_time" {
			t.Fatalf("export: %d rows, header %v", len(rows), rows[0])
		}
		if !strings.Contains(string(raw), "\n\"\"\"odd,one\"\"@example.com\",BOUNCE,2025-01-01T02:00:00Z\n") {
			t.Error("the address with a comma and quotes is not quoted")
		}
		if !strings.Contains(string(raw), "\n'=cmd@example.com,BOUNCE,") || strings.Contains(string(raw), "\n=cmd") {
			t.Error("a formula-like address is not neutralised")
		}
		seen := map[string]bool{}
		for _, r := range rows[1:] {
			if seen[r[0]] {
				t.Fatalf("%s exported twice", r[0])
			}
			seen[r[0]] = true
		}
		resp = sesRaw(t, v, v.Key, "GET", base+"/export.csv?reason=COMPLAINT", "", "")
		raw, _ = io.ReadAll(resp.Body)
		if rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll(); err != nil || len(rows) != 1+n/4+1 {
			t.Fatalf("complaints export: %d rows, %v", len(rows), err)
		}
		// An error before the first page is an error, not an empty file.
		v.Sim.Throttle("ListSuppressedDestinations", 3)
		resp = sesRaw(t, v, v.Key, "GET", base+"/export.csv", "", "")
		b, _ := io.ReadAll(resp.Body)
		sesExpect(t, "export throttled", resp.StatusCode, string(b), 429, "ses:ListSuppressedDestinations")
	})
}

// sesUpload sends a file through a page's multipart form, with the page's
// CSRF token, as a browser would.
func sesUpload(t *testing.T, v *awsEnv, b *testapp.Browser, from, path, field, filename, content string) *testapp.Page {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", b.Get(from).CSRF())
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, content)
	mw.Close()
	req, err := http.NewRequest("POST", v.App.URL+path, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", v.App.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &testapp.Page{Status: resp.StatusCode, Header: resp.Header, Body: string(body), Location: resp.Header.Get("Location")}
}

// sesPage checks a page's status and that it shows every fragment.
func sesPage(t *testing.T, what string, p *testapp.Page, status int, fragments ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, p.Status, status, p.Body)
	}
	for _, f := range fragments {
		if !strings.Contains(p.Body, f) {
			t.Fatalf("%s: %q is not on the page\n%s", what, f, p.Body)
		}
	}
}

// The UI: a developer manages identities, configuration sets and the
// suppression list; a viewer sees them and cannot change them.
func TestSESPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, dns := newSESEnv(t, e)
		conn, _ := v.roleConnection(t, "prod")
		apiCall(t, v.App, v.Key, "POST", "/api/v1/connections", `{"name":"listener","aws_account_id":"123456789012","region":"us-east-1"}`)
		b := v.App.SignIn(t, "aws@example.com", "password-aws@example.com")
		cp := "/connections/" + conn

		sesPage(t, "identities section", b.Get("/identities"), 200, `<a href="/connections/`+conn+`">prod</a>`, "No identities yet", "listener", "only receives events")
		sesPage(t, "account", b.Get(cp+"/account"), 200, `id="quota">50,000<`, `id="access">production<`, `id="rate">14 a second<`, `id="enforcement">HEALTHY<`)

		// Identities: a refused form keeps what was typed.
		p := b.Post(cp+"/identities", cp+"/identities", url.Values{"identity": {"shop.example"}, "mail_from_domain": {"mail.elsewhere.example"}})
		sesPage(t, "a bad MAIL FROM domain", p, 400, "must be a subdomain of shop.example", `value="mail.elsewhere.example"`, `value="shop.example"`)
		p = b.Post(cp+"/identities", cp+"/identities", url.Values{"identity": {"shop.example"}, "mail_from_domain": {"mail.shop.example"}})
		if p.Status != 303 || p.Location != cp+"/identities/shop.example" {
			t.Fatalf("add: %d to %q\n%s", p.Status, p.Location, p.Body)
		}
		id := sesJSON[identityAnswer](t, func() string {
			_, body := apiCall(t, v.App, v.Key, "GET", "/api/v1"+cp+"/identities/shop.example", "")
			return body
		}())
		dkim := id.DNSRecords[0]
		dns.CNAME(dkim.Name, dkim.Value)
		dns.CNAME(id.DNSRecords[1].Name, "wrong.example.net")
		p = b.Get(cp + "/identities/shop.example")
		sesPage(t, "identity", p, 200, "Publish the DNS records below", "<code>"+dkim.Name+"</code>", "<code>"+dkim.Value+"</code>",
			`data-status="published"`, `data-status="wrong"`, "found <code>wrong.example.net</code>", `data-status="missing"`, "MAIL FROM MX", "_dmarc.shop.example")
		if n := strings.Count(p.Body, `data-status="missing"`); n != 4 {
			t.Errorf("%d missing records, want 4 (a DKIM CNAME, MX, SPF, DMARC)", n)
		}
		sesPage(t, "identity list", b.Get(cp+"/identities"), 200, `href="/connections/`+conn+`/identities/shop.example"`, "SUCCESS", "Add an identity")
		sesPage(t, "section lists it", b.Get("/identities"), 200, "shop.example")
		p = b.Post(cp+"/identities/shop.example", cp+"/identities/shop.example/delete", url.Values{"confirm": {"shop"}})
		sesPage(t, "delete unconfirmed", p, 400, "Type shop.example to confirm")
		p = b.Post(cp+"/identities/shop.example", cp+"/identities/shop.example/delete", url.Values{"confirm": {"shop.example"}})
		if p.Status != 303 {
			t.Fatalf("delete: %d\n%s", p.Status, p.Body)
		}
		sesPage(t, "identity gone", b.Get(cp+"/identities/shop.example"), 404, "There is no identity")

		// Configuration sets.
		p = b.Post(cp+"/configuration-sets", cp+"/configuration-sets", url.Values{"name": {"bad name"}})
		sesPage(t, "a bad set name", p, 400, "letters, digits", `value="bad name"`)
		if p = b.Post(cp+"/configuration-sets", cp+"/configuration-sets", url.Values{"name": {"marketing"}}); p.Status != 303 {
			t.Fatalf("create a set: %d\n%s", p.Status, p.Body)
		}
		sesPage(t, "sets", b.Get(cp+"/configuration-sets"), 200, "<strong>marketing</strong>", "none: its events go nowhere", "Type marketing to confirm")
		p = b.Post(cp+"/configuration-sets", cp+"/configuration-sets/marketing/delete", url.Values{"confirm": {"yes"}})
		sesPage(t, "delete a set unconfirmed", p, 400, "Type marketing to confirm: mail sent with it fails afterwards.")
		if p = b.Post(cp+"/configuration-sets", cp+"/configuration-sets/marketing/delete", url.Values{"confirm": {"marketing"}}); p.Status != 303 {
			t.Fatalf("delete a set: %d\n%s", p.Status, p.Body)
		}
		sesPage(t, "set gone", b.Get(cp+"/configuration-sets"), 200, "No configuration sets")

		// The suppression list.
		sp := cp + "/suppression"
		sesPage(t, "empty list", b.Get(sp), 200, "The suppression list is empty.", "Import a CSV file")
		p = b.Post(sp, sp, url.Values{"email": {"Gone@Example.com"}, "reason": {"COMPLAINT"}})
		if p.Status != 303 || !strings.Contains(p.Location, "q=gone%40example.com") {
			t.Fatalf("add: %d to %q\n%s", p.Status, p.Location, p.Body)
		}
		sesPage(t, "looked up", b.Get(p.Location), 200, "<td>gone@example.com</td><td>COMPLAINT</td>", "Looked up this address")
		p = b.Post(sp, sp, url.Values{"email": {"nope"}, "reason": {"BOUNCE"}})
		sesPage(t, "a bad address", p, 400, "Enter an email address", `value="nope"`)
		p = sesUpload(t, v, b, sp, sp+"/import", "file", "list.csv", "email,reason\na@example.com,BOUNCE\nbroken,BOUNCE\n")
		sesPage(t, "a bad import", p, 400, "Nothing was imported", "line 3")
		p = sesUpload(t, v, b, sp, sp+"/import", "file", "list.csv", "email,reason\na@example.com,BOUNCE\nb@example.com,COMPLAINT\n")
		sesPage(t, "import", p, 200, "Imported 2 of 2 addresses.", "<td>b@example.com</td>")
		sesPage(t, "search", b.Get(sp+"?q=example.com&reason=BOUNCE"), 200, `id="scan-note"`, "read 1 entry", "<td>a@example.com</td>")
		if p := b.Get(sp + "?q=example.com&reason=BOUNCE"); strings.Contains(p.Body, "<td>b@example.com</td>") {
			t.Error("the reason filter let a complaint through")
		}
		p = b.Post(sp, sp+"/remove", url.Values{"email": {"a@example.com"}})
		sesPage(t, "remove unconfirmed", p, 400, "Tick the box to confirm removing a@example.com")
		if p = b.Post(sp, sp+"/remove", url.Values{"email": {"a@example.com"}, "confirm": {"yes"}}); p.Status != 303 {
			t.Fatalf("remove: %d\n%s", p.Status, p.Body)
		}
		p = b.Get(sp + "/export.csv")
		if p.Status != 200 || !strings.HasPrefix(p.Body, "email,reason,last_update_time\n") || strings.Contains(p.Body, "a@example.com") ||
			!strings.Contains(p.Body, "\nb@example.com,COMPLAINT,") || !strings.Contains(p.Body, "\ngone@example.com,COMPLAINT,") {
			t.Fatalf("export: %d\n%s", p.Status, p.Body)
		}

		// AWS's refusals are explained on the page.
		v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", sesValidation)
		sesPage(t, "denied", b.Get(cp+"/identities/x.example"), 502, "ses:GetEmailIdentity is denied: add it to the policy")
		v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", []string{"ses:*", "events:*"})

		// A viewer sees the pages without their forms, and is refused.
		owner := &domain.Actor{OrgID: v.Org.ID, UserID: v.User.ID, Email: v.User.Email, Role: domain.RoleOwner}
		ctx := context.Background()
		if _, err := v.App.Service.Invite(ctx, owner, "vic@example.com", domain.RoleViewer); err != nil {
			t.Fatal(err)
		}
		vic, _, err := v.App.Service.CreateUser(ctx, service.SignUp{Name: "Vic", Email: "vic@example.com", Password: "vic-password-1"})
		if err != nil {
			t.Fatal(err)
		}
		tok := strings.TrimPrefix(linkIn(t, v.App.Mail.Wait(t, "vic@example.com", "invited", defaultWait).Text, v.App.URL+"/invitations/"), v.App.URL+"/invitations/")
		if _, err := v.App.Service.AcceptInvitation(ctx, vic, tok, service.Client{}); err != nil {
			t.Fatal(err)
		}
		vb := v.App.SignIn(t, "vic@example.com", "vic-password-1")
		vb.Post("/overview", "/orgs/"+v.Org.ID+"/switch", nil)
		for _, path := range []string{cp + "/identities", cp + "/configuration-sets", sp} {
			p := vb.Get(path)
			sesPage(t, "viewer's "+path, p, 200, "prod")
			for _, form := range []string{"Add an identity", "Create a configuration set", "Add an address", "Import a CSV file", "Remove", "Delete…"} {
				if strings.Contains(p.Body, form) {
					t.Errorf("the viewer sees %q on %s", form, path)
				}
			}
		}
		sesPage(t, "viewer sees the list", vb.Get(sp), 200, "<td>b@example.com</td>")
		if p := vb.Post(cp+"/identities", cp+"/identities", url.Values{"identity": {"viewer.example"}}); p.Status != 403 {
			t.Fatalf("the viewer added an identity: %d\n%s", p.Status, p.Body)
		}
		if p := vb.Post(sp, sp+"/remove", url.Values{"email": {"b@example.com"}, "confirm": {"yes"}}); p.Status != 403 {
			t.Fatalf("the viewer removed an address: %d\n%s", p.Status, p.Body)
		}
	})
}
