package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/service"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

// mailer sends mail as the customer's application does, through sesim,
// from a verified domain with the configuration set configSet, and
// returns the message id.
func (v *awsEnv) mailer(t *testing.T, configSet string) func(to string) string {
	t.Helper()
	ses, _ := v.customerClients(t)
	if _, err := ses.CreateEmailIdentity(t.Context(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("shop.example.com")}); err != nil {
		t.Fatal(err)
	}
	return func(to string) string {
		t.Helper()
		out, err := ses.SendEmail(t.Context(), &sesv2.SendEmailInput{
			FromEmailAddress:     aws.String("orders@shop.example.com"),
			Destination:          &sestypes.Destination{ToAddresses: []string{to}},
			ConfigurationSetName: aws.String(configSet),
			Content: &sestypes.EmailContent{Simple: &sestypes.Message{
				Subject: &sestypes.Content{Data: aws.String("Your receipt")},
				Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("Thanks")}},
			}},
		})
		if err != nil {
			t.Fatalf("SendEmail to %s: %v", to, err)
		}
		return aws.ToString(out.MessageId)
	}
}

// waitEvents waits until SendOps has stored events of each type in want
// for message id, as its API shows them, and fails after 20 s saying
// what sesim's deliveries of it answered.
func (v *awsEnv) waitEvents(t *testing.T, id string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body := apiCall(t, v.App, v.Key, "GET", "/api/v1/messages/"+url.PathEscape(id), "")
		var m struct{ Events []struct{ Type string } }
		if status == http.StatusOK && json.Unmarshal([]byte(body), &m) == nil {
			var got []string
			for _, ev := range m.Events {
				got = append(got, ev.Type)
			}
			if !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(got, w) }) {
				return
			}
		}
		if time.Now().After(deadline) {
			var answers []int
			for _, d := range v.Sim.Deliveries() {
				if d.MessageID == id {
					answers = append(answers, d.Status)
				}
			}
			t.Fatalf("no %v events stored for message %s within 20 s (SendOps answered its deliveries %v); last answer: %d %s", want, id, answers, status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expireRotated moves every rotated ingest secret's expiry into the
// past, as if the grace period had gone by, and makes the server forget
// the credentials it cached.
func (v *awsEnv) expireRotated(t *testing.T) {
	t.Helper()
	err := v.App.DB.Update(t.Context(), func(tx *store.Tx) error {
		_, err := tx.Exec(t.Context(), `UPDATE ingest_secrets SET expires_at = ? WHERE expires_at IS NOT NULL`, time.Now().Add(-time.Minute))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	v.App.Server.IngestAuth.Forget()
}

// Rotating a connection's ingest credentials does not break its event
// pipeline: once the rotated secrets expired, the events of mail sent
// through sesim still arrive. Replacing the pipeline's own secret is a
// choice: AWS gets the new one, the old one keeps working for the grace
// period, and once it is over events still arrive.
func TestPipelineKeepsItsSecret(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, nil)
		calls := v.watchCalls(t)
		v.invokeRole()
		connID, _ := v.roleConnection(t, "prod", awsconn.PolicyActions()...)
		path := "/api/v1/connections/" + connID + "/pipeline"
		if p := v.pipelineCall(t, "POST", path, ""); !p.Complete {
			t.Fatalf("set-up: %+v", p)
		}
		send := v.mailer(t, "sendops")
		// As a secret stored before ingest_secrets said whose it is.
		err := v.App.DB.Update(t.Context(), func(tx *store.Tx) error {
			_, err := tx.Exec(t.Context(), `UPDATE ingest_secrets SET pipeline = FALSE WHERE connection_id = ?`, connID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		if status, body := apiCall(t, v.App, v.Key, "POST", "/api/v1/connections/"+connID+"/rotate", ""); status != 200 {
			t.Fatalf("rotate: %d %s", status, body)
		}
		v.expireRotated(t)
		v.waitEvents(t, send("success@simulator.amazonses.com"), "Send", "Delivery")
		if p := v.pipelineCall(t, "GET", path, ""); !allIn(p, domain.PiecePresent) {
			t.Errorf("status a day after rotating the ingest credentials: %+v", p.Pieces)
		}

		calls.writes()
		p := v.pipelineCall(t, "POST", path, `{"rotate_secret":true}`)
		if w := calls.writes(); !slices.Equal(w, []string{"UpdateConnection"}) || !p.Complete {
			t.Fatalf("replacing the pipeline's secret wrote %v: %+v", w, p)
		}
		// The old secret works for the grace period only.
		rows := query(t, v.App, `SELECT expires_at FROM ingest_secrets WHERE connection_id = ? AND pipeline ORDER BY created_at`, connID)
		if len(rows) != 2 || rows[1][0] != "<nil>" {
			t.Fatalf("the pipeline's secrets after replacing it: %v; want the old one expiring, the new one current", rows)
		}
		if exp, err := time.Parse(time.RFC3339, rows[0][0]); err != nil || time.Until(exp) < 23*time.Hour || time.Until(exp) > 25*time.Hour {
			t.Errorf("the old pipeline secret expires at %s (%v), want in 24 hours", rows[0][0], err)
		}
		v.expireRotated(t)
		v.waitEvents(t, send("success@simulator.amazonses.com"), "Send", "Delivery")
		if n := count(t, v.App, `SELECT count(*) FROM audit_log WHERE org_id = ? AND details LIKE ?`, v.Org.ID, "%previous ingest secret works for 24 hours more%"); n != 1 {
			t.Errorf("%d audit entries say the previous pipeline secret works for 24 hours, want 1", n)
		}
	})
}

// The status tells what it cannot read from what is missing: a piece it
// may not read is unknown, and what refers to it by ARN is not judged
// against it. An EventBridge connection AWS is still working on is there.
func TestPipelineStatusUnread(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, nil)
		calls := v.watchCalls(t)
		v.invokeRole()
		connID, _ := v.roleConnection(t, "prod", awsconn.PolicyActions()...)
		path := "/api/v1/connections/" + connID + "/pipeline"
		name := awsconn.PipelineName(connID)
		if p := v.pipelineCall(t, "POST", path, ""); !p.Complete {
			t.Fatalf("set-up: %+v", p)
		}

		for _, state := range []string{"CREATING", "UPDATING", "AUTHORIZING"} {
			if err := v.Sim.SetConnectionState(v.Customer, name, state); err != nil {
				t.Fatal(err)
			}
			calls.writes()
			if p := v.pipelineCall(t, "GET", path, ""); !allIn(p, domain.PiecePresent) || !p.Complete {
				t.Errorf("status with the EventBridge connection %s: %+v", state, piece(t, p, "connection"))
			}
			if p := v.pipelineCall(t, "POST", path, ""); len(p.Changes) != 0 || len(calls.writes()) != 0 {
				t.Errorf("a run with the EventBridge connection %s changed %v", state, p.Changes)
			}
		}
		if err := v.Sim.SetConnectionState(v.Customer, name, "DEAUTHORIZED"); err != nil {
			t.Fatal(err)
		}
		if pc := piece(t, v.pipelineCall(t, "GET", path, ""), "connection"); pc.State != domain.PieceDifferent || !slices.Contains(pc.Differences, "is DEAUTHORIZED") {
			t.Errorf("a DEAUTHORIZED EventBridge connection: %+v", pc)
		}
		if err := v.Sim.SetConnectionState(v.Customer, name, ""); err != nil {
			t.Fatal(err)
		}

		for _, c := range []struct {
			denied  []string
			unknown []string
		}{
			{[]string{"events:DescribeConnection"}, []string{"connection"}},
			{[]string{"events:DescribeConnection", "events:DescribeApiDestination"}, []string{"connection", "api_destination"}},
		} {
			if err := v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", awsconn.PolicyActions(c.denied...)); err != nil {
				t.Fatal(err)
			}
			p := v.pipelineCall(t, "GET", path, "")
			for _, pc := range p.Pieces {
				want := domain.PiecePresent
				if slices.Contains(c.unknown, pc.Key) {
					want = domain.PieceUnknown
				}
				if pc.State != want || len(pc.Differences) != 0 {
					t.Errorf("without %v, %s is %s %v (%s); want %s", c.denied, pc.Key, pc.State, pc.Differences, pc.Error, want)
				}
			}
			if pc := piece(t, p, "connection"); !strings.Contains(pc.Error, "events:DescribeConnection is denied") {
				t.Errorf("the unread EventBridge connection says %q", pc.Error)
			}
		}
	})
}

// Inside a run, AWS not finding what a step needs is that step failing
// (502, naming it), not a 404 that reads as the connection not found.
func TestPipelineStepNotFound(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, nil)
		calls := v.watchCalls(t)
		v.invokeRole()
		connID, _ := v.roleConnection(t, "prod", awsconn.PolicyActions()...)
		ses, _ := v.customerClients(t)
		// Someone deletes the configuration set just as the run adds its
		// event destination.
		calls.around("POST /v2/email/configuration-sets/sendops/event-destinations", func() {
			if _, err := ses.DeleteConfigurationSet(context.Background(), &sesv2.DeleteConfigurationSetInput{ConfigurationSetName: aws.String("sendops")}); err != nil {
				t.Error(err)
			}
		}, nil)
		status, body := apiCall(t, v.App, v.Key, "POST", "/api/v1/connections/"+connID+"/pipeline", "")
		var stopped struct {
			Error    struct{ Code, Message string }
			Pipeline *domain.Pipeline
		}
		if err := json.Unmarshal([]byte(body), &stopped); err != nil || status != http.StatusBadGateway || stopped.Error.Code != domain.EAWS ||
			!strings.Contains(stopped.Error.Message, "ses:CreateConfigurationSetEventDestination") || stopped.Pipeline == nil ||
			stopped.Pipeline.FailedAction != "ses:CreateConfigurationSetEventDestination" {
			t.Fatalf("a step AWS found nothing for: %d %s", status, body)
		}
		if pc := piece(t, *stopped.Pipeline, "api_destination"); pc.State != domain.PieceUnknown || !strings.Contains(pc.Error, "stopped at ses:CreateConfigurationSetEventDestination") {
			t.Errorf("a piece after the stop: %+v", pc)
		}
		// Run again, it makes the set again and completes.
		if p := v.pipelineCall(t, "POST", "/api/v1/connections/"+connID+"/pipeline", ""); !p.Complete {
			t.Errorf("the next run: %+v", p)
		}
	})
}

// Two first set-ups at once make one pipeline secret between them, and
// the one EventBridge gets is the one SendOps keeps.
func TestPipelineConcurrentFirstSetUp(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, nil)
		v.invokeRole()
		connID, _ := v.roleConnection(t, "prod", awsconn.PolicyActions()...)
		path := "/api/v1/connections/" + connID + "/pipeline"
		// The database holds SendOps's writes to the connection's rows
		// back while the runs start, so that every one of them reads that
		// there is no pipeline yet before any stores one.
		ctx := t.Context()
		held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- v.App.DB.Update(ctx, func(tx *store.Tx) error {
				q := `UPDATE connections SET name = name WHERE org_id = ? AND id = ?` // SQLite: one writer at a time
				if e.Name == "postgres" {
					q = `SELECT id FROM connections WHERE org_id = ? AND id = ? FOR UPDATE` // blocks the foreign key checks
				}
				if _, err := tx.Exec(ctx, q, v.Org.ID, connID); err != nil {
					return err
				}
				close(held)
				<-release
				return nil
			})
		}()
		<-held
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				// Runs that race each other in AWS may stop (a piece the other
				// just made): only what SendOps keeps matters here.
				apiCall(t, v.App, v.Key, "POST", path, "")
			})
		}
		time.Sleep(500 * time.Millisecond)
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		// The connection's own secret, and one for the pipeline.
		if n := count(t, v.App, `SELECT count(*) FROM ingest_secrets WHERE connection_id = ?`, connID); n != 2 {
			t.Errorf("%d ingest secrets after concurrent first set-ups, want 2", n)
		}
		if p := v.pipelineCall(t, "POST", path, ""); !p.Complete {
			t.Fatalf("set-up after the race: %+v", p)
		}
		v.waitEvents(t, v.mailer(t, "sendops")("success@simulator.amazonses.com"), "Send", "Delivery")
	})
}

// A client that goes away while a run works in AWS does not lose what the
// run did there: SendOps records that AWS holds its secret, and audits it.
func TestPipelineRecordOutlivesClient(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, nil)
		calls := v.watchCalls(t)
		v.invokeRole()
		connID, _ := v.roleConnection(t, "prod", awsconn.PolicyActions()...)
		ctx, gone := context.WithCancel(t.Context())
		calls.around("PutTargets", nil, gone)
		v.App.Service.SetUpPipeline(ctx, service.SystemActor(v.Org.ID), connID, service.PipelineInput{})

		if n := count(t, v.App, `SELECT count(*) FROM connection_pipelines WHERE connection_id = ? AND secret_written IS NOT NULL`, connID); n != 1 {
			t.Errorf("the pipeline record does not say AWS holds its secret (%d)", n)
		}
		if n := count(t, v.App, `SELECT count(*) FROM audit_log WHERE org_id = ? AND action = 'connection.pipeline_set_up' AND details LIKE ?`,
			v.Org.ID, "%created EventBridge connection%"); n != 1 {
			t.Errorf("%d audit entries of the run, want 1", n)
		}
		if pc := piece(t, v.pipelineCall(t, "GET", "/api/v1/connections/"+connID+"/pipeline", ""), "connection"); pc.State != domain.PiecePresent {
			t.Errorf("the EventBridge connection after the client went away: %+v", pc)
		}
	})
}

// Set-up refuses, before any AWS call, a SendOps address EventBridge
// cannot call, naming the setting to fix: nothing is left half made in
// the customer's account.
func TestPipelineRefusesUnreachableBaseURL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, nil)
		// A connection to real AWS (no emulator endpoint), stored as it
		// would be once validated: SendOps's address is http://127.0.0.1.
		conn := &domain.Connection{OrgID: v.Org.ID, Name: "prod", AWSAccountID: v.Customer, Region: "us-east-1",
			RoleARN: "arn:aws:iam::" + v.Customer + ":role/SendOps"}
		err := v.App.DB.Update(t.Context(), func(tx *store.Tx) error {
			return store.CreateConnection(t.Context(), tx, conn, secret.HashToken("sns"), secret.HashToken("whsec_x"))
		})
		if err != nil {
			t.Fatal(err)
		}
		status, body := apiCall(t, v.App, v.Key, "POST", "/api/v1/connections/"+conn.ID+"/pipeline", "")
		if e := decodeErr(t, body).Error; status != 400 || e.Code != domain.EInvalid || !strings.Contains(e.Message, "SENDOPS_BASE_URL") || !strings.Contains(e.Message, "https://") {
			t.Fatalf("set-up with SendOps at %s: %d %s", v.App.URL, status, body)
		}
		if n := count(t, v.App, `SELECT count(*) FROM connection_pipelines WHERE connection_id = ?`, conn.ID); n != 0 {
			t.Errorf("a refused set-up stored a pipeline record")
		}
		if n := count(t, v.App, `SELECT count(*) FROM ingest_secrets WHERE connection_id = ?`, conn.ID); n != 1 {
			t.Errorf("a refused set-up made a secret: %d", n)
		}
	})
}
