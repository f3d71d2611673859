package awsconn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// A role that can no longer be assumed is found inside the error of the
// call that needed its credentials, and explained as such, not as that
// call's denial.
func TestAssumeRoleProblem(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	principal := "arn:aws:iam::" + sendopsAccount + ":root"
	role := e.sim.AddRole(customerAccount, "SendOps", principal, "org-ext-1", []string{"ses:ListEmailIdentities"})
	a := e.access(role, "org-ext-1")
	getAccount := func() error {
		cfg, err := Config(e.base, a)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sesv2.NewFromConfig(cfg).GetAccount(ctx, &sesv2.GetAccountInput{})
		return err
	}

	// The role is assumed; the call itself is denied.
	denied := getAccount()
	if _, ok := AssumeRoleProblem(denied, a, principal); ok || isAssumeRoleError(denied) || !strings.Contains(Explain(denied, "ses:GetAccount"), "ses:GetAccount is denied") {
		t.Fatalf("a denied call taken for a role problem: %v", denied)
	}

	want := "SendOps cannot assume " + role + ". Check that the role exists in account " + customerAccount + ", that its trust policy allows " + principal + `, and that its sts:ExternalId condition is "org-ext-1".`
	for _, c := range []struct {
		name   string
		change func()
	}{
		{"the role trusts another ExternalId", func() { e.sim.AddRole(customerAccount, "SendOps", principal, "changed", []string{"ses:*"}) }},
		{"the role trusts someone else", func() {
			e.sim.AddRole(customerAccount, "SendOps", "arn:aws:iam::111111111111:root", "org-ext-1", []string{"ses:*"})
		}},
		{"the role is deleted", func() { e.sim.DeleteRole(customerAccount, "SendOps") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.change()
			err := getAccount()
			msg, ok := AssumeRoleProblem(err, a, principal)
			if !ok || !strings.HasPrefix(msg, want) || !isAssumeRoleError(err) {
				t.Fatalf("%v: explained as %q (%v)", err, msg, ok)
			}
			if _, ok := AssumeRoleProblem(err, Access{AccountID: customerAccount, AccessKeyID: "AKIA"}, principal); ok {
				t.Error("a problem of assuming a role, for access keys")
			}
			if got := Explain(&Explained{Message: msg, Err: err}, "ses:GetAccount"); got != msg {
				t.Errorf("Explain of the explained error: %q", got)
			}
		})
	}
}

// What an endpoint that is not AWS answers, or why it could not be
// reached, is not repeated to the user: a connection's endpoint may point
// anywhere SendOps can reach.
func TestExplainHidesWhatIsNotAWS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serve := func(status int, ctype, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cfg := func(endpoint string) aws.Config {
		return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret", "")}
	}
	stsCall := func(endpoint string) error {
		_, err := sts.NewFromConfig(cfg(endpoint)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	}
	sesCall := func(endpoint string) error {
		_, err := sesv2.NewFromConfig(cfg(endpoint)).GetAccount(ctx, &sesv2.GetAccountInput{})
		return err
	}
	const notAWS, unreachable = "the endpoint did not answer as AWS does", "SendOps could not reach the AWS endpoint"
	for _, c := range []struct {
		name, action string
		err          error
		want, secret string
	}{
		{"an XML error of another service", "sts:GetCallerIdentity",
			stsCall(serve(403, "text/xml", `<ErrorResponse><Error><Code>Internal</Code><Message>db password hunter2</Message></Error></ErrorResponse>`)), notAWS, "hunter2"},
		{"a JSON error of another service", "ses:GetAccount", sesCall(serve(500, "application/json", `{"message":"hunter2 at 10.0.0.7"}`)), notAWS, "hunter2"},
		{"a web page", "ses:GetAccount", sesCall(serve(404, "text/html", `<html>hunter2</html>`)), notAWS, "hunter2"},
		{"nothing listening", "ses:GetAccount", sesCall(closed.URL), unreachable, "refused"},
	} {
		if c.err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		got := Explain(c.err, c.action)
		if !strings.HasPrefix(got, c.action+" failed: ") || !strings.Contains(got, c.want) || strings.Contains(got, c.secret) || strings.Contains(got, "127.0.0.1") {
			t.Errorf("%s: %q", c.name, got)
		}
		if !Hidden(c.err) {
			t.Errorf("%s: not hidden, so not logged: %v", c.name, c.err)
		}
	}

	// An answer the SDK knows (AWS's own error shapes, here sesim's) is
	// repeated, and not logged.
	e := newEnv(t)
	id, secret := e.sim.AddAccessKey(customerAccount, "")
	known := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
	_, err := sesv2.NewFromConfig(known).GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("nothing.example")})
	if got := Explain(err, "ses:GetEmailIdentity"); !strings.HasPrefix(got, "ses:GetEmailIdentity failed: NotFoundException: ") || !strings.Contains(got, "nothing.example") || Hidden(err) {
		t.Errorf("a known error: %q (hidden %v)", got, Hidden(err))
	}
}
