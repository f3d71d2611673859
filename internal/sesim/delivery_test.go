package sesim

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// pipeline sets up, through the SDK, what SendOps's one-click setup
// creates: identity, configuration set with an EventBridge destination,
// connection, API destination to rc, rule on the set's events and target.
func (e *env) pipeline(t *testing.T, rc *receiver, retry *ebtypes.RetryPolicy) {
	t.Helper()
	if err := e.setupPipeline(ctxT(t), rc, retry); err != nil {
		t.Fatal(err)
	}
}

func (e *env) setupPipeline(ctx context.Context, rc *receiver, retry *ebtypes.RetryPolicy) error {
	// The role EventBridge assumes to invoke the API destination, which the
	// customer's CloudFormation stack creates.
	e.sim.AddServiceRole(testAccount, "sendops-eventbridge", EventBridgePrincipal, []string{"events:InvokeApiDestination"})
	if _, err := e.ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("example.com")}); err != nil {
		return err
	}
	if _, err := e.ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String("cs")}); err != nil {
		return err
	}
	if _, err := e.ses.CreateConfigurationSetEventDestination(ctx, &sesv2.CreateConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String("cs"), EventDestinationName: aws.String("sendops"),
		EventDestination: &sestypes.EventDestinationDefinition{
			Enabled: true,
			MatchingEventTypes: []sestypes.EventType{"SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "OPEN", "CLICK",
				"RENDERING_FAILURE", "DELIVERY_DELAY", "SUBSCRIPTION"},
			EventBridgeDestination: &sestypes.EventBridgeDestination{EventBusArn: aws.String("arn:aws:events:us-east-1:" + testAccount + ":event-bus/default")},
		},
	}); err != nil {
		return err
	}
	conn, err := e.eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{
		Name: aws.String("sendops"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{
			ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{ApiKeyName: aws.String("X-SendOps-Key"), ApiKeyValue: aws.String("ingest-secret")},
		},
	})
	if err != nil {
		return err
	}
	dest, err := e.eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{
		Name: aws.String("sendops"), ConnectionArn: conn.ConnectionArn, InvocationEndpoint: aws.String(rc.srv.URL + "/ingest/eventbridge"),
		HttpMethod: ebtypes.ApiDestinationHttpMethodPost, InvocationRateLimitPerSecond: aws.Int32(300),
	})
	if err != nil {
		return err
	}
	if _, err := e.eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String("sendops-cs"), EventPattern: aws.String(`{"source":["aws.ses"],"detail":{"mail":{"tags":{"ses:configuration-set":["cs"]}}}}`),
	}); err != nil {
		return err
	}
	_, err = e.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("sendops-cs"), Targets: []ebtypes.Target{{
		Id: aws.String("sendops"), Arn: dest.ApiDestinationArn, RoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/sendops-eventbridge"), RetryPolicy: retry,
	}}})
	return err
}

func (e *env) send(t *testing.T, to string, tags ...sestypes.MessageTag) string {
	t.Helper()
	out, err := e.ses.SendEmail(ctxT(t), &sesv2.SendEmailInput{
		FromEmailAddress:     aws.String("Shop <orders@example.com>"),
		Destination:          &sestypes.Destination{ToAddresses: []string{to}},
		ConfigurationSetName: aws.String("cs"),
		EmailTags:            tags,
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("Your order")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("Thanks")}, Html: &sestypes.Content{Data: aws.String("<p>Thanks</p>")}},
		}},
	})
	if err != nil {
		t.Fatalf("SendEmail to %s: %v", to, err)
	}
	return aws.ToString(out.MessageId)
}

// byMessage groups received envelopes' detail-types by SES message id.
func byMessage(t *testing.T, reqs []recorded) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range reqs {
		detail, _ := r.env["detail"].(map[string]any)
		m, _ := detail["mail"].(map[string]any)
		id, _ := m["messageId"].(string)
		out[id] = append(out[id], r.env["detail-type"].(string))
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

func TestEventPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	rc := newReceiver(t)
	e.pipeline(t, rc, nil)
	success := e.send(t, "success@simulator.amazonses.com", sestypes.MessageTag{Name: aws.String("campaign"), Value: aws.String("spring")})
	bounce := e.send(t, "bounce@simulator.amazonses.com")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.sim.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	reqs := rc.received()
	got := byMessage(t, reqs)
	want := map[string][]string{
		success: {"Email Delivered", "Email Sent"},
		bounce:  {"Email Bounced", "Email Sent"},
	}
	if len(got) != 2 || !slices.Equal(got[success], want[success]) || !slices.Equal(got[bounce], want[bounce]) {
		t.Fatalf("received %v, want %v", got, want)
	}

	for _, r := range reqs {
		if r.header.Get("X-SendOps-Key") != "ingest-secret" {
			t.Errorf("API key header %q, want the connection's key", r.header.Get("X-SendOps-Key"))
		}
		if r.header.Get("Content-Type") != "application/json; charset=utf-8" || r.header.Get("User-Agent") != "Amazon/EventBridge/ApiDestinations" {
			t.Errorf("headers %v", r.header)
		}
		env := r.env
		if env["version"] != "0" || env["source"] != "aws.ses" || env["account"] != testAccount || env["region"] != "us-east-1" || env["id"] == "" {
			t.Errorf("envelope %v", env)
		}
		if res, _ := env["resources"].([]any); len(res) != 1 || res[0] != "arn:aws:ses:us-east-1:"+testAccount+":configuration-set/cs" {
			t.Errorf("resources %v", env["resources"])
		}
		if ts, _ := env["time"].(string); !strings.HasSuffix(ts, "Z") || len(ts) != len("2025-03-01T12:00:00Z") {
			t.Errorf("time %q: want second precision UTC", ts)
		}
	}

	// The detail is SES's event-publishing record.
	var bounceDetail struct {
		EventType string `json:"eventType"`
		Mail      struct {
			Source           string              `json:"source"`
			SourceArn        string              `json:"sourceArn"`
			SendingAccountID string              `json:"sendingAccountId"`
			MessageID        string              `json:"messageId"`
			Destination      []string            `json:"destination"`
			Headers          []mailHeader        `json:"headers"`
			CommonHeaders    commonHeaders       `json:"commonHeaders"`
			Tags             map[string][]string `json:"tags"`
		} `json:"mail"`
		Bounce bounceObject `json:"bounce"`
	}
	var sendTags map[string][]string
	for _, r := range reqs {
		var probe struct {
			Detail json.RawMessage `json:"detail"`
		}
		json.Unmarshal(r.body, &probe)
		switch r.env["detail-type"] {
		case "Email Bounced":
			if err := json.Unmarshal(probe.Detail, &bounceDetail); err != nil {
				t.Fatal(err)
			}
		case "Email Sent":
			var d struct {
				Mail struct {
					MessageID string              `json:"messageId"`
					Tags      map[string][]string `json:"tags"`
				} `json:"mail"`
				Send *struct{} `json:"send"`
			}
			json.Unmarshal(probe.Detail, &d)
			if d.Send == nil {
				t.Errorf("Send event without its send object: %s", probe.Detail)
			}
			if d.Mail.MessageID == success {
				sendTags = d.Mail.Tags
			}
		}
	}
	b := bounceDetail
	if b.EventType != "Bounce" || b.Bounce.BounceType != "Permanent" || b.Bounce.BounceSubType != "General" || len(b.Bounce.BouncedRecipients) != 1 {
		t.Fatalf("bounce detail %+v", b)
	}
	br := b.Bounce.BouncedRecipients[0]
	if br.EmailAddress != "bounce@simulator.amazonses.com" || br.Status != "5.1.1" || br.Action != "failed" || br.DiagnosticCode != "smtp; 550 5.1.1 user unknown" ||
		!strings.HasPrefix(b.Bounce.ReportingMTA, "dns; ") || !strings.HasSuffix(b.Bounce.FeedbackID, "-000000") {
		t.Errorf("bounced recipient %+v, bounce %+v", br, b.Bounce)
	}
	if b.Mail.Source != "Shop <orders@example.com>" || b.Mail.SourceArn != "arn:aws:ses:us-east-1:"+testAccount+":identity/example.com" ||
		b.Mail.SendingAccountID != testAccount || b.Mail.MessageID != bounce || b.Mail.CommonHeaders.Subject != "Your order" ||
		!slices.Equal(b.Mail.Destination, []string{"bounce@simulator.amazonses.com"}) || len(b.Mail.Headers) == 0 {
		t.Errorf("mail object %+v", b.Mail)
	}
	if !slices.Equal(b.Mail.Tags["ses:configuration-set"], []string{"cs"}) || !slices.Equal(b.Mail.Tags["ses:from-domain"], []string{"example.com"}) ||
		!slices.Equal(b.Mail.Tags["ses:caller-identity"], []string{"root"}) || len(b.Mail.Tags["ses:source-ip"]) != 1 {
		t.Errorf("tags %v", b.Mail.Tags)
	}
	if !slices.Equal(sendTags["campaign"], []string{"spring"}) {
		t.Errorf("custom tag missing from the Send event: %v", sendTags)
	}

	deliveries := e.sim.Deliveries()
	if len(deliveries) != 4 {
		t.Fatalf("Deliveries() has %d entries, want 4", len(deliveries))
	}
	for _, d := range deliveries {
		if !d.Delivered || d.Attempts != 1 || d.Status != 200 || d.Endpoint != rc.srv.URL+"/ingest/eventbridge" || d.Rule != "sendops-cs" {
			t.Errorf("delivery %+v", d)
		}
	}
}

func TestMailboxSimulatorScenarios(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	rc := newReceiver(t)
	e.pipeline(t, rc, nil)
	ctx := ctxT(t)
	if _, err := e.ses.PutSuppressedDestination(ctx, &sesv2.PutSuppressedDestinationInput{EmailAddress: aws.String("gone@customer.net"), Reason: sestypes.SuppressionListReasonBounce}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, to := range []string{"complaint@simulator.amazonses.com", "ooto@simulator.amazonses.com", "suppressionlist@simulator.amazonses.com",
		"success+label1@simulator.amazonses.com", "bob@customer.net", "gone@customer.net"} {
		ids[to] = e.send(t, to)
	}
	if err := e.sim.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	got := byMessage(t, rc.received())
	want := map[string][]string{
		"complaint@simulator.amazonses.com":       {"Email Complaint Received", "Email Delivered", "Email Sent"},
		"ooto@simulator.amazonses.com":            {"Email Bounced", "Email Delivered", "Email Sent"},
		"suppressionlist@simulator.amazonses.com": {"Email Bounced", "Email Sent"},
		"success+label1@simulator.amazonses.com":  {"Email Delivered", "Email Sent"},
		"bob@customer.net":                        {"Email Delivered", "Email Sent"},
		"gone@customer.net":                       {"Email Bounced", "Email Sent"},
	}
	for to, w := range want {
		if !slices.Equal(got[ids[to]], w) {
			t.Errorf("%s: received %v, want %v", to, got[ids[to]], w)
		}
	}
	bounces := map[string]bounceObject{}
	var complaint complaintObject
	for _, r := range rc.received() {
		var d struct {
			Bounce    *bounceObject    `json:"bounce"`
			Complaint *complaintObject `json:"complaint"`
		}
		raw, _ := json.Marshal(r.env["detail"])
		json.Unmarshal(raw, &d)
		if d.Bounce != nil {
			bounces[d.Bounce.BouncedRecipients[0].EmailAddress] = *d.Bounce
		}
		if d.Complaint != nil {
			complaint = *d.Complaint
		}
	}
	if b := bounces["ooto@simulator.amazonses.com"]; b.BounceType != "Transient" || b.BounceSubType != "General" || b.BouncedRecipients[0].DiagnosticCode != "" {
		t.Errorf("ooto bounce %+v: want Transient/General without DSN fields", b)
	}
	if b := bounces["gone@customer.net"]; b.BounceType != "Permanent" || b.BounceSubType != "OnAccountSuppressionList" || b.ReportingMTA != "dns; amazonses.com" {
		t.Errorf("account-suppressed bounce %+v", b)
	}
	if b := bounces["suppressionlist@simulator.amazonses.com"]; b.BounceType != "Permanent" || !strings.Contains(b.BouncedRecipients[0].DiagnosticCode, "blacklisted") {
		t.Errorf("suppressionlist bounce %+v", b)
	}
	if complaint.ComplaintFeedbackType != "abuse" || complaint.UserAgent != "Amazon SES Mailbox Simulator" || complaint.ComplainedRecipients[0].EmailAddress != "complaint@simulator.amazonses.com" {
		t.Errorf("complaint %+v", complaint)
	}
}

func TestEventDestinationFiltersEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	rc := newReceiver(t)
	e.pipeline(t, rc, nil)
	ctx := ctxT(t)
	// Only bounces are published; a rule for another configuration set
	// matches nothing.
	if _, err := e.ses.UpdateConfigurationSetEventDestination(ctx, &sesv2.UpdateConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String("cs"), EventDestinationName: aws.String("sendops"),
		EventDestination: &sestypes.EventDestinationDefinition{
			Enabled: true, MatchingEventTypes: []sestypes.EventType{"BOUNCE"},
			EventBridgeDestination: &sestypes.EventBridgeDestination{EventBusArn: aws.String("arn:aws:events:us-east-1:" + testAccount + ":event-bus/default")},
		},
	}); err != nil {
		t.Fatal(err)
	}
	e.send(t, "success@simulator.amazonses.com")
	bounce := e.send(t, "bounce@simulator.amazonses.com")
	if err := e.sim.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	got := byMessage(t, rc.received())
	if len(got) != 1 || !slices.Equal(got[bounce], []string{"Email Bounced"}) {
		t.Errorf("received %v, want only the bounce", got)
	}

	if _, err := e.eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String("sendops-cs"), EventPattern: aws.String(`{"source":["aws.ses"],"detail":{"mail":{"tags":{"ses:configuration-set":["other"]}}}}`),
	}); err != nil {
		t.Fatal(err)
	}
	e.send(t, "bounce@simulator.amazonses.com")
	if err := e.sim.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.received()); n != 1 {
		t.Errorf("a rule for another configuration set delivered: %d requests, want 1", n)
	}
}

func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		statuses      []int
		retryAfter    string
		retry         *ebtypes.RetryPolicy
		wantAttempts  int
		wantDelivered bool
		minElapsed    time.Duration
	}{
		{"503 twice then 200", []int{503, 503}, "", nil, 3, true, 0},
		{"429 then 200", []int{429}, "", nil, 2, true, 0},
		{"400 is final", []int{400}, "", nil, 1, false, 0},
		{"401 is final", []int{401}, "", nil, 1, false, 0},
		{"gives up after the attempt limit", []int{500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500}, "", nil, 4, false, 0},
		{"target retry policy", []int{500, 500, 500}, "", &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(1)}, 2, false, 0},
		{"retry-after honoured", []int{503}, "1", nil, 2, true, time.Second},
		{"negative retry-after stops", []int{503}, "-1", nil, 1, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{MaxAttempts: 4})
			rc := newReceiver(t, tt.statuses...)
			if tt.retryAfter != "" {
				rc.headers["Retry-After"] = tt.retryAfter
			}
			e.pipeline(t, rc, tt.retry)
			// Only Send events, so one invocation per message.
			if _, err := e.ses.UpdateConfigurationSetEventDestination(ctxT(t), &sesv2.UpdateConfigurationSetEventDestinationInput{
				ConfigurationSetName: aws.String("cs"), EventDestinationName: aws.String("sendops"),
				EventDestination: &sestypes.EventDestinationDefinition{
					Enabled: true, MatchingEventTypes: []sestypes.EventType{"SEND"},
					EventBridgeDestination: &sestypes.EventBridgeDestination{EventBusArn: aws.String("arn:aws:events:us-east-1:" + testAccount + ":event-bus/default")},
				},
			}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			e.send(t, "success@simulator.amazonses.com")
			ds, err := e.sim.WaitDelivered(ctxT(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			d := ds[0]
			if d.Attempts != tt.wantAttempts || d.Delivered != tt.wantDelivered {
				t.Errorf("delivery %+v: want %d attempts, delivered %v", d, tt.wantAttempts, tt.wantDelivered)
			}
			if n := len(rc.received()); n != tt.wantAttempts {
				t.Errorf("receiver got %d requests, want %d", n, tt.wantAttempts)
			}
			if elapsed := time.Since(start); elapsed < tt.minElapsed {
				t.Errorf("retried after %v, want at least %v", elapsed, tt.minElapsed)
			}
			// Retries carry the same event.
			reqs := rc.received()
			for _, r := range reqs[1:] {
				if r.env["id"] != reqs[0].env["id"] {
					t.Errorf("retry changed the event id: %v != %v", r.env["id"], reqs[0].env["id"])
				}
			}
		})
	}
}

func TestCloseStopsRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{RetryBase: time.Hour})
	rc := newReceiver(t, 503, 503, 503, 503)
	e.pipeline(t, rc, nil)
	e.send(t, "success@simulator.amazonses.com")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for len(rc.received()) < 2 {
		if ctx.Err() != nil {
			t.Fatal("no first attempts")
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() {
		e.sim.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close did not stop deliveries waiting to retry")
	}
	if err := e.sim.Idle(ctx); err != nil {
		t.Errorf("Idle after Close: %v", err)
	}
	for _, d := range e.sim.Deliveries() {
		if d.Delivered || d.Attempts != 1 || d.Err != "simulator closed" {
			t.Errorf("delivery of %s: delivered %v after %d attempts (%s); want undelivered after 1, simulator closed", d.DetailType, d.Delivered, d.Attempts, d.Err)
		}
	}
}

func TestRenderingFailureEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	rc := newReceiver(t)
	e.pipeline(t, rc, nil)
	ctx := ctxT(t)
	if _, err := e.ses.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{TemplateName: aws.String("reset"), TemplateContent: &sestypes.EmailTemplateContent{
		Subject: aws.String("Reset for {{name}}"), Text: aws.String("Code {{code}}"),
	}}); err != nil {
		t.Fatal(err)
	}
	send := func(data string) string {
		out, err := e.ses.SendEmail(ctx, &sesv2.SendEmailInput{
			FromEmailAddress: aws.String("noreply@example.com"), ConfigurationSetName: aws.String("cs"),
			Destination: &sestypes.Destination{ToAddresses: []string{"success@simulator.amazonses.com"}},
			Content:     &sestypes.EmailContent{Template: &sestypes.Template{TemplateName: aws.String("reset"), TemplateData: aws.String(data)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.MessageId)
	}
	ok := send(`{"name":"Ana","code":"123"}`)
	failed := send(`{"name":"Ana"}`)
	if err := e.sim.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	got := byMessage(t, rc.received())
	if !slices.Equal(got[ok], []string{"Email Delivered", "Email Sent"}) || !slices.Equal(got[failed], []string{"Email Rendering Failed"}) {
		t.Errorf("received %v", got)
	}
	for _, r := range rc.received() {
		if r.env["detail-type"] != "Email Rendering Failed" {
			continue
		}
		detail := r.env["detail"].(map[string]any)
		failure := detail["failure"].(map[string]any)
		if detail["eventType"] != "Rendering Failure" || failure["templateName"] != "reset" || failure["errorMessage"] != "Attribute 'code' is not present in the rendering data." {
			t.Errorf("rendering failure detail %v", detail)
		}
	}
}

func TestPipelineThroughAssumedRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	sendopsID, sendopsSecret := e.sim.AddAccessKey(otherAccount, "sendops")
	actions := []string{
		"ses:CreateEmailIdentity", "ses:CreateConfigurationSet", "ses:CreateConfigurationSetEventDestination", "ses:SendEmail",
		"events:CreateConnection", "events:CreateApiDestination", "events:PutRule", "iam:PassRole", "events:PutTargets",
	}
	roleArn := e.sim.AddRole(testAccount, "SendOps", "arn:aws:iam::"+otherAccount+":root", "org-42", actions[:len(actions)-1])
	out, err := sts.NewFromConfig(e.config(sendopsID, sendopsSecret, "")).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(roleArn), RoleSessionName: aws.String("sendops"), ExternalId: aws.String("org-42"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	cfg := e.config(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	e.ses, e.eb = sesv2.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)
	rc := newReceiver(t)

	// Without events:PutTargets the set-up stops at the target, naming it.
	err = e.setupPipeline(ctx, rc, nil)
	var denied *ebtypes.AccessDeniedException
	if !errors.As(err, &denied) || !strings.Contains(denied.ErrorMessage(), "events:PutTargets") {
		t.Fatalf("set-up without events:PutTargets: %v, want AccessDeniedException naming it", err)
	}

	if err := e.sim.SetRolePermissions(testAccount, "SendOps", actions); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("sendops-cs"), Targets: []ebtypes.Target{{
		Id: aws.String("sendops"), Arn: aws.String(e.apiDestinationArn(t)), RoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/sendops-eventbridge"),
	}}}); err != nil {
		t.Fatal(err)
	}
	id := e.send(t, "success@simulator.amazonses.com")
	if err := e.sim.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	got := byMessage(t, rc.received())
	if !slices.Equal(got[id], []string{"Email Delivered", "Email Sent"}) {
		t.Errorf("received %v", got)
	}
	for _, r := range rc.received() {
		tags := r.env["detail"].(map[string]any)["mail"].(map[string]any)["tags"].(map[string]any)
		if ci := tags["ses:caller-identity"].([]any); len(ci) != 1 || ci[0] != "SendOps" {
			t.Errorf("ses:caller-identity %v, want the role name", ci)
		}
	}
}

func (e *env) apiDestinationArn(t *testing.T) string {
	t.Helper()
	out, err := eventbridge.NewFromConfig(e.root).DescribeApiDestination(ctxT(t), &eventbridge.DescribeApiDestinationInput{Name: aws.String("sendops")})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ApiDestinationArn)
}

// EventBridge invokes an API destination only with a role it may assume
// and that may invoke it; the caller of PutTargets must be allowed to pass
// that role.
func TestTargetRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	rc := newReceiver(t)
	e.pipeline(t, rc, nil)
	const roleName = "sendops-eventbridge"

	tests := []struct {
		name    string
		arrange func()
		wantErr string // in the delivery's Err; "" for delivered
	}{
		{"role missing", func() { e.sim.DeleteRole(testAccount, roleName) }, "does not exist"},
		{"role not trusting EventBridge", func() {
			e.sim.AddRole(testAccount, roleName, "", "", []string{"events:InvokeApiDestination"})
		}, "trust policy"},
		{"role without events:InvokeApiDestination", func() {
			e.sim.AddServiceRole(testAccount, roleName, EventBridgePrincipal, []string{"events:PutEvents"})
		}, "events:InvokeApiDestination"},
		{"good role", func() {
			e.sim.AddServiceRole(testAccount, roleName, EventBridgePrincipal, []string{"events:InvokeApiDestination"})
		}, ""},
	}
	seen := 0
	for _, tt := range tests {
		tt.arrange()
		before := len(rc.received())
		e.send(t, "success@simulator.amazonses.com")
		ds, err := e.sim.WaitDelivered(ctx, seen+2) // Send and Delivery
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds[seen:] {
			if tt.wantErr == "" {
				if !d.Delivered {
					t.Errorf("%s: not delivered: %+v", tt.name, d)
				}
			} else if d.Delivered || d.Attempts != 0 || !strings.Contains(d.Err, tt.wantErr) {
				t.Errorf("%s: delivery %+v, want no attempt and an error naming %q", tt.name, d, tt.wantErr)
			}
		}
		if got := len(rc.received()) - before; (tt.wantErr == "") != (got == 2) {
			t.Errorf("%s: the endpoint received %d requests", tt.name, got)
		}
		seen = len(ds)
	}

	// A role session without iam:PassRole cannot hand the role to EventBridge.
	sendopsID, sendopsSecret := e.sim.AddAccessKey(otherAccount, "sendops")
	roleArn := e.sim.AddRole(testAccount, "SendOps", "arn:aws:iam::"+otherAccount+":root", "", []string{"events:*"})
	out, err := sts.NewFromConfig(e.config(sendopsID, sendopsSecret, "")).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(roleArn), RoleSessionName: aws.String("sendops"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	eb := eventbridge.NewFromConfig(e.config(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)))
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("sendops-cs"), Targets: []ebtypes.Target{{
		Id: aws.String("sendops"), Arn: aws.String(e.apiDestinationArn(t)), RoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/" + roleName),
	}}})
	var denied *ebtypes.AccessDeniedException
	if !errors.As(err, &denied) || !strings.Contains(denied.ErrorMessage(), "iam:PassRole") {
		t.Fatalf("PutTargets without iam:PassRole: %v, want AccessDeniedException naming it", err)
	}
}
