package sesim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func TestSignatureRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	wrongSecret := e.config(e.rootID, "not-the-secret", "")
	unknownKey := e.config("AKIAUNKNOWNKEY000000", "whatever", "")
	tests := []struct {
		name string
		cfg  aws.Config
		want map[string]string // service → error code
	}{
		{"wrong secret", wrongSecret, map[string]string{"sts": "SignatureDoesNotMatch", "ses": "SignatureDoesNotMatch", "events": "InvalidSignatureException"}},
		{"unknown key", unknownKey, map[string]string{"sts": "InvalidClientTokenId", "ses": "UnrecognizedClientException", "events": "UnrecognizedClientException"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			_, err := sts.NewFromConfig(tt.cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if got := apiCode(t, err); got != tt.want["sts"] {
				t.Errorf("STS: error %q, want %q (%v)", got, tt.want["sts"], err)
			}
			_, err = sesv2.NewFromConfig(tt.cfg).GetAccount(ctx, &sesv2.GetAccountInput{})
			if got := apiCode(t, err); got != tt.want["ses"] {
				t.Errorf("SES: error %q, want %q (%v)", got, tt.want["ses"], err)
			}
			_, err = eventbridge.NewFromConfig(tt.cfg).ListRules(ctx, &eventbridge.ListRulesInput{})
			if got := apiCode(t, err); got != tt.want["events"] {
				t.Errorf("EventBridge: error %q, want %q (%v)", got, tt.want["events"], err)
			}
			var re interface{ HTTPStatusCode() int }
			if errors.As(err, &re) && re.HTTPStatusCode() != 403 {
				t.Errorf("EventBridge: status %d, want 403", re.HTTPStatusCode())
			}
		})
	}

	// The right secret passes, for every protocol, including paths with
	// escaped characters and query strings.
	ctx := ctxT(t)
	if _, err := e.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("STS with the right key: %v", err)
	}
	if _, err := e.ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("a+b@example.com")}); apiCode(t, err) != "NotFoundException" {
		t.Errorf("SES GetEmailIdentity of an escaped path: %v, want NotFoundException", err)
	}
	if _, err := e.ses.ListSuppressedDestinations(ctx, &sesv2.ListSuppressedDestinationsInput{
		Reasons: []sestypes.SuppressionListReason{"BOUNCE", "COMPLAINT"}, StartDate: aws.Time(time.Unix(0, 0)), PageSize: aws.Int32(5),
	}); err != nil {
		t.Errorf("SES with a query string: %v", err)
	}
}

func TestGetCallerIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	id, secret := e.sim.AddAccessKey(testAccount, "deployer")
	tests := []struct {
		name            string
		client          *sts.Client
		wantArn, wantID string
	}{
		{"root", e.sts, "arn:aws:iam::" + testAccount + ":root", testAccount},
		{"user", sts.NewFromConfig(e.config(id, secret, "")), "arn:aws:iam::" + testAccount + ":user/deployer", ""},
	}
	for _, tt := range tests {
		out, err := tt.client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if aws.ToString(out.Arn) != tt.wantArn || aws.ToString(out.Account) != testAccount {
			t.Errorf("%s: arn %q account %q, want %q %q", tt.name, aws.ToString(out.Arn), aws.ToString(out.Account), tt.wantArn, testAccount)
		}
		if tt.wantID != "" && aws.ToString(out.UserId) != tt.wantID {
			t.Errorf("%s: user id %q, want %q", tt.name, aws.ToString(out.UserId), tt.wantID)
		}
		if !strings.HasPrefix(aws.ToString(out.UserId), "AIDA") && tt.name == "user" {
			t.Errorf("user id %q, want an AIDA… id", aws.ToString(out.UserId))
		}
	}
}

func TestAssumeRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	// SendOps's own principal lives in another account; the customer's
	// role trusts it with an ExternalId.
	sendopsID, sendopsSecret := e.sim.AddAccessKey(otherAccount, "sendops")
	sendopsARN := "arn:aws:iam::" + otherAccount + ":user/sendops"
	roleArn := e.sim.AddRole(testAccount, "SendOpsAccess", sendopsARN, "ext-123", []string{"ses:GetAccount"})
	strangerID, strangerSecret := e.sim.AddAccessKey(otherAccount, "stranger")

	sendops := sts.NewFromConfig(e.config(sendopsID, sendopsSecret, ""))
	stranger := sts.NewFromConfig(e.config(strangerID, strangerSecret, ""))
	tests := []struct {
		name       string
		client     *sts.Client
		role       string
		externalID *string
		wantErr    string
	}{
		{"right external id", sendops, roleArn, aws.String("ext-123"), ""},
		{"wrong external id", sendops, roleArn, aws.String("ext-999"), "AccessDenied"},
		{"missing external id", sendops, roleArn, nil, "AccessDenied"},
		{"untrusted principal", stranger, roleArn, aws.String("ext-123"), "AccessDenied"},
		{"no such role", sendops, "arn:aws:iam::" + testAccount + ":role/Nope", aws.String("ext-123"), "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			out, err := tt.client.AssumeRole(ctx, &sts.AssumeRoleInput{
				RoleArn: aws.String(tt.role), RoleSessionName: aws.String("sendops-check"), ExternalId: tt.externalID,
			})
			if got := apiCode(t, err); got != tt.wantErr {
				t.Fatalf("AssumeRole error %q, want %q (%v)", got, tt.wantErr, err)
			}
			if err != nil {
				var ae smithy.APIError
				errors.As(err, &ae)
				want := "is not authorized to perform: sts:AssumeRole on resource: " + tt.role
				if !strings.Contains(ae.ErrorMessage(), want) {
					t.Errorf("message %q does not contain %q", ae.ErrorMessage(), want)
				}
				return
			}
			c := out.Credentials
			if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SessionToken) == "" {
				t.Errorf("credentials %+v: want an ASIA key and a session token", c)
			}
			if want := e.now().Add(time.Hour); !c.Expiration.Equal(want) {
				t.Errorf("expiration %v, want %v", c.Expiration, want)
			}
			wantArn := "arn:aws:sts::" + testAccount + ":assumed-role/SendOpsAccess/sendops-check"
			if aws.ToString(out.AssumedRoleUser.Arn) != wantArn {
				t.Errorf("assumed role arn %q, want %q", aws.ToString(out.AssumedRoleUser.Arn), wantArn)
			}

			// The temporary credentials work, with their token only.
			session := e.config(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
			who, err := sts.NewFromConfig(session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil || aws.ToString(who.Arn) != wantArn {
				t.Errorf("GetCallerIdentity with the session: %v %v", who, err)
			}
			if _, err := sesv2.NewFromConfig(session).GetAccount(ctx, &sesv2.GetAccountInput{}); err != nil {
				t.Errorf("GetAccount with the session: %v", err)
			}
			noToken := e.config(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), "")
			if _, err := sesv2.NewFromConfig(noToken).GetAccount(ctx, &sesv2.GetAccountInput{}); apiCode(t, err) != "UnrecognizedClientException" {
				t.Errorf("session without its token: %v, want UnrecognizedClientException", err)
			}
		})
	}
}

func TestTemporaryCredentialsExpire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	roleArn := e.sim.AddRole(testAccount, "Short", "", "", []string{"ses:*"})
	out, err := e.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	session := sesv2.NewFromConfig(e.config(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)))
	if _, err := session.GetAccount(ctx, &sesv2.GetAccountInput{}); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	e.advance(15 * time.Minute)
	if _, err := session.GetAccount(ctx, &sesv2.GetAccountInput{}); apiCode(t, err) != "ExpiredTokenException" {
		t.Errorf("expired session: %v, want ExpiredTokenException", err)
	}
	if _, err := e.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("s2"), DurationSeconds: aws.Int32(7200)}); apiCode(t, err) != "ValidationError" {
		t.Errorf("duration above the role maximum: %v, want ValidationError", err)
	}
}

func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	roleArn := e.sim.AddRole(testAccount, "Limited", "", "", []string{"ses:GetAccount", "ses:Get*", "events:List*"})
	out, err := e.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("probe")})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	cfg := e.config(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	ses, eb := sesv2.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)

	if _, err := ses.GetAccount(ctx, &sesv2.GetAccountInput{}); err != nil {
		t.Errorf("allowed GetAccount: %v", err)
	}
	if _, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{}); err != nil {
		t.Errorf("allowed ListRules: %v", err)
	}

	_, err = ses.ListEmailIdentities(ctx, &sesv2.ListEmailIdentitiesInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || !strings.Contains(ae.ErrorMessage(), "ses:ListEmailIdentities") {
		t.Errorf("ListEmailIdentities: %v, want AccessDeniedException naming ses:ListEmailIdentities", err)
	}
	if !strings.Contains(ae.ErrorMessage(), "assumed-role/Limited/probe") {
		t.Errorf("message %q should name the caller", ae.ErrorMessage())
	}

	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["aws.ses"]}`)})
	var denied *ebtypes.AccessDeniedException
	if !errors.As(err, &denied) || !strings.Contains(denied.ErrorMessage(), "events:PutRule") {
		t.Errorf("PutRule: %v, want *types.AccessDeniedException naming events:PutRule", err)
	}

	// Granting the permission takes effect for the live session.
	if err := e.sim.SetRolePermissions(testAccount, "Limited", []string{"ses:*"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ses.ListEmailIdentities(ctx, &sesv2.ListEmailIdentitiesInput{}); err != nil {
		t.Errorf("ListEmailIdentities after the grant: %v", err)
	}
}

func TestThrottlingIsRetriedBySDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := ctxT(t)
	e.sim.Throttle("GetAccount", 2)
	if _, err := e.ses.GetAccount(ctx, &sesv2.GetAccountInput{}); err != nil {
		t.Errorf("GetAccount after 2 throttled answers: %v (the SDK retries 3 times)", err)
	}
	e.sim.Throttle("GetAccount", 5)
	_, err := e.ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	var tooMany *sestypes.TooManyRequestsException
	if !errors.As(err, &tooMany) {
		t.Errorf("GetAccount throttled 5 times: %v, want *types.TooManyRequestsException", err)
	}
	e.sim.Throttle("ListRules", 5)
	if _, err := e.eb.ListRules(ctx, &eventbridge.ListRulesInput{}); apiCode(t, err) != "ThrottlingException" {
		t.Errorf("ListRules throttled: %v, want ThrottlingException", err)
	}
}
