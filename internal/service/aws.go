package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
	"sendops/internal/secret"
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
	// Read first: pages show it on every view, and SQLite has one writer.
	var id string
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		id, err = store.ReadOrgExternalID(ctx, tx, orgID)
		return err
	})
	if err != nil || id != "" {
		return id, err
	}
	err = s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		id, err = store.OrgExternalID(ctx, tx, orgID, "sendops-"+secret.Token("")[:32])
		return err
	})
	return id, err
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
// EForbidden, ENotFound, EInvalid (a connection without AWS access, or
// whose endpoint this server no longer allows).
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
	if c.Endpoint != "" && c.Managed() && !s.endpointAllowed(c.Endpoint) {
		return nil, aws.Config{}, domain.Errorf(domain.EInvalid, "This server no longer allows the connection %q to reach AWS at %s (see SENDOPS_ALLOW_AWS_ENDPOINT).", c.Name, c.Endpoint)
	}
	key := configKey(c)
	cfg, err := s.awsConfigs.get(key, func() (aws.Config, error) { return s.connectionConfig(ctx, c, key) })
	return c, cfg, err
}

// connectionConfig builds the AWS configuration of a connection (cached
// under key). A failure to get its credentials drops it from the cache, so
// that the next request starts again, and carries the sentence that
// explains it (awsconn.AssumeRoleProblem's, for a role). Every call made
// with it is watched (see watchCalls).
func (s *Service) connectionConfig(ctx context.Context, c *domain.Connection, key string) (aws.Config, error) {
	acc, err := s.access(ctx, c)
	if err != nil {
		return aws.Config{}, err
	}
	cfg, err := awsconn.Config(s.AWSBase, acc)
	if err != nil {
		return aws.Config{}, domain.Errorf(domain.EAWS, "%s", err.Error())
	}
	cache, ok := cfg.Credentials.(*aws.CredentialsCache)
	if !ok {
		return aws.Config{}, errors.New("awsconn.Config gave credentials without a cache")
	}
	creds := &connCredentials{cache: cache, failed: func(err error) error {
		s.awsConfigs.evict(key)
		if msg, ok := awsconn.AssumeRoleProblem(err, acc, s.AWSPrincipal); ok {
			return &awsconn.Explained{Message: msg, Err: err}
		}
		return err
	}}
	cfg.Credentials = creds
	n := len(cfg.APIOptions)
	cfg.APIOptions = append(cfg.APIOptions[:n:n], func(st *middleware.Stack) error {
		return st.Initialize.Add(s.watchCalls(c, creds), middleware.After)
	})
	return cfg, nil
}

// connCredentials are a connection's cached credentials: the role's
// session, or its access key.
type connCredentials struct {
	cache *aws.CredentialsCache
	// failed turns a failure to get credentials into the error to give.
	failed func(error) error
}

func (p *connCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	cr, err := p.cache.Retrieve(ctx)
	if err != nil {
		return cr, p.failed(err)
	}
	return cr, nil
}

// recheck assumes the role again after AWS denied a call made with its
// session: a session outlives its role's deletion (and changes to its
// trust), and then the denial's remedy (add the action to the policy) is
// the wrong one. It returns the error of assuming the role when that now
// fails, and denied when it works.
func (p *connCredentials) recheck(ctx context.Context, denied error) error {
	p.cache.Invalidate()
	if _, err := p.Retrieve(ctx); err != nil {
		return err
	}
	return denied
}

// watchCalls is the middleware of every AWS call made for a connection: a
// denied call of a role is checked against the role itself (see recheck),
// and the detail of an error that is not shown to the user (an endpoint
// that could not be reached, an answer that is not AWS's) is logged.
func (s *Service) watchCalls(c *domain.Connection, creds *connCredentials) middleware.InitializeMiddleware {
	return middleware.InitializeMiddlewareFunc("SendOpsConnection", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleInitialize(ctx, in)
		if err == nil {
			return out, md, nil
		}
		var ae smithy.APIError
		var ex *awsconn.Explained
		if c.RoleARN != "" && errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "AccessDenied") && !errors.As(err, &ex) {
			err = creds.recheck(ctx, err)
		}
		if awsconn.Hidden(err) {
			s.Logger.WarnContext(ctx, "AWS call failed", "org", c.OrgID, "connection", c.ID,
				"service", middleware.GetServiceID(ctx), "operation", middleware.GetOperationName(ctx), "err", err)
		}
		return out, md, err
	})
}

// endpointAllowed reports whether a connection may reach AWS at endpoint:
// the server allows any endpoint, or lists this one, or it is the
// sandbox's own emulator.
func (s *Service) endpointAllowed(endpoint string) bool {
	e := strings.TrimSuffix(endpoint, "/")
	switch {
	case s.AllowAWSEndpoint:
		return true
	case s.SandboxEndpoint != "" && e == strings.TrimSuffix(s.SandboxEndpoint, "/"):
		return true
	}
	for _, allowed := range s.AWSEndpoints {
		if e == strings.TrimSuffix(allowed, "/") {
			return true
		}
	}
	return false
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

// configKey is the cache key of a connection's configuration.
func configKey(c *domain.Connection) string {
	return strings.Join([]string{c.OrgID, c.ID, c.Region, c.RoleARN, c.AccessKeyID, c.SecretSealed, c.Endpoint}, "\x00")
}

func (cc *awsConfigCache) get(key string, make func() (aws.Config, error)) (aws.Config, error) {
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

// evict drops a configuration from the cache.
func (cc *awsConfigCache) evict(key string) {
	cc.mu.Lock()
	delete(cc.m, key)
	cc.mu.Unlock()
}

// awsError turns an error from an AWS call (after the SDK's own retries)
// into a domain error a user can act on: a role SendOps can no longer
// assume is named as such (whichever call found it), AWS's not-found and
// conflict answers keep their meaning, throttling asks to come back later,
// anything else is EAWS with awsconn.Explain's sentence. action names the
// call, e.g. "ses:CreateEmailIdentity". A domain error passes through
// unchanged.
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
	var ex *awsconn.Explained
	if errors.As(err, &ex) {
		return domain.Errorf(domain.EAWS, "%s", ex.Message)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() || strings.Contains(code, "Throttl") || code == "TooManyRequestsException" {
			return &domain.Error{Code: domain.ETooMany, Message: "AWS is throttling " + action + " for this account: try again in a minute.", RetryAfter: 60}
		}
		if msg, said := awsconn.Said(err); said {
			switch {
			case isNotFoundCode(code):
				return domain.Errorf(domain.ENotFound, "AWS: %s", msg)
			case strings.HasPrefix(code, "AlreadyExists") || code == "ResourceAlreadyExistsException" || code == "ConcurrentModificationException":
				return domain.Errorf(domain.EConflict, "AWS: %s", msg)
			case code == "BadRequestException" || code == "ValidationException" || code == "InvalidParameterValue":
				return domain.Errorf(domain.EInvalid, "AWS refused it: %s", msg)
			}
		}
	}
	return domain.Errorf(domain.EAWS, "%s", awsconn.Explain(err, action))
}

// isNotFoundCode reports whether an AWS error code says that the resource
// asked for does not exist: SES's NotFoundException, EventBridge's
// ResourceNotFoundException and their kin.
func isNotFoundCode(code string) bool {
	return strings.HasPrefix(code, "NotFound") || strings.HasSuffix(code, "NotFoundException") || code == "NoSuchEntity"
}

// awsErrorMissing is awsError whose not-found answer is missing, what a
// user reads when the thing asked for is not in AWS.
func awsErrorMissing(err error, action, missing string) error {
	err = awsError(err, action)
	if domain.IsNotFound(err) {
		return domain.Errorf(domain.ENotFound, "%s", missing)
	}
	return err
}

// noSuch says that a connection's SES has no what called name.
func noSuch(c *domain.Connection, what, name string) string {
	return fmt.Sprintf("There is no %s %q in SES in %s of account %s.", what, name, c.Region, c.AWSAccountID)
}

// awsTimeout bounds one user-facing AWS operation, retries included.
const awsTimeout = 30 * time.Second

// auditTimeout bounds writing an audit entry on a detached context, and
// undoTimeout a call that undoes half of a change.
const (
	auditTimeout = 10 * time.Second
	undoTimeout  = 15 * time.Second
)

// detached returns a context for work that must finish once begun (an
// AWS change, the audit entry that records it, the call that undoes half
// of it) whether or not the client still waits: it keeps ctx's values
// (the request id of the log) but not its cancellation, and ends after d.
func detached(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
