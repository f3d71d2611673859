package store

import (
	"context"
	"database/sql"
	"strings"

	"sendops/internal/domain"
)

// AddAudit appends an entry to an organisation's audit log.
func AddAudit(ctx context.Context, tx *Tx, e *domain.AuditEntry) error {
	if e.ID == "" {
		e.ID = domain.NewID()
		// Ids sort by the millisecond only: an entry sorts after the
		// organisation's newest (one written earlier in the same
		// transaction, say), so that the log lists entries as written.
		var last sql.NullString
		if err := tx.QueryRow(ctx, `SELECT max(id) FROM audit_log WHERE org_id = ?`, e.OrgID).Scan(&last); err != nil {
			return err
		}
		if last.Valid && e.ID <= last.String {
			e.ID = domain.IDAfter(last.String)
		}
	}
	if e.At.IsZero() {
		e.At = tx.Now()
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (org_id, id, at, actor_id, actor_name, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.OrgID, e.ID, e.At, e.ActorID, e.ActorName, e.Action, e.Target, e.IP, e.Details)
	return err
}

// Audit lists an organisation's audit log, newest first. A filter Limit of
// -1 means every matching row (for exports), passed to fn one at a time.
func Audit(ctx context.Context, tx *Tx, orgID string, f domain.AuditFilter, fn func(*domain.AuditEntry) error) (next string, err error) {
	limit, after := -1, ""
	if f.Limit != -1 {
		if limit, after, err = pageArgs(f.Page); err != nil {
			return "", err
		}
	}
	q := `SELECT org_id, id, at, actor_id, actor_name, action, target, ip, details FROM audit_log WHERE org_id = ?`
	args := []any{orgID}
	if after != "" {
		q += ` AND id < ?`
		args = append(args, after)
	}
	if a := f.Action; strings.HasSuffix(a, ".") {
		q += ` AND substr(action, 1, ?) = ?`
		args = append(args, len(a), a)
	} else if a != "" {
		q += ` AND action = ?`
		args = append(args, a)
	}
	if f.Actor != "" {
		q += ` AND lower(actor_name) LIKE ? ESCAPE '\'`
		args = append(args, "%"+escapeLike(strings.ToLower(f.Actor))+"%")
	}
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, f.Since)
	}
	if !f.Until.IsZero() {
		q += ` AND at < ?`
		args = append(args, f.Until)
	}
	q += ` ORDER BY id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit+1)
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	n, lastID := 0, ""
	for rows.Next() {
		var e domain.AuditEntry
		if err := rows.Scan(&e.OrgID, &e.ID, utcTime{&e.At}, &e.ActorID, &e.ActorName, &e.Action, &e.Target, &e.IP, &e.Details); err != nil {
			return "", err
		}
		if n++; limit > 0 && n > limit {
			return EncodeCursor(lastID), rows.Err()
		}
		lastID = e.ID
		if err := fn(&e); err != nil {
			return "", err
		}
	}
	return "", rows.Err()
}
