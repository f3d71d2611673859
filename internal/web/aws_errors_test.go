package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"sendops/internal/cli"
	"sendops/internal/sesim"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// A role that SendOps can no longer assume after its connection was saved
// (deleted, its trust policy or its ExternalId condition changed) is named
// as the problem by every call, not taken for the call's own denial.
func TestSESRoleNoLongerAssumable(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		ext := v.externalID(t)
		problem := func(role string) string {
			return "SendOps cannot assume arn:aws:iam::" + v.Customer + ":role/" + role + ". Check that the role exists in account " + v.Customer +
				", that its trust policy allows " + v.Principal + `, and that its sts:ExternalId condition is \"` + ext + `\".`
		}
		conn, _ := v.roleConnection(t, "prod")
		base := "/api/v1/connections/" + conn
		status, body := apiCall(t, v.App, v.Key, "GET", base+"/account", "")
		sesExpect(t, "account", status, body, 200)

		// The role is deleted while SendOps holds a session of it.
		v.Sim.DeleteRole(v.Customer, "SendOps-prod")
		for _, path := range []string{"/account", "/identities", "/identities/shop.example", "/configuration-sets", "/suppression", "/pipeline"} {
			status, body := apiCall(t, v.App, v.Key, "GET", base+path, "")
			sesExpect(t, "GET "+path+" of a deleted role", status, body, 502, `"code":"aws_error"`, problem("SendOps-prod"))
			if strings.Contains(body, "is denied") {
				t.Errorf("GET %s blames the call: %s", path, body)
			}
		}
		status, body = apiCall(t, v.App, v.Key, "POST", base+"/identities", `{"identity":"shop.example"}`)
		sesExpect(t, "a change with a deleted role", status, body, 502, problem("SendOps-prod"))
		b := v.App.SignIn(t, "aws@example.com", "password-aws@example.com")
		sesPage(t, "the account page of a deleted role", b.Get("/connections/"+conn+"/account"), 502,
			"SendOps cannot assume arn:aws:iam::"+v.Customer+":role/SendOps-prod. Check that the role exists", "its sts:ExternalId condition is &#34;"+ext+"&#34;")

		// Made again, the role works again.
		v.Sim.AddRole(v.Customer, "SendOps-prod", v.Principal, ext, []string{"ses:*", "events:*"})
		status, body = apiCall(t, v.App, v.Key, "GET", base+"/account", "")
		sesExpect(t, "the role made again", status, body, 200, `"max_send_rate":14`)

		// A role whose ExternalId condition changed before SendOps used
		// it, and one that no longer trusts SendOps.
		for _, c := range []struct{ name, trusted, externalID string }{
			{"changed", v.Principal, "sendops-someone-else"},
			{"distrusted", "arn:aws:iam::111111111111:root", ext},
		} {
			id, _ := v.roleConnection(t, c.name)
			v.Sim.AddRole(v.Customer, "SendOps-"+c.name, c.trusted, c.externalID, []string{"ses:*", "events:*"})
			status, body := apiCall(t, v.App, v.Key, "GET", "/api/v1/connections/"+id+"/account", "")
			sesExpect(t, "a role "+c.name, status, body, 502, problem("SendOps-"+c.name))
		}
	})
}

// SENDOPS_ALLOW_AWS_ENDPOINT lets connections name any endpoint, only
// those it lists, or none (but the sandbox's own).
func TestConnectionEndpointAllowed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		sim := sesim.New(sesim.Options{})
		t.Cleanup(func() { sim.Close() })
		listed := httptest.NewServer(sim.Handler())
		t.Cleanup(listed.Close)
		other := httptest.NewServer(sim.Handler())
		t.Cleanup(other.Close)
		const customer = "123456789012"
		sim.AddAccount(customer)
		for i, c := range []struct {
			name, allow     string
			listedOK, other bool
		}{
			{"a list", "http://127.0.0.1:1, " + listed.URL + "/", true, false},
			{"any", "true", true, true},
			{"none", "false", false, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				app := testapp.StartWith(t, e.DSN, func(p *cli.Program) { p.AWSBase = &aws.Config{Region: "us-east-1"} },
					"SENDOPS_ALLOW_AWS_ENDPOINT", c.allow)
				_, _, key := owner(t, app, fmt.Sprintf("endpoints%d@example.com", i))
				for _, ep := range []struct {
					url string
					ok  bool
				}{{listed.URL, c.listedOK}, {other.URL, c.other}} {
					id, secret := sim.AddAccessKey(customer, "")
					status, body := apiCall(t, app, key, "POST", "/api/v1/connections", fmt.Sprintf(
						`{"name":"keys","aws_account_id":%q,"region":"us-east-1","access_key_id":%q,"secret_access_key":%q,"endpoint":%q}`, customer, id, secret, ep.url))
					if ep.ok {
						sesExpect(t, ep.url, status, body, 201, `"endpoint":"`+ep.url+`"`)
					} else {
						sesExpect(t, ep.url, status, body, 400, `"field":"endpoint"`, "does not allow connections to this AWS endpoint")
					}
				}
			})
		}
	})
}

// What an endpoint that is not AWS answers, or why it cannot be reached,
// is logged for the operator, not shown: with SENDOPS_ALLOW_AWS_ENDPOINT,
// a connection's endpoint may be any address the server reaches.
func TestConnectionEndpointErrorsHidden(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v, _ := newSESEnv(t, e)
		internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse><Error><Code>Internal</Code><Message>db password hunter2</Message></Error></ErrorResponse>`)
		}))
		t.Cleanup(internal.Close)
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		id, secret := v.Sim.AddAccessKey(v.Customer, "")
		for _, c := range []struct{ endpoint, shown, hidden, logged string }{
			{internal.URL, "sts:GetCallerIdentity failed: the endpoint did not answer as AWS does.", "hunter2", "hunter2"},
			{closed.URL, "sts:GetCallerIdentity failed: SendOps could not reach the AWS endpoint.", "refused", "connection refused"},
		} {
			status, body := apiCall(t, v.App, v.Key, "POST", "/api/v1/connections", fmt.Sprintf(
				`{"name":"keys","aws_account_id":%q,"region":"us-east-1","access_key_id":%q,"secret_access_key":%q,"endpoint":%q}`, v.Customer, id, secret, c.endpoint))
			sesExpect(t, c.endpoint, status, body, 400, c.shown)
			if strings.Contains(body, c.hidden) || strings.Contains(body, "127.0.0.1") {
				t.Errorf("%s: the answer repeats what the endpoint said: %s", c.endpoint, body)
			}
			if !strings.Contains(v.App.Logs.String(), c.logged) {
				t.Errorf("%s: %q is not in the log", c.endpoint, c.logged)
			}
		}

		// A saved connection whose endpoint stops answering.
		proxy := httptest.NewServer(v.Sim.Handler())
		v.SimURL = proxy.URL
		conn, _ := v.roleConnection(t, "prod")
		status, body := apiCall(t, v.App, v.Key, "GET", "/api/v1/connections/"+conn+"/account", "")
		sesExpect(t, "account", status, body, 200)
		proxy.Close()
		status, body = apiCall(t, v.App, v.Key, "GET", "/api/v1/connections/"+conn+"/account", "")
		sesExpect(t, "the endpoint gone", status, body, 502, "ses:GetAccount failed: SendOps could not reach the AWS endpoint.")
		if strings.Contains(body, "refused") || strings.Contains(body, "127.0.0.1") {
			t.Errorf("the answer repeats the transport error: %s", body)
		}
		if logs := v.App.Logs.String(); !strings.Contains(logs, `msg="AWS call failed"`) || !strings.Contains(logs, "operation=GetAccount") {
			t.Errorf("the failed call is not logged:\n%s", logs)
		}
	})
}
