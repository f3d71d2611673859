package service

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
)

// EventBridgePath is where EventBridge API destinations post events.
const EventBridgePath = "/ingest/eventbridge"

// pipelineSecretContext binds a connection's pipeline secret to it.
func pipelineSecretContext(orgID, connID string) string {
	return "pipeline:" + orgID + ":" + connID
}

var configSetRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// PipelineInput is what a user chooses when setting up event publishing.
type PipelineInput struct {
	// ConfigurationSet is the set whose events SendOps receives: an
	// existing one, or one SendOps creates. Empty: the one chosen last
	// time, or awsconn.DefaultConfigurationSet.
	ConfigurationSet string `json:"configuration_set,omitempty"`
}

// pipelineRecord returns what SendOps keeps about a connection's pipeline,
// nil when it was never set up.
func (s *Service) pipelineRecord(ctx context.Context, orgID, connID string) (*domain.PipelineRecord, error) {
	var rec *domain.PipelineRecord
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		rec, err = store.ConnectionPipeline(ctx, tx, orgID, connID)
		return err
	})
	if domain.IsNotFound(err) {
		return nil, nil
	}
	return rec, err
}

// pipelineSecret opens the secret of a pipeline record and says why it
// must be replaced, if it must: the ingest path no longer takes it as
// current (rotated, or gone).
func (s *Service) pipelineSecret(ctx context.Context, rec *domain.PipelineRecord) (sec, stale string, err error) {
	if rec == nil || rec.SecretSealed == "" {
		return "", "", nil
	}
	sec, err = s.Keyring.Open(rec.SecretSealed, pipelineSecretContext(rec.OrgID, rec.ConnectionID))
	if err != nil {
		return "", "", err // internal: the keyring does not match the database
	}
	var found bool
	var expires *time.Time
	err = s.DB.View(ctx, func(tx *store.Tx) (err error) {
		found, expires, err = store.IngestSecretState(ctx, tx, rec.OrgID, rec.ConnectionID, secret.HashToken(sec))
		return err
	})
	switch {
	case err != nil:
		return "", "", err
	case !found:
		stale = "sends a secret SendOps no longer accepts"
	case expires != nil:
		stale = fmt.Sprintf("sends a secret that was rotated in SendOps and is accepted only until %s", expires.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return sec, stale, nil
}

// pipelineSpec is what the pipeline of c should be.
func (s *Service) pipelineSpec(c *domain.Connection, rec *domain.PipelineRecord, configSet, sec, stale string) awsconn.PipelineSpec {
	spec := awsconn.PipelineSpec{
		AccountID: c.AWSAccountID, Region: c.Region, ConnectionID: c.ID, ConfigurationSet: configSet,
		Endpoint: s.BaseURL + EventBridgePath, HeaderName: IngestHeader, Secret: sec, SecretNote: stale,
		InvokeRoleARN: awsconn.InvokeRoleARN(c.AWSAccountID),
	}
	if rec != nil && rec.SecretWritten != nil {
		spec.SecretWritten = *rec.SecretWritten
	}
	return spec
}

func (s *Service) pipelineView(c *domain.Connection, rec *domain.PipelineRecord, configSet string, res awsconn.PipelineResult) *domain.Pipeline {
	p := &domain.Pipeline{
		ConnectionID: c.ID, ConfigurationSet: configSet, Endpoint: s.BaseURL + EventBridgePath,
		RateLimitPerSecond: awsconn.PipelineRateLimit, Complete: res.Complete(), Pieces: res.Pieces, Changes: res.Changes,
	}
	if rec != nil {
		p.SetUpAt = rec.SetUpAt
	}
	return p
}

// Pipeline reads each piece of a connection's event pipeline in its AWS
// account and says whether it is present, missing or different from what
// SendOps expects (and how). Viewers and up, or read keys. Errors:
// EForbidden, ENotFound, EInvalid (a connection without AWS access), EAWS,
// ETooMany.
func (s *Service) Pipeline(ctx context.Context, a *domain.Actor, connID string) (*domain.Pipeline, error) {
	c, cfg, err := s.connectionAWS(ctx, a, domain.ActSESView, connID)
	if err != nil {
		return nil, err
	}
	rec, err := s.pipelineRecord(ctx, a.OrgID, c.ID)
	if err != nil {
		return nil, err
	}
	configSet := awsconn.DefaultConfigurationSet
	if rec != nil {
		configSet = rec.ConfigSet
	}
	_, stale, err := s.pipelineSecret(ctx, rec)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	res, err := awsconn.InspectPipeline(actx, cfg, s.pipelineSpec(c, rec, configSet, "", stale))
	if err != nil {
		return nil, awsError(err, res.FailedAction)
	}
	return s.pipelineView(c, rec, configSet, res), nil
}

// SetUpPipeline sets up event publishing for a connection in its AWS
// account: the configuration set (made unless it exists), its EventBridge
// event destination for every event type, an EventBridge connection that
// sends the connection's pipeline secret, an API destination to SendOps's
// ingest endpoint at most awsconn.PipelineRateLimit times a second, a rule
// on the set's SES events and its target. Each piece is written only when
// missing or different: a second run changes nothing, and a run that
// stopped halfway resumes. Developers and up, or write keys. Errors:
// EForbidden, ENotFound, EInvalid, EAWS (naming the AWS action that failed),
// ETooMany.
func (s *Service) SetUpPipeline(ctx context.Context, a *domain.Actor, connID string, in PipelineInput) (*domain.Pipeline, error) {
	c, cfg, err := s.connectionAWS(ctx, a, domain.ActSESManage, connID)
	if err != nil {
		return nil, err
	}
	rec, err := s.pipelineRecord(ctx, a.OrgID, c.ID)
	if err != nil {
		return nil, err
	}
	configSet := strings.TrimSpace(in.ConfigurationSet)
	switch {
	case configSet != "":
	case rec != nil:
		configSet = rec.ConfigSet
	default:
		configSet = awsconn.DefaultConfigurationSet
	}
	if !configSetRE.MatchString(configSet) {
		return nil, domain.FieldError("configuration_set", "A configuration set name has up to 64 letters, digits, underscores and dashes.")
	}
	sec, stale, err := s.pipelineSecret(ctx, rec)
	if err != nil {
		return nil, err
	}
	var done []string // what changed in SendOps, for the audit log
	newSecret := rec == nil || stale != ""
	if newSecret || rec.ConfigSet != configSet {
		// The secret is stored before AWS gets it, so that a run that
		// stops after AWS took it gives the same one again.
		if newSecret {
			sec = secret.Token("whsec_")
			fresh := &domain.PipelineRecord{OrgID: a.OrgID, ConnectionID: c.ID, SecretSealed: s.Keyring.Seal(sec, pipelineSecretContext(a.OrgID, c.ID))}
			if rec != nil {
				fresh.SetUpAt = rec.SetUpAt
			}
			rec = fresh
			done = append(done, "issued a new ingest secret for the EventBridge connection")
		}
		rec.ConfigSet = configSet
		err := s.DB.Update(ctx, func(tx *store.Tx) error {
			if err := store.PutConnectionPipeline(ctx, tx, rec); err != nil {
				return err
			}
			if newSecret {
				return store.AddIngestSecret(ctx, tx, a.OrgID, c.ID, secret.HashToken(sec))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		stale = ""
	}

	actx, cancel := context.WithTimeout(ctx, 2*awsTimeout)
	defer cancel()
	res, runErr := awsconn.SetUpPipeline(actx, cfg, s.pipelineSpec(c, rec, configSet, sec, stale))
	done = append(done, res.Changes...)
	if !res.SecretWritten.IsZero() {
		t := res.SecretWritten.UTC()
		rec.SecretWritten = &t
	}
	if runErr == nil {
		now := time.Now().UTC()
		rec.SetUpAt = &now
	}
	// What AWS now holds is recorded even when the run stopped, with
	// ctx's own deadline: the AWS calls may have used up actx's.
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		if err := store.PutConnectionPipeline(ctx, tx, rec); err != nil {
			return err
		}
		if len(done) == 0 {
			return nil
		}
		details := strings.Join(done, "; ")
		if runErr != nil {
			details += "; stopped at " + res.FailedAction
		}
		return audit(ctx, tx, a, "connection.pipeline_set_up", c.Name, details)
	})
	if err != nil {
		return nil, err
	}
	if runErr != nil {
		return nil, pipelineStopped(awsError(runErr, res.FailedAction), res.Changes)
	}
	return s.pipelineView(c, rec, configSet, res), nil
}

// pipelineStopped explains a set-up run that stopped: why, what it did
// before, and that running it again resumes.
func pipelineStopped(err error, changes []string) error {
	var de *domain.Error
	if !errors.As(err, &de) {
		return err
	}
	msg := "Setting up event publishing stopped: " + de.Message
	if len(changes) > 0 {
		msg += " Before it stopped, SendOps " + strings.Join(changes, ", ") + "."
	}
	msg += " Set it up again once this is fixed: it resumes where it stopped."
	return &domain.Error{Code: de.Code, Message: msg, Field: de.Field, RetryAfter: de.RetryAfter}
}

// RemoveConnection removes a connection from SendOps: its ingest secrets
// and SNS URL stop working at once, and the events it brought stay until
// retention removes them. Nothing is deleted in AWS: it returns what stays
// in the account and how to remove each by hand. Developers and up, or
// write keys. Errors: EForbidden, ENotFound.
func (s *Service) RemoveConnection(ctx context.Context, a *domain.Actor, connID string) (*domain.Connection, []domain.LeftInAWS, error) {
	if err := a.Require(domain.ActConnectionsWrite); err != nil {
		return nil, nil, err
	}
	var c *domain.Connection
	var rec *domain.PipelineRecord
	err := s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if c, err = store.Connection(ctx, tx, a.OrgID, connID); err != nil {
			return err
		}
		if rec, err = store.ConnectionPipeline(ctx, tx, a.OrgID, connID); domain.IsNotFound(err) {
			rec, err = nil, nil
		} else if err != nil {
			return err
		}
		if err := store.DeleteConnection(ctx, tx, a.OrgID, connID); err != nil {
			return err
		}
		return audit(ctx, tx, a, "connection.removed", c.Name, c.AWSAccountID+" "+c.Region+"; nothing was deleted in AWS")
	})
	if err != nil {
		return nil, nil, err
	}
	return c, leftInAWS(c, rec), nil
}

// leftInAWS lists what SendOps made or used in a connection's account,
// which stays there, with how to remove each by hand, in an order that
// works (a target before its rule, an API destination before its
// connection).
func leftInAWS(c *domain.Connection, rec *domain.PipelineRecord) []domain.LeftInAWS {
	region := " --region " + c.Region
	var out []domain.LeftInAWS
	if rec != nil {
		name := awsconn.PipelineName(c.ID)
		out = append(out,
			domain.LeftInAWS{Kind: "Rule target", Name: awsconn.PipelineTargetID + " of rule " + name,
				Remove: "aws events remove-targets --rule " + name + " --ids " + awsconn.PipelineTargetID + region},
			domain.LeftInAWS{Kind: "EventBridge rule", Name: name, Remove: "aws events delete-rule --name " + name + region},
			domain.LeftInAWS{Kind: "API destination", Name: name, Remove: "aws events delete-api-destination --name " + name + region,
				Note: "Until it is removed, EventBridge keeps sending this account's SES events to SendOps, which refuses them."},
			domain.LeftInAWS{Kind: "EventBridge connection", Name: name, Remove: "aws events delete-connection --name " + name + region},
			domain.LeftInAWS{Kind: "Event destination", Name: awsconn.PipelineDestinationName + " of configuration set " + rec.ConfigSet,
				Remove: "aws sesv2 delete-configuration-set-event-destination --configuration-set-name " + rec.ConfigSet +
					" --event-destination-name " + awsconn.PipelineDestinationName + region,
				Note: "Other SendOps connections to this account may use it: remove it only if none does."},
			domain.LeftInAWS{Kind: "Configuration set", Name: rec.ConfigSet,
				Remove: "aws sesv2 delete-configuration-set --configuration-set-name " + rec.ConfigSet + region,
				Note:   "Mail sent with it fails once it is gone: remove it only if nothing sends with it."},
			domain.LeftInAWS{Kind: "IAM role", Name: awsconn.InvokeRoleName,
				Remove: "Delete the CloudFormation stack that created it, or remove its policies and run: aws iam delete-role --role-name " + awsconn.InvokeRoleName,
				Note:   "EventBridge assumes it to invoke the API destination."},
		)
	}
	switch {
	case c.RoleARN != "":
		role := c.RoleARN[strings.LastIndex(c.RoleARN, "/")+1:]
		out = append(out, domain.LeftInAWS{Kind: "IAM role", Name: c.RoleARN,
			Remove: "Delete the CloudFormation stack that created it, or remove its policies and run: aws iam delete-role --role-name " + role,
			Note:   "SendOps assumed it (with the organisation's ExternalId) to reach the account."})
	case c.AccessKeyID != "":
		out = append(out, domain.LeftInAWS{Kind: "Access key", Name: c.AccessKeyID,
			Remove: "aws iam delete-access-key --access-key-id " + c.AccessKeyID + " --user-name USER",
			Note:   "SendOps no longer holds its secret; delete the key so nobody else can use it."})
	}
	return out
}
