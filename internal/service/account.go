package service

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
)

// Token purposes.
const (
	purposeVerify      = "verify"
	purposeReset       = "reset"
	purposeEmailChange = "email_change"
)

// SignUp is what a new user types.
type SignUp struct {
	Name     string
	Email    string
	Password string
	// OrgName names the user's first organisation; default "NAME's organisation".
	OrgName string
}

// normalEmail checks and lower-cases an email address.
func normalEmail(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") || len(s) > 254 {
		return "", domain.FieldError(field, "Enter an email address like name@example.com.")
	}
	return s, nil
}

// checkPassword enforces the password policy: 10 to 256 characters.
func checkPassword(field, p string) error {
	if n := utf8.RuneCountInString(p); n < 10 {
		return domain.FieldError(field, "Use at least 10 characters.")
	} else if n > 256 {
		return domain.FieldError(field, "Use at most 256 characters.")
	}
	return nil
}

func checkName(field, what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", domain.FieldError(field, "Enter %s.", what)
	} else if utf8.RuneCountInString(s) > 100 {
		return "", domain.FieldError(field, "Use at most 100 characters.")
	}
	return s, nil
}

// Register creates a user who owns a new organisation, and sends the email
// verification link. Anyone may call it. Errors: EInvalid (per field),
// EConflict-like EInvalid on "email" when the address is taken.
func (s *Service) Register(ctx context.Context, in SignUp, c Client) (*domain.User, *domain.Org, error) {
	u, org, err := s.createUser(ctx, in, false, c)
	if err != nil {
		return nil, nil, err
	}
	if err := s.SendVerification(ctx, u.ID); err != nil {
		return nil, nil, err
	}
	return u, org, nil
}

// CreateUser creates a user with a verified address who owns a new
// organisation: the command line's `user create`. Errors as Register.
func (s *Service) CreateUser(ctx context.Context, in SignUp) (*domain.User, *domain.Org, error) {
	return s.createUser(ctx, in, true, Client{IP: "cli"})
}

func (s *Service) createUser(ctx context.Context, in SignUp, verified bool, c Client) (*domain.User, *domain.Org, error) {
	name, err := checkName("name", "your name", in.Name)
	if err != nil {
		return nil, nil, err
	}
	email, err := normalEmail("email", in.Email)
	if err != nil {
		return nil, nil, err
	}
	if err := checkPassword("password", in.Password); err != nil {
		return nil, nil, err
	}
	orgName := in.OrgName
	if strings.TrimSpace(orgName) == "" {
		orgName = name + "'s organisation"
	}
	if orgName, err = checkName("org", "an organisation name", orgName); err != nil {
		return nil, nil, err
	}
	u := &domain.User{Name: name, Email: email, PasswordHash: secret.HashPassword(in.Password)}
	org := &domain.Org{Name: orgName}
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		if verified {
			now := tx.Now()
			u.EmailVerifiedAt = &now
		}
		if err := store.CreateUser(ctx, tx, u); err != nil {
			return err
		}
		if err := store.CreateOrg(ctx, tx, org); err != nil {
			return err
		}
		if err := store.PutMember(ctx, tx, org.ID, u.ID, domain.RoleOwner); err != nil {
			return err
		}
		a := &domain.Actor{OrgID: org.ID, UserID: u.ID, Email: u.Email, Role: domain.RoleOwner, IP: c.IP}
		return audit(ctx, tx, a, "org.created", org.Name, "")
	})
	if err != nil {
		return nil, nil, err
	}
	return u, org, nil
}

// SendVerification emails a new verification link to the user's address,
// voiding earlier links. Errors: ENotFound.
func (s *Service) SendVerification(ctx context.Context, userID string) error {
	token := secret.Token("")
	var u *domain.User
	err := s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if u, err = store.UserByID(ctx, tx, userID); err != nil {
			return err
		}
		if u.EmailVerified() {
			return nil
		}
		if err := store.DeleteUserTokens(ctx, tx, u.ID, purposeVerify); err != nil {
			return err
		}
		return store.CreateUserToken(ctx, tx, secret.HashToken(token), purposeVerify, u.ID, u.Email, verifyTTL)
	})
	if err != nil || u.EmailVerified() {
		return err
	}
	s.notice(u.Email, "Verify your email address for SendOps",
		fmt.Sprintf("Hello %s,\n\nConfirm that this is your address by opening this link within 48 hours:\n\n%s/verify/%s\n\nIf you did not sign up for SendOps, ignore this email.", u.Name, s.BaseURL, token))
	return nil
}

// VerifyEmail marks the address a verification link was sent to as
// verified. Anyone holding the link may call it. Errors: ENotFound for a bad,
// used or expired link.
func (s *Service) VerifyEmail(ctx context.Context, token string) (*domain.User, error) {
	var u *domain.User
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		userID, email, err := store.UseUserToken(ctx, tx, secret.HashToken(token), purposeVerify)
		if err != nil {
			return err
		}
		if u, err = store.UserByID(ctx, tx, userID); err != nil {
			return err
		}
		if u.Email != email {
			return domain.Errorf(domain.EInvalid, "This link was sent to an address the account no longer uses.")
		}
		now := tx.Now()
		u.EmailVerifiedAt = &now
		return store.UpdateUser(ctx, tx, u)
	})
	return u, err
}

// RequestPasswordReset emails a reset link when an account has the address.
// It answers the same whether or not one does (no enumeration).
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	email, err := normalEmail("email", email)
	if err != nil {
		return err
	}
	token := secret.Token("")
	var u *domain.User
	err = s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if u, err = store.UserByEmail(ctx, tx, email); err != nil {
			return err
		}
		if err := store.DeleteUserTokens(ctx, tx, u.ID, purposeReset); err != nil {
			return err
		}
		return store.CreateUserToken(ctx, tx, secret.HashToken(token), purposeReset, u.ID, u.Email, resetTTL)
	})
	if domain.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	s.notice(u.Email, "Reset your SendOps password",
		fmt.Sprintf("Hello %s,\n\nSomeone asked to reset the password of your SendOps account. If it was you, choose a new password within an hour:\n\n%s/reset/%s\n\nIf it was not you, ignore this email: your password stays as it is.", u.Name, s.BaseURL, token))
	return nil
}

// CheckResetLink reports whether a password reset link is still good, so
// that the form is shown only for a link that works. Errors: ENotFound.
func (s *Service) CheckResetLink(ctx context.Context, token string) error {
	return s.DB.View(ctx, func(tx *store.Tx) error {
		return store.PeekUserToken(ctx, tx, secret.HashToken(token), purposeReset)
	})
}

// ResetPassword sets a new password with a reset link, signs the user out
// everywhere and tells them. Errors: EInvalid (link or password).
func (s *Service) ResetPassword(ctx context.Context, token, password string, c Client) error {
	if err := checkPassword("password", password); err != nil {
		return err
	}
	hash := secret.HashPassword(password)
	var u *domain.User
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		userID, _, err := store.UseUserToken(ctx, tx, secret.HashToken(token), purposeReset)
		if err != nil {
			return err
		}
		if u, err = store.UserByID(ctx, tx, userID); err != nil {
			return err
		}
		u.PasswordHash = hash
		if err := store.DeleteUserTokens(ctx, tx, u.ID, purposeEmailChange); err != nil {
			return err
		}
		// Following the link proves the address, too.
		if !u.EmailVerified() {
			now := tx.Now()
			u.EmailVerifiedAt = &now
		}
		if err := store.UpdateUser(ctx, tx, u); err != nil {
			return err
		}
		if err := store.DeleteUserSessions(ctx, tx, u.ID, ""); err != nil {
			return err
		}
		return auditUser(ctx, tx, u, c.IP, "user.password_reset", "")
	})
	if err != nil {
		return err
	}
	s.notice(u.Email, "Your SendOps password was changed", passwordChangedText(u, c))
	return nil
}

func passwordChangedText(u *domain.User, c Client) string {
	return fmt.Sprintf("Hello %s,\n\nThe password of your SendOps account was changed from %s. Every other session was signed out.\n\nIf this was not you, reset your password now and tell your organisation's owner.", u.Name, c.IP)
}

// ChangePassword changes the signed-in user's password after checking the
// current one, signs out every other session and rotates this one. It
// returns the new session cookie value. Errors: EInvalid (per field).
func (s *Service) ChangePassword(ctx context.Context, sess *domain.Session, current, password string, c Client) (string, error) {
	if err := checkPassword("new_password", password); err != nil {
		return "", err
	}
	old, err := s.checkCurrentPassword(ctx, sess.UserID, "current_password", current)
	if err != nil {
		return "", err
	}
	hash := secret.HashPassword(password)
	var u *domain.User
	var token string
	err = s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if u, err = store.UserByID(ctx, tx, sess.UserID); err != nil {
			return err
		}
		if u.PasswordHash != old {
			return domain.Errorf(domain.EConflict, "Your password changed meanwhile; try again.")
		}
		u.PasswordHash = hash
		// Links sent before (address change, reset) stop working.
		for _, p := range []string{purposeEmailChange, purposeReset} {
			if err := store.DeleteUserTokens(ctx, tx, u.ID, p); err != nil {
				return err
			}
		}
		if err := store.UpdateUser(ctx, tx, u); err != nil {
			return err
		}
		if token, err = s.rotateSession(ctx, tx, sess, c); err != nil {
			return err
		}
		if err := store.DeleteUserSessions(ctx, tx, u.ID, sess.ID); err != nil {
			return err
		}
		return auditUser(ctx, tx, u, c.IP, "user.password_changed", "")
	})
	if err != nil {
		return "", err
	}
	s.notice(u.Email, "Your SendOps password was changed", passwordChangedText(u, c))
	return token, nil
}

// checkCurrentPassword re-checks a signed-in user's password, throttled per
// user, outside any write transaction (argon2 takes tens of milliseconds and
// SQLite has one writer). It returns the hash it checked, for the caller to
// compare inside its transaction.
func (s *Service) checkCurrentPassword(ctx context.Context, userID, field, password string) (string, error) {
	if err := s.reauth(ctx, userID); err != nil {
		return "", err
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return "", err
	}
	if !secret.CheckPassword(u.PasswordHash, password) {
		return "", domain.FieldError(field, "This is not your current password.")
	}
	return u.PasswordHash, s.clearThrottle(ctx, "reauth:"+userID)
}

// UpdateProfile changes the signed-in user's name.
func (s *Service) UpdateProfile(ctx context.Context, userID, name string) error {
	name, err := checkName("name", "your name", name)
	if err != nil {
		return err
	}
	return s.DB.Update(ctx, func(tx *store.Tx) error {
		u, err := store.UserByID(ctx, tx, userID)
		if err != nil {
			return err
		}
		u.Name = name
		return store.UpdateUser(ctx, tx, u)
	})
}

// RequestEmailChange checks the password and sends a confirmation link to
// the new address; the address changes when the link is opened. Errors:
// EInvalid (per field: new_email, password).
func (s *Service) RequestEmailChange(ctx context.Context, userID, password, newEmail string) error {
	newEmail, err := normalEmail("new_email", newEmail)
	if err != nil {
		return err
	}
	if _, err := s.checkCurrentPassword(ctx, userID, "password", password); err != nil {
		return err
	}
	token := secret.Token("")
	var u *domain.User
	err = s.DB.Update(ctx, func(tx *store.Tx) (err error) {
		if u, err = store.UserByID(ctx, tx, userID); err != nil {
			return err
		}
		if newEmail == u.Email {
			return domain.FieldError("new_email", "This is already your address.")
		}
		if _, err := store.UserByEmail(ctx, tx, newEmail); err == nil {
			return domain.FieldError("new_email", "Another account uses this address.")
		} else if !domain.IsNotFound(err) {
			return err
		}
		if err := store.DeleteUserTokens(ctx, tx, u.ID, purposeEmailChange); err != nil {
			return err
		}
		return store.CreateUserToken(ctx, tx, secret.HashToken(token), purposeEmailChange, u.ID, newEmail, verifyTTL)
	})
	if err != nil {
		return err
	}
	s.notice(newEmail, "Confirm your new email address for SendOps",
		fmt.Sprintf("Hello %s,\n\nTo make this the address of your SendOps account, open this link within 48 hours:\n\n%s/email/confirm/%s", u.Name, s.BaseURL, token))
	return nil
}

// ConfirmEmailChange switches the account to the address the link was sent
// to and tells the old address. Errors: EInvalid (link, or address taken).
func (s *Service) ConfirmEmailChange(ctx context.Context, token string, c Client) (*domain.User, error) {
	var u *domain.User
	var old string
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		userID, email, err := store.UseUserToken(ctx, tx, secret.HashToken(token), purposeEmailChange)
		if err != nil {
			return err
		}
		if u, err = store.UserByID(ctx, tx, userID); err != nil {
			return err
		}
		old = u.Email
		now := tx.Now()
		u.Email, u.EmailVerifiedAt = email, &now
		if err := store.UpdateUser(ctx, tx, u); err != nil {
			if domain.ErrorCode(err) == domain.EInvalid {
				return domain.Errorf(domain.EInvalid, "Another account took this address meanwhile.")
			}
			return err
		}
		return auditUser(ctx, tx, u, c.IP, "user.email_changed", old+" → "+email)
	})
	if err != nil {
		return nil, err
	}
	s.notice(old, "Your SendOps email address was changed",
		fmt.Sprintf("Hello %s,\n\nThe address of your SendOps account was changed from %s to %s.\n\nIf this was not you, tell your organisation's owner at once.", u.Name, old, u.Email))
	return u, nil
}

// User returns a user by id. Errors: ENotFound.
func (s *Service) User(ctx context.Context, id string) (*domain.User, error) {
	var u *domain.User
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		u, err = store.UserByID(ctx, tx, id)
		return err
	})
	return u, err
}

// UserByEmail returns the user with an address. Errors: ENotFound.
func (s *Service) UserByEmail(ctx context.Context, email string) (*domain.User, error) {
	var u *domain.User
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		u, err = store.UserByEmail(ctx, tx, email)
		return err
	})
	return u, err
}

// NoticePrefs returns the user's optional notice choices.
func (s *Service) NoticePrefs(ctx context.Context, userID string) (map[string]bool, error) {
	var p map[string]bool
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		p, err = store.NoticePrefs(ctx, tx, userID)
		return err
	})
	return p, err
}

// SetNoticePrefs stores the user's choice for every optional notice kind:
// kinds in enabled are on, the others off.
func (s *Service) SetNoticePrefs(ctx context.Context, userID string, enabled map[string]bool) error {
	return s.DB.Update(ctx, func(tx *store.Tx) error {
		for _, k := range domain.NoticeKinds {
			if err := store.SetNoticePref(ctx, tx, userID, k.Key, enabled[k.Key]); err != nil {
				return err
			}
		}
		return nil
	})
}
