package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"sendops/internal/domain"
	"sendops/internal/gitsrc"
	"sendops/internal/secret"
	"sendops/internal/store"
	"sendops/internal/templates"
	"sendops/internal/textdiff"
)

// Templates as code: an organisation adds the Git repositories its email
// templates live in (template sources); SendOps reads them (never writes),
// maps their files to SES templates, keeps each template's history, lints
// and renders any version. This file holds the sources and what they
// hold; templates_sync.go the syncs, their schedule and webhooks.

// RepoTemplate is one SES template's content as a source's repository
// defines it at a commit: what a push sends to SES.
type RepoTemplate struct {
	Name     string
	Subject  string
	HTML     string
	Text     string
	Data     string // sample data (a JSON object), "" when none
	BlobHash string // content hash of Subject, HTML, Text and Data (templateHash)
}

// Seal contexts of a source's secrets (see store.SealedColumns).
func sourceAuthContext(orgID, id string) string { return "template-source-auth:" + orgID + ":" + id }
func sourceHookContext(orgID, id string) string { return "template-source-hook:" + orgID + ":" + id }

// Auth kinds of a source.
const (
	AuthNone   = "none"
	AuthToken  = "token"
	AuthSSHKey = "ssh_key"
)

// Limits of a source's schedule, in minutes.
const (
	MinSyncInterval = 5
	MaxSyncInterval = 7 * 24 * 60
)

// TemplateSource is a Git repository an organisation reads its templates
// from, as users see it: its token or deploy key and its webhook secret
// are never shown.
type TemplateSource struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	URL    string `json:"url"`
	Branch string `json:"branch"`
	// AuthKind: "none", "token" or "ssh_key".
	AuthKind      string `json:"auth_kind"`
	AuthUsername  string `json:"auth_username,omitempty"`
	HasKnownHosts bool   `json:"ssh_known_hosts"`
	// Mapping is the user's mapping rules; nil: the repository's own
	// (its sendops.json manifest and front matter).
	Mapping             *templates.Mapping `json:"mapping"`
	SyncIntervalMinutes int                `json:"sync_interval_minutes"`
	// HookURL is where the repository's host posts push webhooks.
	HookURL string `json:"webhook_url"`
	// SyncedCommit is the last good state ("" before the first good sync);
	// LastError the last failed sync's sentence ("" after a good one).
	SyncedCommit string     `json:"synced_commit"`
	SyncedAt     *time.Time `json:"synced_at"`
	LastError    string     `json:"last_error"`
	LastErrorAt  *time.Time `json:"last_error_at"`
	NextSyncAt   *time.Time `json:"next_sync_at"`
	// SyncPending: a webhook asked for a sync that has not started yet.
	SyncPending bool      `json:"sync_pending"`
	Syncing     bool      `json:"syncing"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

func (s *Service) sourceView(src *store.TemplateSource, now time.Time) *TemplateSource {
	v := &TemplateSource{
		ID: src.ID, Name: src.Name, URL: src.URL, Branch: src.Branch, AuthKind: src.AuthKind, AuthUsername: src.AuthUsername,
		HasKnownHosts: src.SSHKnownHosts != "", SyncIntervalMinutes: src.SyncIntervalMinutes, HookURL: s.hookURL(src.ID),
		SyncedCommit: src.SyncedCommit, SyncedAt: src.SyncedAt, LastError: src.LastError, LastErrorAt: src.LastErrorAt,
		NextSyncAt: src.NextSyncAt, SyncPending: src.SyncRequestedAt != nil, CreatedAt: src.CreatedAt, CreatedBy: src.CreatedBy,
		Syncing: src.LeaseUntil != nil && src.LeaseUntil.After(now),
	}
	if m, err := parseMapping(src.Mapping); err == nil {
		v.Mapping = m
	}
	return v
}

func (s *Service) hookURL(id string) string {
	return strings.TrimRight(s.BaseURL, "/") + "/hooks/git/" + id
}

// parseMapping reads a stored mapping; "" is nil (the repository's own).
func parseMapping(stored string) (*templates.Mapping, error) {
	if stored == "" {
		return nil, nil
	}
	var m templates.Mapping
	if err := json.Unmarshal([]byte(stored), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// storeMapping writes a mapping for storage: "" when it has neither
// templates nor rules (the repository's own mapping applies).
func storeMapping(m *templates.Mapping) (string, error) {
	if m == nil || (len(m.Templates) == 0 && len(m.Rules) == 0) {
		return "", nil
	}
	for i, r := range m.Rules {
		if _, err := templates.CompileGlob(r.HTML); err != nil {
			return "", domain.FieldError("mapping", "Rule %d: %v.", i+1, strings.TrimSuffix(err.Error(), "."))
		}
	}
	for i, e := range m.Templates {
		if strings.TrimSpace(e.Name) == "" {
			return "", domain.FieldError("mapping", "Template %d of the mapping needs a name.", i+1)
		}
		if e.HTML == "" && e.Text == "" {
			return "", domain.FieldError("mapping", "Template %q of the mapping names neither an html nor a text file.", e.Name)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	if len(b) > 64<<10 {
		return "", domain.FieldError("mapping", "The mapping is larger than 64 KiB.")
	}
	return string(b), nil
}

// GitAuth is how SendOps authenticates to a repository's host: a token
// for an https:// URL (Username defaults to x-access-token, which GitHub,
// GitLab and Gitea accept), or an SSH deploy key for an ssh:// or
// git@host:path URL, with the host's known_hosts lines to pin its key
// (without them any host key is accepted). All empty: no credentials.
type GitAuth struct {
	Username   string `json:"username,omitempty"`
	Token      string `json:"token,omitempty"`
	SSHKey     string `json:"ssh_key,omitempty"`
	KnownHosts string `json:"known_hosts,omitempty"`
}

// TemplateSourceInput is what a user gives for a new source.
type TemplateSourceInput struct {
	Name   string  `json:"name"`
	URL    string  `json:"url"`
	Branch string  `json:"branch,omitempty"` // default "main"
	Auth   GitAuth `json:"auth"`
	// Mapping maps the repository's files to templates; nil (or empty):
	// the repository's own manifest and front matter.
	Mapping *templates.Mapping `json:"mapping,omitempty"`
	// SyncIntervalMinutes schedules a sync every so many minutes
	// (MinSyncInterval to MaxSyncInterval); 0: by hand and webhook only.
	SyncIntervalMinutes int `json:"sync_interval_minutes,omitempty"`
}

// TemplateSourceUpdate changes a source; nil fields stay as they are.
type TemplateSourceUpdate struct {
	Name   *string `json:"name,omitempty"`
	Branch *string `json:"branch,omitempty"`
	// Auth replaces the credentials (all empty: none).
	Auth *GitAuth `json:"auth,omitempty"`
	// Mapping replaces the mapping; an empty one ({}) goes back to the
	// repository's own.
	Mapping             *templates.Mapping `json:"mapping,omitempty"`
	SyncIntervalMinutes *int               `json:"sync_interval_minutes,omitempty"`
}

// CreatedTemplateSource is the answer to adding a source: the webhook
// secret is shown this once.
type CreatedTemplateSource struct {
	Source        *TemplateSource `json:"source"`
	WebhookURL    string          `json:"webhook_url"`
	WebhookSecret string          `json:"webhook_secret"`
	// Sync is the first sync's result: a failed one (a template that does
	// not parse, say) leaves the source added, with its error.
	Sync *TemplateSync `json:"sync"`
}

// WebhookSecret is a source's new webhook secret, shown once.
type WebhookSecret struct {
	WebhookURL    string `json:"webhook_url"`
	WebhookSecret string `json:"webhook_secret"`
}

// checkBranch reads a branch name ("" is "main"), as Fetch takes it.
func checkBranch(b string) (string, error) {
	b = strings.TrimPrefix(strings.TrimSpace(b), "refs/heads/")
	if b == "" {
		return "main", nil
	}
	if err := gitsrc.CheckBranch(b); err != nil {
		return "", domain.FieldError("branch", "%s", err.Error())
	}
	return b, nil
}

// sealedAuth is a source's credentials as stored.
type sealedAuth struct {
	kind, username, plain, knownHosts string
}

// checkAuth checks credentials against the URL they are for.
func checkAuth(url string, in GitAuth) (sealedAuth, error) {
	in.Username, in.Token, in.KnownHosts = strings.TrimSpace(in.Username), strings.TrimSpace(in.Token), strings.TrimSpace(in.KnownHosts)
	kind, err := gitsrc.Kind(url)
	if err != nil {
		return sealedAuth{}, domain.FieldError("url", "%s", err.Error())
	}
	switch {
	case in.Token != "" && in.SSHKey != "":
		return sealedAuth{}, domain.FieldError("auth", "Give a token or a deploy key, not both.")
	case in.Token != "":
		if kind == "ssh" {
			return sealedAuth{}, domain.FieldError("auth", "A token works with an https:// URL; for an SSH URL give a deploy key.")
		}
		if in.KnownHosts != "" {
			return sealedAuth{}, domain.FieldError("auth", "Known hosts pin an SSH server's key; an https:// URL does not use them.")
		}
		if len(in.Token) > 4096 || len(in.Username) > 200 {
			return sealedAuth{}, domain.FieldError("auth", "The token or user name is too long.")
		}
		return sealedAuth{kind: AuthToken, username: in.Username, plain: in.Token}, nil
	case strings.TrimSpace(in.SSHKey) != "":
		if kind == "https" || kind == "http" {
			return sealedAuth{}, domain.FieldError("auth", "A deploy key works with an SSH URL (ssh:// or git@host:path); for an https:// URL give a token.")
		}
		if in.Username != "" {
			return sealedAuth{}, domain.FieldError("auth", "An SSH URL names its user (git@…); give no user name.")
		}
		if len(in.SSHKey) > 64<<10 || len(in.KnownHosts) > 64<<10 {
			return sealedAuth{}, domain.FieldError("auth", "The deploy key or known hosts are too long.")
		}
		return sealedAuth{kind: AuthSSHKey, plain: strings.TrimSpace(in.SSHKey) + "\n", knownHosts: in.KnownHosts}, nil
	case in.Username != "" || in.KnownHosts != "":
		return sealedAuth{}, domain.FieldError("auth", "Give a token (with the user name) or a deploy key (with the known hosts).")
	}
	return sealedAuth{kind: AuthNone}, nil
}

func (a sealedAuth) gitAuth() gitsrc.Auth {
	switch a.kind {
	case AuthToken:
		return gitsrc.Auth{Username: a.username, Token: a.plain}
	case AuthSSHKey:
		return gitsrc.Auth{SSHKey: []byte(a.plain), SSHKnownHosts: []byte(a.knownHosts)}
	}
	return gitsrc.Auth{}
}

// openAuth opens a stored source's credentials.
func (s *Service) openAuth(src *store.TemplateSource) (gitsrc.Auth, error) {
	a := sealedAuth{kind: src.AuthKind, username: src.AuthUsername, knownHosts: src.SSHKnownHosts}
	if src.AuthSecret != "" {
		plain, err := s.Keyring.Open(src.AuthSecret, sourceAuthContext(src.OrgID, src.ID))
		if err != nil {
			return gitsrc.Auth{}, fmt.Errorf("open the credentials of template source %s: %w", src.ID, err)
		}
		a.plain = plain
	}
	return a.gitAuth(), nil
}

func (s *Service) gitOptions() gitsrc.Options {
	return gitsrc.Options{AllowFile: s.GitAllowFile, AllowPrivate: s.GitAllowPrivate}
}

// fetchTimeout bounds a fetch a user waits for (adding a source, a
// preview, a sync by hand).
const fetchTimeout = 2 * time.Minute

// gitError is the sentence a user sees for a fetch that failed: gitsrc's
// own for what it recognises; other failures are logged.
func (s *Service) gitError(ctx context.Context, err error) string {
	for _, k := range []error{gitsrc.ErrURL, gitsrc.ErrAuth, gitsrc.ErrNotFound, gitsrc.ErrTooLarge, gitsrc.ErrNetwork, gitsrc.ErrNoCommits} {
		if errors.Is(err, k) {
			return err.Error()
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "Fetching the repository took too long."
	}
	s.Logger.ErrorContext(ctx, "git fetch failed", "err", err)
	return "Fetching the repository failed."
}

// fetchField fetches for a form: a failure is an EInvalid error on the
// field at fault.
func (s *Service) fetchField(ctx context.Context, src gitsrc.Source) (*gitsrc.Repo, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	repo, err := gitsrc.Fetch(ctx, src, s.gitOptions())
	if err == nil {
		return repo, nil
	}
	field := "url"
	switch {
	case errors.Is(err, gitsrc.ErrAuth):
		field = "auth"
	case errors.Is(err, gitsrc.ErrNotFound) && strings.Contains(err.Error(), "branch"), errors.Is(err, gitsrc.ErrNoCommits):
		field = "branch"
	}
	return nil, domain.FieldError(field, "%s", s.gitError(ctx, err))
}

// CreateTemplateSource adds a repository: it fetches the branch first (a
// URL, branch or credentials that do not work are refused, and nothing is
// stored), then stores the source and runs its first sync. The answer
// holds the webhook secret, shown this once. Developers and up, or write
// keys. Errors: EForbidden, EInvalid (per field: name, url, branch, auth,
// mapping, sync_interval_minutes).
func (s *Service) CreateTemplateSource(ctx context.Context, a *domain.Actor, in TemplateSourceInput) (*CreatedTemplateSource, error) {
	if err := a.Require(domain.ActTemplatesManage); err != nil {
		return nil, err
	}
	name, err := checkName("name", "a name", in.Name)
	if err != nil {
		return nil, err
	}
	url := strings.TrimSpace(in.URL)
	if err := gitsrc.ValidateURL(url, s.gitOptions()); err != nil {
		return nil, domain.FieldError("url", "%s", s.gitError(ctx, err))
	}
	branch, err := checkBranch(in.Branch)
	if err != nil {
		return nil, err
	}
	auth, err := checkAuth(url, in.Auth)
	if err != nil {
		return nil, err
	}
	mapping, err := storeMapping(in.Mapping)
	if err != nil {
		return nil, err
	}
	if err := checkInterval(in.SyncIntervalMinutes); err != nil {
		return nil, err
	}
	repo, err := s.fetchField(ctx, gitsrc.Source{URL: url, Branch: branch, Auth: auth.gitAuth()})
	if err != nil {
		return nil, err
	}

	owner := domain.NewID()
	hook := secret.Token("")
	src := &store.TemplateSource{
		OrgID: a.OrgID, ID: domain.NewID(), Name: name, URL: url, Branch: branch, AuthKind: auth.kind, AuthUsername: auth.username,
		SSHKnownHosts: auth.knownHosts, Mapping: mapping, SyncIntervalMinutes: in.SyncIntervalMinutes, CreatedBy: a.Name(),
		LeaseOwner: owner,
	}
	if auth.plain != "" {
		src.AuthSecret = s.Keyring.Seal(auth.plain, sourceAuthContext(src.OrgID, src.ID))
	}
	src.WebhookSecret = s.Keyring.Seal(hook, sourceHookContext(src.OrgID, src.ID))
	// The first sync, of what was just fetched; stored with the source in
	// one transaction.
	o, err := s.findSync(ctx, src, "create", repo)
	if err != nil {
		return nil, err
	}
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		// The creator holds the lease until its first sync is stored.
		until := tx.Now().Add(syncLease)
		src.LeaseUntil = &until
		if err := store.CreateTemplateSource(ctx, tx, src); err != nil {
			return err
		}
		how := "no credentials"
		switch auth.kind {
		case AuthToken:
			how = "a token"
		case AuthSSHKey:
			how = "a deploy key"
		}
		if err := audit(ctx, tx, a, "template_source.created", name, url+" "+branch+", "+how); err != nil {
			return err
		}
		return s.storeSync(ctx, tx, a, src, owner, o)
	})
	if err != nil {
		return nil, err
	}
	out := &CreatedTemplateSource{WebhookURL: s.hookURL(src.ID), WebhookSecret: hook, Sync: syncView(o.run)}
	if out.Source, err = s.GetTemplateSource(ctx, a, src.ID); err != nil {
		return nil, err
	}
	return out, nil
}

func checkInterval(n int) error {
	if n != 0 && (n < MinSyncInterval || n > MaxSyncInterval) {
		return domain.FieldError("sync_interval_minutes", "Sync every %d to %d minutes, or 0 for no schedule.", MinSyncInterval, MaxSyncInterval)
	}
	return nil
}

// nextRun is when a source's schedule syncs next after t; nil without a
// schedule.
func nextRun(interval int, t time.Time) *time.Time {
	if interval <= 0 {
		return nil
	}
	n := t.Add(time.Duration(interval) * time.Minute)
	return &n
}

// TemplateSources lists the organisation's sources. Anyone in the
// organisation, or read keys. Errors: EForbidden.
func (s *Service) TemplateSources(ctx context.Context, a *domain.Actor) ([]TemplateSource, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	out := []TemplateSource{}
	err := s.DB.View(ctx, func(tx *store.Tx) error {
		srcs, err := store.TemplateSourcesOf(ctx, tx, a.OrgID)
		for i := range srcs {
			out = append(out, *s.sourceView(&srcs[i], tx.Now()))
		}
		return err
	})
	return out, err
}

// GetTemplateSource returns one source. Anyone in the organisation, or
// read keys. Errors: EForbidden, ENotFound.
func (s *Service) GetTemplateSource(ctx context.Context, a *domain.Actor, id string) (*TemplateSource, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	var out *TemplateSource
	err := s.DB.View(ctx, func(tx *store.Tx) error {
		src, err := store.TemplateSourceByID(ctx, tx, a.OrgID, id)
		if err == nil {
			out = s.sourceView(src, tx.Now())
		}
		return err
	})
	return out, err
}

// TemplateSourceInOrg returns ENotFound unless the source id is one of
// the actor's organisation (whatever the actor may do with it): the web
// layer asks it before it judges a request on the source.
func (s *Service) TemplateSourceInOrg(ctx context.Context, a *domain.Actor, id string) error {
	if a == nil {
		return domain.Errorf(domain.ENotFound, "Template source not found.")
	}
	return s.DB.View(ctx, func(tx *store.Tx) error {
		_, err := store.TemplateSourceByID(ctx, tx, a.OrgID, id)
		return err
	})
}

// UpdateTemplateSource changes a source's name, branch, credentials,
// mapping or schedule. New credentials or a new branch are tried first
// (refused, nothing changes, when they do not work). A change of branch,
// credentials or mapping asks for a sync. Developers and up, or write
// keys. Errors: EForbidden, ENotFound, EInvalid (per field).
func (s *Service) UpdateTemplateSource(ctx context.Context, a *domain.Actor, id string, in TemplateSourceUpdate) (*TemplateSource, error) {
	if err := a.Require(domain.ActTemplatesManage); err != nil {
		return nil, err
	}
	var src *store.TemplateSource
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		src, err = store.TemplateSourceByID(ctx, tx, a.OrgID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	next := *src
	var changed []string
	if in.Name != nil {
		if next.Name, err = checkName("name", "a name", *in.Name); err != nil {
			return nil, err
		}
		if next.Name != src.Name {
			changed = append(changed, "name")
		}
	}
	refetch := false
	if in.Branch != nil {
		if next.Branch, err = checkBranch(*in.Branch); err != nil {
			return nil, err
		}
		if next.Branch != src.Branch {
			changed, refetch = append(changed, "branch "+next.Branch), true
		}
	}
	auth, err := s.openAuth(src)
	if err != nil {
		return nil, err
	}
	if in.Auth != nil {
		sa, err := checkAuth(src.URL, *in.Auth)
		if err != nil {
			return nil, err
		}
		next.AuthKind, next.AuthUsername, next.SSHKnownHosts, next.AuthSecret = sa.kind, sa.username, sa.knownHosts, ""
		if sa.plain != "" {
			next.AuthSecret = s.Keyring.Seal(sa.plain, sourceAuthContext(src.OrgID, src.ID))
		}
		auth = sa.gitAuth()
		changed, refetch = append(changed, "credentials"), true
	}
	mappingChanged := false
	if in.Mapping != nil {
		if next.Mapping, err = storeMapping(in.Mapping); err != nil {
			return nil, err
		}
		if next.Mapping != src.Mapping {
			changed, mappingChanged = append(changed, "mapping"), true
		}
	}
	if in.SyncIntervalMinutes != nil {
		if err := checkInterval(*in.SyncIntervalMinutes); err != nil {
			return nil, err
		}
		if *in.SyncIntervalMinutes != src.SyncIntervalMinutes {
			next.SyncIntervalMinutes = *in.SyncIntervalMinutes
			changed = append(changed, fmt.Sprintf("schedule every %d minutes", next.SyncIntervalMinutes))
		}
	}
	if refetch {
		if _, err := s.fetchField(ctx, gitsrc.Source{URL: src.URL, Branch: next.Branch, Auth: auth}); err != nil {
			return nil, err
		}
	}
	var out *TemplateSource
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		// Apply the changes to the source as it is now: a sync may have
		// finished meanwhile (and moved its next run).
		cur, err := store.TemplateSourceByID(ctx, tx, a.OrgID, id)
		if err != nil {
			return err
		}
		cur.Name, cur.Branch = next.Name, next.Branch
		if mappingChanged && next.Mapping != cur.Mapping {
			cur.Mapping, cur.MappingChangedBy = next.Mapping, a.Name()
		}
		if in.Auth != nil {
			cur.AuthKind, cur.AuthUsername, cur.SSHKnownHosts, cur.AuthSecret = next.AuthKind, next.AuthUsername, next.SSHKnownHosts, next.AuthSecret
		}
		if next.SyncIntervalMinutes != cur.SyncIntervalMinutes {
			cur.SyncIntervalMinutes = next.SyncIntervalMinutes
			from := tx.Now()
			if cur.SyncedAt != nil && cur.SyncedAt.Before(from) {
				from = *cur.SyncedAt
			}
			cur.NextSyncAt = nextRun(cur.SyncIntervalMinutes, from)
		}
		if err := store.UpdateTemplateSource(ctx, tx, cur); err != nil {
			return err
		}
		if refetch || mappingChanged {
			if err := store.RequestTemplateSync(ctx, tx, a.OrgID, id, "manual"); err != nil {
				return err
			}
		}
		if len(changed) > 0 {
			if err := audit(ctx, tx, a, "template_source.updated", next.Name, strings.Join(changed, ", ")); err != nil {
				return err
			}
		}
		if cur, err = store.TemplateSourceByID(ctx, tx, a.OrgID, id); err == nil {
			out = s.sourceView(cur, tx.Now())
		}
		return err
	})
	return out, err
}

// DeleteTemplateSource removes a source with its history from SendOps
// (the repository and SES are left as they are). Developers and up, or
// write keys. Errors: EForbidden, ENotFound.
func (s *Service) DeleteTemplateSource(ctx context.Context, a *domain.Actor, id string) error {
	if err := a.Require(domain.ActTemplatesManage); err != nil {
		return err
	}
	return s.DB.Update(ctx, func(tx *store.Tx) error {
		src, err := store.TemplateSourceByID(ctx, tx, a.OrgID, id)
		if err != nil {
			return err
		}
		if err := store.DeleteTemplateSource(ctx, tx, a.OrgID, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "template_source.deleted", src.Name, src.URL)
	})
}

// RotateWebhookSecret gives a source a new webhook secret, shown this
// once; the old one stops working at once. Developers and up, or write
// keys. Errors: EForbidden, ENotFound.
func (s *Service) RotateWebhookSecret(ctx context.Context, a *domain.Actor, id string) (*WebhookSecret, error) {
	if err := a.Require(domain.ActTemplatesManage); err != nil {
		return nil, err
	}
	hook := secret.Token("")
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		src, err := store.TemplateSourceByID(ctx, tx, a.OrgID, id)
		if err != nil {
			return err
		}
		if err := store.SetTemplateSourceWebhookSecret(ctx, tx, a.OrgID, id, s.Keyring.Seal(hook, sourceHookContext(a.OrgID, id))); err != nil {
			return err
		}
		return audit(ctx, tx, a, "template_source.webhook_secret_rotated", src.Name, "the old secret no longer works")
	})
	if err != nil {
		return nil, err
	}
	return &WebhookSecret{WebhookURL: s.hookURL(id), WebhookSecret: hook}, nil
}

// TemplateProblem is something wrong with a template or a mapping, at a
// place in a file of the repository (or, for a stored version, in one of
// its parts: subject, html, text or data).
type TemplateProblem struct {
	Template string `json:"template,omitempty"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"` // error or warning
	Message  string `json:"message"`
}

// String is the problem as lint prints it: file:line:col: severity: message.
func (p TemplateProblem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", p.File, max(p.Line, 1), max(p.Col, 1), p.Severity, p.Message)
}

func problemsOf(ps []templates.Problem) []TemplateProblem {
	out := make([]TemplateProblem, 0, len(ps))
	for _, p := range ps {
		out = append(out, TemplateProblem{Template: p.Template, File: p.File, Line: max(p.Line, 1), Col: max(p.Col, 1), Severity: p.Severity.String(), Message: p.Message})
	}
	return out
}

// TemplateFiles are the files a template's parts come from.
type TemplateFiles struct {
	Subject string `json:"subject,omitempty"` // the file that gives the subject (front matter or manifest)
	HTML    string `json:"html,omitempty"`
	Text    string `json:"text,omitempty"`
	Data    string `json:"data,omitempty"`
}

func filesOf(t templates.Template) TemplateFiles {
	return TemplateFiles{Subject: t.Subject.File, HTML: t.HTML.File, Text: t.Text.File, Data: t.Data.File}
}

// Commit is a commit of a source's branch.
type Commit struct {
	Hash        string    `json:"hash"`
	Author      string    `json:"author"`
	AuthorEmail string    `json:"author_email"`
	When        time.Time `json:"date"`
	Message     string    `json:"message"`
}

// PreviewInput is a repository and mapping to try before saving: a new
// one (URL, branch, credentials), or a saved source (SourceID) with its
// URL and credentials, perhaps another branch or mapping.
type PreviewInput struct {
	SourceID string   `json:"source_id,omitempty"`
	URL      string   `json:"url,omitempty"`
	Branch   string   `json:"branch,omitempty"`
	Auth     *GitAuth `json:"auth,omitempty"`
	// Mapping to try; nil: the repository's own (for a saved source
	// without Mapping: its saved mapping).
	Mapping *templates.Mapping `json:"mapping,omitempty"`
}

// MappingPreview is what a mapping makes of a repository's branch head.
type MappingPreview struct {
	Commit Commit `json:"commit"`
	// MappingFrom says which mapping applied: "mapping" (the rules given),
	// "sendops.json" (the repository's manifest) or "front matter" (none:
	// HTML files whose front matter names them).
	MappingFrom string             `json:"mapping_from"`
	Mapping     *templates.Mapping `json:"mapping"`
	// Rules is what each glob rule matched, in the mapping's order.
	Rules     []RuleMatch       `json:"rules"`
	Templates []PreviewTemplate `json:"templates"`
	// Problems of the mapping (missing files, name collisions) and of the
	// templates (lint); Errors counts the errors among them.
	Problems []TemplateProblem `json:"problems"`
	Errors   int               `json:"errors"`
	// WouldSync is false when a sync would fail (mapping errors or a
	// template that does not parse), with the reason.
	WouldSync bool   `json:"would_sync"`
	Reason    string `json:"reason,omitempty"`
}

// RuleMatch is a glob rule and the templates it mapped.
type RuleMatch struct {
	HTML      string   `json:"html"`
	Name      string   `json:"name"`
	Origin    string   `json:"origin"`
	Templates []string `json:"templates"`
}

// PreviewTemplate is a template as a mapping makes it.
type PreviewTemplate struct {
	Name    string        `json:"name"`
	Origin  string        `json:"origin"`
	Files   TemplateFiles `json:"files"`
	Subject string        `json:"subject"`
}

// PreviewMapping fetches a repository and shows what a mapping makes of
// its branch head, before anything is saved: each rule's templates (names,
// files, origin), the problems (name collisions included) and whether a
// sync would succeed. Developers and up, or write keys (it uses
// credentials). Errors: EForbidden, ENotFound (source), EInvalid (per
// field, as CreateTemplateSource).
func (s *Service) PreviewMapping(ctx context.Context, a *domain.Actor, in PreviewInput) (*MappingPreview, error) {
	if err := a.Require(domain.ActTemplatesManage); err != nil {
		return nil, err
	}
	var gs gitsrc.Source
	mapping := in.Mapping
	if in.SourceID != "" {
		var src *store.TemplateSource
		err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
			src, err = store.TemplateSourceByID(ctx, tx, a.OrgID, in.SourceID)
			return err
		})
		if err != nil {
			return nil, err
		}
		if in.URL != "" && strings.TrimSpace(in.URL) != src.URL {
			return nil, domain.FieldError("url", "A saved source's URL does not change; add another source for another repository.")
		}
		gs.URL, gs.Branch = src.URL, src.Branch
		if gs.Auth, err = s.openAuth(src); err != nil {
			return nil, err
		}
		if mapping == nil {
			if mapping, err = parseMapping(src.Mapping); err != nil {
				return nil, err
			}
		}
	} else {
		gs.URL = strings.TrimSpace(in.URL)
		if err := gitsrc.ValidateURL(gs.URL, s.gitOptions()); err != nil {
			return nil, domain.FieldError("url", "%s", s.gitError(ctx, err))
		}
	}
	if in.Branch != "" || in.SourceID == "" {
		b, err := checkBranch(in.Branch)
		if err != nil {
			return nil, err
		}
		gs.Branch = b
	}
	if in.Auth != nil {
		sa, err := checkAuth(gs.URL, *in.Auth)
		if err != nil {
			return nil, err
		}
		gs.Auth = sa.gitAuth()
	}
	if _, err := storeMapping(mapping); err != nil {
		return nil, err
	}
	if mapping != nil && len(mapping.Templates) == 0 && len(mapping.Rules) == 0 {
		mapping = nil
	}
	repo, err := s.fetchField(ctx, gs)
	if err != nil {
		return nil, err
	}
	head := repo.Head()
	fsys, err := repo.FS(head.Hash)
	if err != nil {
		return nil, err
	}
	out := &MappingPreview{Commit: commitOf(head), MappingFrom: "mapping", Mapping: mapping, Rules: []RuleMatch{}, Templates: []PreviewTemplate{}}
	if mapping == nil {
		m, _ := templates.ReadManifest(fsys)
		if m != nil {
			out.MappingFrom, out.Mapping = templates.ManifestFile, m
		} else {
			out.MappingFrom = "front matter"
		}
	}
	ts, probs := templates.Load(fsys, mapping)
	st := judge(ts, probs)
	byOrigin := map[string][]string{}
	for _, t := range ts {
		out.Templates = append(out.Templates, PreviewTemplate{Name: t.Name, Origin: t.Origin, Files: filesOf(t), Subject: t.Subject.Source})
		byOrigin[t.Origin] = append(byOrigin[t.Origin], t.Name)
	}
	if out.Mapping != nil {
		for _, r := range out.Mapping.Rules {
			origin := fmt.Sprintf("rule %q", r.HTML)
			name := r.Name
			if name == "" {
				name = "{name}"
			}
			names := byOrigin[origin]
			if names == nil {
				names = []string{}
			}
			out.Rules = append(out.Rules, RuleMatch{HTML: r.HTML, Name: name, Origin: origin, Templates: names})
		}
	}
	all := append(append([]templates.Problem{}, probs...), st.lint...)
	templates.SortProblems(all)
	out.Problems = problemsOf(all)
	for _, p := range all {
		if p.Severity == templates.Error {
			out.Errors++
		}
	}
	out.WouldSync, out.Reason = st.failure == "", st.failure
	return out, nil
}

func commitOf(c gitsrc.Commit) Commit {
	return Commit{Hash: c.Hash, Author: c.Author, AuthorEmail: c.AuthorEmail, When: c.When.UTC(), Message: c.Message}
}

// SourceTemplate is a template at a source's synced commit.
type SourceTemplate struct {
	Name     string            `json:"name"`
	Origin   string            `json:"origin"`
	Files    TemplateFiles     `json:"files"`
	Hash     string            `json:"hash"`
	Problems []TemplateProblem `json:"problems"`
	Errors   int               `json:"errors"`
	Warnings int               `json:"warnings"`
	// Changed is the last commit that changed it.
	Changed *TemplateVersion `json:"changed"`
}

// SourceTemplates lists the templates of a source at its synced commit
// (its last good state), with what lint found. Anyone in the
// organisation, or read keys. Errors: EForbidden, ENotFound.
func (s *Service) SourceTemplates(ctx context.Context, a *domain.Actor, sourceID string) ([]SourceTemplate, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	out := []SourceTemplate{}
	err := s.DB.View(ctx, func(tx *store.Tx) error {
		if _, err := store.TemplateSourceByID(ctx, tx, a.OrgID, sourceID); err != nil {
			return err
		}
		ts, err := store.SourceTemplatesOf(ctx, tx, a.OrgID, sourceID, false)
		if err != nil {
			return err
		}
		latest, _, err := store.LatestTemplateVersions(ctx, tx, a.OrgID, sourceID)
		if err != nil {
			return err
		}
		for _, t := range ts {
			st := sourceTemplateView(t)
			if v, ok := latest[t.Name]; ok {
				st.Changed = versionView(v)
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

func sourceTemplateView(t store.SourceTemplate) SourceTemplate {
	st := SourceTemplate{Name: t.Name, Origin: t.Origin, Hash: t.BlobHash, Problems: []TemplateProblem{}}
	json.Unmarshal([]byte(t.Files), &st.Files)
	if t.Problems != "" {
		json.Unmarshal([]byte(t.Problems), &st.Problems)
	}
	for _, p := range st.Problems {
		if p.Severity == "error" {
			st.Errors++
		} else {
			st.Warnings++
		}
	}
	return st
}

// TemplateVersion is a commit that changed a template, or a change of
// the source's mapping.
type TemplateVersion struct {
	Commit      string    `json:"commit"`
	Author      string    `json:"author"`
	AuthorEmail string    `json:"author_email"`
	Date        time.Time `json:"date"`
	Message     string    `json:"message"`
	// Removed: the commit removed the template (or its mapping did).
	Removed bool   `json:"removed"`
	Hash    string `json:"hash,omitempty"`
	// Cause is "commit", or "mapping" for a change no commit made: the
	// source's mapping changed (Author is then SendOps, the message says
	// who changed it, Commit is the commit the new mapping was applied to
	// and Date when).
	Cause string `json:"cause"`
}

func versionView(v store.TemplateVersion) *TemplateVersion {
	return &TemplateVersion{Commit: v.Commit, Author: v.Author, AuthorEmail: v.AuthorEmail, Date: v.CommittedAt, Message: v.Message,
		Removed: v.BlobHash == "", Hash: v.BlobHash, Cause: v.Cause}
}

// TemplateHistory lists the commits that changed a template of a source,
// newest first. Anyone in the organisation, or read keys. Errors:
// EForbidden, ENotFound (source, or a name that never was a template).
func (s *Service) TemplateHistory(ctx context.Context, a *domain.Actor, sourceID, name string) ([]TemplateVersion, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	var out []TemplateVersion
	err := s.DB.View(ctx, func(tx *store.Tx) error {
		if _, err := store.TemplateSourceByID(ctx, tx, a.OrgID, sourceID); err != nil {
			return err
		}
		vs, err := store.TemplateVersions(ctx, tx, a.OrgID, sourceID, name)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return templateNotFound(name)
		}
		for _, v := range vs {
			out = append(out, *versionView(v))
		}
		return nil
	})
	return out, err
}

func templateNotFound(name string) error {
	return domain.Errorf(domain.ENotFound, "The source has no template %q.", name)
}

// TemplateContent is a template's content at a commit.
type TemplateContent struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
	Data    string `json:"data"`
	Hash    string `json:"hash"`
	// Version is the commit that made this content (the template's
	// version in effect at the commit asked for).
	Version *TemplateVersion `json:"version"`
	// Current: this is the content at the source's synced commit; Origin,
	// Files and Problems are then those of the synced state.
	Current  bool              `json:"current"`
	Origin   string            `json:"origin,omitempty"`
	Files    *TemplateFiles    `json:"files,omitempty"`
	Problems []TemplateProblem `json:"problems,omitempty"`
}

// minCommitPrefix is the shortest abbreviated commit hash taken.
const minCommitPrefix = 7

// TemplateAt returns a template's content at a commit: "" for the
// source's synced commit; else the full hash, or an unambiguous prefix
// of at least 7 characters, of a commit of its history (a commit that
// changed it). Anyone in the organisation, or read keys. Errors:
// EForbidden, ENotFound (source, template, or the commit is not in its
// history, or removed it), EInvalid (the commit).
func (s *Service) TemplateAt(ctx context.Context, a *domain.Actor, sourceID, name, commit string) (*TemplateContent, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	var out *TemplateContent
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		out, err = s.templateAt(ctx, tx, a.OrgID, sourceID, name, commit, "commit")
		return err
	})
	return out, err
}

var hexRE = regexp.MustCompile(`^[0-9a-f]+$`)

func (s *Service) templateAt(ctx context.Context, tx *store.Tx, orgID, sourceID, name, commit, field string) (*TemplateContent, error) {
	src, err := store.TemplateSourceByID(ctx, tx, orgID, sourceID)
	if err != nil {
		return nil, err
	}
	vs, err := store.TemplateVersions(ctx, tx, orgID, sourceID, name)
	if err != nil {
		return nil, err
	}
	commit = strings.ToLower(strings.TrimSpace(commit))
	if commit == "" {
		ts, err := store.SourceTemplatesOf(ctx, tx, orgID, sourceID, true)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t.Name != name {
				continue
			}
			st := sourceTemplateView(t)
			c := &TemplateContent{Name: name, Subject: t.Blob.Subject, HTML: t.Blob.HTML, Text: t.Blob.Text, Data: t.Blob.Data, Hash: t.BlobHash,
				Current: true, Origin: st.Origin, Files: &st.Files, Problems: st.Problems}
			// The newest version with this content made it.
			for _, v := range vs {
				if v.BlobHash == t.BlobHash {
					c.Version = versionView(v)
					break
				}
			}
			return c, nil
		}
		if src.SyncedCommit == "" {
			return nil, domain.Errorf(domain.ENotFound, "The source has not synced yet.")
		}
		return nil, templateNotFound(name)
	}
	if len(vs) == 0 {
		return nil, templateNotFound(name)
	}
	if len(commit) < minCommitPrefix || len(commit) > 64 || !hexRE.MatchString(commit) {
		return nil, domain.FieldError(field, "Give a commit hash (at least %d hexadecimal characters).", minCommitPrefix)
	}
	var found *store.TemplateVersion
	for i, v := range vs {
		if strings.HasPrefix(v.Commit, commit) {
			if found != nil && found.Commit != v.Commit {
				return nil, domain.FieldError(field, "Commit %s is ambiguous: give more of its hash.", commit)
			}
			if found == nil {
				found = &vs[i] // the newest version at that commit
			}
		}
	}
	if found == nil {
		return nil, domain.Errorf(domain.ENotFound, "Commit %s did not change template %q: its history lists the commits that did.", commit, name)
	}
	if found.BlobHash == "" {
		return nil, domain.Errorf(domain.ENotFound, "Commit %s removed template %q.", ShortHash(found.Commit), name)
	}
	b, err := store.TemplateBlobByHash(ctx, tx, orgID, sourceID, found.BlobHash)
	if err != nil {
		return nil, err
	}
	c := &TemplateContent{Name: name, Subject: b.Subject, HTML: b.HTML, Text: b.Text, Data: b.Data, Hash: b.Hash, Version: versionView(*found)}
	return c, nil
}

// ShortHash is a commit hash as SendOps shows it: its first 12
// characters.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// TemplateDiff compares two versions of a template, part by part.
type TemplateDiff struct {
	Name  string           `json:"name"`
	From  *TemplateVersion `json:"from"`
	To    *TemplateVersion `json:"to"`
	Parts []PartDiff       `json:"parts"`
	// Changed: some part differs.
	Changed bool `json:"changed"`
}

// PartDiff is how one part of a template differs between two versions,
// or between SES and the repository (see Drift): a unified diff ("" when
// equal) and, for a page, its hunks.
type PartDiff struct {
	Part     string          `json:"part"` // subject, html, text (or, between versions, data)
	Changed  bool            `json:"changed"`
	Inserted int             `json:"inserted"` // lines
	Deleted  int             `json:"deleted"`
	Unified  string          `json:"unified"`
	Hunks    []textdiff.Hunk `json:"-"`
}

// diffContext is how many equal lines a diff shows around a change.
const diffContext = 3

// diffPart compares one part from old text a (named aName) to new text b.
func diffPart(part, aName, bName, a, b string) PartDiff {
	d := textdiff.Compare(aName, bName, a, b, diffContext)
	return PartDiff{Part: part, Changed: d.Changed(), Inserted: d.Inserted, Deleted: d.Deleted, Unified: d.Unified, Hunks: d.Hunks}
}

// DiffTemplate compares a template's version at commit from with its
// version at commit to (each "" for the synced state, or a commit of its
// history as TemplateAt takes it). Anyone in the organisation, or read
// keys. Errors: EForbidden, ENotFound, EInvalid (from, to).
func (s *Service) DiffTemplate(ctx context.Context, a *domain.Actor, sourceID, name, from, to string) (*TemplateDiff, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	var fa, fb *TemplateContent
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		if fa, err = s.templateAt(ctx, tx, a.OrgID, sourceID, name, from, "from"); err != nil {
			return err
		}
		fb, err = s.templateAt(ctx, tx, a.OrgID, sourceID, name, to, "to")
		return err
	})
	if err != nil {
		return nil, err
	}
	d := &TemplateDiff{Name: name, From: fa.Version, To: fb.Version}
	label := func(c *TemplateContent) string {
		if c.Version == nil {
			return "synced"
		}
		return ShortHash(c.Version.Commit)
	}
	la, lb := label(fa), label(fb)
	for _, p := range []struct{ part, a, b string }{
		{"subject", fa.Subject, fb.Subject}, {"html", fa.HTML, fb.HTML}, {"text", fa.Text, fb.Text}, {"data", fa.Data, fb.Data},
	} {
		pd := diffPart(p.part, name+"."+p.part+"@"+la, name+"."+p.part+"@"+lb, p.a, p.b)
		d.Changed = d.Changed || pd.Changed
		d.Parts = append(d.Parts, pd)
	}
	return d, nil
}

// RenderedVersion is a version of a template rendered as SES renders it.
type RenderedVersion struct {
	Name    string           `json:"name"`
	Version *TemplateVersion `json:"version"`
	Subject string           `json:"subject"`
	HTML    string           `json:"html"`
	Text    string           `json:"text"`
	// Problems are errors when it does not render, and warnings for
	// variables the data lacks (SES would refuse to send). Places are in
	// the stored parts: subject, html, text and data.
	Problems []TemplateProblem `json:"problems"`
	// OK is false when it does not render (an error among the problems).
	OK bool `json:"ok"`
}

// RenderTemplate renders a version of a template (commit "" for the
// synced state) with data, a JSON object ("" for the template's sample
// data from the repository), as SES renders it. A template that does not
// render is not an error: its problems say why. Anyone in the
// organisation, or read keys. Errors: EForbidden, ENotFound, EInvalid
// (commit; data larger than SES takes).
func (s *Service) RenderTemplate(ctx context.Context, a *domain.Actor, sourceID, name, commit, data string) (*RenderedVersion, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return nil, err
	}
	if err := checkDataLength(data); err != nil {
		return nil, err
	}
	var c *TemplateContent
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		c, err = s.templateAt(ctx, tx, a.OrgID, sourceID, name, commit, "commit")
		return err
	})
	if err != nil {
		return nil, err
	}
	t := storedTemplate(name, c.Subject, c.HTML, c.Text, c.Data)
	var dp templates.Part
	if strings.TrimSpace(data) != "" {
		dp = templates.Part{File: "data", Line: 1, Col: 1, Source: data}
	}
	r, probs := templates.Render(t, dp)
	templates.SortProblems(probs)
	return &RenderedVersion{Name: name, Version: c.Version, Subject: r.Subject, HTML: r.HTML, Text: r.Text,
		Problems: problemsOf(probs), OK: !templates.HasErrors(probs)}, nil
}

// checkDataLength refuses template data longer than SES takes.
func checkDataLength(data string) error {
	if n := utf8.RuneCountInString(data); n > templates.MaxDataLength {
		return domain.FieldError("data", "The data is %d characters; SES takes at most %d.", n, templates.MaxDataLength)
	}
	return nil
}

// KeepPreview keeps a rendered HTML part of a source's template for a
// few minutes (store.PreviewTTL) and returns the key its frame fetches it
// by (see Preview): a rendering with data the user typed is shown without
// the data in a URL. Anyone in the organisation, or read keys. Errors:
// EForbidden, ENotFound (the source).
func (s *Service) KeepPreview(ctx context.Context, a *domain.Actor, sourceID, name, html string) (string, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return "", err
	}
	key := secret.Token("")
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		if _, err := store.TemplateSourceByID(ctx, tx, a.OrgID, sourceID); err != nil {
			return err
		}
		return store.PutTemplatePreview(ctx, tx, a.OrgID, sourceID, key, name, html)
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// Preview returns a preview KeepPreview kept for the source's template.
// Anyone in the organisation, or read keys. Errors: EForbidden, ENotFound
// (expired, or not this template's).
func (s *Service) Preview(ctx context.Context, a *domain.Actor, sourceID, name, key string) (string, error) {
	if err := a.Require(domain.ActTemplatesView); err != nil {
		return "", err
	}
	var html string
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		html, err = store.TemplatePreview(ctx, tx, a.OrgID, sourceID, name, key)
		return err
	})
	return html, err
}

// storedTemplate makes a template of stored parts; a part's problems are
// placed in it, named by its label.
func storedTemplate(name, subject, html, text, data string) templates.Template {
	part := func(label, src string) templates.Part {
		if src == "" {
			return templates.Part{}
		}
		return templates.Part{File: label, Line: 1, Col: 1, Source: src}
	}
	return templates.Template{Name: name, NameAt: templates.Place{File: "html", Line: 1, Col: 1},
		Subject: part("subject", subject), HTML: part("html", html), Text: part("text", text), Data: part("data", data)}
}
