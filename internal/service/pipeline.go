package service

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/smithy-go"

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

// pipelineRecordTimeout bounds the database writes that record what a
// set-up run did in AWS, which outlive the request (see SetUpPipeline).
const pipelineRecordTimeout = 10 * time.Second

// PipelineInput is what a user chooses when setting up event publishing.
type PipelineInput struct {
	// ConfigurationSet is the set whose events SendOps receives: an
	// existing one, or one SendOps creates. Empty: the one chosen last
	// time, or awsconn.DefaultConfigurationSet.
	ConfigurationSet string `json:"configuration_set,omitempty"`
	// RotateSecret replaces the ingest secret the EventBridge connection
	// sends: AWS gets the new one first, then the old one keeps working
	// for SecretGrace. (Rotating the connection's ingest credentials
	// leaves the pipeline's secret alone.)
	RotateSecret bool `json:"rotate_secret,omitempty"`
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
// current (gone, or expiring: secrets stored before rotating the ingest
// credentials left the pipeline's alone).
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
		stale = fmt.Sprintf("sends a secret SendOps accepts only until %s", expires.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return sec, stale, nil
}

// pipelineSpec is what the pipeline of c should be.
func (s *Service) pipelineSpec(c *domain.Connection, rec *domain.PipelineRecord, configSet, sec, stale string) awsconn.PipelineSpec {
	spec := awsconn.PipelineSpec{
		AccountID: c.AWSAccountID, Region: c.Region, ConnectionID: c.ID, ConfigurationSet: configSet,
		Endpoint: s.BaseURL + EventBridgePath, HeaderName: IngestHeader, Secret: sec, SecretNote: stale,
		InvokeRoleARN: awsconn.InvokeRoleARN(awsconn.Partition(c.Region), c.AWSAccountID),
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
		FailedAction: res.FailedAction,
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
		return nil, pipelineRunError(err, res.FailedAction)
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
// stopped halfway resumes. in.RotateSecret gives the EventBridge
// connection a new secret, and the old one expires after SecretGrace.
//
// A run that stopped in AWS returns the pipeline as it left it (the
// changes it made, the action it stopped at, each piece) with the error.
// Developers and up, or write keys. Errors: EForbidden, ENotFound,
// EInvalid (also a SendOps base URL EventBridge cannot reach), EAWS
// (naming the AWS action that failed), ETooMany.
func (s *Service) SetUpPipeline(ctx context.Context, a *domain.Actor, connID string, in PipelineInput) (*domain.Pipeline, error) {
	c, cfg, err := s.connectionAWS(ctx, a, domain.ActSESManage, connID)
	if err != nil {
		return nil, err
	}
	// Before anything is made in the account: AWS must be able to reach
	// SendOps. An emulator (the sandbox, tests) reaches it wherever it is.
	if c.Endpoint == "" {
		if err := ingestReachable(s.BaseURL); err != nil {
			return nil, err
		}
	}
	rec, err := s.pipelineRecord(ctx, a.OrgID, c.ID)
	if err != nil {
		return nil, err
	}
	configSet := in.ConfigurationSet
	switch {
	case strings.TrimSpace(configSet) != "":
	case rec != nil:
		configSet = rec.ConfigSet
	default:
		configSet = awsconn.DefaultConfigurationSet
	}
	if configSet, err = checkConfigSetName("configuration_set", configSet); err != nil {
		return nil, err
	}
	sec, stale, err := s.pipelineSecret(ctx, rec)
	if err != nil {
		return nil, err
	}
	var done []string // what changed in SendOps, for the audit log
	var note string   // why the EventBridge connection gets the secret again
	if rec == nil || stale != "" || in.RotateSecret {
		var issued bool
		if rec, sec, issued, err = s.newPipelineSecret(ctx, a.OrgID, c.ID, rec, configSet); err != nil {
			return nil, err
		}
		stale = ""
		if issued {
			done = append(done, "issued a new ingest secret for the EventBridge connection")
			if in.RotateSecret {
				note = "gets a new ingest secret, as asked"
			}
		}
	}
	if rec.ConfigSet != configSet {
		// Stored before the run, so that the status of a run that stops
		// reads the set it was making.
		rec.ConfigSet = configSet
		err := s.DB.Update(ctx, func(tx *store.Tx) error {
			_, err := store.UpdateConnectionPipeline(ctx, tx, rec, rec.SecretSealed)
			return err
		})
		if err != nil {
			return nil, err
		}
	}

	spec := s.pipelineSpec(c, rec, configSet, sec, stale)
	if note != "" {
		spec.SecretNote = note
	}
	actx, cancel := context.WithTimeout(ctx, 2*awsTimeout)
	defer cancel()
	res, runErr := awsconn.SetUpPipeline(actx, cfg, spec)
	done = append(done, res.Changes...)
	sealed := rec.SecretSealed
	if !res.SecretWritten.IsZero() {
		t := res.SecretWritten.UTC()
		rec.SecretWritten = &t
	}
	if runErr == nil {
		now := time.Now().UTC()
		rec.SetUpAt = &now
	}
	// What AWS now holds is recorded even when the run stopped or the
	// client went away: ctx may be done, and actx's deadline used up.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), pipelineRecordTimeout)
	defer wcancel()
	err = s.DB.Update(wctx, func(tx *store.Tx) error {
		details := slices.Clone(done) // fn may run again
		// A run that another replaced the secret under since records
		// nothing of it: the other run records its own.
		updated, err := store.UpdateConnectionPipeline(wctx, tx, rec, sealed)
		if err != nil {
			return err
		}
		if updated && !res.SecretWritten.IsZero() {
			// AWS has this secret: the ones it sent before keep working
			// only for events already on their way.
			n, err := store.ExpirePipelineSecrets(wctx, tx, a.OrgID, c.ID, secret.HashToken(sec), SecretGrace)
			if err != nil {
				return err
			}
			if n > 0 {
				details = append(details, "the EventBridge connection's previous ingest secret works for 24 hours more")
			}
		}
		if len(details) == 0 {
			return nil
		}
		text := strings.Join(details, "; ")
		if runErr != nil {
			text += "; stopped at " + res.FailedAction
		}
		return audit(wctx, tx, a, "connection.pipeline_set_up", c.Name, text)
	})
	if err != nil {
		return nil, err
	}
	view := s.pipelineView(c, rec, configSet, res)
	if runErr != nil {
		return view, pipelineStopped(pipelineRunError(runErr, res.FailedAction), res.Changes)
	}
	return view, nil
}

// newPipelineSecret issues a new ingest secret for a connection's event
// pipeline, replacing rec's (nil: the first), and stores it before AWS
// gets it, so that a run that stops after AWS took it gives the same one
// again. Of two runs at once, one issues it and the other (issued false)
// gets the record and secret the first stored: only one secret is made.
func (s *Service) newPipelineSecret(ctx context.Context, orgID, connID string, rec *domain.PipelineRecord, configSet string) (_ *domain.PipelineRecord, sec string, issued bool, err error) {
	sec = secret.Token("whsec_")
	fresh := &domain.PipelineRecord{OrgID: orgID, ConnectionID: connID, ConfigSet: configSet,
		SecretSealed: s.Keyring.Seal(sec, pipelineSecretContext(orgID, connID))}
	if rec != nil {
		fresh.SetUpAt = rec.SetUpAt
	}
	var current *domain.PipelineRecord
	err = s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		current = nil
		var stored bool
		if rec == nil {
			stored, err = store.InsertConnectionPipeline(ctx, tx, fresh)
		} else {
			stored, err = store.UpdateConnectionPipeline(ctx, tx, fresh, rec.SecretSealed)
		}
		if err != nil {
			return err
		}
		if !stored {
			current, err = store.ConnectionPipeline(ctx, tx, orgID, connID)
			return err
		}
		return store.AddPipelineSecret(ctx, tx, orgID, connID, secret.HashToken(sec))
	})
	switch {
	case err != nil:
		return nil, "", false, err
	case current == nil:
		return fresh, sec, true, nil
	}
	if sec, err = s.Keyring.Open(current.SecretSealed, pipelineSecretContext(orgID, connID)); err != nil {
		return nil, "", false, err // internal: the keyring does not match the database
	}
	return current, sec, false, nil
}

// keepPipelineSecret marks the secret a connection's event pipeline
// sends (if it has one) as the pipeline's, in tx, so that rotating the
// connection's ingest credentials leaves it working: secrets stored before
// ingest_secrets said whose they are are not marked yet.
func (s *Service) keepPipelineSecret(ctx context.Context, tx *store.Tx, orgID, connID string) error {
	rec, err := store.ConnectionPipeline(ctx, tx, orgID, connID)
	if domain.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	sec, err := s.Keyring.Open(rec.SecretSealed, pipelineSecretContext(orgID, connID))
	if err != nil {
		return err // internal: the keyring does not match the database
	}
	return store.MarkPipelineSecret(ctx, tx, orgID, connID, secret.HashToken(sec))
}

// ingestReachable refuses a SendOps base URL that EventBridge cannot
// invoke: an API destination needs HTTPS on a public host.
func ingestReachable(baseURL string) error {
	u, err := url.Parse(baseURL)
	var why string
	switch {
	case err != nil || u.Host == "":
		why = "it is not a URL"
	case u.Scheme != "https":
		why = "EventBridge calls only https:// URLs"
	case !publicHost(u.Hostname()):
		why = u.Hostname() + " is not a public host EventBridge can reach"
	default:
		return nil
	}
	return domain.Errorf(domain.EInvalid, "SendOps's address, %s, will not receive events from AWS: %s. Set SENDOPS_BASE_URL to the public https:// address of SendOps and set up event publishing again; nothing was made in AWS.", baseURL, why)
}

// cgnat is the shared address space of carrier-grade NAT, not reachable
// from the Internet.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicHost reports whether host may be reached from the Internet: not
// a loopback, private, link-local or shared address, nor a name that only
// resolves locally (one label, or a special-use top-level domain).
func publicHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		return ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
	}
	if !strings.Contains(host, ".") {
		return false
	}
	for _, tld := range []string{".localhost", ".local", ".internal", ".home.arpa", ".lan", ".test", ".example", ".invalid"} {
		if strings.HasSuffix(host, tld) {
			return false
		}
	}
	return true
}

// pipelineRunError is the error of a pipeline run that stopped at action.
// AWS not finding what a step needs is that step failing (EAWS naming
// it), never a not-found that would read as the connection's.
func pipelineRunError(err error, action string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && (strings.HasPrefix(ae.ErrorCode(), "NotFound") || ae.ErrorCode() == "ResourceNotFoundException") {
		return domain.Errorf(domain.EAWS, "%s", awsconn.Explain(err, action))
	}
	return awsError(err, action)
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
