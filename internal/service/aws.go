package service

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
	"sendops/internal/store"
)

// connectionSecretContext binds a connection's sealed secret access key to
// the connection: a value copied to another row does not open.
func connectionSecretContext(orgID, connID string) string {
	return "connection:" + orgID + ":" + connID
}

// access rebuilds how SendOps reaches a stored connection's account,
// opening its sealed secret. It fails with EInvalid for a connection that
// only receives events.
func (s *Service) access(ctx context.Context, c *domain.Connection) (awsconn.Access, error) {
	a := awsconn.Access{AccountID: c.AWSAccountID, Region: c.Region, Endpoint: c.Endpoint}
	switch {
	case c.RoleARN != "":
		ext, err := s.orgExternalID(ctx, c.OrgID)
		if err != nil {
			return a, err
		}
		a.RoleARN, a.ExternalID = c.RoleARN, ext
	case c.AccessKeyID != "":
		sec, err := s.Keyring.Open(c.SecretSealed, connectionSecretContext(c.OrgID, c.ID))
		if err != nil {
			return a, err // internal: the keyring does not match the database
		}
		a.AccessKeyID, a.SecretAccessKey = c.AccessKeyID, sec
	default:
		return a, domain.Errorf(domain.EInvalid, "The connection %q only receives events: add a role or access keys to manage SES through it.", c.Name)
	}
	return a, nil
}

// orgExternalID returns an organisation's ExternalId (made on first use).
func (s *Service) orgExternalID(ctx context.Context, orgID string) (string, error) {
	return s.ExternalID(ctx, &domain.Actor{OrgID: orgID, Role: domain.RoleViewer})
}

// ConnectionInOrg returns ENotFound unless the connection belongs to the
// actor's organisation. It checks no permission: it says nothing the
// actor's own organisation does not already show it, and routes under a
// connection call it before judging the request.
func (s *Service) ConnectionInOrg(ctx context.Context, a *domain.Actor, connID string) error {
	if a == nil {
		return domain.Errorf(domain.ENotFound, "Connection not found.")
	}
	return s.DB.View(ctx, func(tx *store.Tx) error {
		_, err := store.Connection(ctx, tx, a.OrgID, connID)
		return err
	})
}

// connectionAWS checks that the actor may take act, loads the connection
// and returns the AWS configuration that reaches its account. Errors:
// EForbidden, ENotFound, EInvalid (a connection without AWS access).
func (s *Service) connectionAWS(ctx context.Context, a *domain.Actor, act domain.Action, connID string) (*domain.Connection, aws.Config, error) {
	if err := a.Require(act); err != nil {
		return nil, aws.Config{}, err
	}
	var c *domain.Connection
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		c, err = store.Connection(ctx, tx, a.OrgID, connID)
		return err
	})
	if err != nil {
		return nil, aws.Config{}, err
	}
	cfg, err := s.awsConfigs.get(c, func() (aws.Config, error) {
		acc, err := s.access(ctx, c)
		if err != nil {
			return aws.Config{}, err
		}
		cfg, err := awsconn.Config(s.AWSBase, acc)
		if err != nil {
			return aws.Config{}, domain.Errorf(domain.EAWS, "%s", err.Error())
		}
		return cfg, nil
	})
	return c, cfg, err
}

// awsConfigCache keeps the AWS configuration of each connection, whose
// credentials cache holds the role session (or the opened access key)
// until it expires: one AssumeRole an hour per connection and replica, not
// one per request. The key holds everything that decides the credentials,
// so a changed connection gets a fresh entry.
type awsConfigCache struct {
	mu sync.Mutex
	m  map[string]aws.Config
}

// maxCachedConfigs bounds the cache; past it, it starts over.
const maxCachedConfigs = 4096

func (cc *awsConfigCache) get(c *domain.Connection, make func() (aws.Config, error)) (aws.Config, error) {
	key := strings.Join([]string{c.OrgID, c.ID, c.Region, c.RoleARN, c.AccessKeyID, c.SecretSealed, c.Endpoint}, "\x00")
	cc.mu.Lock()
	cfg, ok := cc.m[key]
	cc.mu.Unlock()
	if ok {
		return cfg, nil
	}
	cfg, err := make()
	if err != nil {
		return aws.Config{}, err
	}
	cc.mu.Lock()
	if cc.m == nil || len(cc.m) >= maxCachedConfigs {
		cc.m = map[string]aws.Config{}
	}
	cc.m[key] = cfg
	cc.mu.Unlock()
	return cfg, nil
}

// awsError turns an error from an AWS call (after the SDK's own retries)
// into a domain error a user can act on: AWS's not-found and conflict
// answers keep their meaning, throttling asks to come back later, anything
// else is EAWS with awsconn.Explain's sentence. action names the call, e.g.
// "ses:CreateEmailIdentity". A domain error passes through unchanged.
func awsError(err error, action string) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg := ae.ErrorCode(), ae.ErrorMessage()
		switch {
		case strings.HasPrefix(code, "NotFound"):
			return domain.Errorf(domain.ENotFound, "AWS: %s", msg)
		case strings.HasPrefix(code, "AlreadyExists") || code == "ResourceAlreadyExistsException" || code == "ConcurrentModificationException":
			return domain.Errorf(domain.EConflict, "AWS: %s", msg)
		case code == "BadRequestException" || code == "ValidationException" || code == "InvalidParameterValue":
			return domain.Errorf(domain.EInvalid, "AWS refused it: %s", msg)
		case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() || strings.Contains(code, "Throttl") || code == "TooManyRequestsException":
			return &domain.Error{Code: domain.ETooMany, Message: "AWS is throttling " + action + " for this account: try again in a minute.", RetryAfter: 60}
		}
	}
	return domain.Errorf(domain.EAWS, "%s", awsconn.Explain(err, action))
}

// awsTimeout bounds one user-facing AWS operation, retries included.
const awsTimeout = 30 * time.Second
