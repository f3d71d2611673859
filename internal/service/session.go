package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
)

// SignIn is the outcome of a password check.
type SignIn struct {
	// Token is the new session's cookie value.
	Token string
	// MFARequired: the session waits for a second factor (VerifyMFA).
	MFARequired bool
}

func throttleKeys(email string, c Client) (account, client string) {
	return "account:" + email, "client:" + c.IP
}

// throttle counts an attempt on each key and refuses with ETooMany when a
// key went over its limit in the current window. max[i] is the limit of
// keys[i]. It runs in its own transaction, before the work it guards.
func (s *Service) throttle(ctx context.Context, keys []string, max []int) error {
	var wait int
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		for i, key := range keys {
			n, start, err := store.ThrottleHit(ctx, tx, key, tx.Now().Add(-throttleWindow))
			if err != nil {
				return err
			}
			if n > max[i] {
				wait = max2(wait, int(start.Add(throttleWindow).Sub(tx.Now()).Seconds())+1)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if wait > 0 {
		return &domain.Error{Code: domain.ETooMany, RetryAfter: wait,
			Message: fmt.Sprintf("Too many attempts. Try again in %d minutes.", (wait+59)/60)}
	}
	return nil
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// clearThrottle forgets the attempts on key after a success.
func (s *Service) clearThrottle(ctx context.Context, key string) error {
	return s.DB.Update(ctx, func(tx *store.Tx) error { return store.ClearThrottle(ctx, tx, key) })
}

// reauth guards the password and code re-checks of signed-in users
// (changing the password or address, turning MFA off, new recovery codes),
// so that a stolen session cannot guess them.
func (s *Service) reauth(ctx context.Context, userID string) error {
	return s.throttle(ctx, []string{"reauth:" + userID}, []int{maxAccountFailures})
}

// Login checks an email and password and opens a session. A user with MFA
// gets a session that waits for the second factor. Anyone may call it.
// Errors: EUnauthorized (the same for an unknown address and a wrong
// password, after the same work), ETooMany with RetryAfter.
func (s *Service) Login(ctx context.Context, email, password string, c Client) (*SignIn, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	acctKey, clientKey := throttleKeys(email, c)
	if err := s.throttle(ctx, []string{clientKey, acctKey}, []int{maxClientAttempts, maxAccountFailures}); err != nil {
		return nil, err
	}
	var u *domain.User
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		u, err = store.UserByEmail(ctx, tx, email)
		return err
	})
	if err != nil && !domain.IsNotFound(err) {
		return nil, err
	}
	hash := ""
	if u != nil && err == nil {
		hash = u.PasswordHash
	}
	if !secret.CheckPassword(hash, password) {
		return nil, domain.Errorf(domain.EUnauthorized, "The email address or the password is wrong.")
	}
	var out SignIn
	var newDevice bool
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		if err := store.ClearThrottle(ctx, tx, acctKey); err != nil {
			return err
		}
		sess := s.newSession(tx, u.ID, c)
		sess.MFAPending = u.MFAEnabled()
		if sess.MFAPending {
			sess.ExpiresAt = tx.Now().Add(mfaPendingTTL)
		} else {
			var err error
			if newDevice, err = isNewDevice(ctx, tx, u.ID, c, s.SessionIdle); err != nil {
				return err
			}
			if err := auditUser(ctx, tx, u, c.IP, "user.signed_in", "password"); err != nil {
				return err
			}
		}
		out.Token, out.MFARequired = sess.ID, sess.MFAPending
		sess.ID = secret.HashToken(sess.ID)
		return s.startSession(ctx, tx, sess, u)
	})
	if err != nil {
		return nil, err
	}
	if newDevice {
		s.newSignInNotice(u, c)
	}
	return &out, nil
}

// newSession prepares a session whose ID is still the cookie value.
func (s *Service) newSession(tx *store.Tx, userID string, c Client) *domain.Session {
	now := tx.Now()
	return &domain.Session{
		ID: secret.Token(""), UserID: userID, CSRFToken: secret.Token(""),
		IP: c.IP, UserAgent: truncate(c.UserAgent, 300),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.SessionAbsolute),
	}
}

// startSession stores a session, choosing the user's first organisation.
func (s *Service) startSession(ctx context.Context, tx *store.Tx, sess *domain.Session, u *domain.User) error {
	if sess.OrgID == "" {
		ms, err := store.UserMemberships(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if len(ms) > 0 {
			sess.OrgID = ms[0].OrgID
		}
	}
	return store.CreateSession(ctx, tx, sess)
}

// rotateSession replaces sess with a fresh session id (after a privilege
// change) and returns the new cookie value. sess is updated in place.
func (s *Service) rotateSession(ctx context.Context, tx *store.Tx, sess *domain.Session, c Client) (string, error) {
	if _, err := store.DeleteSession(ctx, tx, sess.UserID, sess.ID); err != nil {
		return "", err
	}
	next := s.newSession(tx, sess.UserID, c)
	token := next.ID
	next.ID = secret.HashToken(token)
	next.OrgID = sess.OrgID
	if !sess.MFAPending {
		// Keep the absolute expiry of the sign-in; a pending session gets a full one now.
		next.CreatedAt, next.ExpiresAt = sess.CreatedAt, sess.ExpiresAt
	}
	if err := store.CreateSession(ctx, tx, next); err != nil {
		return "", err
	}
	*sess = *next
	return token, nil
}

func isNewDevice(ctx context.Context, tx *store.Tx, userID string, c Client, idle time.Duration) (bool, error) {
	ss, err := store.UserSessions(ctx, tx, userID, idle)
	if err != nil {
		return false, err
	}
	for _, s := range ss {
		if s.UserAgent == truncate(c.UserAgent, 300) {
			return false, nil
		}
	}
	return true, nil
}

func (s *Service) newSignInNotice(u *domain.User, c Client) {
	s.notice(u.Email, "New sign-in to your SendOps account",
		fmt.Sprintf("Hello %s,\n\nYour account was signed in to from a new browser:\n\n  Address: %s\n  Browser: %s\n  Time:    %s\n\nIf this was not you, change your password and sign out that session under Settings → Security.",
			u.Name, c.IP, c.UserAgent, time.Now().UTC().Format(time.RFC1123)))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Authenticate returns the live session and user for a cookie value. The
// session's last-seen time is updated at most once a minute. Errors:
// EUnauthorized.
func (s *Service) Authenticate(ctx context.Context, token string) (*domain.Session, *domain.User, error) {
	if token == "" {
		return nil, nil, domain.Errorf(domain.EUnauthorized, "Sign in first.")
	}
	var sess *domain.Session
	var u *domain.User
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		if sess, err = store.LiveSession(ctx, tx, secret.HashToken(token), s.SessionIdle); err != nil {
			return err
		}
		u, err = store.UserByID(ctx, tx, sess.UserID)
		return err
	})
	if domain.IsNotFound(err) {
		return nil, nil, domain.Errorf(domain.EUnauthorized, "Your session ended. Sign in again.")
	} else if err != nil {
		return nil, nil, err
	}
	if time.Since(sess.LastSeenAt) > time.Minute {
		if err := s.DB.Update(ctx, func(tx *store.Tx) error { return store.TouchSession(ctx, tx, sess.ID) }); err != nil {
			return nil, nil, err
		}
	}
	return sess, u, nil
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, sess *domain.Session) error {
	return s.DB.Update(ctx, func(tx *store.Tx) error {
		_, err := store.DeleteSession(ctx, tx, sess.UserID, sess.ID)
		return err
	})
}

// Sessions lists the user's live sessions.
func (s *Service) Sessions(ctx context.Context, userID string) ([]domain.Session, error) {
	var out []domain.Session
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		out, err = store.UserSessions(ctx, tx, userID, s.SessionIdle)
		return err
	})
	return out, err
}

// RevokeSession ends one of the user's own sessions. Errors: ENotFound.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string) error {
	return s.DB.Update(ctx, func(tx *store.Tx) error {
		ok, err := store.DeleteSession(ctx, tx, userID, sessionID)
		if err == nil && !ok {
			return domain.Errorf(domain.ENotFound, "Session not found.")
		}
		return err
	})
}

// SwitchOrg makes the session work in another organisation of the user.
// Errors: ENotFound when the user is not a member.
func (s *Service) SwitchOrg(ctx context.Context, sess *domain.Session, orgID string) error {
	return s.DB.Update(ctx, func(tx *store.Tx) error {
		if _, err := store.Member(ctx, tx, orgID, sess.UserID); err != nil {
			return domain.Errorf(domain.ENotFound, "Organisation not found.")
		}
		sess.OrgID = orgID
		return store.SetSessionOrg(ctx, tx, sess.ID, orgID)
	})
}

// ErrMFASetupRequired is returned by Actor when the organisation requires
// MFA and the user has not turned it on.
var ErrMFASetupRequired = &domain.Error{Code: domain.EForbidden, Message: "This organisation requires two-factor authentication: turn it on to continue."}

// Actor returns who the session's user is in its current organisation.
// Errors: ENotFound when the session has no organisation (or lost it),
// ErrMFASetupRequired.
func (s *Service) Actor(ctx context.Context, sess *domain.Session, u *domain.User, ip string) (*domain.Actor, *domain.Org, error) {
	if sess.OrgID == "" {
		return nil, nil, domain.Errorf(domain.ENotFound, "You do not belong to an organisation.")
	}
	var m *domain.Membership
	var org *domain.Org
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		if m, err = store.Member(ctx, tx, sess.OrgID, u.ID); err != nil {
			return err
		}
		org, err = store.OrgByID(ctx, tx, sess.OrgID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	a := &domain.Actor{OrgID: org.ID, UserID: u.ID, Email: u.Email, Role: m.Role, IP: ip}
	if org.RequireMFA && !u.MFAEnabled() {
		return a, org, ErrMFASetupRequired
	}
	return a, org, nil
}

// OpenSession signs a user in who just proved who they are another way (by
// signing up), without a password check. It returns the cookie value.
func (s *Service) OpenSession(ctx context.Context, userID string, c Client) (string, error) {
	var token string
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		u, err := store.UserByID(ctx, tx, userID)
		if err != nil {
			return err
		}
		sess := s.newSession(tx, u.ID, c)
		token = sess.ID
		sess.ID = secret.HashToken(token)
		return s.startSession(ctx, tx, sess, u)
	})
	return token, err
}
