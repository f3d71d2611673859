package web_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"sendops/internal/cli"
	"sendops/internal/domain"
	"sendops/internal/sesim"
	"sendops/internal/testutil/testapp"
	"sendops/internal/testutil/testdb"
)

// awsEnv is a SendOps server whose own AWS credentials live in a sesim
// emulator, with a customer account there and an organisation owner's API
// key: what every test of an AWS path through the API starts from.
type awsEnv struct {
	Sim       *sesim.Sim
	SimURL    string // the emulator's endpoint for connections
	App       *testapp.App
	Key       string // an API key of the organisation's owner, every scope
	User      *domain.User
	Org       *domain.Org
	Customer  string // the customer's AWS account id
	Principal string // SendOps's principal, which customer roles trust
}

// newAWSEnv starts sesim and a SendOps server on the engine's database.
// setup, when given, runs on the program before it opens (after AWSBase is
// set).
func newAWSEnv(t *testing.T, e testdb.Engine, setup func(*cli.Program), env ...string) *awsEnv {
	t.Helper()
	sim := sesim.New(sesim.Options{})
	t.Cleanup(func() { sim.Close() })
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	const customer, principal = "123456789012", "arn:aws:iam::999999999999:root"
	id, secret := sim.AddAccessKey("999999999999", "sendops")
	sim.AddAccount(customer)
	base := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
	env = append([]string{"SENDOPS_ALLOW_AWS_ENDPOINT", "1", "SENDOPS_AWS_PRINCIPAL", principal}, env...)
	app := testapp.StartWith(t, e.DSN, func(p *cli.Program) {
		p.AWSBase = &base
		if setup != nil {
			setup(p)
		}
	}, env...)
	u, org, key := owner(t, app, "aws@example.com")
	return &awsEnv{Sim: sim, SimURL: srv.URL, App: app, Key: key, User: u, Org: org, Customer: customer, Principal: principal}
}

// externalID reads the organisation's ExternalId through the API.
func (v *awsEnv) externalID(t *testing.T) string {
	t.Helper()
	status, body := apiCall(t, v.App, v.Key, "GET", "/api/v1/org", "")
	var org struct {
		ExternalID string `json:"external_id"`
	}
	if err := json.Unmarshal([]byte(body), &org); status != 200 || err != nil || org.ExternalID == "" {
		t.Fatalf("GET /api/v1/org: %d %s", status, body)
	}
	return org.ExternalID
}

// roleConnection makes a role in the customer's account that trusts
// SendOps with the organisation's ExternalId and holds permissions (every
// SES and EventBridge action when none are given), and adds it as a
// connection through the API. It returns the connection's id and its
// ingest secret.
func (v *awsEnv) roleConnection(t *testing.T, name string, permissions ...string) (id, ingestSecret string) {
	t.Helper()
	if len(permissions) == 0 {
		permissions = []string{"ses:*", "events:*"}
	}
	role := v.Sim.AddRole(v.Customer, "SendOps-"+name, v.Principal, v.externalID(t), permissions)
	req := fmt.Sprintf(`{"name":%q,"aws_account_id":%q,"region":"us-east-1","role_arn":%q,"endpoint":%q}`, name, v.Customer, role, v.SimURL)
	status, body := apiCall(t, v.App, v.Key, "POST", "/api/v1/connections", req)
	var conn struct {
		ID     string `json:"id"`
		Ingest struct {
			Secret string `json:"secret"`
		} `json:"ingest"`
	}
	if err := json.Unmarshal([]byte(body), &conn); status != 201 || err != nil || conn.ID == "" {
		t.Fatalf("POST /api/v1/connections: %d %s", status, body)
	}
	return conn.ID, conn.Ingest.Secret
}
