package domain

import (
	"slices"
	"strings"
)

// Role is a member's role in an organisation.
type Role string

const (
	RoleViewer    Role = "viewer"
	RoleDeveloper Role = "developer"
	RoleAdmin     Role = "admin"
	RoleOwner     Role = "owner"
)

// Roles lists every role, least powerful first.
var Roles = []Role{RoleViewer, RoleDeveloper, RoleAdmin, RoleOwner}

func (r Role) rank() int { return slices.Index(Roles, r) }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() >= 0 }

// AtLeast reports whether r is as powerful as min.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", FieldError("role", "Unknown role %q: use viewer, developer, admin or owner.", s)
	}
	return r, nil
}

// Scope is what an API key may do.
type Scope string

const (
	ScopeRead           Scope = "read"
	ScopeWrite          Scope = "write"
	ScopeRecipientsRead Scope = "recipients:read"
	ScopeAdmin          Scope = "admin"
)

// Scopes lists every API key scope.
var Scopes = []Scope{ScopeRead, ScopeWrite, ScopeRecipientsRead, ScopeAdmin}

// ParseScopes parses a comma-separated scope list, refusing unknown names and
// an empty list.
func ParseScopes(s string) ([]Scope, error) { return ParseScopeList(strings.Split(s, ",")) }

// ParseScopeList parses scope names (from a form or JSON), refusing unknown
// names and an empty list; repeats are dropped.
func ParseScopeList(names []string) ([]Scope, error) {
	var out []Scope
	for _, part := range names {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sc := Scope(part)
		if !slices.Contains(Scopes, sc) {
			return nil, FieldError("scopes", "Unknown scope %q: use read, write, recipients:read or admin.", part)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, FieldError("scopes", "Choose at least one scope.")
	}
	return out, nil
}

// JoinScopes writes scopes as "read, write".
func JoinScopes(ss []Scope) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// Action is something a member or an API key may be allowed to do.
type Action string

const (
	ActOrgView          Action = "org.view"
	ActOrgUpdate        Action = "org.update"
	ActMembersView      Action = "members.view"
	ActMembersManage    Action = "members.manage"
	ActInvitationsView  Action = "invitations.view"
	ActInvitationsWrite Action = "invitations.manage"
	ActAPIKeysView      Action = "apikeys.view"
	ActAPIKeysManage    Action = "apikeys.manage"
	ActAuditView        Action = "audit.view"
	ActRecipientsRead   Action = "recipients.read"
	ActConnectionsView  Action = "connections.view"
	ActConnectionsWrite Action = "connections.manage"
	ActMessagesView     Action = "messages.view"
	// SES in a connection's account: account, identities, configuration
	// sets, the event pipeline; the suppression list holds addresses.
	ActSESView          Action = "ses.view"
	ActSESManage        Action = "ses.manage"
	ActSuppressionView  Action = "suppression.view"
	ActSuppressionWrite Action = "suppression.manage"
	// Templates: Git sources, their sync, preview and lint; pushing them
	// to SES in a connection's account.
	ActTemplatesView   Action = "templates.view"
	ActTemplatesManage Action = "templates.manage"
	ActTemplatesPush   Action = "templates.push"
)

// Permission says who may take an action: members whose role is at least
// MinRole, and API keys that hold Scope.
type Permission struct {
	MinRole Role
	Scope   Scope
}

// Permissions is the one table of who may do what. Services check it through
// Actor.Can before they touch storage; handlers never decide on their own.
// Later features add their actions here.
var Permissions = map[Action]Permission{
	ActOrgView:          {RoleViewer, ScopeRead},
	ActOrgUpdate:        {RoleOwner, ScopeAdmin},
	ActMembersView:      {RoleViewer, ScopeRead},
	ActMembersManage:    {RoleAdmin, ScopeAdmin},
	ActInvitationsView:  {RoleAdmin, ScopeAdmin},
	ActInvitationsWrite: {RoleAdmin, ScopeAdmin},
	ActAPIKeysView:      {RoleAdmin, ScopeAdmin},
	ActAPIKeysManage:    {RoleAdmin, ScopeAdmin},
	ActAuditView:        {RoleAdmin, ScopeAdmin},
	ActRecipientsRead:   {RoleViewer, ScopeRecipientsRead},
	ActConnectionsView:  {RoleViewer, ScopeRead},
	ActConnectionsWrite: {RoleDeveloper, ScopeWrite},
	ActMessagesView:     {RoleViewer, ScopeRead},
	ActSESView:          {RoleViewer, ScopeRead},
	ActSESManage:        {RoleDeveloper, ScopeWrite},
	ActSuppressionView:  {RoleViewer, ScopeRecipientsRead},
	ActSuppressionWrite: {RoleDeveloper, ScopeWrite},
	ActTemplatesView:    {RoleViewer, ScopeRead},
	ActTemplatesManage:  {RoleDeveloper, ScopeWrite},
	ActTemplatesPush:    {RoleDeveloper, ScopeWrite},
}

// Actor is who is acting on an organisation: a member signed in to the web
// UI, or an API key. Services take it as their first argument after ctx.
type Actor struct {
	OrgID string
	// A member: UserID, Email and Role are set.
	UserID string
	Email  string
	Role   Role
	// An API key: KeyID, KeyPrefix and Scopes are set.
	KeyID     string
	KeyPrefix string
	Scopes    []Scope
	IP        string
}

// IsKey reports whether the actor is an API key.
func (a *Actor) IsKey() bool { return a.KeyID != "" }

// Name is how the actor appears in the audit log.
func (a *Actor) Name() string {
	switch {
	case a.IsKey():
		return "API key " + a.KeyPrefix
	case a.Email != "":
		return a.Email
	case a.UserID != "":
		return a.UserID
	}
	return "system"
}

// ID is the user or key id of the actor.
func (a *Actor) ID() string {
	if a.IsKey() {
		return a.KeyID
	}
	return a.UserID
}

// Can reports whether the actor may take the action.
func (a *Actor) Can(act Action) bool {
	p, ok := Permissions[act]
	if !ok || a.OrgID == "" {
		return false
	}
	if a.IsKey() {
		return slices.Contains(a.Scopes, p.Scope)
	}
	return a.Role.AtLeast(p.MinRole)
}

// Require returns a forbidden error unless the actor may take the action.
func (a *Actor) Require(act Action) error {
	if a.Can(act) {
		return nil
	}
	if a.IsKey() {
		return Errorf(EForbidden, "This API key lacks the %q scope.", Permissions[act].Scope)
	}
	return Errorf(EForbidden, "Your role (%s) may not do this; ask an %s of the organisation.", a.Role, Permissions[act].MinRole)
}
