package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"sendops/internal/cli"
	"sendops/internal/sesim"
	"sendops/internal/store"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// Connections that reach the customer's account: by role with the
// organisation's ExternalId, or by access keys, checked for real through
// the AWS SDK against sesim when they are saved.
func TestConnectionAWSAccess(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		sim := sesim.New(sesim.Options{})
		t.Cleanup(func() { sim.Close() })
		aws1 := httptest.NewServer(sim.Handler())
		t.Cleanup(aws1.Close)
		const customer, principal = "123456789012", "arn:aws:iam::999999999999:root"
		id, secret := sim.AddAccessKey("999999999999", "sendops")
		sim.AddAccount(customer)
		base := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
		app := testapp.StartWith(t, e.DSN, func(p *cli.Program) { p.AWSBase = &base },
			"SENDOPS_ALLOW_AWS_ENDPOINT", "1", "SENDOPS_AWS_PRINCIPAL", principal)
		_, _, key := owner(t, app, "aws@example.com")

		status, body := apiCall(t, app, key, "GET", "/api/v1/org", "")
		var org struct {
			ExternalID   string `json:"external_id"`
			AWSPrincipal string `json:"aws_principal"`
		}
		if err := json.Unmarshal([]byte(body), &org); status != 200 || err != nil || !strings.HasPrefix(org.ExternalID, "sendops-") || org.AWSPrincipal != principal {
			t.Fatalf("org: %d %s", status, body)
		}
		if _, again := apiCall(t, app, key, "GET", "/api/v1/org", ""); !strings.Contains(again, org.ExternalID) {
			t.Fatal("the ExternalId changed between two reads")
		}

		role := sim.AddRole(customer, "SendOps", principal, "not-the-org-id", []string{"ses:*", "events:*"})
		req := fmt.Sprintf(`{"name":"prod","aws_account_id":%q,"region":"us-east-1","role_arn":%q,"endpoint":%q}`, customer, role, aws1.URL)
		status, body = apiCall(t, app, key, "POST", "/api/v1/connections", req)
		if status != 400 || !strings.Contains(body, org.ExternalID) || !strings.Contains(body, "ExternalId") {
			t.Fatalf("a role trusting another ExternalId: %d %s", status, body)
		}
		sim.AddRole(customer, "SendOps", principal, org.ExternalID, []string{"ses:*", "events:ListRules"})
		status, body = apiCall(t, app, key, "POST", "/api/v1/connections", req)
		if status != 400 || !strings.Contains(body, "events:ListConnections is denied") {
			t.Fatalf("a role missing a permission: %d %s", status, body)
		}
		sim.AddRole(customer, "SendOps", principal, org.ExternalID, []string{"ses:*", "events:*"})
		status, body = apiCall(t, app, key, "POST", "/api/v1/connections", req)
		var conn struct {
			ID         string `json:"id"`
			RoleARN    string `json:"role_arn"`
			ExternalID string `json:"external_id"`
			Ingest     struct{ Secret string }
		}
		if err := json.Unmarshal([]byte(body), &conn); status != 201 || err != nil || conn.RoleARN != role || conn.ExternalID != org.ExternalID || conn.Ingest.Secret == "" {
			t.Fatalf("a good role: %d %s", status, body)
		}

		keyID, keySecret := sim.AddAccessKey(customer, "selfhost")
		req = fmt.Sprintf(`{"name":"keys","aws_account_id":%q,"region":"us-east-1","access_key_id":%q,"secret_access_key":%q,"endpoint":%q}`, customer, keyID, keySecret+"x", aws1.URL)
		if status, body = apiCall(t, app, key, "POST", "/api/v1/connections", req); status != 400 || !strings.Contains(body, "secret access key does not match") {
			t.Fatalf("a wrong secret: %d %s", status, body)
		}
		req = strings.Replace(req, keySecret+"x", keySecret, 1)
		if status, body = apiCall(t, app, key, "POST", "/api/v1/connections", req); status != 201 || strings.Contains(body, keySecret) || !strings.Contains(body, keyID) {
			t.Fatalf("good keys: %d %s", status, body)
		}
		// The secret is stored sealed and never shown again.
		_, list := apiCall(t, app, key, "GET", "/api/v1/connections", "")
		if strings.Contains(list, keySecret) || !strings.Contains(list, `"access_key_id":"`+keyID+`"`) {
			t.Fatalf("list: %s", list)
		}
		var sealed string
		if err := app.DB.View(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow(context.Background(), `SELECT secret_sealed FROM connections WHERE access_key_id = ?`, keyID).Scan(&sealed)
		}); err != nil || sealed == "" || strings.Contains(sealed, keySecret) {
			t.Fatalf("stored secret %q: %v", sealed, err)
		}
		if strings.Contains(app.Logs.String(), keySecret) {
			t.Fatal("the secret access key reached the log")
		}
	})
}
