package awsconn

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"sendops/internal/sesim"
)

const (
	sendopsAccount  = "999999999999"
	customerAccount = "123456789012"
)

// env is sesim with SendOps's own account (whose key is the base
// credentials) and a customer account.
type env struct {
	sim  *sesim.Sim
	url  string
	base aws.Config
}

func newEnv(t *testing.T) *env {
	sim := sesim.New(sesim.Options{})
	t.Cleanup(func() { sim.Close() })
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.AddAccessKey(sendopsAccount, "sendops")
	sim.AddAccount(customerAccount)
	return &env{sim: sim, url: srv.URL, base: aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}}
}

func (e *env) access(role, externalID string) Access {
	return Access{AccountID: customerAccount, Region: "us-east-1", RoleARN: role, ExternalID: externalID, Endpoint: e.url}
}

func checkNames(cs []Check) (ok, failed []string) {
	for _, c := range cs {
		if c.OK {
			ok = append(ok, c.Name)
		} else {
			failed = append(failed, c.Name+": "+c.Message)
		}
	}
	return ok, failed
}

func TestValidate(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	principal := "arn:aws:iam::" + sendopsAccount + ":root"
	role := e.sim.AddRole(customerAccount, "SendOps", principal, "org-ext-1", []string{"ses:*", "events:*"})

	t.Run("a good role passes every check", func(t *testing.T) {
		cs, ok := Validate(ctx, e.base, e.access(role, "org-ext-1"), principal)
		if _, failed := checkNames(cs); !ok || len(failed) > 0 || len(cs) != 2+len(probes) {
			t.Fatalf("checks: %+v", cs)
		}
	})
	t.Run("a wrong ExternalId is explained", func(t *testing.T) {
		cs, ok := Validate(ctx, e.base, e.access(role, "someone-else"), principal)
		if ok || len(cs) != 1 || cs[0].Name != "sts:AssumeRole" || !strings.Contains(cs[0].Message, `"someone-else"`) || !strings.Contains(cs[0].Message, principal) {
			t.Fatalf("checks: %+v", cs)
		}
	})
	t.Run("a missing role is explained the same way", func(t *testing.T) {
		cs, ok := Validate(ctx, e.base, e.access("arn:aws:iam::"+customerAccount+":role/Nope", "org-ext-1"), principal)
		if ok || len(cs) != 1 || cs[0].Name != "sts:AssumeRole" {
			t.Fatalf("checks: %+v", cs)
		}
	})
	t.Run("the wrong account is named", func(t *testing.T) {
		a := e.access(role, "org-ext-1")
		a.AccountID = "111111111111"
		cs, ok := Validate(ctx, e.base, a, principal)
		if ok || !strings.Contains(cs[len(cs)-1].Message, "belong to account "+customerAccount) {
			t.Fatalf("checks: %+v", cs)
		}
	})
	t.Run("each missing permission is named", func(t *testing.T) {
		if err := e.sim.SetRolePermissions(customerAccount, "SendOps", []string{"ses:Get*", "ses:List*", "events:ListRules"}); err != nil {
			t.Fatal(err)
		}
		cs, ok := Validate(ctx, e.base, e.access(role, "org-ext-1"), principal)
		_, failed := checkNames(cs)
		if ok || len(failed) != 2 || !strings.HasPrefix(failed[0], "events:ListConnections: events:ListConnections is denied") || !strings.HasPrefix(failed[1], "events:ListApiDestinations:") {
			t.Fatalf("failed checks: %q", failed)
		}
	})
	t.Run("access keys", func(t *testing.T) {
		id, secret := e.sim.AddAccessKey(customerAccount, "selfhost")
		a := Access{AccountID: customerAccount, Region: "us-east-1", AccessKeyID: id, SecretAccessKey: secret, Endpoint: e.url}
		if cs, ok := Validate(ctx, aws.Config{}, a, ""); !ok {
			t.Fatalf("checks: %+v", cs)
		}
		a.SecretAccessKey = secret + "x"
		cs, ok := Validate(ctx, aws.Config{}, a, "")
		if ok || !strings.Contains(cs[0].Message, "secret access key does not match") {
			t.Fatalf("checks: %+v", cs)
		}
	})
	t.Run("neither role nor keys", func(t *testing.T) {
		if _, err := Config(e.base, Access{Region: "us-east-1"}); err == nil {
			t.Fatal("accepted")
		}
	})
}
