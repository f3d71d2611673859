// Package sesim is an in-process emulator of the AWS wire protocols SendOps
// uses: STS (query protocol), SES v2 (REST-JSON) and EventBridge (JSON 1.1),
// all served by one http.Handler and routed by the service named in the
// SigV4 credential scope of each request.
//
// Tests point the real AWS SDK for Go v2 clients at it through their
// BaseEndpoint, so serialisation, signing, typed errors and retries are the
// SDK's own. Sending plays the SES mailbox simulator and publishes the
// resulting events as AWS does: configuration set → EventBridge event
// destination → default bus → matching rules → API destination targets →
// HTTP POST of the EventBridge envelope, retried with backoff.
//
// State lives in memory, per account and region. Everything a test may need
// to arrange that the AWS APIs cannot (accounts, access keys, roles, account
// sending limits, identity verification) is set through the Go API.
package sesim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Options configures a Sim. The zero value is usable.
type Options struct {
	// Region is the default region of the Go API helpers (SetAccount,
	// SetIdentityStatus…). Requests use the region of their credential
	// scope. Default "us-east-1".
	Region string
	// Now is the simulator's clock: event timestamps, credential expiry,
	// suppression-list dates and the 24-hour sending window read it.
	// Default time.Now.
	Now func() time.Time
	// HTTPClient carries API destination invocations. Default: a client
	// with EventBridge's 5-second timeout.
	HTTPClient *http.Client
	// RetryBase is the first delay between API destination attempts; it
	// doubles on each retry up to RetryMax. Default 1s.
	RetryBase time.Duration
	// RetryMax caps the delay between attempts. Default 1 minute.
	RetryMax time.Duration
	// MaxAttempts bounds the attempts of one invocation (first try
	// included). A target's RetryPolicy.MaximumRetryAttempts lowers it.
	// Default 10 (AWS retries for up to 24 hours, 185 times).
	MaxAttempts int
	// PendingVerification leaves new identities (and MAIL FROM domains)
	// PENDING until SetIdentityStatus says otherwise, as on AWS before the
	// DNS records are published. By default they verify at once.
	PendingVerification bool
	// RequireHTTPS refuses API destinations whose endpoint is not https://,
	// as AWS does. Off by default so tests can use plain httptest servers.
	RequireHTTPS bool
	// Logger receives debug lines about deliveries. Secrets are never
	// logged. Default: discard.
	Logger *slog.Logger
}

// Sim is the emulator. Create it with New, serve Handler, and Close it to
// stop background deliveries.
type Sim struct {
	opts   Options
	log    *slog.Logger
	client *http.Client

	mu        sync.Mutex
	accounts  map[string]*account
	keys      map[string]*credential // by access key id
	throttles map[string]int         // operation name → answers left to throttle

	sesMuxOnce sync.Once
	sesMux     *http.ServeMux

	// deliveries
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	closed     bool
	pending    int
	idle       chan struct{} // closed when pending drops to 0
	changed    chan struct{} // closed (and replaced) whenever a delivery ends
	deliveries []Delivery
	limiters   map[string]*rateLimiter // by API destination ARN
}

// New returns a Sim with no accounts.
func New(opts Options) *Sim {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = time.Minute
	}
	if opts.RetryMax < opts.RetryBase {
		opts.RetryMax = opts.RetryBase
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &Sim{
		opts:      opts,
		log:       logger,
		client:    client,
		accounts:  make(map[string]*account),
		keys:      make(map[string]*credential),
		throttles: make(map[string]int),
		ctx:       ctx,
		cancel:    cancel,
		idle:      idle,
		changed:   make(chan struct{}),
		limiters:  make(map[string]*rateLimiter),
	}
}

// Region returns the default region.
func (s *Sim) Region() string { return s.opts.Region }

func (s *Sim) now() time.Time { return s.opts.Now().UTC() }

// account is one AWS account: its principals and its per-region state.
type account struct {
	id      string
	users   map[string]bool
	roles   map[string]*role
	regions map[string]*regionState
}

type role struct {
	name        string
	id          string // AROA…
	trusted     string // principal ARN allowed to assume it
	externalID  string
	permissions []string
	maxSession  time.Duration
}

// principal is who signed a request.
type principal struct {
	account string
	arn     string
	userID  string
	// name is what SES puts in the ses:caller-identity tag: the IAM user
	// name, "root", or the role name of an assumed-role session.
	name string
	// roleName is set for assumed-role sessions; permissions are read
	// from the role at each call, so changing a role takes effect at once.
	roleName string
}

// credential is an access key: long-term (user or root) or temporary.
type credential struct {
	id        string
	secret    string
	token     string // session token of temporary credentials
	expires   time.Time
	principal principal
}

// AddAccount registers an AWS account (a 12-digit id). Adding it again is a
// no-op.
func (s *Sim) AddAccount(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accountLocked(id)
}

func (s *Sim) accountLocked(id string) *account {
	a := s.accounts[id]
	if a == nil {
		a = &account{
			id:      id,
			users:   make(map[string]bool),
			roles:   make(map[string]*role),
			regions: make(map[string]*regionState),
		}
		s.accounts[id] = a
	}
	return a
}

// AddAccessKey issues a long-term access key for the account's root user
// (user "" or "root") or for the named IAM user, adding the account if it
// does not exist. Root and IAM users may call every operation.
func (s *Sim) AddAccessKey(accountID, user string) (id, secret string) {
	id = "AKIA" + randomUpper(16)
	secret = randomSecret(40)
	if err := s.ImportAccessKey(accountID, user, id, secret); err != nil {
		panic(err) // a fresh random id cannot collide in practice
	}
	return id, secret
}

// ImportAccessKey registers a caller-chosen access key, for a long-running
// emulator whose clients are configured ahead of time. It fails if the key
// id is already in use.
func (s *Sim) ImportAccessKey(accountID, user, id, secret string) error {
	if id == "" || secret == "" {
		return errors.New("sesim: access key id and secret are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; ok {
		return fmt.Errorf("sesim: access key %s already exists", id)
	}
	a := s.accountLocked(accountID)
	p := principal{account: accountID}
	if user == "" || user == "root" {
		p.arn = "arn:aws:iam::" + accountID + ":root"
		p.userID = accountID
		p.name = "root"
	} else {
		a.users[user] = true
		p.arn = "arn:aws:iam::" + accountID + ":user/" + user
		p.userID = "AIDA" + stableUpper(accountID+"/"+user, 17)
		p.name = user
	}
	s.keys[id] = &credential{id: id, secret: secret, principal: p}
	return nil
}

// AddRole creates (or replaces) an IAM role that trustedPrincipalARN may
// assume, with ExternalId externalID ("" for none), allowed the listed IAM
// actions ("ses:GetAccount", "ses:*", "events:PutRule", "*"…). A trusted
// principal of the form arn:aws:iam::ACCOUNT:root trusts every principal of
// that account; "" trusts the role's own account. It returns the role ARN.
func (s *Sim) AddRole(accountID, name, trustedPrincipalARN, externalID string, permissions []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(accountID)
	if trustedPrincipalARN == "" {
		trustedPrincipalARN = "arn:aws:iam::" + accountID + ":root"
	}
	a.roles[name] = &role{
		name:        name,
		id:          "AROA" + stableUpper(accountID+"/role/"+name, 17),
		trusted:     trustedPrincipalARN,
		externalID:  externalID,
		permissions: append([]string(nil), permissions...),
		maxSession:  time.Hour,
	}
	return roleARN(accountID, name)
}

// SetRolePermissions replaces the permissions of an existing role; sessions
// already issued see the change at their next call.
func (s *Sim) SetRolePermissions(accountID, name string, permissions []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	if a == nil || a.roles[name] == nil {
		return fmt.Errorf("sesim: role %s not found in account %s", name, accountID)
	}
	a.roles[name].permissions = append([]string(nil), permissions...)
	return nil
}

// DeleteRole removes a role; its sessions lose every permission.
func (s *Sim) DeleteRole(accountID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[accountID]; a != nil {
		delete(a.roles, name)
	}
}

func roleARN(accountID, name string) string {
	return "arn:aws:iam::" + accountID + ":role/" + name
}

// allowedLocked reports whether p may perform action (e.g. "ses:GetAccount").
func (s *Sim) allowedLocked(p principal, action string) bool {
	if p.roleName == "" {
		return true
	}
	a := s.accounts[p.account]
	if a == nil {
		return false
	}
	r := a.roles[p.roleName]
	if r == nil {
		return false
	}
	for _, perm := range r.permissions {
		if actionMatches(perm, action) {
			return true
		}
	}
	return false
}

// actionMatches matches an IAM action pattern with * and ? wildcards,
// case-insensitively as IAM does.
func actionMatches(pattern, action string) bool {
	ok, err := path.Match(strings.ToLower(pattern), strings.ToLower(action))
	return err == nil && ok
}

// Throttle makes the next n calls of the named operation ("GetAccount",
// "PutRule", "AssumeRole"…), from any caller, fail with the service's
// throttling error (TooManyRequestsException 429 for SES, ThrottlingException
// for EventBridge, Throttling for STS), which the SDK retries.
func (s *Sim) Throttle(operation string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttles[operation] = n
}

func (s *Sim) throttledLocked(operation string) bool {
	if s.throttles[operation] > 0 {
		s.throttles[operation]--
		return true
	}
	return false
}
