package store

import (
	"context"
	"time"

	"sendops/internal/domain"
)

const sessionCols = `id, user_id, org_id, mfa_pending, csrf_token, ip, user_agent, created_at, last_seen_at, expires_at`

func scanSession(row interface{ Scan(...any) error }) (*domain.Session, error) {
	var s domain.Session
	err := row.Scan(&s.ID, &s.UserID, &s.OrgID, &s.MFAPending, &s.CSRFToken, &s.IP, &s.UserAgent,
		utcTime{&s.CreatedAt}, utcTime{&s.LastSeenAt}, utcTime{&s.ExpiresAt})
	return &s, err
}

// CreateSession inserts a session. Its ID is the hash of the cookie value.
func CreateSession(ctx context.Context, tx *Tx, s *domain.Session) error {
	_, err := tx.Exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.UserID, s.OrgID, s.MFAPending, s.CSRFToken, s.IP, s.UserAgent, s.CreatedAt, s.LastSeenAt, s.ExpiresAt)
	return err
}

// LiveSession returns the session with the id if it has not expired: not
// past its absolute expiry, and seen within idle.
func LiveSession(ctx context.Context, tx *Tx, id string, idle time.Duration) (*domain.Session, error) {
	s, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ? AND expires_at > ? AND last_seen_at > ?`,
		id, tx.Now(), tx.Now().Add(-idle)))
	return s, notFound(err, "Session")
}

// TouchSession records that a session was used now.
func TouchSession(ctx context.Context, tx *Tx, id string) error {
	_, err := tx.Exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, tx.Now(), id)
	return err
}

// SetSessionOrg changes the organisation a session works in.
func SetSessionOrg(ctx context.Context, tx *Tx, id, orgID string) error {
	_, err := tx.Exec(ctx, `UPDATE sessions SET org_id = ? WHERE id = ?`, orgID, id)
	return err
}

// UserSessions lists a user's live sessions, most recently seen first.
func UserSessions(ctx context.Context, tx *Tx, userID string, idle time.Duration) ([]domain.Session, error) {
	rows, err := tx.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = ? AND mfa_pending = ? AND expires_at > ? AND last_seen_at > ? ORDER BY last_seen_at DESC`,
		userID, false, tx.Now(), tx.Now().Add(-idle))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// DeleteSession removes one session of a user; it reports whether there was one.
func DeleteSession(ctx context.Context, tx *Tx, userID, id string) (bool, error) {
	res, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id = ?`, userID, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteUserSessions removes every session of a user but keep (which may be "").
func DeleteUserSessions(ctx context.Context, tx *Tx, userID, keep string) error {
	_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keep)
	return err
}

// DeleteExpired removes expired sessions, tokens, throttle windows and
// remembered webhook deliveries, and template jobs finished 7 days ago.
func DeleteExpired(ctx context.Context, tx *Tx, idle time.Duration) (int64, error) {
	var total int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?`, []any{tx.Now(), tx.Now().Add(-idle)}},
		{`DELETE FROM user_tokens WHERE expires_at <= ?`, []any{tx.Now().Add(-24 * time.Hour)}},
		{`DELETE FROM login_throttle WHERE window_start <= ?`, []any{tx.Now().Add(-24 * time.Hour)}},
		{`DELETE FROM git_hook_deliveries WHERE received_at <= ?`, []any{tx.Now().Add(-HookDeliveryTTL)}},
		{`DELETE FROM template_previews WHERE expires_at <= ?`, []any{tx.Now()}},
		{`DELETE FROM template_jobs WHERE finished_at <= ?`, []any{tx.Now().Add(-TemplateJobTTL)}},
	} {
		res, err := tx.Exec(ctx, q.sql, q.args...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// ThrottleFailures returns the failures counted for key in the window that
// started after since, and when that window started.
func ThrottleFailures(ctx context.Context, tx *Tx, key string, since time.Time) (int, time.Time, error) {
	var n int
	var start time.Time
	err := tx.QueryRow(ctx, `SELECT failures, window_start FROM login_throttle WHERE key = ? AND window_start > ?`, key, since).Scan(&n, utcTime{&start})
	if err != nil {
		if domain.IsNotFound(notFound(err, "")) {
			return 0, time.Time{}, nil
		}
		return 0, time.Time{}, err
	}
	return n, start, nil
}

// AddThrottleFailure counts one failure for key, opening a new window when
// the last one started before since.
func AddThrottleFailure(ctx context.Context, tx *Tx, key string, since time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO login_throttle (key, window_start, failures) VALUES (?, ?, 1)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN login_throttle.window_start > ? THEN login_throttle.failures + 1 ELSE 1 END,
			window_start = CASE WHEN login_throttle.window_start > ? THEN login_throttle.window_start ELSE excluded.window_start END`,
		key, tx.Now(), since, since)
	return err
}

// ClearThrottle forgets the failures counted for key.
func ClearThrottle(ctx context.Context, tx *Tx, key string) error {
	_, err := tx.Exec(ctx, `DELETE FROM login_throttle WHERE key = ?`, key)
	return err
}

// ThrottleHit counts one attempt for key, opening a new window when the
// last one started before since, and returns the attempts in the window and
// when it started. The count and the check are one statement, so parallel
// attempts cannot all slip under the limit.
func ThrottleHit(ctx context.Context, tx *Tx, key string, since time.Time) (int, time.Time, error) {
	var n int
	var start time.Time
	err := tx.QueryRow(ctx, `INSERT INTO login_throttle (key, window_start, failures) VALUES (?, ?, 1)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN login_throttle.window_start > ? THEN login_throttle.failures + 1 ELSE 1 END,
			window_start = CASE WHEN login_throttle.window_start > ? THEN login_throttle.window_start ELSE excluded.window_start END
		RETURNING failures, window_start`, key, tx.Now(), since, since).Scan(&n, utcTime{&start})
	return n, start, err
}
