package service

import (
	"context"
	"fmt"
	"strings"

	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
)

// Memberships lists the organisations the user belongs to.
func (s *Service) Memberships(ctx context.Context, userID string) ([]domain.Membership, error) {
	var out []domain.Membership
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		out, err = store.UserMemberships(ctx, tx, userID)
		return err
	})
	return out, err
}

// CreateOrg creates an organisation owned by the user. Errors: EInvalid.
func (s *Service) CreateOrg(ctx context.Context, u *domain.User, name string, c Client) (*domain.Org, error) {
	name, err := checkName("name", "an organisation name", name)
	if err != nil {
		return nil, err
	}
	org := &domain.Org{Name: name}
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		if err := store.CreateOrg(ctx, tx, org); err != nil {
			return err
		}
		if err := store.PutMember(ctx, tx, org.ID, u.ID, domain.RoleOwner); err != nil {
			return err
		}
		return audit(ctx, tx, &domain.Actor{OrgID: org.ID, UserID: u.ID, Email: u.Email, Role: domain.RoleOwner, IP: c.IP}, "org.created", name, "")
	})
	return org, err
}

// Org returns the actor's organisation. Errors: EForbidden.
func (s *Service) Org(ctx context.Context, a *domain.Actor) (*domain.Org, error) {
	if err := a.Require(domain.ActOrgView); err != nil {
		return nil, err
	}
	var org *domain.Org
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		org, err = store.OrgByID(ctx, tx, a.OrgID)
		return err
	})
	return org, err
}

// OrgSettings is what an owner may change of the organisation.
type OrgSettings struct {
	Name       *string `json:"name,omitempty"`
	RequireMFA *bool   `json:"require_mfa,omitempty"`
	// RetentionDays is how long event data is kept, in days. Plans will
	// set it; until then owners choose it.
	RetentionDays *int `json:"retention_days,omitempty"`
}

// MaxRetentionDays bounds the retention an organisation may choose.
const MaxRetentionDays = 3650

// UpdateOrg changes the organisation's settings. Owners only. Requiring MFA
// needs the owner to have it on first. Errors: EForbidden, EInvalid.
func (s *Service) UpdateOrg(ctx context.Context, a *domain.Actor, in OrgSettings) (*domain.Org, error) {
	if err := a.Require(domain.ActOrgUpdate); err != nil {
		return nil, err
	}
	var org *domain.Org
	err := s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if org, err = store.OrgByID(ctx, tx, a.OrgID); err != nil {
			return err
		}
		if in.Name != nil {
			name, err := checkName("name", "an organisation name", *in.Name)
			if err != nil {
				return err
			}
			if name != org.Name {
				if err := audit(ctx, tx, a, "org.renamed", name, "from "+org.Name); err != nil {
					return err
				}
			}
			org.Name = name
		}
		if in.RequireMFA != nil && *in.RequireMFA != org.RequireMFA {
			if *in.RequireMFA && !a.IsKey() {
				u, err := store.UserByID(ctx, tx, a.UserID)
				if err != nil {
					return err
				}
				if !u.MFAEnabled() {
					return domain.FieldError("require_mfa", "Turn on two-factor authentication for yourself first.")
				}
			}
			org.RequireMFA = *in.RequireMFA
			action := "org.mfa_required"
			if !org.RequireMFA {
				action = "org.mfa_not_required"
			}
			if err := audit(ctx, tx, a, action, org.Name, ""); err != nil {
				return err
			}
		}
		if in.RetentionDays != nil && *in.RetentionDays != org.RetentionDays {
			if d := *in.RetentionDays; d < 1 || d > MaxRetentionDays {
				return domain.FieldError("retention_days", "Keep event data between 1 and %d days.", MaxRetentionDays)
			}
			if err := audit(ctx, tx, a, "org.retention_changed", org.Name, fmt.Sprintf("from %d to %d days", org.RetentionDays, *in.RetentionDays)); err != nil {
				return err
			}
			org.RetentionDays = *in.RetentionDays
		}
		return store.UpdateOrg(ctx, tx, org)
	})
	return org, err
}

// Members lists the organisation's members. Errors: EForbidden.
func (s *Service) Members(ctx context.Context, a *domain.Actor) ([]domain.Membership, error) {
	if err := a.Require(domain.ActMembersView); err != nil {
		return nil, err
	}
	var out []domain.Membership
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		out, err = store.OrgMembers(ctx, tx, a.OrgID)
		return err
	})
	return out, err
}

// touchesOwner reports whether a change involves the owner role, which only
// owners may grant or take away.
func touchesOwner(a *domain.Actor, roles ...domain.Role) error {
	for _, r := range roles {
		if r == domain.RoleOwner && (a.IsKey() || a.Role != domain.RoleOwner) {
			return domain.Errorf(domain.EForbidden, "Only an owner, signed in, may grant or take away the owner role.")
		}
	}
	return nil
}

// revokeKeysOf revokes the API keys a member made, when they leave or lose
// the role that let them make keys.
func revokeKeysOf(ctx context.Context, tx *store.Tx, a *domain.Actor, m *domain.Membership) error {
	n, err := store.RevokeKeysBy(ctx, tx, m.OrgID, m.UserID)
	if err != nil || n == 0 {
		return err
	}
	return audit(ctx, tx, a, "apikey.revoked", m.UserEmail, fmt.Sprintf("%d keys made by a member who left or lost the admin role", n))
}

// lockOrg serialises changes to an organisation's owners.
func lockOrg(ctx context.Context, tx *store.Tx, orgID string) error {
	return store.LockOrg(ctx, tx, orgID)
}

// SetRole changes a member's role. Admins and owners; only owners touch the
// owner role; the last owner cannot be demoted. Errors: EForbidden,
// ENotFound, EInvalid, EConflict.
func (s *Service) SetRole(ctx context.Context, a *domain.Actor, userID string, role domain.Role) (*domain.Membership, error) {
	if err := a.Require(domain.ActMembersManage); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, domain.FieldError("role", "Unknown role %q: use viewer, developer, admin or owner.", role)
	}
	var m *domain.Membership
	err := s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if err := lockOrg(ctx, tx, a.OrgID); err != nil {
			return err
		}
		if m, err = store.Member(ctx, tx, a.OrgID, userID); err != nil {
			return err
		}
		if m.Role == role {
			return nil
		}
		if err := touchesOwner(a, m.Role, role); err != nil {
			return err
		}
		if m.Role == domain.RoleOwner {
			if n, err := store.CountOwners(ctx, tx, a.OrgID); err != nil {
				return err
			} else if n <= 1 {
				return domain.Errorf(domain.EConflict, "%s is the last owner: make someone else owner first.", m.UserEmail)
			}
		}
		if err := store.PutMember(ctx, tx, a.OrgID, userID, role); err != nil {
			return err
		}
		if err := audit(ctx, tx, a, "member.role_changed", m.UserEmail, fmt.Sprintf("%s → %s", m.Role, role)); err != nil {
			return err
		}
		if !role.AtLeast(domain.RoleAdmin) || (m.Role == domain.RoleOwner && role != domain.RoleOwner) {
			if err := revokeKeysOf(ctx, tx, a, m); err != nil {
				return err
			}
		}
		m.Role = role
		return nil
	})
	return m, err
}

// RemoveMember removes a member, or lets members leave (userID is the
// actor's own). The last owner can neither leave nor be removed. Errors:
// EForbidden, ENotFound, EConflict.
func (s *Service) RemoveMember(ctx context.Context, a *domain.Actor, userID string) error {
	leaving := !a.IsKey() && userID == a.UserID
	if !leaving {
		if err := a.Require(domain.ActMembersManage); err != nil {
			return err
		}
	}
	return s.DB.Update(ctx, func(tx *store.Tx) error {
		if err := lockOrg(ctx, tx, a.OrgID); err != nil {
			return err
		}
		m, err := store.Member(ctx, tx, a.OrgID, userID)
		if err != nil {
			return err
		}
		if !leaving {
			if err := touchesOwner(a, m.Role); err != nil {
				return err
			}
		}
		if m.Role == domain.RoleOwner {
			if n, err := store.CountOwners(ctx, tx, a.OrgID); err != nil {
				return err
			} else if n <= 1 {
				return domain.Errorf(domain.EConflict, "%s is the last owner of the organisation: make someone else owner first.", m.UserEmail)
			}
		}
		if err := store.DeleteMember(ctx, tx, a.OrgID, userID); err != nil {
			return err
		}
		action := "member.removed"
		if leaving {
			action = "member.left"
		}
		if err := audit(ctx, tx, a, action, m.UserEmail, string(m.Role)); err != nil {
			return err
		}
		return revokeKeysOf(ctx, tx, a, m)
	})
}

// Invite sends an invitation to join the organisation with a role. Admins
// and owners; only owners invite owners. Errors: EForbidden, EInvalid,
// EConflict (already a member).
func (s *Service) Invite(ctx context.Context, a *domain.Actor, email string, role domain.Role) (*domain.Invitation, error) {
	if err := a.Require(domain.ActInvitationsWrite); err != nil {
		return nil, err
	}
	email, err := normalEmail("email", email)
	if err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, domain.FieldError("role", "Unknown role %q: use viewer, developer, admin or owner.", role)
	}
	if err := touchesOwner(a, role); err != nil {
		return nil, err
	}
	token := secret.Token("")
	inv := &domain.Invitation{OrgID: a.OrgID, Email: email, Role: role, InvitedBy: a.Name()}
	var org *domain.Org
	err = s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if org, err = store.OrgByID(ctx, tx, a.OrgID); err != nil {
			return err
		}
		if u, err := store.UserByEmail(ctx, tx, email); err == nil {
			if _, err := store.Member(ctx, tx, a.OrgID, u.ID); err == nil {
				return &domain.Error{Code: domain.EConflict, Field: "email", Message: email + " is already a member."}
			}
		}
		inv.ExpiresAt = tx.Now().Add(inviteTTL)
		if err := store.CreateInvitation(ctx, tx, inv, secret.HashToken(token)); err != nil {
			return err
		}
		return audit(ctx, tx, a, "member.invited", email, string(role))
	})
	if err != nil {
		return nil, err
	}
	s.notice(email, "You are invited to "+org.Name+" on SendOps",
		fmt.Sprintf("Hello,\n\n%s invites you to join %s on SendOps as %s.\n\nAccept within 7 days (sign up first with this address if you have no account):\n\n%s/invitations/%s", a.Name(), org.Name, role, s.BaseURL, token))
	return inv, nil
}

// Invitations lists pending invitations. Errors: EForbidden.
func (s *Service) Invitations(ctx context.Context, a *domain.Actor) ([]domain.Invitation, error) {
	if err := a.Require(domain.ActInvitationsView); err != nil {
		return nil, err
	}
	var out []domain.Invitation
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		out, err = store.PendingInvitations(ctx, tx, a.OrgID)
		return err
	})
	return out, err
}

// RevokeInvitation withdraws a pending invitation. Errors: EForbidden,
// ENotFound.
func (s *Service) RevokeInvitation(ctx context.Context, a *domain.Actor, id string) error {
	if err := a.Require(domain.ActInvitationsWrite); err != nil {
		return err
	}
	return s.DB.Update(ctx, func(tx *store.Tx) error {
		if err := store.DeleteInvitation(ctx, tx, a.OrgID, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "member.invitation_revoked", id, "")
	})
}

// InvitationPreview returns the invitation behind a link and its
// organisation, for the acceptance page. Errors: ENotFound.
func (s *Service) InvitationPreview(ctx context.Context, token string) (*domain.Invitation, *domain.Org, error) {
	var inv *domain.Invitation
	var org *domain.Org
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		if inv, err = store.InvitationByToken(ctx, tx, secret.HashToken(token)); err != nil {
			return err
		}
		org, err = store.OrgByID(ctx, tx, inv.OrgID)
		return err
	})
	if err == nil && (inv.AcceptedAt != nil || !inv.ExpiresAt.After(s.DB.Now())) {
		err = domain.Errorf(domain.ENotFound, "This invitation was already used or has expired. Ask for a new one.")
	} else if domain.IsNotFound(err) {
		err = domain.Errorf(domain.ENotFound, "This invitation link is not valid.")
	}
	return inv, org, err
}

// AcceptInvitation makes the signed-in user a member, once. The user's
// verified address must be the invited one. Errors: EInvalid, EForbidden.
func (s *Service) AcceptInvitation(ctx context.Context, u *domain.User, token string, c Client) (*domain.Org, error) {
	inv, org, err := s.InvitationPreview(ctx, token)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(inv.Email, u.Email) {
		return nil, domain.Errorf(domain.EForbidden, "This invitation is for %s; you are signed in as %s.", inv.Email, u.Email)
	}
	if !u.EmailVerified() {
		return nil, domain.Errorf(domain.EForbidden, "Verify your email address first: open the link we sent to %s.", u.Email)
	}
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		ok, err := store.AcceptInvitation(ctx, tx, inv.OrgID, inv.ID)
		if err != nil {
			return err
		} else if !ok {
			return domain.Errorf(domain.EInvalid, "This invitation was already used or has expired. Ask for a new one.")
		}
		role := inv.Role
		if m, err := store.Member(ctx, tx, inv.OrgID, u.ID); err == nil && m.Role.AtLeast(role) {
			role = m.Role // never demote through an invitation
		}
		if err := store.PutMember(ctx, tx, inv.OrgID, u.ID, role); err != nil {
			return err
		}
		a := &domain.Actor{OrgID: inv.OrgID, UserID: u.ID, Email: u.Email, Role: role, IP: c.IP}
		return audit(ctx, tx, a, "member.joined", u.Email, string(role))
	})
	return org, err
}
