package service

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
)

// TOTP as RFC 6238 and every authenticator app use it: SHA-1, 6 digits,
// 30-second steps; one step of clock skew either way is accepted.
const (
	totpPeriod = 30
	totpSkew   = 1
	recoveryN  = 10
)

func totpContext(userID string) string { return "totp:" + userID }

// MFASetup is a TOTP secret offered to the user, not yet enabled.
type MFASetup struct {
	Secret string // base32, to type into an app
	URL    string // otpauth:// URL, for a QR code
}

// BeginMFA makes a new TOTP secret for the user and keeps it, sealed, until
// EnableMFA confirms a code from it. Errors: EConflict when MFA is on.
func (s *Service) BeginMFA(ctx context.Context, userID string) (*MFASetup, error) {
	var out *MFASetup
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		u, err := store.UserByID(ctx, tx, userID)
		if err != nil {
			return err
		}
		if u.MFAEnabled() {
			return domain.Errorf(domain.EConflict, "Two-factor authentication is already on.")
		}
		key, err := totp.Generate(totp.GenerateOpts{Issuer: "SendOps", AccountName: u.Email, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return err
		}
		u.TOTPSecret = s.Keyring.Seal(key.Secret(), totpContext(u.ID))
		out = &MFASetup{Secret: key.Secret(), URL: key.URL()}
		return store.UpdateUser(ctx, tx, u)
	})
	return out, err
}

// PendingMFA returns the secret BeginMFA made, if any.
func (s *Service) PendingMFA(ctx context.Context, u *domain.User) (*MFASetup, error) {
	if u.TOTPSecret == "" || u.MFAEnabled() {
		return nil, nil
	}
	sec, err := s.Keyring.Open(u.TOTPSecret, totpContext(u.ID))
	if err != nil {
		return nil, err
	}
	key, err := otp.NewKeyFromURL(fmt.Sprintf("otpauth://totp/SendOps:%s?issuer=SendOps&secret=%s&period=%d&digits=6&algorithm=SHA1", u.Email, sec, totpPeriod))
	if err != nil {
		return nil, err
	}
	return &MFASetup{Secret: sec, URL: key.URL()}, nil
}

// checkTOTP checks a code against the user's secret and, when it matches a
// step later than the last one used, records that step (a code works once).
func (s *Service) checkTOTP(u *domain.User, code string, now time.Time) (bool, error) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return false, nil
	}
	sec, err := s.Keyring.Open(u.TOTPSecret, totpContext(u.ID))
	if err != nil {
		return false, err
	}
	step := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		st := step + d
		want, err := totp.GenerateCodeCustom(sec, time.Unix(st*totpPeriod, 0), totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return false, err
		}
		if secret.Equal(want, code) && st > u.TOTPLastStep {
			u.TOTPLastStep = st
			return true, nil
		}
	}
	return false, nil
}

// newRecoveryCodes returns fresh one-time recovery codes and their hashes.
func newRecoveryCodes() (codes, hashes []string) {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	for i := 0; i < recoveryN; i++ {
		b := make([]byte, 10)
		rand.Read(b)
		for j := range b {
			b[j] = alphabet[int(b[j])%len(alphabet)]
		}
		c := string(b[:5]) + "-" + string(b[5:])
		codes = append(codes, c)
		hashes = append(hashes, secret.HashToken(c))
	}
	return codes, hashes
}

// EnableMFA turns MFA on once code matches the secret from BeginMFA, and
// returns the recovery codes (shown once) and the rotated session's cookie
// value. Errors: EInvalid on "code", EConflict when already on.
func (s *Service) EnableMFA(ctx context.Context, sess *domain.Session, code string, c Client) (codes []string, token string, err error) {
	var u *domain.User
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		if u, err = store.UserByID(ctx, tx, sess.UserID); err != nil {
			return err
		}
		if u.MFAEnabled() {
			return domain.Errorf(domain.EConflict, "Two-factor authentication is already on.")
		}
		if u.TOTPSecret == "" {
			return domain.FieldError("code", "Start the set-up again: no secret is waiting.")
		}
		ok, err := s.checkTOTP(u, code, tx.Now())
		if err != nil {
			return err
		}
		if !ok {
			return domain.FieldError("code", "This code does not match. Check your device's clock and type the newest code.")
		}
		now := tx.Now()
		u.MFAEnabledAt = &now
		if err := store.UpdateUser(ctx, tx, u); err != nil {
			return err
		}
		var hashes []string
		codes, hashes = newRecoveryCodes()
		if err := store.ReplaceRecoveryCodes(ctx, tx, u.ID, hashes); err != nil {
			return err
		}
		if token, err = s.rotateSession(ctx, tx, sess, c); err != nil {
			return err
		}
		return auditUser(ctx, tx, u, c.IP, "user.mfa_enabled", "")
	})
	if err != nil {
		return nil, "", err
	}
	s.notice(u.Email, "Two-factor authentication turned on", mfaChangedText(u, "turned on", c))
	return codes, token, nil
}

func mfaChangedText(u *domain.User, what string, c Client) string {
	return fmt.Sprintf("Hello %s,\n\nTwo-factor authentication was %s for your SendOps account from %s.\n\nIf this was not you, change your password now and tell your organisation's owner.", u.Name, what, c.IP)
}

// DisableMFA turns MFA off after checking the password and a current code
// (or recovery code). It is refused while an organisation of the user
// requires MFA. Errors: EInvalid (per field), EForbidden.
func (s *Service) DisableMFA(ctx context.Context, sess *domain.Session, password, code string, c Client) (string, error) {
	hash, err := s.checkCurrentPassword(ctx, sess.UserID, "password", password)
	if err != nil {
		return "", err
	}
	var u *domain.User
	var token string
	err = s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if u, err = store.UserByID(ctx, tx, sess.UserID); err != nil {
			return err
		}
		if u.PasswordHash != hash {
			return domain.Errorf(domain.EConflict, "Your password changed meanwhile; try again.")
		}
		if !u.MFAEnabled() {
			return domain.Errorf(domain.EConflict, "Two-factor authentication is already off.")
		}
		ms, err := store.UserMemberships(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			org, err := store.OrgByID(ctx, tx, m.OrgID)
			if err != nil {
				return err
			}
			if org.RequireMFA {
				return domain.Errorf(domain.EForbidden, "%s requires two-factor authentication: it cannot be turned off while you belong to it.", org.Name)
			}
		}
		if ok, err := s.secondFactor(ctx, tx, u, code); err != nil {
			return err
		} else if !ok {
			return domain.FieldError("code", "This code does not match.")
		}
		u.MFAEnabledAt, u.TOTPSecret, u.TOTPLastStep = nil, "", 0
		if err := store.UpdateUser(ctx, tx, u); err != nil {
			return err
		}
		if err := store.ReplaceRecoveryCodes(ctx, tx, u.ID, nil); err != nil {
			return err
		}
		if token, err = s.rotateSession(ctx, tx, sess, c); err != nil {
			return err
		}
		return auditUser(ctx, tx, u, c.IP, "user.mfa_disabled", "")
	})
	if err != nil {
		return "", err
	}
	s.notice(u.Email, "Two-factor authentication turned off", mfaChangedText(u, "turned off", c))
	return token, nil
}

// useTOTP accepts a TOTP code whose step is later than the last one used
// and records the step in the same statement, so that two requests with
// one code cannot both pass.
func (s *Service) useTOTP(ctx context.Context, tx *store.Tx, u *domain.User, code string) (bool, error) {
	ok, err := s.checkTOTP(u, code, tx.Now())
	if err != nil || !ok {
		return false, err
	}
	return store.AdvanceTOTPStep(ctx, tx, u.ID, u.TOTPLastStep)
}

// secondFactor accepts a TOTP code or an unused recovery code, recording
// the TOTP step or spending the recovery code.
func (s *Service) secondFactor(ctx context.Context, tx *store.Tx, u *domain.User, code string) (bool, error) {
	ok, err := s.useTOTP(ctx, tx, u, code)
	if err != nil {
		return false, err
	}
	if ok {
		return true, nil
	}
	rc := strings.ToLower(strings.TrimSpace(code))
	if len(rc) == 10 {
		rc = rc[:5] + "-" + rc[5:]
	}
	return store.UseRecoveryCode(ctx, tx, u.ID, secret.HashToken(rc))
}

// VerifyMFA completes a sign-in waiting for its second factor: a TOTP code
// or a recovery code. It returns the new session's cookie value. Errors:
// EUnauthorized (session), EInvalid on "code", ETooMany.
func (s *Service) VerifyMFA(ctx context.Context, sess *domain.Session, code string, c Client) (string, error) {
	if !sess.MFAPending {
		return "", domain.Errorf(domain.EInvalid, "This session is already signed in.")
	}
	key := "mfa:" + sess.UserID
	var u *domain.User
	var token string
	var usedRecovery, newDevice bool
	if err := s.throttle(ctx, []string{key}, []int{maxMFAFailures}); err != nil {
		return "", err
	}
	err := s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if u, err = store.UserByID(ctx, tx, sess.UserID); err != nil {
			return err
		}
		totpOK, err := s.useTOTP(ctx, tx, u, code)
		if err != nil {
			return err
		}
		ok := totpOK
		if !totpOK {
			ok, err = s.secondFactor(ctx, tx, u, code)
			usedRecovery = ok
		}
		if err != nil {
			return err
		}
		if !ok {
			return errMFAFailed
		}
		if err := store.ClearThrottle(ctx, tx, key); err != nil {
			return err
		}
		if newDevice, err = isNewDevice(ctx, tx, u.ID, c, s.SessionIdle); err != nil {
			return err
		}
		if token, err = s.rotateSession(ctx, tx, sess, c); err != nil {
			return err
		}
		how := "password and TOTP"
		if usedRecovery {
			how = "password and recovery code"
		}
		return auditUser(ctx, tx, u, c.IP, "user.signed_in", how)
	})
	if err == errMFAFailed {
		// The attempt was counted before the check.
		return "", domain.FieldError("code", "This code does not match. Type the newest code from your app, or a recovery code.")
	} else if err != nil {
		return "", err
	}
	if newDevice {
		s.newSignInNotice(u, c)
	}
	if usedRecovery {
		s.notice(u.Email, "A recovery code was used", mfaChangedText(u, "passed with a one-time recovery code", c))
	}
	return token, nil
}

var errMFAFailed = domain.Errorf(domain.EInvalid, "mfa failed")

// RegenerateRecoveryCodes replaces the user's recovery codes after checking
// a current code. Errors: EInvalid on "code", EConflict when MFA is off.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID, code string, c Client) ([]string, error) {
	if err := s.reauth(ctx, userID); err != nil {
		return nil, err
	}
	var codes []string
	var u *domain.User
	err := s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if u, err = store.UserByID(ctx, tx, userID); err != nil {
			return err
		}
		if !u.MFAEnabled() {
			return domain.Errorf(domain.EConflict, "Turn on two-factor authentication first.")
		}
		ok, err := s.useTOTP(ctx, tx, u, code)
		if err != nil {
			return err
		} else if !ok {
			return domain.FieldError("code", "This code does not match.")
		}
		var hashes []string
		codes, hashes = newRecoveryCodes()
		if err := store.ReplaceRecoveryCodes(ctx, tx, u.ID, hashes); err != nil {
			return err
		}
		return auditUser(ctx, tx, u, c.IP, "user.recovery_codes_regenerated", "")
	})
	if err != nil {
		return nil, err
	}
	s.notice(u.Email, "New recovery codes", mfaChangedText(u, "given new recovery codes (the old ones no longer work)", c))
	return codes, nil
}

// RecoveryCodesLeft returns how many unused recovery codes the user has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		n, err = store.CountRecoveryCodes(ctx, tx, userID)
		return err
	})
	return n, err
}
