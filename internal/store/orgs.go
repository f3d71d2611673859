package store

import (
	"context"

	"sendops/internal/domain"
)

const orgCols = `id, name, require_mfa, retention_days, created_at`

func scanOrg(row interface{ Scan(...any) error }) (*domain.Org, error) {
	var o domain.Org
	err := row.Scan(&o.ID, &o.Name, &o.RequireMFA, &o.RetentionDays, utcTime{&o.CreatedAt})
	return &o, err
}

// CreateOrg inserts an organisation.
func CreateOrg(ctx context.Context, tx *Tx, o *domain.Org) error {
	if o.ID == "" {
		o.ID = domain.NewID()
	}
	if o.RetentionDays == 0 {
		o.RetentionDays = 7
	}
	o.CreatedAt = tx.Now()
	_, err := tx.Exec(ctx, `INSERT INTO orgs (`+orgCols+`) VALUES (?, ?, ?, ?, ?)`, o.ID, o.Name, o.RequireMFA, o.RetentionDays, o.CreatedAt)
	return err
}

// OrgByID returns an organisation, or ENotFound.
func OrgByID(ctx context.Context, tx *Tx, id string) (*domain.Org, error) {
	o, err := scanOrg(tx.QueryRow(ctx, `SELECT `+orgCols+` FROM orgs WHERE id = ?`, id))
	return o, notFound(err, "Organisation")
}

// UpdateOrg writes an organisation's settings.
func UpdateOrg(ctx context.Context, tx *Tx, o *domain.Org) error {
	_, err := tx.Exec(ctx, `UPDATE orgs SET name = ?, require_mfa = ?, retention_days = ? WHERE id = ?`, o.Name, o.RequireMFA, o.RetentionDays, o.ID)
	return err
}

// ReadOrgExternalID returns the organisation's ExternalId for AWS roles,
// "" when it is not made yet (OrgExternalID makes it).
func ReadOrgExternalID(ctx context.Context, tx *Tx, orgID string) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `SELECT external_id FROM orgs WHERE id = ?`, orgID).Scan(&id)
	return id, notFound(err, "Organisation")
}

const memberSelect = `SELECT m.org_id, o.name, m.user_id, u.name, u.email, u.mfa_enabled_at IS NOT NULL, m.role, m.created_at
	FROM memberships m JOIN orgs o ON o.id = m.org_id JOIN users u ON u.id = m.user_id`

func scanMembers(tx *Tx, ctx context.Context, query string, args ...any) ([]domain.Membership, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Membership
	for rows.Next() {
		var m domain.Membership
		if err := rows.Scan(&m.OrgID, &m.OrgName, &m.UserID, &m.UserName, &m.UserEmail, &m.UserMFA, &m.Role, utcTime{&m.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// UserMemberships lists the organisations a user belongs to, by name.
func UserMemberships(ctx context.Context, tx *Tx, userID string) ([]domain.Membership, error) {
	return scanMembers(tx, ctx, memberSelect+` WHERE m.user_id = ? ORDER BY o.name, o.id`, userID)
}

// OrgMembers lists an organisation's members, by email.
func OrgMembers(ctx context.Context, tx *Tx, orgID string) ([]domain.Membership, error) {
	return scanMembers(tx, ctx, memberSelect+` WHERE m.org_id = ? ORDER BY u.email`, orgID)
}

// Member returns one membership, or ENotFound.
func Member(ctx context.Context, tx *Tx, orgID, userID string) (*domain.Membership, error) {
	ms, err := scanMembers(tx, ctx, memberSelect+` WHERE m.org_id = ? AND m.user_id = ?`, orgID, userID)
	if err != nil {
		return nil, err
	} else if len(ms) == 0 {
		return nil, domain.Errorf(domain.ENotFound, "Member not found.")
	}
	return &ms[0], nil
}

// PutMember adds a user to an organisation, or changes their role.
func PutMember(ctx context.Context, tx *Tx, orgID, userID string, role domain.Role) error {
	_, err := tx.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role`, orgID, userID, string(role), tx.Now())
	return err
}

// DeleteMember removes a user from an organisation.
func DeleteMember(ctx context.Context, tx *Tx, orgID, userID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM memberships WHERE org_id = ? AND user_id = ?`, orgID, userID)
	return err
}

// CountOwners returns how many owners an organisation has.
func CountOwners(ctx context.Context, tx *Tx, orgID string) (n int, err error) {
	err = tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE org_id = ? AND role = 'owner'`, orgID).Scan(&n)
	return n, err
}

const inviteCols = `org_id, id, email, role, invited_by, created_at, expires_at, accepted_at`

func scanInvite(row interface{ Scan(...any) error }) (*domain.Invitation, error) {
	var i domain.Invitation
	err := row.Scan(&i.OrgID, &i.ID, &i.Email, &i.Role, &i.InvitedBy, utcTime{&i.CreatedAt}, utcTime{&i.ExpiresAt}, nullTime{&i.AcceptedAt})
	return &i, err
}

// CreateInvitation stores an invitation with the hash of its token.
func CreateInvitation(ctx context.Context, tx *Tx, inv *domain.Invitation, tokenHash string) error {
	if inv.ID == "" {
		inv.ID = domain.NewID()
	}
	inv.CreatedAt = tx.Now()
	_, err := tx.Exec(ctx, `INSERT INTO invitations (`+inviteCols+`, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inv.OrgID, inv.ID, inv.Email, string(inv.Role), inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt, inv.AcceptedAt, tokenHash)
	return err
}

// PendingInvitations lists an organisation's invitations not yet accepted
// nor expired, newest first.
func PendingInvitations(ctx context.Context, tx *Tx, orgID string) ([]domain.Invitation, error) {
	rows, err := tx.Query(ctx, `SELECT `+inviteCols+` FROM invitations WHERE org_id = ? AND accepted_at IS NULL AND expires_at > ? ORDER BY id DESC`, orgID, tx.Now())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Invitation
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *inv)
	}
	return out, rows.Err()
}

// InvitationByToken returns the invitation whose token hashes to hash, or
// ENotFound. It does not check expiry.
func InvitationByToken(ctx context.Context, tx *Tx, hash string) (*domain.Invitation, error) {
	inv, err := scanInvite(tx.QueryRow(ctx, `SELECT `+inviteCols+` FROM invitations WHERE token_hash = ?`, hash))
	return inv, notFound(err, "Invitation")
}

// AcceptInvitation marks a pending invitation accepted; it reports whether
// this call was the one that did (single use).
func AcceptInvitation(ctx context.Context, tx *Tx, orgID, id string) (bool, error) {
	res, err := tx.Exec(ctx, `UPDATE invitations SET accepted_at = ? WHERE org_id = ? AND id = ? AND accepted_at IS NULL AND expires_at > ?`, tx.Now(), orgID, id, tx.Now())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteInvitation withdraws a pending invitation, or returns ENotFound.
func DeleteInvitation(ctx context.Context, tx *Tx, orgID, id string) error {
	res, err := tx.Exec(ctx, `DELETE FROM invitations WHERE org_id = ? AND id = ? AND accepted_at IS NULL`, orgID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.ENotFound, "Invitation not found.")
	}
	return nil
}

// LockOrg locks an organisation's row until the transaction ends, so that
// concurrent changes to its members (the last owner rule) run one at a
// time. SQLite's write transactions already do.
func LockOrg(ctx context.Context, tx *Tx, orgID string) error {
	if tx.engine != Postgres {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT id FROM orgs WHERE id = ? FOR UPDATE`, orgID)
	return err
}
