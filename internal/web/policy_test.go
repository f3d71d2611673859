package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"strings"
	"testing"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// The IAM policy and the CloudFormation template download from the
// Connections page (with a session) and the API (with a read key), and
// from nowhere else.
func TestPolicyDownloads(t *testing.T) {
	t.Parallel()
	const principal = "arn:aws:iam::999999999999:role/sendops-server"
	app := testapp.Start(t, testdb.SQLite(t), "SENDOPS_AWS_PRINCIPAL", principal)
	const email = "policy@example.com"
	_, org, key := owner(t, app, email)
	_, writeOnly, err := app.Service.CreateAPIKey(context.Background(), service.SystemActor(org.ID), "write only", []domain.Scope{domain.ScopeWrite})
	if err != nil {
		t.Fatal(err)
	}
	b := app.SignIn(t, email, "password-"+email)
	ext := orgExternalID(t, app, key)

	// With a session: attachments of the right types.
	for _, c := range []struct {
		path, contentType, file string
	}{
		{"/connections/iam-policy.json", "application/json", "sendops-iam-policy.json"},
		{"/connections/cloudformation.yaml", "application/yaml", "sendops-cloudformation.yaml"},
	} {
		p := b.Get(c.path)
		if p.Status != 200 || p.Header.Get("Content-Type") != c.contentType || p.Header.Get("Content-Disposition") != `attachment; filename="`+c.file+`"` {
			t.Fatalf("GET %s = %d, %q, %q", c.path, p.Status, p.Header.Get("Content-Type"), p.Header.Get("Content-Disposition"))
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(p.Body), &doc); err != nil {
			t.Fatalf("GET %s is not JSON (nor so YAML): %v", c.path, err)
		}
	}
	if p := b.Get("/connections/iam-policy.json"); p.Body != string(awsconn.PolicyJSON("", "")) {
		t.Errorf("the downloaded policy is not the policy:\n%s", p.Body)
	}
	// China's and GovCloud's ARNs have their own partition.
	if p := b.Get("/connections/iam-policy.json?partition=aws-cn"); p.Status != 200 || p.Body != string(awsconn.PolicyJSON("aws-cn", "")) ||
		!strings.Contains(p.Body, `"arn:aws-cn:iam::*:role/SendOpsEventBridgeInvoke"`) || strings.Contains(p.Body, `"arn:aws:`) {
		t.Errorf("the policy for aws-cn: %d\n%s", p.Status, p.Body)
	}
	if status, body := apiCall(t, app, key, "GET", "/api/v1/aws/iam-policy?partition=aws-us-gov", ""); status != 200 || body != string(awsconn.PolicyJSON("aws-us-gov", "")) {
		t.Errorf("GET /api/v1/aws/iam-policy?partition=aws-us-gov = %d %s", status, body)
	}
	if status, body := apiCall(t, app, key, "GET", "/api/v1/aws/iam-policy?partition=aws-mars", ""); status != 400 || !strings.Contains(body, `"field":"partition"`) {
		t.Errorf("GET /api/v1/aws/iam-policy?partition=aws-mars = %d %s; want 400 naming the field", status, body)
	}
	tpl := b.Get("/connections/cloudformation.yaml").Body
	checkTemplate(t, tpl, principal, ext)

	// The page shows the policy beside the role form, with both links,
	// and says how a second organisation deploys the template in the same
	// account.
	page := b.Get("/connections")
	for _, want := range []string{`id="iam-policy-json"`, `href="/connections/iam-policy.json"`, `href="/connections/cloudformation.yaml"`, "OptionalCanarySendsToTheSESMailboxSimulatorOnly", "SendOpsEventBridgeInvoke", principal,
		"<code>CreateInvokeRole</code> to <code>false</code>", `href="/connections/iam-policy.json?partition=aws-cn"`} {
		if !strings.Contains(html.UnescapeString(page.Body), want) {
			t.Errorf("the Connections page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, `id="no-principal"`) {
		t.Error("the page says the principal is not set, though it is")
	}

	// The API, with a read key.
	for _, path := range []string{"/api/v1/aws/iam-policy", "/api/v1/aws/cloudformation"} {
		req, _ := http.NewRequest("GET", app.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s = %d, %q; want 200 application/json", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if status, body := apiCall(t, app, key, "GET", "/api/v1/aws/iam-policy", ""); status != 200 || body != string(awsconn.PolicyJSON("", "")) {
		t.Errorf("GET /api/v1/aws/iam-policy = %d %s", status, body)
	}
	if status, body := apiCall(t, app, key, "GET", "/api/v1/aws/cloudformation", ""); status != 200 {
		t.Errorf("GET /api/v1/aws/cloudformation = %d %s", status, body)
	} else {
		checkTemplate(t, body, principal, ext)
	}

	// Refused: no session, no key, a key without the read scope.
	anon := app.NewBrowser(t)
	for _, path := range []string{"/connections/iam-policy.json", "/connections/cloudformation.yaml"} {
		if p := anon.Get(path); p.Status == 200 || strings.Contains(p.Body, "ses:GetAccount") || strings.Contains(p.Body, ext) {
			t.Errorf("GET %s without a session = %d: served", path, p.Status)
		}
	}
	for _, path := range []string{"/api/v1/aws/iam-policy", "/api/v1/aws/cloudformation"} {
		if status, body := apiCall(t, app, "", "GET", path, ""); status != 401 || decodeErr(t, body).Error.Code != "unauthorized" {
			t.Errorf("GET %s without a key = %d %s; want 401", path, status, body)
		}
		if status, body := apiCall(t, app, writeOnly, "GET", path, ""); status != 403 || !strings.Contains(body, `the \"read\" scope`) {
			t.Errorf("GET %s with a write-only key = %d %s; want 403 naming the read scope", path, status, body)
		}
	}
}

// Without SENDOPS_AWS_PRINCIPAL, the page and the template say so.
func TestPolicyWithoutPrincipal(t *testing.T) {
	t.Parallel()
	app := testapp.Start(t, testdb.SQLite(t))
	const email = "noprincipal@example.com"
	_, _, key := owner(t, app, email)
	b := app.SignIn(t, email, "password-"+email)
	if page := b.Get("/connections"); !strings.Contains(page.Body, `id="no-principal"`) || !strings.Contains(page.Body, "SENDOPS_AWS_PRINCIPAL</code> is not set") {
		t.Error("the Connections page does not say that the principal is not set")
	}
	checkTemplate(t, b.Get("/connections/cloudformation.yaml").Body, "", orgExternalID(t, app, key))
}

func orgExternalID(t *testing.T, app *testapp.App, key string) string {
	t.Helper()
	status, body := apiCall(t, app, key, "GET", "/api/v1/org", "")
	var org struct {
		ExternalID string `json:"external_id"`
	}
	if err := json.Unmarshal([]byte(body), &org); status != 200 || err != nil || org.ExternalID == "" {
		t.Fatalf("GET /api/v1/org: %d %s", status, body)
	}
	return org.ExternalID
}

// checkTemplate parses a CloudFormation template and checks that it makes
// both roles, with the organisation's ExternalId and SendOps's principal
// ("" when the server has none: then the parameter has no default).
func checkTemplate(t *testing.T, body, principal, externalID string) {
	t.Helper()
	var tpl struct {
		AWSTemplateFormatVersion string
		Parameters               map[string]struct {
			Default     *string
			Description string
		}
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal([]byte(body), &tpl); err != nil {
		t.Fatalf("the template does not parse: %v", err)
	}
	if tpl.AWSTemplateFormatVersion != "2010-09-09" || tpl.Resources["SendOpsRole"].Type != "AWS::IAM::Role" || tpl.Resources["InvokeRole"].Type != "AWS::IAM::Role" {
		t.Fatalf("the template lacks its version or roles: %s", body)
	}
	if p := tpl.Parameters["ExternalId"]; p.Default == nil || *p.Default != externalID {
		t.Errorf("the template's ExternalId parameter = %+v; want %s", p, externalID)
	}
	p := tpl.Parameters["SendOpsPrincipal"]
	switch {
	case principal != "" && (p.Default == nil || *p.Default != principal):
		t.Errorf("the template's SendOpsPrincipal = %+v; want %s", p, principal)
	case principal == "" && (p.Default != nil || !strings.Contains(p.Description, "SENDOPS_AWS_PRINCIPAL is not set")):
		t.Errorf("the template's SendOpsPrincipal = %+v; want no default and a description saying why", p)
	}
	if name := tpl.Resources["InvokeRole"].Properties["RoleName"]; name != awsconn.InvokeRoleName {
		t.Errorf("the invocation role is named %v, not %s", name, awsconn.InvokeRoleName)
	}
}
