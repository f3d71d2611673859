package service

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"sendops/internal/domain"
	"sendops/internal/sesim"
)

// AWS's answers keep their meaning whichever service gives them: SES's
// NotFoundException and EventBridge's ResourceNotFoundException are both
// "not found".
func TestAWSErrorCodes(t *testing.T) {
	t.Parallel()
	sim := sesim.New(sesim.Options{})
	t.Cleanup(func() { sim.Close() })
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.AddAccessKey("123456789012", "")
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
	ses, eb := sesv2.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []struct {
		name, action, code string
		err                error
	}{
		{"an SES identity", "ses:GetEmailIdentity", domain.ENotFound, func() error {
			_, err := ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("nothing.example")})
			return err
		}()},
		{"an SES configuration set", "ses:GetConfigurationSet", domain.ENotFound, func() error {
			_, err := ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String("nothing")})
			return err
		}()},
		{"an EventBridge rule", "events:DescribeRule", domain.ENotFound, func() error {
			_, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("nothing")})
			return err
		}()},
		{"an EventBridge connection", "events:DescribeConnection", domain.ENotFound, func() error {
			_, err := eb.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("nothing")})
			return err
		}()},
		{"an SES set made twice", "ses:CreateConfigurationSet", domain.EConflict, func() error {
			in := &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String("twice")}
			if _, err := ses.CreateConfigurationSet(ctx, in); err != nil {
				return err
			}
			_, err := ses.CreateConfigurationSet(ctx, in)
			return err
		}()},
	} {
		got := awsError(c.err, c.action)
		if domain.ErrorCode(got) != c.code {
			t.Errorf("%s: %v became %v, want %s", c.name, c.err, got, c.code)
		}
		if c.code == domain.ENotFound {
			if got := awsErrorMissing(c.err, c.action, "There is none."); domain.ErrorMessage(got) != "There is none." {
				t.Errorf("%s: %v", c.name, got)
			}
		}
	}
}
