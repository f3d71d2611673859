package service

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"time"

	"sendops/internal/awsconn"

	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
)

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
)

// SecretGrace is how long a rotated ingest secret keeps working.
const SecretGrace = 24 * time.Hour

// IngestHeader is the header EventBridge sends the ingest secret in.
const IngestHeader = "X-Sendops-Ingest-Key"

// ConnectionInput is what a user gives for a new connection. With neither
// a role nor keys the connection only receives events.
type ConnectionInput struct {
	Name            string `json:"name"`
	AWSAccountID    string `json:"aws_account_id"`
	Region          string `json:"region"`
	RoleARN         string `json:"role_arn,omitempty"`
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	Endpoint        string `json:"endpoint,omitempty"`
}

var roleARNRE = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::([0-9]{12}):role/[\w+=,.@/-]{1,512}$`)

// ExternalID returns the organisation's ExternalId, which its AWS roles'
// trust policies must require, making it on first use (pages show it on
// every view: it is read, and written only that once). Anyone in the
// organisation may read it (it is not a secret, only unguessable).
// Errors: EForbidden.
func (s *Service) ExternalID(ctx context.Context, a *domain.Actor) (string, error) {
	if err := a.Require(domain.ActConnectionsView); err != nil {
		return "", err
	}
	return s.orgExternalID(ctx, a.OrgID)
}

// accessFor checks the AWS part of a connection's input and, when it names
// a role or keys, tries them for real. It returns the access (nil when the
// connection only receives events).
func (s *Service) accessFor(ctx context.Context, a *domain.Actor, in *ConnectionInput, acct, region string) (*awsconn.Access, error) {
	in.RoleARN, in.AccessKeyID = strings.TrimSpace(in.RoleARN), strings.TrimSpace(in.AccessKeyID)
	in.Endpoint = strings.TrimSpace(in.Endpoint)
	if in.Endpoint != "" {
		if !s.endpointAllowed(in.Endpoint) {
			return nil, domain.FieldError("endpoint", "This server does not allow connections to this AWS endpoint (its operator lists the endpoints allowed in SENDOPS_ALLOW_AWS_ENDPOINT).")
		}
		if u, err := url.Parse(in.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, domain.FieldError("endpoint", "Enter an http(s) URL without a user name or password.")
		}
	}
	access := &awsconn.Access{AccountID: acct, Region: region, Endpoint: in.Endpoint}
	field := "role_arn"
	switch {
	case in.RoleARN != "" && in.AccessKeyID != "":
		return nil, domain.FieldError("role_arn", "Give a role or access keys, not both.")
	case in.RoleARN != "":
		m := roleARNRE.FindStringSubmatch(in.RoleARN)
		if m == nil {
			return nil, domain.FieldError("role_arn", "A role ARN looks like arn:aws:iam::123456789012:role/SendOps.")
		}
		if m[2] != acct {
			return nil, domain.FieldError("role_arn", "The role is in account %s, the connection is for %s.", m[2], acct)
		}
		ext, err := s.ExternalID(ctx, a)
		if err != nil {
			return nil, err
		}
		access.RoleARN, access.ExternalID = in.RoleARN, ext
	case in.AccessKeyID != "":
		if in.SecretAccessKey == "" {
			return nil, domain.FieldError("secret_access_key", "Enter the secret access key of the key.")
		}
		access.AccessKeyID, access.SecretAccessKey, field = in.AccessKeyID, in.SecretAccessKey, "access_key_id"
	default:
		if in.Endpoint != "" {
			return nil, domain.FieldError("endpoint", "An endpoint needs a role or access keys.")
		}
		return nil, nil
	}
	checks, ok := awsconn.Validate(ctx, s.AWSBase, *access, s.AWSPrincipal)
	if !ok {
		var msgs []string
		for _, c := range checks {
			if !c.OK {
				msgs = append(msgs, c.Message)
				if awsconn.Hidden(c.Err) {
					s.Logger.WarnContext(ctx, "AWS check of a new connection failed", "org", a.OrgID, "check", c.Name, "err", c.Err)
				}
			}
		}
		return nil, domain.FieldError(field, "SendOps could not use this connection: %s", strings.Join(msgs, " "))
	}
	return access, nil
}

func (s *Service) credentials(snsToken, secretValue string) *domain.IngestCredentials {
	return &domain.IngestCredentials{
		EventBridgeURL: s.BaseURL + "/ingest/eventbridge",
		SNSURL:         s.BaseURL + "/ingest/sns/" + snsToken,
		HeaderName:     IngestHeader,
		Secret:         secretValue,
	}
}

// CreateConnection adds a connection and issues its ingest credentials,
// shown this once. Developers and up, or write keys. Errors: EForbidden,
// EInvalid (per field).
func (s *Service) CreateConnection(ctx context.Context, a *domain.Actor, in ConnectionInput) (*domain.Connection, *domain.IngestCredentials, error) {
	if err := a.Require(domain.ActConnectionsWrite); err != nil {
		return nil, nil, err
	}
	name, err := checkName("name", "a name", in.Name)
	if err != nil {
		return nil, nil, err
	}
	acct := strings.TrimSpace(in.AWSAccountID)
	if !accountRE.MatchString(acct) {
		return nil, nil, domain.FieldError("aws_account_id", "An AWS account id is 12 digits.")
	}
	region := strings.ToLower(strings.TrimSpace(in.Region))
	if !regionRE.MatchString(region) {
		return nil, nil, domain.FieldError("region", "Enter an AWS region such as us-east-1.")
	}
	access, err := s.accessFor(ctx, a, &in, acct, region)
	if err != nil {
		return nil, nil, err
	}
	snsToken, sec := secret.Token(""), secret.Token("whsec_")
	c := &domain.Connection{ID: domain.NewID(), OrgID: a.OrgID, Name: name, AWSAccountID: acct, Region: region}
	how := "events only"
	if access != nil {
		c.RoleARN, c.AccessKeyID, c.Endpoint = access.RoleARN, access.AccessKeyID, access.Endpoint
		if access.SecretAccessKey != "" {
			c.SecretSealed = s.Keyring.Seal(access.SecretAccessKey, connectionSecretContext(c.OrgID, c.ID))
			how = "access key " + access.AccessKeyID
		} else {
			how = "role " + access.RoleARN
		}
	}
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		if err := store.CreateConnection(ctx, tx, c, secret.HashToken(snsToken), secret.HashToken(sec)); err != nil {
			return err
		}
		return audit(ctx, tx, a, "connection.created", name, acct+" "+region+", "+how)
	})
	if err != nil {
		return nil, nil, err
	}
	return c, s.credentials(snsToken, sec), nil
}

// RotateIngestCredentials issues a new secret and SNS URL for a connection;
// the old secret and the old SNS URL keep working for SecretGrace. The
// secret its event pipeline gives EventBridge is not rotated (see
// PipelineInput.RotateSecret).
// Developers and up. Errors: EForbidden, ENotFound.
func (s *Service) RotateIngestCredentials(ctx context.Context, a *domain.Actor, id string) (*domain.Connection, *domain.IngestCredentials, error) {
	if err := a.Require(domain.ActConnectionsWrite); err != nil {
		return nil, nil, err
	}
	snsToken, sec := secret.Token(""), secret.Token("whsec_")
	var c *domain.Connection
	err := s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		c, err = store.Connection(ctx, tx, a.OrgID, id)
		if err != nil {
			return err
		}
		if err := s.keepPipelineSecret(ctx, tx, a.OrgID, id); err != nil {
			return err
		}
		if err := store.ExpireIngestSecrets(ctx, tx, a.OrgID, id, SecretGrace); err != nil {
			return err
		}
		if err := store.AddIngestSecret(ctx, tx, a.OrgID, id, secret.HashToken(sec)); err != nil {
			return err
		}
		if err := store.SetSNSToken(ctx, tx, a.OrgID, id, secret.HashToken(snsToken), SecretGrace); err != nil {
			return err
		}
		return audit(ctx, tx, a, "connection.credentials_rotated", c.Name, "old secret and SNS URL valid for 24h")
	})
	if err != nil {
		return nil, nil, err
	}
	return c, s.credentials(snsToken, sec), nil
}

// Connections lists the organisation's connections. Errors: EForbidden.
func (s *Service) Connections(ctx context.Context, a *domain.Actor) ([]domain.Connection, error) {
	if err := a.Require(domain.ActConnectionsView); err != nil {
		return nil, err
	}
	var out []domain.Connection
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		out, err = store.Connections(ctx, tx, a.OrgID)
		return err
	})
	return out, err
}

// Connection returns one connection. Errors: EForbidden, ENotFound.
func (s *Service) Connection(ctx context.Context, a *domain.Actor, id string) (*domain.Connection, error) {
	if err := a.Require(domain.ActConnectionsView); err != nil {
		return nil, err
	}
	var c *domain.Connection
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		c, err = store.Connection(ctx, tx, a.OrgID, id)
		return err
	})
	return c, err
}
