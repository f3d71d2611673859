package sesim

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

func TestConnectionsAndAPIDestinations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{RequireHTTPS: true})
	ctx := ctxT(t)
	conn, err := e.eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{
		Name:              aws.String("sendops-ingest"),
		AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{
			ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{ApiKeyName: aws.String("X-SendOps-Key"), ApiKeyValue: aws.String("s3cret")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(conn.ConnectionArn), "arn:aws:events:us-east-1:"+testAccount+":connection/sendops-ingest/") || conn.ConnectionState != ebtypes.ConnectionStateAuthorized {
		t.Errorf("CreateConnection: %+v", conn)
	}
	var exists *ebtypes.ResourceAlreadyExistsException
	if _, err := e.eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{
		Name: aws.String("sendops-ingest"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{ApiKeyName: aws.String("k"), ApiKeyValue: aws.String("v")}},
	}); !errors.As(err, &exists) {
		t.Errorf("duplicate connection: %v, want ResourceAlreadyExistsException", err)
	}
	desc, err := e.eb.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("sendops-ingest")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(desc.AuthParameters.ApiKeyAuthParameters.ApiKeyName) != "X-SendOps-Key" || desc.AuthorizationType != ebtypes.ConnectionAuthorizationTypeApiKey ||
		!strings.HasPrefix(aws.ToString(desc.SecretArn), "arn:aws:secretsmanager:") {
		t.Errorf("DescribeConnection: %+v", desc)
	}
	if _, err := e.eb.UpdateConnection(ctx, &eventbridge.UpdateConnectionInput{
		Name: aws.String("sendops-ingest"), Description: aws.String("rotated"),
		AuthParameters: &ebtypes.UpdateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.UpdateConnectionApiKeyAuthRequestParameters{ApiKeyValue: aws.String("n3w")}},
	}); err != nil {
		t.Fatal(err)
	}
	var nf *ebtypes.ResourceNotFoundException
	if _, err := e.eb.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("nope")}); !errors.As(err, &nf) {
		t.Errorf("missing connection: %v, want ResourceNotFoundException", err)
	}
	conns, err := e.eb.ListConnections(ctx, &eventbridge.ListConnectionsInput{NamePrefix: aws.String("sendops")})
	if err != nil || len(conns.Connections) != 1 {
		t.Errorf("ListConnections: %+v %v", conns, err)
	}

	if _, err := e.eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{
		Name: aws.String("plain-http"), ConnectionArn: conn.ConnectionArn, InvocationEndpoint: aws.String("http://example.com/ingest"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost,
	}); apiCode(t, err) != "ValidationException" {
		t.Errorf("http endpoint with RequireHTTPS: %v, want ValidationException", err)
	}
	dest, err := e.eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{
		Name: aws.String("sendops"), ConnectionArn: conn.ConnectionArn, InvocationEndpoint: aws.String("https://sendops.example.com/ingest/eventbridge"),
		HttpMethod: ebtypes.ApiDestinationHttpMethodPost, InvocationRateLimitPerSecond: aws.Int32(50),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{
		Name: aws.String("orphan"), ConnectionArn: aws.String("arn:aws:events:us-east-1:" + testAccount + ":connection/none/x"),
		InvocationEndpoint: aws.String("https://x.example.com"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost,
	}); !errors.As(err, &nf) {
		t.Errorf("API destination on a missing connection: %v, want ResourceNotFoundException", err)
	}
	if _, err := e.eb.UpdateApiDestination(ctx, &eventbridge.UpdateApiDestinationInput{Name: aws.String("sendops"), InvocationRateLimitPerSecond: aws.Int32(300)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.eb.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String("sendops")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.ApiDestinationArn) != aws.ToString(dest.ApiDestinationArn) || aws.ToInt32(got.InvocationRateLimitPerSecond) != 300 ||
		got.HttpMethod != ebtypes.ApiDestinationHttpMethodPost || aws.ToString(got.ConnectionArn) != aws.ToString(conn.ConnectionArn) {
		t.Errorf("DescribeApiDestination: %+v", got)
	}
	list, err := e.eb.ListApiDestinations(ctx, &eventbridge.ListApiDestinationsInput{ConnectionArn: conn.ConnectionArn})
	if err != nil || len(list.ApiDestinations) != 1 {
		t.Errorf("ListApiDestinations: %+v %v", list, err)
	}
	if _, err := e.eb.DeleteApiDestination(ctx, &eventbridge.DeleteApiDestinationInput{Name: aws.String("sendops")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eb.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String("sendops")}); !errors.As(err, &nf) {
		t.Errorf("deleted API destination: %v, want ResourceNotFoundException", err)
	}
	if _, err := e.eb.DeleteConnection(ctx, &eventbridge.DeleteConnectionInput{Name: aws.String("sendops-ingest")}); err != nil {
		t.Fatal(err)
	}
}

func TestRulesAndTargets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	pattern := `{"source":["aws.ses"],"detail":{"mail":{"tags":{"ses:configuration-set":["cs"]}}}}`
	put, err := e.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("sendops-cs"), EventPattern: aws.String(pattern), Description: aws.String("SES events")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.RuleArn) != "arn:aws:events:us-east-1:"+testAccount+":rule/sendops-cs" {
		t.Errorf("rule arn %q", aws.ToString(put.RuleArn))
	}
	var invalid *ebtypes.InvalidEventPatternException
	if _, err := e.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventPattern: aws.String(`{"source":"aws.ses"}`)}); !errors.As(err, &invalid) {
		t.Errorf("pattern without arrays: %v, want InvalidEventPatternException", err)
	}
	var nf *ebtypes.ResourceNotFoundException
	if _, err := e.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("x"), EventPattern: aws.String(pattern), EventBusName: aws.String("custom")}); !errors.As(err, &nf) {
		t.Errorf("custom bus: %v, want ResourceNotFoundException", err)
	}
	desc, err := e.eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("sendops-cs")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(desc.EventPattern) != pattern || desc.State != ebtypes.RuleStateEnabled || aws.ToString(desc.EventBusName) != "default" {
		t.Errorf("DescribeRule: %+v", desc)
	}
	if _, err := e.eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("nope")}); !errors.As(err, &nf) {
		t.Errorf("missing rule: %v, want ResourceNotFoundException", err)
	}

	destArn := "arn:aws:events:us-east-1:" + testAccount + ":api-destination/sendops/abc"
	if _, err := e.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("sendops-cs"), Targets: []ebtypes.Target{{Id: aws.String("t"), Arn: aws.String(destArn)}}}); apiCode(t, err) != "ValidationException" {
		t.Errorf("API destination target without RoleArn: %v, want ValidationException", err)
	}
	roleArn := "arn:aws:iam::" + testAccount + ":role/sendops-eventbridge"
	out, err := e.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("sendops-cs"), Targets: []ebtypes.Target{
		{Id: aws.String("sendops"), Arn: aws.String(destArn), RoleArn: aws.String(roleArn), RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(3)}},
		{Id: aws.String("other"), Arn: aws.String("arn:aws:sqs:us-east-1:" + testAccount + ":q")},
	}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutTargets: %+v %v", out, err)
	}
	if _, err := e.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("nope"), Targets: []ebtypes.Target{{Id: aws.String("t"), Arn: aws.String("arn:aws:sqs:us-east-1:1:q")}}}); !errors.As(err, &nf) {
		t.Errorf("targets of a missing rule: %v, want ResourceNotFoundException", err)
	}
	targets, err := e.eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("sendops-cs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(targets.Targets) != 2 || aws.ToString(targets.Targets[0].RoleArn) != roleArn || aws.ToInt32(targets.Targets[0].RetryPolicy.MaximumRetryAttempts) != 3 {
		t.Errorf("ListTargetsByRule: %+v", targets.Targets)
	}
	if _, err := e.eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("sendops-cs")}); apiCode(t, err) != "ValidationException" {
		t.Errorf("deleting a rule with targets: %v, want ValidationException", err)
	}
	if _, err := e.eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("sendops-cs"), Ids: []string{"sendops", "other"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("sendops-cs")}); err != nil {
		t.Fatal(err)
	}
	rules, err := e.eb.ListRules(ctx, &eventbridge.ListRulesInput{})
	if err != nil || len(rules.Rules) != 0 {
		t.Errorf("ListRules after delete: %+v %v", rules, err)
	}
}
