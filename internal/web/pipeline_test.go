package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/sesim"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

// callLog records the AWS operations SendOps makes against sesim.
type callLog struct {
	mu            sync.Mutex
	calls         []string
	before, after map[string]func() // run once, around the next call of an operation
}

// watchCalls serves the emulator through a recorder and points the
// environment's connections at it.
func (v *awsEnv) watchCalls(t *testing.T) *callLog {
	t.Helper()
	log := &callLog{before: map[string]func(){}, after: map[string]func(){}}
	h := v.Sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSEvents.")
		if !ok {
			op = r.Method + " " + r.URL.Path
		}
		log.mu.Lock()
		log.calls = append(log.calls, op)
		before, after := log.before[op], log.after[op]
		delete(log.before, op)
		delete(log.after, op)
		log.mu.Unlock()
		if before != nil {
			before()
		}
		h.ServeHTTP(w, r)
		if after != nil {
			after()
		}
	}))
	t.Cleanup(srv.Close)
	v.SimURL = srv.URL
	return log
}

// around runs before and after (either may be nil) around the next call
// of op ("PutTargets", "POST /v2/email/configuration-sets/x/event-destinations"),
// as if something else happened in the account at that moment.
func (l *callLog) around(op string, before, after func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if before != nil {
		l.before[op] = before
	}
	if after != nil {
		l.after[op] = after
	}
}

// count returns how many calls of op were recorded.
func (l *callLog) count(op string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if c == op {
			n++
		}
	}
	return n
}

// writes returns the recorded calls that change something in AWS (and
// forgets every call recorded so far).
func (l *callLog) writes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.calls {
		// Reads, and STS (POST /): assuming the role is not a change.
		if strings.HasPrefix(c, "GET ") || c == "POST /" || strings.HasPrefix(c, "Describe") || strings.HasPrefix(c, "List") {
			continue
		}
		if strings.HasPrefix(c, "POST /v2/email/configuration-sets") {
			c = "CreateConfigurationSet…" // SES REST: creating a set or one of its destinations
		} else if strings.HasPrefix(c, "PUT /v2/email/configuration-sets") {
			c = "UpdateConfigurationSetEventDestination"
		}
		out = append(out, c)
	}
	l.calls = nil
	return out
}

// customerClients reach the customer's account as its own root user, to
// read back or change by hand what SendOps set up, and to send mail as the
// customer's application does.
func (v *awsEnv) customerClients(t *testing.T) (*sesv2.Client, *eventbridge.Client) {
	t.Helper()
	id, secret := v.Sim.AddAccessKey(v.Customer, "")
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""), BaseEndpoint: aws.String(v.SimURL)}
	return sesv2.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)
}

// invokeRole creates the role EventBridge assumes to invoke the API
// destination, as the customer's CloudFormation stack does.
func (v *awsEnv) invokeRole() {
	v.Sim.AddServiceRole(v.Customer, awsconn.InvokeRoleName, sesim.EventBridgePrincipal, []string{"events:InvokeApiDestination"})
}

// pipelineCall calls a pipeline route with the owner's key and decodes
// the answer, which must be 200.
func (v *awsEnv) pipelineCall(t *testing.T, method, path, body string) domain.Pipeline {
	t.Helper()
	status, body := apiCall(t, v.App, v.Key, method, path, body)
	var p domain.Pipeline
	if err := json.Unmarshal([]byte(body), &p); err != nil || status != 200 {
		t.Fatalf("pipeline: %d %s", status, body)
	}
	return p
}

// states maps each piece's key to its state.
func states(p domain.Pipeline) map[string]string {
	out := map[string]string{}
	for _, pc := range p.Pieces {
		out[pc.Key] = pc.State
	}
	return out
}

func piece(t *testing.T, p domain.Pipeline, key string) domain.PipelinePiece {
	t.Helper()
	for _, pc := range p.Pieces {
		if pc.Key == key {
			return pc
		}
	}
	t.Fatalf("no piece %s in %+v", key, p.Pieces)
	return domain.PipelinePiece{}
}

var pieceKeys = []string{"configuration_set", "event_destination", "connection", "api_destination", "rule", "target"}

func allIn(p domain.Pipeline, state string) bool {
	st := states(p)
	for _, k := range pieceKeys {
		if st[k] != state {
			return false
		}
	}
	return len(st) == len(pieceKeys)
}

// The one-click event pipeline, through the API against sesim: it creates
// every piece with exactly the policy's permissions, resumes a run that
// stopped, changes nothing when run again, shows and repairs what was
// changed by hand, follows a rotation of the ingest secret, and removing
// the connection deletes nothing in AWS.
func TestPipeline(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		v := newAWSEnv(t, e, nil)
		calls := v.watchCalls(t)
		v.invokeRole()
		const role = "SendOps-prod"
		connID, _ := v.roleConnection(t, "prod", awsconn.PolicyActions("events:PutTargets")...)
		path := "/api/v1/connections/" + connID + "/pipeline"
		name := awsconn.PipelineName(connID)

		// Before anything is set up, every piece is missing.
		p := v.pipelineCall(t, "GET", path, "")
		if !allIn(p, domain.PieceMissing) || p.Complete || p.ConfigurationSet != "sendops" || p.RateLimitPerSecond != 300 ||
			p.Endpoint != v.App.URL+"/ingest/eventbridge" {
			t.Fatalf("status before set-up: %+v", p)
		}
		calls.writes()

		// Without events:PutTargets the run stops at the target, naming it,
		// and answers what it did before and each piece as it left it.
		status, body := apiCall(t, v.App, v.Key, "POST", path, "")
		var stopped struct {
			Error    struct{ Code, Message string }
			Pipeline *domain.Pipeline
		}
		if err := json.Unmarshal([]byte(body), &stopped); err != nil || status != 502 || stopped.Error.Code != domain.EAWS ||
			!strings.Contains(stopped.Error.Message, "events:PutTargets is denied") || !strings.Contains(stopped.Error.Message, "resumes") || stopped.Pipeline == nil {
			t.Fatalf("set-up without events:PutTargets: %d %s", status, body)
		}
		sp := *stopped.Pipeline
		if sp.FailedAction != "events:PutTargets" || sp.Complete || len(sp.Changes) != 5 || !strings.HasPrefix(sp.Changes[0], "created configuration set sendops") {
			t.Errorf("the stopped run's pipeline: failed at %q, complete %v, changes %q", sp.FailedAction, sp.Complete, sp.Changes)
		}
		if st := states(sp); !slices.Equal([]string{st["configuration_set"], st["rule"], st["target"]}, []string{domain.PiecePresent, domain.PiecePresent, domain.PieceMissing}) ||
			piece(t, sp, "rule").Action != "created" || !strings.Contains(piece(t, sp, "target").Error, "events:PutTargets is denied") {
			t.Errorf("the stopped run's pieces: %+v", sp.Pieces)
		}
		p = v.pipelineCall(t, "GET", path, "")
		if st := states(p); st["rule"] != domain.PiecePresent || st["target"] != domain.PieceMissing || st["api_destination"] != domain.PiecePresent {
			t.Fatalf("status after the stopped run: %v", st)
		}

		// Granted it, the next run resumes: it only adds the target.
		if err := v.Sim.SetRolePermissions(v.Customer, role, awsconn.PolicyActions()); err != nil {
			t.Fatal(err)
		}
		calls.writes()
		p = v.pipelineCall(t, "POST", path, "")
		if w := calls.writes(); !slices.Equal(w, []string{"PutTargets"}) {
			t.Errorf("the resumed run wrote %v, want only PutTargets", w)
		}
		if !allIn(p, domain.PiecePresent) || !p.Complete || p.SetUpAt == nil || !slices.Equal(p.Changes, []string{"created rule target sendops"}) {
			t.Fatalf("resumed run: %+v", p)
		}

		// What AWS holds, read back as the customer.
		ses, eb := v.customerClients(t)
		dests, err := ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String("sendops")})
		if err != nil || len(dests.EventDestinations) != 1 {
			t.Fatalf("event destinations: %+v %v", dests, err)
		}
		d := dests.EventDestinations[0]
		if aws.ToString(d.Name) != "sendops-eventbridge" || !d.Enabled || len(d.MatchingEventTypes) != 10 || d.EventBridgeDestination == nil ||
			aws.ToString(d.EventBridgeDestination.EventBusArn) != "arn:aws:events:us-east-1:"+v.Customer+":event-bus/default" {
			t.Errorf("event destination %+v", d)
		}
		conn, err := eb.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String(name)})
		if err != nil || conn.AuthorizationType != ebtypes.ConnectionAuthorizationTypeApiKey ||
			aws.ToString(conn.AuthParameters.ApiKeyAuthParameters.ApiKeyName) != service.IngestHeader {
			t.Fatalf("EventBridge connection %+v %v", conn, err)
		}
		dest, err := eb.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String(name)})
		if err != nil || aws.ToString(dest.InvocationEndpoint) != v.App.URL+"/ingest/eventbridge" || aws.ToInt32(dest.InvocationRateLimitPerSecond) != 300 ||
			dest.HttpMethod != ebtypes.ApiDestinationHttpMethodPost || aws.ToString(dest.ConnectionArn) != aws.ToString(conn.ConnectionArn) {
			t.Fatalf("API destination %+v %v", dest, err)
		}
		rule, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name)})
		if err != nil || rule.State != ebtypes.RuleStateEnabled ||
			!strings.Contains(aws.ToString(rule.EventPattern), `"arn:aws:ses:us-east-1:`+v.Customer+`:configuration-set/sendops"`) ||
			!strings.Contains(aws.ToString(rule.EventPattern), `"aws.ses"`) {
			t.Fatalf("rule %+v %v", rule, err)
		}
		targets, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name)})
		if err != nil || len(targets.Targets) != 1 || aws.ToString(targets.Targets[0].Arn) != aws.ToString(dest.ApiDestinationArn) ||
			aws.ToString(targets.Targets[0].RoleArn) != awsconn.InvokeRoleARN("aws", v.Customer) {
			t.Fatalf("targets %+v %v", targets, err)
		}

		// Running it again changes nothing.
		p = v.pipelineCall(t, "POST", path, "")
		if w := calls.writes(); len(w) != 0 || len(p.Changes) != 0 || !p.Complete {
			t.Errorf("second run: wrote %v, changes %v, complete %v", w, p.Changes, p.Complete)
		}

		// Changes made by hand in AWS show as different, saying what
		// differs, and the next run repairs them. (SendOps tells a change
		// to the EventBridge connection by its modification time, to the
		// second.)
		time.Sleep(1100 * time.Millisecond)
		if _, err := eb.UpdateApiDestination(ctx, &eventbridge.UpdateApiDestinationInput{Name: aws.String(name), InvocationRateLimitPerSecond: aws.Int32(50)}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.UpdateConnection(ctx, &eventbridge.UpdateConnectionInput{Name: aws.String(name), AuthParameters: &ebtypes.UpdateConnectionAuthRequestParameters{
			ApiKeyAuthParameters: &ebtypes.UpdateConnectionApiKeyAuthRequestParameters{ApiKeyValue: aws.String("typed-by-hand")}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: rule.EventPattern, State: ebtypes.RuleStateDisabled}); err != nil {
			t.Fatal(err)
		}
		calls.writes()
		p = v.pipelineCall(t, "GET", path, "")
		wantDiff := map[string]string{"api_destination": "at most 50 times a second, not 300", "connection": "was changed in AWS", "rule": "is DISABLED"}
		for key, want := range wantDiff {
			pc := piece(t, p, key)
			if pc.State != domain.PieceDifferent || !strings.Contains(strings.Join(pc.Differences, "; "), want) {
				t.Errorf("%s after a change by hand: %+v, want different with %q", key, pc, want)
			}
		}
		if st := states(p); st["configuration_set"] != domain.PiecePresent || st["target"] != domain.PiecePresent || p.Complete {
			t.Errorf("status after changes by hand: %v", st)
		}
		if w := calls.writes(); len(w) != 0 {
			t.Errorf("reading the status wrote %v", w)
		}
		p = v.pipelineCall(t, "POST", path, "")
		w := calls.writes()
		sort.Strings(w)
		if !slices.Equal(w, []string{"PutRule", "UpdateApiDestination", "UpdateConnection"}) || !p.Complete || len(p.Changes) != 3 {
			t.Errorf("repair: wrote %v, changes %v", w, p.Changes)
		}
		if dest, err := eb.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String(name)}); err != nil || aws.ToInt32(dest.InvocationRateLimitPerSecond) != 300 {
			t.Errorf("API destination after repair: %+v %v", dest, err)
		}
		if p = v.pipelineCall(t, "GET", path, ""); !allIn(p, domain.PiecePresent) {
			t.Errorf("status after repair: %v", states(p))
		}

		// Rotating the connection's ingest credentials leaves the
		// pipeline's secret alone: nothing to repair. Replacing that one
		// takes asking, and gives EventBridge the new one.
		if status, body := apiCall(t, v.App, v.Key, "POST", "/api/v1/connections/"+connID+"/rotate", ""); status != 200 {
			t.Fatalf("rotate: %d %s", status, body)
		}
		if p = v.pipelineCall(t, "GET", path, ""); !allIn(p, domain.PiecePresent) {
			t.Errorf("status after rotating the ingest credentials: %+v", p.Pieces)
		}
		p = v.pipelineCall(t, "POST", path, "")
		if w := calls.writes(); len(w) != 0 || len(p.Changes) != 0 {
			t.Errorf("after rotating the ingest credentials the run wrote %v: %v", w, p.Changes)
		}
		p = v.pipelineCall(t, "POST", path, `{"rotate_secret":true}`)
		if w := calls.writes(); !slices.Equal(w, []string{"UpdateConnection"}) || !p.Complete ||
			!slices.Equal(p.Changes, []string{"updated EventBridge connection " + name + " (gets a new ingest secret, as asked)"}) {
			t.Errorf("replacing the pipeline's secret wrote %v: %+v", w, p)
		}

		// A read key sees the status but cannot set it up.
		_, readKey, err := v.App.Service.CreateAPIKey(ctx, service.SystemActor(v.Org.ID), "read", []domain.Scope{domain.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		if status, _ := apiCall(t, v.App, readKey, "GET", path, ""); status != 200 {
			t.Errorf("status with a read key: %d", status)
		}
		if status, body := apiCall(t, v.App, readKey, "POST", path, ""); status != 403 {
			t.Errorf("set-up with a read key: %d %s", status, body)
		}
		if status, _ := apiCall(t, v.App, readKey, "DELETE", "/api/v1/connections/"+connID, ""); status != 403 {
			t.Errorf("removal with a read key: %d", status)
		}
		if status, body := apiCall(t, v.App, v.Key, "POST", path, `{"configuration_set":"not a name"}`); status != 400 || !strings.Contains(body, "configuration_set") {
			t.Errorf("a bad configuration set name: %d %s", status, body)
		}

		// Every change is in the audit log.
		_, auditBody := apiCall(t, v.App, v.Key, "GET", "/api/v1/audit?action=connection.pipeline_set_up", "")
		if n := strings.Count(auditBody, `"action":"connection.pipeline_set_up"`); n != 4 || !strings.Contains(auditBody, "stopped at events:PutTargets") {
			t.Errorf("audit entries of set-up runs: %d in %s", n, auditBody)
		}

		// Removing the connection deletes nothing in AWS and says what
		// stays and how to remove it.
		status, body = apiCall(t, v.App, v.Key, "DELETE", "/api/v1/connections/"+connID, "")
		var removed struct {
			Connection struct{ ID string }
			Message    string
			LeftInAWS  []domain.LeftInAWS `json:"left_in_aws"`
		}
		if err := json.Unmarshal([]byte(body), &removed); status != 200 || err != nil || removed.Connection.ID != connID || !strings.Contains(removed.Message, "deleted nothing in AWS") {
			t.Fatalf("remove: %d %s", status, body)
		}
		var cmds []string
		for _, l := range removed.LeftInAWS {
			cmds = append(cmds, l.Remove)
		}
		all := strings.Join(cmds, "\n")
		for _, want := range []string{
			"aws events remove-targets --rule " + name + " --ids sendops --region us-east-1",
			"aws events delete-rule --name " + name,
			"aws events delete-api-destination --name " + name,
			"aws events delete-connection --name " + name,
			"aws sesv2 delete-configuration-set-event-destination --configuration-set-name sendops --event-destination-name sendops-eventbridge",
			"aws sesv2 delete-configuration-set --configuration-set-name sendops",
			"aws iam delete-role --role-name " + role,
		} {
			if !strings.Contains(all, want) {
				t.Errorf("the removal answer lacks %q:\n%s", want, all)
			}
		}
		if w := calls.writes(); len(w) != 0 {
			t.Errorf("removal called AWS: %v", w)
		}
		if status, _ := apiCall(t, v.App, v.Key, "GET", "/api/v1/connections/"+connID, ""); status != 404 {
			t.Errorf("the removed connection answers %d", status)
		}
		if _, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name)}); err != nil {
			t.Errorf("the rule is gone from AWS: %v", err)
		}
		if targets, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name)}); err != nil || len(targets.Targets) != 1 {
			t.Errorf("the target is gone from AWS: %+v %v", targets, err)
		}
		if _, err := ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String("sendops")}); err != nil {
			t.Errorf("the configuration set is gone from AWS: %v", err)
		}
		var pipelines int
		if err := v.App.DB.View(ctx, func(tx *store.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM connection_pipelines WHERE org_id = ?`, v.Org.ID).Scan(&pipelines)
		}); err != nil || pipelines != 0 {
			t.Errorf("pipeline records after removal: %d %v", pipelines, err)
		}
	})
}

// End to end on both engines: an organisation adds a role connection, sets
// up the pipeline, the customer sends to success@ and bounce@ through
// sesim, and SendOps's ingest path stores the Send, Delivery and Bounce
// events.
func TestPipelineEndToEnd(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		v := newAWSEnv(t, e, nil)
		v.invokeRole()
		connID, _ := v.roleConnection(t, "prod", awsconn.PolicyActions()...)
		p := v.pipelineCall(t, "POST", "/api/v1/connections/"+connID+"/pipeline", `{"configuration_set":"transactional"}`)
		if !p.Complete || p.ConfigurationSet != "transactional" {
			t.Fatalf("set-up: %+v", p)
		}

		ses, _ := v.customerClients(t)
		if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("shop.example.com")}); err != nil {
			t.Fatal(err)
		}
		send := func(to string) string {
			out, err := ses.SendEmail(ctx, &sesv2.SendEmailInput{
				FromEmailAddress:     aws.String("Shop <orders@shop.example.com>"),
				Destination:          &sestypes.Destination{ToAddresses: []string{to}},
				ConfigurationSetName: aws.String("transactional"),
				EmailTags:            []sestypes.MessageTag{{Name: aws.String("campaign"), Value: aws.String("receipts")}},
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
		success := send("success@simulator.amazonses.com")
		bounce := send("bounce@simulator.amazonses.com")

		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		ds, err := v.Sim.WaitDelivered(wctx, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if !d.Delivered || d.Status != 200 || d.Endpoint != v.App.URL+"/ingest/eventbridge" {
				t.Errorf("delivery %s %s: %+v", d.DetailType, d.MessageID, d)
			}
		}
		for id, want := range map[string][]string{success: {"Delivery", "Send"}, bounce: {"Bounce", "Send"}} {
			status, body := apiCall(t, v.App, v.Key, "GET", "/api/v1/messages/"+url.PathEscape(id), "")
			var m struct {
				ConnectionID string `json:"connection_id"`
				ConfigSet    string `json:"configuration_set"`
				Events       []struct {
					Type string `json:"type"`
				} `json:"events"`
			}
			if err := json.Unmarshal([]byte(body), &m); status != 200 || err != nil {
				t.Fatalf("message %s: %d %s", id, status, body)
			}
			var got []string
			for _, ev := range m.Events {
				got = append(got, ev.Type)
			}
			sort.Strings(got)
			if !slices.Equal(got, want) || m.ConnectionID != connID || m.ConfigSet != "transactional" {
				t.Errorf("message %s: events %v, connection %s, set %s; want %v", id, got, m.ConnectionID, m.ConfigSet, want)
			}
		}

		// Once the connection is removed, SendOps refuses what EventBridge
		// still sends (a 4xx, which EventBridge does not retry).
		if status, body := apiCall(t, v.App, v.Key, "DELETE", "/api/v1/connections/"+connID, ""); status != 200 {
			t.Fatalf("remove: %d %s", status, body)
		}
		send("success@simulator.amazonses.com")
		ds, err = v.Sim.WaitDelivered(wctx, 6)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds[4:] {
			if d.Delivered || d.Status != 401 {
				t.Errorf("delivery after removal: %+v, want refused with 401", d)
			}
		}
	})
}

// The connection's page: the connections list links to it; it shows each
// piece of the pipeline, sets it up with a chosen configuration set (and
// shows a run that stopped as it left the pipeline), and removes the
// connection once its name is typed, saying what stays in AWS.
func TestConnectionPage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		v := newAWSEnv(t, e, nil)
		calls := v.watchCalls(t)
		v.invokeRole()
		connID, _ := v.roleConnection(t, "prod", awsconn.PolicyActions()...)
		page := "/connections/" + connID
		b := v.App.SignIn(t, v.User.Email, "password-"+v.User.Email)

		if p := b.Get("/connections"); !strings.Contains(p.Body, `<a href="`+page+`">prod</a>`) {
			t.Fatalf("the connections page does not link to the connection:\n%s", p.Body)
		}
		p := b.Get(page)
		for _, want := range []string{
			v.App.URL + "/ingest/eventbridge", service.IngestHeader, "Set up event publishing", `value="sendops"`, `name="rotate_secret"`,
			`<tr id="piece-rule">`, `status-missing`, "300 events a second",
			page + "/identities", page + "/configuration-sets", page + "/suppression", page + "/account",
		} {
			if p.Status != 200 || !strings.Contains(p.Body, want) {
				t.Fatalf("the connection's page (%d) lacks %q:\n%s", p.Status, want, p.Body)
			}
		}
		if strings.Contains(p.Body, "status-present") {
			t.Error("a piece shows as present before set-up")
		}

		p = b.Post(page, page+"/pipeline", url.Values{"configuration_set": {"marketing"}})
		if p.Status != http.StatusSeeOther || p.Location != page {
			t.Fatalf("set up: %d %s\n%s", p.Status, p.Location, p.Body)
		}
		p = b.Get(page)
		if !strings.Contains(p.Body, "Event publishing is set up: SendOps created configuration set marketing") ||
			strings.Count(p.Body, "status-present") != 6 || !strings.Contains(p.Body, "Every piece is in place") || !strings.Contains(p.Body, `value="marketing"`) {
			t.Fatalf("after set-up:\n%s", p.Body)
		}
		p = b.Post(page, page+"/pipeline", url.Values{"configuration_set": {"marketing"}})
		if p = b.Get(p.Location); !strings.Contains(p.Body, "nothing changed") {
			t.Errorf("second set-up:\n%s", p.Body)
		}
		// An AWS refusal is shown on the page, naming the action, with the
		// pipeline as the run left it (not read a second time).
		if err := v.Sim.SetRolePermissions(v.Customer, "SendOps-prod", awsconn.PolicyActions("events:DescribeRule")); err != nil {
			t.Fatal(err)
		}
		csrf := b.Get(page).CSRF()
		before := calls.count("DescribeConnection")
		p = b.PostRaw(page+"/pipeline", url.Values{"csrf": {csrf}})
		if p.Status != http.StatusBadGateway || !strings.Contains(p.Body, "events:DescribeRule is denied") ||
			!strings.Contains(p.Body, `<div id="pipeline-stopped"><p>The run stopped at <code>events:DescribeRule</code>`) ||
			strings.Count(p.Body, "status-present") != 4 || strings.Count(p.Body, "status-unknown") != 2 {
			t.Errorf("set-up refused by AWS: %d\n%s", p.Status, p.Body)
		}
		if n := calls.count("DescribeConnection") - before; n != 1 {
			t.Errorf("the stopped run's page read the pipeline %d times, want once (the run)", n)
		}

		p = b.Post(page, page+"/remove", url.Values{"confirm": {"production"}})
		if p.Status != 400 || !strings.Contains(p.Body, "Type the connection&#39;s name, prod, to remove it.") {
			t.Fatalf("removal with the wrong name: %d\n%s", p.Status, p.Body)
		}
		p = b.Post(page, page+"/remove", url.Values{"confirm": {"prod"}})
		name := awsconn.PipelineName(connID)
		for _, want := range []string{"prod was removed", "deleted nothing in AWS", "aws events delete-rule --name " + name + " --region us-east-1",
			"aws sesv2 delete-configuration-set --configuration-set-name marketing"} {
			if p.Status != 200 || !strings.Contains(p.Body, want) {
				t.Fatalf("removal page (%d) lacks %q:\n%s", p.Status, want, p.Body)
			}
		}
		if p = b.Get(page); p.Status != 404 {
			t.Errorf("the removed connection's page: %d", p.Status)
		}
	})
}
