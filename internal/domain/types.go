package domain

import "time"

// User is a person who signs in to SendOps.
type User struct {
	ID              string
	Name            string
	Email           string
	EmailVerifiedAt *time.Time
	PasswordHash    string
	// TOTPSecret is the sealed (encrypted) TOTP secret; empty when MFA is off.
	TOTPSecret   string
	MFAEnabledAt *time.Time
	// TOTPLastStep is the last TOTP time step accepted, so a code is used once.
	TOTPLastStep int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// MFAEnabled reports whether the user signs in with a second factor.
func (u *User) MFAEnabled() bool { return u.MFAEnabledAt != nil }

// EmailVerified reports whether the user proved they own their address.
func (u *User) EmailVerified() bool { return u.EmailVerifiedAt != nil }

// Org is an organisation: the tenant. Everything a team owns belongs to one.
type Org struct {
	ID         string
	Name       string
	RequireMFA bool
	// RetentionDays is how long event data is kept (set by plans later).
	RetentionDays int
	CreatedAt     time.Time
}

// RetentionStart is the first moment of event data an organisation with
// this retention keeps at now: midnight UTC of the oldest kept day. Data
// before it is gone, so ranges that start earlier are refused.
func RetentionStart(now time.Time, retentionDays int) time.Time {
	y, m, d := now.UTC().AddDate(0, 0, -max(retentionDays, 1)).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Membership is a user's place in an organisation.
type Membership struct {
	OrgID     string
	OrgName   string
	UserID    string
	UserName  string
	UserEmail string
	UserMFA   bool
	Role      Role
	CreatedAt time.Time
}

// Session is a signed-in browser. Its id is a random 256-bit value kept only
// in the cookie; the database holds its SHA-256 hash.
type Session struct {
	ID         string // hash of the cookie value
	UserID     string
	OrgID      string // the organisation the user is working in; may be ""
	MFAPending bool   // password checked, second factor not yet
	CSRFToken  string
	IP         string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry
}

// APIKey is an organisation's key for /api/v1. The secret is shown once; the
// database keeps its SHA-256 hash and a visible prefix.
type APIKey struct {
	ID         string
	OrgID      string
	Name       string
	Prefix     string
	Hash       string
	Scopes     []Scope
	CreatedBy  string // user id; "" when made by the command line
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Invitation asks someone, by email, to join an organisation with a role.
type Invitation struct {
	ID         string
	OrgID      string
	Email      string
	Role       Role
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt *time.Time
}

// AuditEntry records one security-relevant action in an organisation.
type AuditEntry struct {
	ID        string
	OrgID     string
	At        time.Time
	ActorID   string // user or API key id
	ActorName string // email of the user, or "API key <prefix>", or "system"
	Action    string
	Target    string
	IP        string
	Details   string
}

// AuditFilter narrows an audit log listing.
type AuditFilter struct {
	Action string // exact action, or a prefix ending in "." ("member.")
	Actor  string // substring of the actor name
	Since  time.Time
	Until  time.Time
	Page
}

// Page asks for one page of a listing: Limit rows after the opaque Cursor.
type Page struct {
	Limit  int
	Cursor string
}

// NoticeKinds are the notices a user may turn off. Security notices (new
// sign-in, password changed, MFA changed) are always sent.
var NoticeKinds = []NoticeKind{
	{"alerts", "Alerts", "Alert rules of my organisations fire or resolve."},
	{"reports", "Reports", "Scheduled deliverability reports."},
	{"product", "Product news", "New features and changes to SendOps."},
}

// NoticeKind is one kind of optional notice.
type NoticeKind struct{ Key, Title, Description string }

// Connection is an AWS account and region whose SES events an organisation
// receives. AWS credentials for managing SES arrive later; a connection
// without them still receives events.
type Connection struct {
	ID           string
	OrgID        string
	Name         string
	AWSAccountID string
	Region       string
	CreatedAt    time.Time
	// How SendOps reaches the account: RoleARN (with the organisation's
	// ExternalId), or AccessKeyID with a sealed secret. Neither: events only.
	RoleARN      string
	AccessKeyID  string
	SecretSealed string // never shown
	Endpoint     string // an emulator's address; "" for AWS
}

// Managed reports whether SendOps reaches the connection's AWS account (by
// a role or access keys), rather than only receiving its events.
func (c *Connection) Managed() bool { return c.RoleARN != "" || c.AccessKeyID != "" }

// IngestCredentials are what a connection's senders need: where to post and
// the secret (shown once).
type IngestCredentials struct {
	EventBridgeURL string
	SNSURL         string
	HeaderName     string
	Secret         string
}
