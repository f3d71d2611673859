// Package awsconn reaches a customer's AWS account for a connection: by
// assuming the customer's role with the organisation's ExternalId (the
// recommended way), or with access keys (for self-hosters), optionally at
// an emulator's endpoint. Validate checks a connection for real and names
// exactly what is wrong.
package awsconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Access is how SendOps reaches a connection's account.
type Access struct {
	AccountID string
	Region    string
	// By role: SendOps's own credentials (Base) assume RoleARN with ExternalID.
	RoleARN    string
	ExternalID string
	// By access keys.
	AccessKeyID     string
	SecretAccessKey string
	// Endpoint points every client at an emulator; "" for AWS.
	Endpoint string
}

// Config returns the AWS configuration for the access. base carries
// SendOps's own credentials (the server's standard credential chain) and is
// used only to assume the role.
func Config(base aws.Config, a Access) (aws.Config, error) {
	cfg := base.Copy()
	cfg.Region = a.Region
	if a.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(a.Endpoint)
	}
	switch {
	case a.RoleARN != "":
		if base.Credentials == nil {
			return aws.Config{}, errors.New("SendOps has no AWS credentials of its own to assume the role with")
		}
		client := sts.NewFromConfig(cfg)
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, a.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.ExternalID = aws.String(a.ExternalID)
			o.RoleSessionName = "sendops"
			o.Duration = time.Hour
		}))
	case a.AccessKeyID != "":
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(a.AccessKeyID, a.SecretAccessKey, ""))
	default:
		return aws.Config{}, errors.New("a connection needs a role ARN or an access key")
	}
	return cfg, nil
}

// Check is one step of a validation and its outcome.
type Check struct {
	Name    string // what was checked, e.g. "ses:GetAccount"
	OK      bool
	Message string // for a failed check: what is wrong and what to do
	// Err is the error behind a failed check, for the log (see Hidden).
	Err error
}

// probe is one read-only call a connection must be allowed.
type probe struct {
	action string
	call   func(ctx context.Context, cfg aws.Config) error
}

// probes are the read-only permissions SendOps needs, one call each.
var probes = []probe{
	{"ses:GetAccount", func(ctx context.Context, cfg aws.Config) error {
		_, err := sesv2.NewFromConfig(cfg).GetAccount(ctx, &sesv2.GetAccountInput{})
		return err
	}},
	{"ses:ListEmailIdentities", func(ctx context.Context, cfg aws.Config) error {
		_, err := sesv2.NewFromConfig(cfg).ListEmailIdentities(ctx, &sesv2.ListEmailIdentitiesInput{PageSize: aws.Int32(1)})
		return err
	}},
	{"ses:ListConfigurationSets", func(ctx context.Context, cfg aws.Config) error {
		_, err := sesv2.NewFromConfig(cfg).ListConfigurationSets(ctx, &sesv2.ListConfigurationSetsInput{PageSize: aws.Int32(1)})
		return err
	}},
	{"ses:ListSuppressedDestinations", func(ctx context.Context, cfg aws.Config) error {
		_, err := sesv2.NewFromConfig(cfg).ListSuppressedDestinations(ctx, &sesv2.ListSuppressedDestinationsInput{PageSize: aws.Int32(1)})
		return err
	}},
	{"ses:ListEmailTemplates", func(ctx context.Context, cfg aws.Config) error {
		_, err := sesv2.NewFromConfig(cfg).ListEmailTemplates(ctx, &sesv2.ListEmailTemplatesInput{PageSize: aws.Int32(1)})
		return err
	}},
	{"events:ListRules", func(ctx context.Context, cfg aws.Config) error {
		_, err := eventbridge.NewFromConfig(cfg).ListRules(ctx, &eventbridge.ListRulesInput{Limit: aws.Int32(1)})
		return err
	}},
	{"events:ListConnections", func(ctx context.Context, cfg aws.Config) error {
		_, err := eventbridge.NewFromConfig(cfg).ListConnections(ctx, &eventbridge.ListConnectionsInput{Limit: aws.Int32(1)})
		return err
	}},
	{"events:ListApiDestinations", func(ctx context.Context, cfg aws.Config) error {
		_, err := eventbridge.NewFromConfig(cfg).ListApiDestinations(ctx, &eventbridge.ListApiDestinationsInput{Limit: aws.Int32(1)})
		return err
	}},
}

// Validate checks the access for real: it assumes the role (when there is
// one), asks who it is (the account must be the connection's), and probes
// each read permission SendOps needs. The first failure of the identity
// steps stops it; every permission probe runs, so that one answer names
// every missing permission. It reports whether all passed.
func Validate(ctx context.Context, base aws.Config, a Access, principal string) ([]Check, bool) {
	cfg, err := Config(base, a)
	if err != nil {
		return []Check{{Name: "credentials", Message: err.Error()}}, false
	}
	var checks []Check
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		name, msg := "sts:GetCallerIdentity", Explain(err, "sts:GetCallerIdentity")
		if m, ok := AssumeRoleProblem(err, a, principal); ok {
			name, msg = "sts:AssumeRole", m
		}
		return append(checks, Check{Name: name, Message: msg, Err: err}), false
	}
	if a.RoleARN != "" {
		checks = append(checks, Check{Name: "sts:AssumeRole", OK: true})
	}
	if got := aws.ToString(id.Account); got != a.AccountID {
		return append(checks, Check{Name: "account", Message: fmt.Sprintf("These credentials belong to account %s, not %s.", got, a.AccountID)}), false
	}
	checks = append(checks, Check{Name: "account", OK: true})
	ok := true
	for _, p := range probes {
		if err := p.call(ctx, cfg); err != nil {
			ok = false
			checks = append(checks, Check{Name: p.action, Message: Explain(err, p.action), Err: err})
			continue
		}
		checks = append(checks, Check{Name: p.action, OK: true})
	}
	return checks, ok
}

// isAssumeRoleError reports whether err came from assuming the role (the
// credential provider wraps STS's error), not from the call itself.
func isAssumeRoleError(err error) bool {
	return assumeRoleError(err) != nil
}

// assumeRoleError finds, in err's chain, the failed STS AssumeRole call of
// a role's credential provider: the SDK wraps it, operation error inside
// operation error, in the error of the call that needed the credentials.
func assumeRoleError(err error) *smithy.OperationError {
	var oe *smithy.OperationError
	for errors.As(err, &oe) {
		if oe.ServiceID == sts.ServiceID && oe.OperationName == "AssumeRole" {
			return oe
		}
		err = oe.Err
	}
	return nil
}

// AssumeRoleProblem explains an error whose cause is that SendOps could not
// assume the access's role (on saving a connection, or at any later call
// once the role was deleted, its trust policy changed or its ExternalId
// condition changed); it reports false for any other error. principal is
// SendOps's own AWS principal, which the role must trust.
func AssumeRoleProblem(err error, a Access, principal string) (string, bool) {
	oe := assumeRoleError(err)
	if oe == nil || a.RoleARN == "" {
		return "", false
	}
	var ae smithy.APIError
	if !errors.As(oe, &ae) {
		return fmt.Sprintf("SendOps cannot assume %s: %s", a.RoleARN, Explain(oe, "sts:AssumeRole")), true
	}
	switch code := ae.ErrorCode(); {
	case strings.Contains(code, "AccessDenied"):
		return fmt.Sprintf("SendOps cannot assume %s. Check that the role exists in account %s, that its trust policy allows %s, and that its sts:ExternalId condition is %q. (AWS gives the same answer for each of these.)",
			a.RoleARN, a.AccountID, principal, a.ExternalID), true
	case code == "InvalidClientTokenId" || code == "UnrecognizedClientException" || code == "SignatureDoesNotMatch" ||
		code == "ExpiredToken" || code == "ExpiredTokenException":
		return fmt.Sprintf("SendOps cannot assume %s: AWS refused SendOps's own credentials (%s). The operator of this SendOps server must fix them.", a.RoleARN, code), true
	case code == "RegionDisabledException":
		return fmt.Sprintf("SendOps cannot assume %s: STS is not active in %s for SendOps's account. The operator of this SendOps server must activate it.", a.RoleARN, a.Region), true
	}
	return fmt.Sprintf("SendOps cannot assume %s: %s", a.RoleARN, Explain(oe, "sts:AssumeRole")), true
}

// Explained is an error with the sentence that explains it to a user,
// made where more is known than the error says (which role, which
// ExternalId). Explain answers its sentence.
type Explained struct {
	Message string
	Err     error
}

func (e *Explained) Error() string { return e.Err.Error() }
func (e *Explained) Unwrap() error { return e.Err }

// Explain turns an AWS error into a sentence a user can act on. What an
// endpoint said is repeated only when it is AWS (or an answer the SDK
// knows): a connection's endpoint may be any address, and its answers, or
// why it could not be reached, are not for the user to read (see Hidden).
func Explain(err error, action string) string {
	var ex *Explained
	if errors.As(err, &ex) {
		return ex.Message
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch code := ae.ErrorCode(); {
		case strings.Contains(code, "AccessDenied"):
			return fmt.Sprintf("%s is denied: add it to the policy of the role or user SendOps uses.", action)
		case code == "InvalidClientTokenId" || code == "UnrecognizedClientException":
			return "AWS does not know this access key: check the key id, or make a new key."
		case code == "SignatureDoesNotMatch" || code == "InvalidSignatureException":
			return "The secret access key does not match the key id."
		case code == "ExpiredToken" || code == "ExpiredTokenException":
			return "The temporary credentials expired; SendOps will assume the role again."
		}
		if msg, ok := Said(err); ok {
			return fmt.Sprintf("%s failed: %s: %s", action, ae.ErrorCode(), msg)
		}
		return fmt.Sprintf("%s failed: the endpoint did not answer as AWS does.", action)
	}
	var ctxErr interface{ Timeout() bool }
	if errors.As(err, &ctxErr) && ctxErr.Timeout() {
		return fmt.Sprintf("%s timed out: AWS did not answer.", action)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		return fmt.Sprintf("%s failed: the endpoint did not answer as AWS does.", action)
	}
	return fmt.Sprintf("%s failed: SendOps could not reach the AWS endpoint.", action)
}

// Said returns the message of err's AWS error when it may be shown: AWS
// said it (the answer came from an AWS host), or it is an error the SDK
// models. It reports false for anything else, such as the error body of a
// service that is not AWS at a connection's endpoint.
func Said(err error) (string, bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", false
	}
	if _, generic := ae.(*smithy.GenericAPIError); !generic || fromAWS(err) {
		return ae.ErrorMessage(), true
	}
	return "", false
}

// Hidden reports whether Explain leaves out what err says (a transport
// error, or an answer that is not AWS's): the caller logs it instead.
func Hidden(err error) bool {
	var ex *Explained
	if err == nil || errors.As(err, &ex) || errors.Is(err, context.Canceled) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		_, ok := Said(err)
		return !ok
	}
	var ctxErr interface{ Timeout() bool }
	return !(errors.As(err, &ctxErr) && ctxErr.Timeout())
}

// fromAWS reports whether err's HTTP answer came from an AWS host.
func fromAWS(err error) bool {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil || re.Response.Response == nil || re.Response.Request == nil {
		return false
	}
	host := re.Response.Request.URL.Hostname()
	return strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")
}
