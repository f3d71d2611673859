package store

import (
	"context"
	"strings"
	"time"

	"sendops/internal/domain"
)

const userCols = `id, name, email, email_verified_at, password_hash, totp_secret, mfa_enabled_at, totp_last_step, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*domain.User, error) {
	var u domain.User
	err := row.Scan(&u.ID, &u.Name, &u.Email, nullTime{&u.EmailVerifiedAt}, &u.PasswordHash, &u.TOTPSecret,
		nullTime{&u.MFAEnabledAt}, &u.TOTPLastStep, utcTime{&u.CreatedAt}, utcTime{&u.UpdatedAt})
	return &u, err
}

// CreateUser inserts a user. Its email must be lower-case; a taken address
// is an EConflict error.
func CreateUser(ctx context.Context, tx *Tx, u *domain.User) error {
	if u.ID == "" {
		u.ID = domain.NewID()
	}
	u.Email = strings.ToLower(u.Email)
	u.CreatedAt, u.UpdatedAt = tx.Now(), tx.Now()
	_, err := tx.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.Email, u.EmailVerifiedAt, u.PasswordHash, u.TOTPSecret, u.MFAEnabledAt, u.TOTPLastStep, u.CreatedAt, u.UpdatedAt)
	if isUnique(err) {
		return domain.FieldError("email", "An account with this email address already exists.")
	}
	return err
}

// UpdateUser writes every field of u.
func UpdateUser(ctx context.Context, tx *Tx, u *domain.User) error {
	u.UpdatedAt = tx.Now()
	_, err := tx.Exec(ctx, `UPDATE users SET name = ?, email = ?, email_verified_at = ?, password_hash = ?, totp_secret = ?, mfa_enabled_at = ?, totp_last_step = ?, updated_at = ? WHERE id = ?`,
		u.Name, strings.ToLower(u.Email), u.EmailVerifiedAt, u.PasswordHash, u.TOTPSecret, u.MFAEnabledAt, u.TOTPLastStep, u.UpdatedAt, u.ID)
	if isUnique(err) {
		return domain.FieldError("email", "An account with this email address already exists.")
	}
	return err
}

// UserByID returns a user, or an ENotFound error.
func UserByID(ctx context.Context, tx *Tx, id string) (*domain.User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, notFound(err, "User")
}

// UserByEmail returns the user with the address (any case), or ENotFound.
func UserByEmail(ctx context.Context, tx *Tx, email string) (*domain.User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = ?`, strings.ToLower(strings.TrimSpace(email))))
	return u, notFound(err, "User")
}

// CreateUserToken stores the hash of a one-time token sent by email.
func CreateUserToken(ctx context.Context, tx *Tx, hash, purpose, userID, email string, ttl time.Duration) error {
	_, err := tx.Exec(ctx, `INSERT INTO user_tokens (hash, purpose, user_id, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		hash, purpose, userID, email, tx.Now(), tx.Now().Add(ttl))
	return err
}

// UseUserToken marks a live token used and returns its user id and email.
// An unknown, expired or used token is an ENotFound error.
func UseUserToken(ctx context.Context, tx *Tx, hash, purpose string) (userID, email string, err error) {
	err = tx.QueryRow(ctx, `UPDATE user_tokens SET used_at = ? WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? RETURNING user_id, email`,
		tx.Now(), hash, purpose, tx.Now()).Scan(&userID, &email)
	if err != nil {
		if domain.IsNotFound(notFound(err, "")) {
			return "", "", domain.Errorf(domain.ENotFound, "This link is invalid, expired or already used. Ask for a new one.")
		}
		return "", "", err
	}
	return userID, email, nil
}

// PeekUserToken reports whether a live token exists, without using it.
// Errors: ENotFound.
func PeekUserToken(ctx context.Context, tx *Tx, hash, purpose string) error {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM user_tokens WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?`, hash, purpose, tx.Now()).Scan(&n)
	if err == nil && n == 0 {
		return domain.Errorf(domain.ENotFound, "This link is invalid, expired or already used. Ask for a new one.")
	}
	return err
}

// DeleteUserTokens removes a user's unused tokens of one purpose, so that
// only the newest link works.
func DeleteUserTokens(ctx context.Context, tx *Tx, userID, purpose string) error {
	_, err := tx.Exec(ctx, `DELETE FROM user_tokens WHERE user_id = ? AND purpose = ? AND used_at IS NULL`, userID, purpose)
	return err
}

// ReplaceRecoveryCodes stores the hashes of a user's new recovery codes,
// dropping the old ones.
func ReplaceRecoveryCodes(ctx context.Context, tx *Tx, userID string, hashes []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)`, userID, h); err != nil {
			return err
		}
	}
	return nil
}

// UseRecoveryCode marks an unused recovery code used; it reports whether
// there was one.
func UseRecoveryCode(ctx context.Context, tx *Tx, userID, hash string) (bool, error) {
	res, err := tx.Exec(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL`, tx.Now(), userID, hash)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CountRecoveryCodes returns how many unused recovery codes a user has.
func CountRecoveryCodes(ctx context.Context, tx *Tx, userID string) (n int, err error) {
	err = tx.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&n)
	return n, err
}

// NoticePrefs returns a user's notice preferences: kind → enabled. Kinds
// without a stored choice are on.
func NoticePrefs(ctx context.Context, tx *Tx, userID string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, k := range domain.NoticeKinds {
		out[k.Key] = true
	}
	rows, err := tx.Query(ctx, `SELECT kind, enabled FROM notice_prefs WHERE user_id = ?`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var on bool
		if err := rows.Scan(&k, &on); err != nil {
			return nil, err
		}
		out[k] = on
	}
	return out, rows.Err()
}

// SetNoticePref stores one notice preference.
func SetNoticePref(ctx context.Context, tx *Tx, userID, kind string, enabled bool) error {
	_, err := tx.Exec(ctx, `INSERT INTO notice_prefs (user_id, kind, enabled) VALUES (?, ?, ?)
		ON CONFLICT (user_id, kind) DO UPDATE SET enabled = excluded.enabled`, userID, kind, enabled)
	return err
}

// AdvanceTOTPStep records that a user's TOTP code of step was used, unless a
// code of that step or a later one was used already; it reports whether it
// did.
func AdvanceTOTPStep(ctx context.Context, tx *Tx, userID string, step int64) (bool, error) {
	res, err := tx.Exec(ctx, `UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?`, step, userID, step)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
