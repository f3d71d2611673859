package awsconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"sendops/internal/domain"
)

// The event pipeline SendOps sets up in a customer's account:
//
//	configuration set → event destination (all event types, default bus)
//	→ rule on aws.ses events of the set → target (with the invocation role)
//	→ API destination (≤ PipelineRateLimit per second) → EventBridge
//	connection (API key = the ingest secret) → SendOps's ingest endpoint.
//
// Every piece is read first and written only when it is missing or not as
// expected, so a second run changes nothing and a run that stopped halfway
// resumes where it stopped.
const (
	// DefaultConfigurationSet is the configuration set made when the user
	// chooses none.
	DefaultConfigurationSet = "sendops"
	// PipelineDestinationName is the name of the configuration set's
	// event destination (one per set, whichever connections use it).
	PipelineDestinationName = "sendops-eventbridge"
	// PipelineTargetID is the id of the rule's target.
	PipelineTargetID = "sendops"
	// PipelineRateLimit is the API destination's InvocationRateLimitPerSecond,
	// set explicitly (EventBridge's default, today).
	PipelineRateLimit = 300
)

// PipelineName is the name of the EventBridge connection, API destination
// and rule of a SendOps connection: unique to it, so that several SendOps
// connections (or organisations) may share an AWS account.
func PipelineName(connectionID string) string { return "sendops-" + connectionID }

// pipelineEventTypes is every SES event type: the destination publishes all.
var pipelineEventTypes = []sestypes.EventType{
	sestypes.EventTypeSend, sestypes.EventTypeReject, sestypes.EventTypeBounce, sestypes.EventTypeComplaint,
	sestypes.EventTypeDelivery, sestypes.EventTypeOpen, sestypes.EventTypeClick, sestypes.EventTypeRenderingFailure,
	sestypes.EventTypeDeliveryDelay, sestypes.EventTypeSubscription,
}

// PipelineSpec is what the pipeline of one connection should be.
type PipelineSpec struct {
	AccountID, Region string
	ConnectionID      string
	ConfigurationSet  string
	Endpoint          string // the ingest URL the API destination invokes
	HeaderName        string // the API key header
	// Secret is the API key value; needed only to set up.
	Secret string
	// SecretWritten is AWS's LastModifiedTime of the EventBridge connection
	// just after SendOps last gave it Secret; zero when SendOps has not
	// given it the current secret yet. AWS never returns the key, so a
	// connection modified since is treated as different.
	SecretWritten time.Time
	// SecretNote, when set, says why the connection's key must be given
	// again (the secret was rotated in SendOps).
	SecretNote    string
	InvokeRoleARN string // the role EventBridge assumes to invoke the API destination
}

func (s PipelineSpec) partition() string { return Partition(s.Region) }

// BusARN is the default event bus, the only one SES publishes to.
func (s PipelineSpec) BusARN() string {
	return "arn:" + s.partition() + ":events:" + s.Region + ":" + s.AccountID + ":event-bus/default"
}

// EventPattern is the rule's pattern: SES events of the configuration set
// (SES names the set's ARN in every event's resources).
func (s PipelineSpec) EventPattern() string {
	b, _ := json.Marshal(map[string][]string{
		"source":    {"aws.ses"},
		"resources": {"arn:" + s.partition() + ":ses:" + s.Region + ":" + s.AccountID + ":configuration-set/" + s.ConfigurationSet},
	})
	return string(b)
}

// PipelineResult is a pipeline's pieces as found (an inspection) or as left
// (a set-up run), with what a run changed.
type PipelineResult struct {
	Pieces  []domain.PipelinePiece
	Changes []string
	// SecretWritten is set when the run gave the EventBridge connection
	// the secret: AWS's LastModifiedTime after the write.
	SecretWritten time.Time
	// FailedAction names the AWS action a set-up run stopped at. The
	// piece it stopped at has the error; those after it are unknown.
	FailedAction string
}

// Complete reports whether every piece is present.
func (r *PipelineResult) Complete() bool {
	for _, p := range r.Pieces {
		if p.State != domain.PiecePresent {
			return false
		}
	}
	return len(r.Pieces) > 0
}

// InspectPipeline reads each piece and compares it with the spec. A piece
// that cannot be read is unknown, with the reason; the error is for
// failures that stop every read (the role cannot be assumed).
func InspectPipeline(ctx context.Context, cfg aws.Config, spec PipelineSpec) (PipelineResult, error) {
	r := newPipelineRun(cfg, spec, false)
	err := r.run(ctx)
	return r.out, err
}

// SetUpPipeline makes every piece as the spec says, creating what is
// missing and updating what differs, in dependency order. It stops at the
// first AWS error, returning it with the result so far: every piece, the
// one it stopped at with the error and those after it unknown, and
// FailedAction naming the call. Running it again resumes there.
func SetUpPipeline(ctx context.Context, cfg aws.Config, spec PipelineSpec) (PipelineResult, error) {
	if spec.Secret == "" {
		return PipelineResult{}, errors.New("awsconn: setting up a pipeline needs the ingest secret")
	}
	r := newPipelineRun(cfg, spec, true)
	err := r.run(ctx)
	return r.out, err
}

type pipelineRun struct {
	spec  PipelineSpec
	apply bool
	ses   *sesv2.Client
	eb    *eventbridge.Client
	out   PipelineResult
	name  string

	setExists  bool
	connARN    string
	destARN    string
	ruleExists bool
	// unread names a piece an inspection could not read, on which the
	// pieces after it depend.
	unread string
	// connUnread and destUnread: the EventBridge connection or the API
	// destination could not be read, so what refers to it by ARN is not
	// compared with it.
	connUnread, destUnread bool
}

func newPipelineRun(cfg aws.Config, spec PipelineSpec, apply bool) *pipelineRun {
	return &pipelineRun{spec: spec, apply: apply, ses: sesv2.NewFromConfig(cfg), eb: eventbridge.NewFromConfig(cfg), name: PipelineName(spec.ConnectionID)}
}

// pieceKeys are the pipeline's pieces in the order a run reads and makes
// them, with their titles.
var pieceKeys = []struct{ key, title string }{
	{"configuration_set", "Configuration set"},
	{"event_destination", "Event destination"},
	{"connection", "EventBridge connection"},
	{"api_destination", "API destination"},
	{"rule", "Rule"},
	{"target", "Rule target"},
}

// piece is the piece of key as found, before it is read: its title and
// name, in state.
func (r *pipelineRun) piece(key, state string) domain.PipelinePiece {
	p := domain.PipelinePiece{Key: key, State: state}
	for _, k := range pieceKeys {
		if k.key == key {
			p.Title = k.title
		}
	}
	switch key {
	case "configuration_set":
		p.Name = r.spec.ConfigurationSet
	case "event_destination":
		p.Name = PipelineDestinationName
	case "target":
		p.Name = PipelineTargetID
	default:
		p.Name = r.name
	}
	return p
}

func (r *pipelineRun) run(ctx context.Context) error {
	for _, step := range []func(context.Context) error{r.configSet, r.eventDestination, r.connection, r.apiDestination, r.rule, r.target} {
		if err := step(ctx); err != nil {
			if r.apply {
				r.notReached()
			}
			return err
		}
	}
	return nil
}

// notReached adds, after a set-up run stopped, the pieces it did not get
// to, as unknown.
func (r *pipelineRun) notReached() {
	seen := map[string]bool{}
	for _, p := range r.out.Pieces {
		seen[p.Key] = true
	}
	for _, k := range pieceKeys {
		if !seen[k.key] {
			p := r.piece(k.key, domain.PieceUnknown)
			p.Error = "Not read: the run stopped at " + r.out.FailedAction + " before it."
			r.out.Pieces = append(r.out.Pieces, p)
		}
	}
}

// failed handles an error reading piece p with action: a set-up run
// stops; an inspection marks the piece unknown and goes on, unless the
// role itself cannot be assumed.
func (r *pipelineRun) failed(p domain.PipelinePiece, action string, err error) error {
	if isAssumeRoleError(err) {
		r.out.FailedAction = "sts:AssumeRole"
		return err
	}
	p.State, p.Error = domain.PieceUnknown, Explain(err, action)
	r.out.Pieces = append(r.out.Pieces, p)
	if r.apply {
		r.out.FailedAction = action
		return err
	}
	switch p.Key {
	case "configuration_set", "rule":
		r.unread = strings.ToLower(p.Title)
	case "connection":
		r.connUnread = true
	case "api_destination":
		r.destUnread = true
	}
	return nil
}

// dependsOnUnread marks p unknown when the piece it belongs to could not
// be read.
func (r *pipelineRun) dependsOnUnread(p domain.PipelinePiece) bool {
	if r.unread == "" {
		return false
	}
	p.State, p.Error = domain.PieceUnknown, "SendOps could not read the "+r.unread+" it belongs to."
	r.out.Pieces = append(r.out.Pieces, p)
	r.unread = ""
	return true
}

// settle records piece p: in a set-up run, a missing or different piece
// is written with write (which returns its ARN, or "" to keep p's).
func (r *pipelineRun) settle(ctx context.Context, p domain.PipelinePiece, action string, write func(ctx context.Context) (string, error)) (domain.PipelinePiece, error) {
	if !r.apply || p.State == domain.PiecePresent {
		r.out.Pieces = append(r.out.Pieces, p)
		return p, nil
	}
	arn, err := write(ctx)
	if err != nil {
		r.out.FailedAction = action
		p.Error = Explain(err, action)
		r.out.Pieces = append(r.out.Pieces, p)
		return p, err
	}
	if arn != "" {
		p.ARN = arn
	}
	change := "created " + inSentence(p.Title) + " " + p.Name
	p.Action = "created"
	if p.State == domain.PieceDifferent {
		p.Action = "updated"
		change = "updated " + inSentence(p.Title) + " " + p.Name + " (" + strings.Join(p.Differences, "; ") + ")"
	}
	r.out.Changes = append(r.out.Changes, change)
	p.State, p.Differences = domain.PiecePresent, nil
	r.out.Pieces = append(r.out.Pieces, p)
	return p, nil
}

// inSentence lower-cases a title's first letter unless its first word is
// a name ("EventBridge", "API").
func inSentence(title string) string {
	word, _, _ := strings.Cut(title, " ")
	if len(word) < 2 || strings.ToLower(word[1:]) != word[1:] {
		return title
	}
	return strings.ToLower(title[:1]) + title[1:]
}

func isNotFound(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	code := ae.ErrorCode()
	return code == "NotFoundException" || code == "ResourceNotFoundException"
}

func (r *pipelineRun) configSet(ctx context.Context) error {
	name := r.spec.ConfigurationSet
	p := r.piece("configuration_set", domain.PiecePresent)
	p.ARN = "arn:" + r.spec.partition() + ":ses:" + r.spec.Region + ":" + r.spec.AccountID + ":configuration-set/" + name
	_, err := r.ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String(name)})
	switch {
	case isNotFound(err):
		p.State = domain.PieceMissing
	case err != nil:
		return r.failed(p, "ses:GetConfigurationSet", err)
	}
	p, err = r.settle(ctx, p, "ses:CreateConfigurationSet", func(ctx context.Context) (string, error) {
		_, err := r.ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String(name)})
		return "", err
	})
	r.setExists = p.State == domain.PiecePresent
	return err
}

func (r *pipelineRun) eventDestination(ctx context.Context) error {
	p := r.piece("event_destination", domain.PieceMissing)
	def := &sestypes.EventDestinationDefinition{
		Enabled:                true,
		MatchingEventTypes:     pipelineEventTypes,
		EventBridgeDestination: &sestypes.EventBridgeDestination{EventBusArn: aws.String(r.spec.BusARN())},
	}
	if r.dependsOnUnread(p) {
		return nil
	}
	if r.setExists {
		out, err := r.ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String(r.spec.ConfigurationSet)})
		if err != nil && !isNotFound(err) {
			return r.failed(p, "ses:GetConfigurationSetEventDestinations", err)
		}
		if out != nil {
			for _, d := range out.EventDestinations {
				if aws.ToString(d.Name) == PipelineDestinationName {
					p.State, p.Differences = domain.PiecePresent, r.destinationDifferences(d)
				}
			}
		}
	}
	if len(p.Differences) > 0 {
		p.State = domain.PieceDifferent
	}
	write := func(ctx context.Context) (string, error) {
		var err error
		if p.State == domain.PieceMissing {
			_, err = r.ses.CreateConfigurationSetEventDestination(ctx, &sesv2.CreateConfigurationSetEventDestinationInput{
				ConfigurationSetName: aws.String(r.spec.ConfigurationSet), EventDestinationName: aws.String(PipelineDestinationName), EventDestination: def})
		} else {
			_, err = r.ses.UpdateConfigurationSetEventDestination(ctx, &sesv2.UpdateConfigurationSetEventDestinationInput{
				ConfigurationSetName: aws.String(r.spec.ConfigurationSet), EventDestinationName: aws.String(PipelineDestinationName), EventDestination: def})
		}
		return "", err
	}
	action := "ses:CreateConfigurationSetEventDestination"
	if p.State == domain.PieceDifferent {
		action = "ses:UpdateConfigurationSetEventDestination"
	}
	_, err := r.settle(ctx, p, action, write)
	return err
}

func (r *pipelineRun) destinationDifferences(d sestypes.EventDestination) []string {
	var diffs []string
	if !d.Enabled {
		diffs = append(diffs, "disabled")
	}
	var missing []string
	for _, t := range pipelineEventTypes {
		if !slices.Contains(d.MatchingEventTypes, t) {
			missing = append(missing, string(t))
		}
	}
	if len(missing) > 0 {
		diffs = append(diffs, "does not publish "+strings.Join(missing, ", "))
	}
	switch {
	case d.EventBridgeDestination == nil:
		diffs = append(diffs, "publishes somewhere else than EventBridge")
	case aws.ToString(d.EventBridgeDestination.EventBusArn) != r.spec.BusARN():
		diffs = append(diffs, fmt.Sprintf("publishes to %s, not %s", aws.ToString(d.EventBridgeDestination.EventBusArn), r.spec.BusARN()))
	}
	return diffs
}

// connectionWorks reports whether an EventBridge connection in state
// authorises invocations, or soon will by itself: being created, updated
// or authorised is not a difference to repair.
func connectionWorks(state ebtypes.ConnectionState) bool {
	switch state {
	case ebtypes.ConnectionStateAuthorized, ebtypes.ConnectionStateActive,
		ebtypes.ConnectionStateAuthorizing, ebtypes.ConnectionStateCreating, ebtypes.ConnectionStateUpdating:
		return true
	}
	return false
}

// description describes what SendOps makes for a connection.
func (r *pipelineRun) description() *string {
	return aws.String("SendOps event ingest for its connection " + r.spec.ConnectionID)
}

func (r *pipelineRun) connection(ctx context.Context) error {
	p := r.piece("connection", domain.PiecePresent)
	out, err := r.eb.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String(r.name)})
	switch {
	case isNotFound(err):
		p.State = domain.PieceMissing
	case err != nil:
		return r.failed(p, "events:DescribeConnection", err)
	default:
		p.ARN = aws.ToString(out.ConnectionArn)
		if out.AuthorizationType != ebtypes.ConnectionAuthorizationTypeApiKey {
			p.Differences = append(p.Differences, fmt.Sprintf("authorises with %s, not an API key", out.AuthorizationType))
		} else if ap := out.AuthParameters; ap == nil || ap.ApiKeyAuthParameters == nil || aws.ToString(ap.ApiKeyAuthParameters.ApiKeyName) != r.spec.HeaderName {
			got := ""
			if ap != nil && ap.ApiKeyAuthParameters != nil {
				got = aws.ToString(ap.ApiKeyAuthParameters.ApiKeyName)
			}
			p.Differences = append(p.Differences, fmt.Sprintf("sends its key in header %q, not %q", got, r.spec.HeaderName))
		}
		if !connectionWorks(out.ConnectionState) {
			p.Differences = append(p.Differences, fmt.Sprintf("is %s", out.ConnectionState))
		}
		modified := aws.ToTime(out.LastModifiedTime)
		switch {
		case r.spec.SecretNote != "":
			p.Differences = append(p.Differences, r.spec.SecretNote)
		case r.spec.SecretWritten.IsZero():
			p.Differences = append(p.Differences, "SendOps has not given it this connection's current ingest secret")
		case modified.Sub(r.spec.SecretWritten).Abs() > time.Second:
			p.Differences = append(p.Differences, fmt.Sprintf("was changed in AWS at %s, after SendOps set its key (AWS never shows the key, so SendOps gives it again)",
				modified.UTC().Format("2006-01-02 15:04:05 UTC")))
		}
		if len(p.Differences) > 0 {
			p.State = domain.PieceDifferent
		}
	}
	action := "events:CreateConnection"
	if p.State == domain.PieceDifferent {
		action = "events:UpdateConnection"
	}
	p, err = r.settle(ctx, p, action, func(ctx context.Context) (string, error) {
		// Creating and updating give the same fields.
		name, desc, auth := aws.String(r.name), r.description(), ebtypes.ConnectionAuthorizationTypeApiKey
		header, key := aws.String(r.spec.HeaderName), aws.String(r.spec.Secret)
		var arn *string
		var modified *time.Time
		if p.State == domain.PieceMissing {
			out, err := r.eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: name, Description: desc, AuthorizationType: auth,
				AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{ApiKeyName: header, ApiKeyValue: key}}})
			if err != nil {
				return "", err
			}
			arn, modified = out.ConnectionArn, out.LastModifiedTime
		} else {
			out, err := r.eb.UpdateConnection(ctx, &eventbridge.UpdateConnectionInput{Name: name, Description: desc, AuthorizationType: auth,
				AuthParameters: &ebtypes.UpdateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.UpdateConnectionApiKeyAuthRequestParameters{ApiKeyName: header, ApiKeyValue: key}}})
			if err != nil {
				return "", err
			}
			arn, modified = out.ConnectionArn, out.LastModifiedTime
		}
		r.out.SecretWritten = aws.ToTime(modified)
		return aws.ToString(arn), nil
	})
	if p.State == domain.PiecePresent || p.State == domain.PieceDifferent {
		r.connARN = p.ARN
	}
	return err
}

func (r *pipelineRun) apiDestination(ctx context.Context) error {
	p := r.piece("api_destination", domain.PiecePresent)
	out, err := r.eb.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String(r.name)})
	switch {
	case isNotFound(err):
		p.State = domain.PieceMissing
	case err != nil:
		return r.failed(p, "events:DescribeApiDestination", err)
	default:
		p.ARN = aws.ToString(out.ApiDestinationArn)
		// Against a connection that could not be read, there is nothing
		// to compare.
		if got := aws.ToString(out.ConnectionArn); !r.connUnread && got != r.connARN {
			if r.connARN == "" {
				p.Differences = append(p.Differences, fmt.Sprintf("uses connection %s, not %s (which does not exist)", got, r.name))
			} else {
				p.Differences = append(p.Differences, fmt.Sprintf("uses connection %s, not %s", got, r.connARN))
			}
		}
		if got := aws.ToString(out.InvocationEndpoint); got != r.spec.Endpoint {
			p.Differences = append(p.Differences, fmt.Sprintf("invokes %s, not %s", got, r.spec.Endpoint))
		}
		if out.HttpMethod != ebtypes.ApiDestinationHttpMethodPost {
			p.Differences = append(p.Differences, fmt.Sprintf("uses %s, not POST", out.HttpMethod))
		}
		if got := aws.ToInt32(out.InvocationRateLimitPerSecond); got != PipelineRateLimit {
			p.Differences = append(p.Differences, fmt.Sprintf("invokes at most %d times a second, not %d", got, PipelineRateLimit))
		}
		if out.ApiDestinationState != "" && out.ApiDestinationState != ebtypes.ApiDestinationStateActive {
			p.Differences = append(p.Differences, fmt.Sprintf("is %s", out.ApiDestinationState))
		}
		if len(p.Differences) > 0 {
			p.State = domain.PieceDifferent
		}
	}
	action := "events:CreateApiDestination"
	if p.State == domain.PieceDifferent {
		action = "events:UpdateApiDestination"
	}
	p, err = r.settle(ctx, p, action, func(ctx context.Context) (string, error) {
		// Creating and updating give the same fields.
		name, desc, conn, endpoint := aws.String(r.name), r.description(), aws.String(r.connARN), aws.String(r.spec.Endpoint)
		method, rate := ebtypes.ApiDestinationHttpMethodPost, aws.Int32(PipelineRateLimit)
		var arn *string
		if p.State == domain.PieceMissing {
			out, err := r.eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: name, Description: desc, ConnectionArn: conn,
				InvocationEndpoint: endpoint, HttpMethod: method, InvocationRateLimitPerSecond: rate})
			if err != nil {
				return "", err
			}
			arn = out.ApiDestinationArn
		} else {
			out, err := r.eb.UpdateApiDestination(ctx, &eventbridge.UpdateApiDestinationInput{Name: name, Description: desc, ConnectionArn: conn,
				InvocationEndpoint: endpoint, HttpMethod: method, InvocationRateLimitPerSecond: rate})
			if err != nil {
				return "", err
			}
			arn = out.ApiDestinationArn
		}
		return aws.ToString(arn), nil
	})
	if p.State == domain.PiecePresent || p.State == domain.PieceDifferent {
		r.destARN = p.ARN
	}
	return err
}

func (r *pipelineRun) rule(ctx context.Context) error {
	p := r.piece("rule", domain.PiecePresent)
	want := r.spec.EventPattern()
	out, err := r.eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(r.name)})
	switch {
	case isNotFound(err):
		p.State = domain.PieceMissing
	case err != nil:
		return r.failed(p, "events:DescribeRule", err)
	default:
		p.ARN = aws.ToString(out.Arn)
		if out.State != ebtypes.RuleStateEnabled {
			p.Differences = append(p.Differences, fmt.Sprintf("is %s", out.State))
		}
		if got := aws.ToString(out.EventPattern); !samePattern(got, want) {
			p.Differences = append(p.Differences, fmt.Sprintf("matches %s, not %s", got, want))
		}
		if len(p.Differences) > 0 {
			p.State = domain.PieceDifferent
		}
	}
	p, err = r.settle(ctx, p, "events:PutRule", func(ctx context.Context) (string, error) {
		out, err := r.eb.PutRule(ctx, &eventbridge.PutRuleInput{
			Name:         aws.String(r.name),
			Description:  aws.String("SES events of configuration set " + r.spec.ConfigurationSet + " to SendOps"),
			EventPattern: aws.String(want),
			State:        ebtypes.RuleStateEnabled,
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.RuleArn), nil
	})
	r.ruleExists = p.State != domain.PieceMissing && p.State != domain.PieceUnknown
	return err
}

// samePattern compares two event patterns as JSON values.
func samePattern(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(x, y)
}

func (r *pipelineRun) target(ctx context.Context) error {
	p := r.piece("target", domain.PieceMissing)
	if r.dependsOnUnread(p) {
		return nil
	}
	if r.ruleExists {
		var token *string
		for {
			out, err := r.eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(r.name), NextToken: token})
			if err != nil && !isNotFound(err) {
				return r.failed(p, "events:ListTargetsByRule", err)
			}
			if out == nil {
				break
			}
			for _, t := range out.Targets {
				if aws.ToString(t.Id) == PipelineTargetID {
					p.State, p.ARN, p.Differences = domain.PiecePresent, aws.ToString(t.Arn), r.targetDifferences(t)
				}
			}
			if token = out.NextToken; token == nil {
				break
			}
		}
	}
	if len(p.Differences) > 0 {
		p.State = domain.PieceDifferent
	}
	_, err := r.settle(ctx, p, "events:PutTargets", func(ctx context.Context) (string, error) {
		out, err := r.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.name), Targets: []ebtypes.Target{{
			Id:      aws.String(PipelineTargetID),
			Arn:     aws.String(r.destARN),
			RoleArn: aws.String(r.spec.InvokeRoleARN),
		}}})
		if err != nil {
			return "", err
		}
		if out.FailedEntryCount > 0 && len(out.FailedEntries) > 0 {
			f := out.FailedEntries[0]
			return "", fmt.Errorf("EventBridge refused the target: %s: %s", aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage))
		}
		return r.destARN, nil
	})
	return err
}

func (r *pipelineRun) targetDifferences(t ebtypes.Target) []string {
	var diffs []string
	// Against an API destination that could not be read, there is
	// nothing to compare.
	if got := aws.ToString(t.Arn); !r.destUnread && (got != r.destARN || r.destARN == "") {
		if r.destARN == "" {
			diffs = append(diffs, fmt.Sprintf("invokes %s, not API destination %s (which does not exist)", got, r.name))
		} else {
			diffs = append(diffs, fmt.Sprintf("invokes %s, not %s", got, r.destARN))
		}
	}
	if got := aws.ToString(t.RoleArn); got != r.spec.InvokeRoleARN {
		diffs = append(diffs, fmt.Sprintf("uses role %q, not %s", got, r.spec.InvokeRoleARN))
	}
	if t.Input != nil || t.InputPath != nil || t.InputTransformer != nil {
		diffs = append(diffs, "changes the event before sending it (SendOps needs it whole)")
	}
	if rp := t.RetryPolicy; rp != nil {
		// Unset fields keep EventBridge's defaults.
		age, attempts := int32(86400), int32(185)
		if rp.MaximumEventAgeInSeconds != nil {
			age = *rp.MaximumEventAgeInSeconds
		}
		if rp.MaximumRetryAttempts != nil {
			attempts = *rp.MaximumRetryAttempts
		}
		if age < 86400 || attempts < 185 {
			diffs = append(diffs, fmt.Sprintf("retries for %ds and %d times, less than EventBridge's default 24 hours and 185 times (SendOps may be unreachable for longer)", age, attempts))
		}
	}
	return diffs
}
