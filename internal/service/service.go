// Package service is SendOps's application layer: every use case the web UI,
// the API and the command line share. Each method checks who may call it
// (domain.Permissions through Actor.Require) before it touches storage, runs
// in one transaction, and returns coded domain errors.
package service

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"log/slog"
	"time"

	"sendops/internal/dnscheck"
	"sendops/internal/domain"
	"sendops/internal/notify"
	"sendops/internal/secret"
	"sendops/internal/store"
)

// Service is the application. Create it with New.
type Service struct {
	DB      *store.DB
	Keyring *secret.Keyring
	Notices *notify.Queue
	Logger  *slog.Logger

	BaseURL         string
	SessionIdle     time.Duration
	SessionAbsolute time.Duration

	// AWS: SendOps's own credentials (the server's standard chain), used
	// only to assume customers' roles; the principal customers trust; and
	// whether a connection may name another endpoint (an emulator).
	AWSBase          aws.Config
	AWSPrincipal     string
	AllowAWSEndpoint bool
	// AWSEndpoints are the endpoints connections may name when
	// AllowAWSEndpoint is false (exact URLs).
	AWSEndpoints []string
	// SandboxEndpoint is the address of the emulator `sendops demo` runs
	// in the process: connections may name it even without
	// AllowAWSEndpoint. "" outside the sandbox.
	SandboxEndpoint string

	// DNS answers the live checks of identities' DNS records; nil:
	// net.DefaultResolver.
	DNS dnscheck.Resolver

	// Git template sources: GitAllowPrivate lets a source's URL reach a
	// host on a loopback, private or link-local address (a self-hosted Git
	// server on the private network); GitAllowFile lets it be a file://
	// URL or a local path (tests only, never from configuration).
	GitAllowPrivate bool
	GitAllowFile    bool

	// Template plans, pushes and drift run as jobs (see TemplateJob):
	// JobWait is how long a request waits for its job before it answers
	// with the job to follow (0: DefaultJobWait; negative: not at all).
	// TemplateCallInterval paces SES template calls per connection (0:
	// one a second to AWS, none to an emulator; negative: none).
	JobWait              time.Duration
	TemplateCallInterval time.Duration

	awsConfigs awsConfigCache
	pacer      templatePacer
	jobWaits   jobWaiters
}

// Client is where a request comes from, for sessions, throttling and audit.
type Client struct {
	IP        string
	UserAgent string
}

// Token lifetimes.
const (
	verifyTTL     = 48 * time.Hour
	resetTTL      = time.Hour
	inviteTTL     = 7 * 24 * time.Hour
	mfaPendingTTL = 10 * time.Minute
)

// Sign-in throttling: failures allowed per window, per account and per
// client address.
const (
	throttleWindow     = 15 * time.Minute
	maxAccountFailures = 10  // failures: cleared by a success
	maxClientAttempts  = 100 // attempts from one address, successes included
	maxMFAFailures     = 10
)

// audit appends an audit entry for the actor in its organisation.
func audit(ctx context.Context, tx *store.Tx, a *domain.Actor, action, target, details string) error {
	return store.AddAudit(ctx, tx, &domain.AuditEntry{
		OrgID: a.OrgID, ActorID: a.ID(), ActorName: a.Name(), Action: action, Target: target, IP: a.IP, Details: details,
	})
}

// auditUser appends an entry about a user's own account (sign-in, MFA) to
// every organisation the user belongs to, so their admins see it.
func auditUser(ctx context.Context, tx *store.Tx, u *domain.User, ip, action, details string) error {
	ms, err := store.UserMemberships(ctx, tx, u.ID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		a := &domain.Actor{OrgID: m.OrgID, UserID: u.ID, Email: u.Email, Role: m.Role, IP: ip}
		if err := audit(ctx, tx, a, action, u.Email, details); err != nil {
			return err
		}
	}
	return nil
}

// notice queues an email; it never fails the caller.
func (s *Service) notice(to, subject, text string) {
	if s.Notices == nil {
		return
	}
	s.Notices.Enqueue(notify.Message{To: to, Subject: subject, Text: text + "\n\n-- \nSendOps · " + s.BaseURL + "\n"})
}

// noticeIfWanted queues an optional notice when the user has not turned its
// kind off.
func (s *Service) noticeIfWanted(ctx context.Context, u *domain.User, kind, subject, text string) error {
	var prefs map[string]bool
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		prefs, err = store.NoticePrefs(ctx, tx, u.ID)
		return err
	})
	if err != nil {
		return err
	}
	if prefs[kind] {
		s.notice(u.Email, subject, text)
	}
	return nil
}

// Cleanup deletes expired sessions, tokens and throttle windows.
func (s *Service) Cleanup(ctx context.Context) (int64, error) {
	var n int64
	err := s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		n, err = store.DeleteExpired(ctx, tx, s.SessionIdle)
		return err
	})
	return n, err
}

// Run deletes expired rows every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
				s.Logger.Error("cleanup failed", "err", err)
			} else if n > 0 {
				s.Logger.Debug("cleanup", "deleted", n)
			}
		}
	}
}
