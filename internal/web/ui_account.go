package web

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"image/png"
	"net/http"

	"github.com/pquerna/otp"

	"sendops/internal/service"
)

func (s *Server) settingsHome(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	http.Redirect(w, r, "/settings/profile", http.StatusSeeOther)
	return nil
}

func (s *Server) profilePage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.page(w, r, c, "settings_profile", map[string]any{"Title": "Profile", "Section": "settings"})
}

func (s *Server) profileForm(w http.ResponseWriter, r *http.Request, c *reqCtx, which string, err error) error {
	return s.formError(w, r, c, "settings_profile", map[string]any{"Title": "Profile", "Section": "settings", "Which": which}, err)
}

func (s *Server) profileSave(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.UpdateProfile(r.Context(), c.user.ID, r.PostFormValue("name")); err != nil {
		return s.profileForm(w, r, c, "profile", err)
	}
	return s.redirect(w, r, "/settings/profile", "Saved.")
}

func (s *Server) emailChange(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	email := r.PostFormValue("new_email")
	if err := s.Service.RequestEmailChange(r.Context(), c.user.ID, r.PostFormValue("password"), email); err != nil {
		return s.profileForm(w, r, c, "email", err)
	}
	return s.redirect(w, r, "/settings/profile", "We sent a link to "+email+". Your address changes when you open it.")
}

func (s *Server) passwordChange(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	token, err := s.Service.ChangePassword(r.Context(), c.sess, r.PostFormValue("current_password"), r.PostFormValue("new_password"), c.client)
	if err != nil {
		return s.profileForm(w, r, c, "password", err)
	}
	s.setSessionCookie(w, token)
	return s.redirect(w, r, "/settings/profile", "Your password was changed and your other sessions signed out.")
}

func (s *Server) noticesPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	prefs, err := s.Service.NoticePrefs(r.Context(), c.user.ID)
	if err != nil {
		return err
	}
	return s.page(w, r, c, "settings_notifications", map[string]any{"Title": "Notifications", "Section": "settings", "Prefs": prefs})
}

func (s *Server) noticesSave(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	on := map[string]bool{}
	for _, k := range r.PostForm["notice"] {
		on[k] = true
	}
	if err := s.Service.SetNoticePrefs(r.Context(), c.user.ID, on); err != nil {
		return err
	}
	return s.redirect(w, r, "/settings/notifications", "Saved.")
}

// securityData gathers what the security page shows.
func (s *Server) securityData(r *http.Request, c *reqCtx, which string) (map[string]any, error) {
	ctx := r.Context()
	d := map[string]any{"Title": "Security", "Section": "settings", "Which": which, "Current": c.sess.ID}
	sessions, err := s.Service.Sessions(ctx, c.user.ID)
	if err != nil {
		return nil, err
	}
	d["Sessions"] = sessions
	if c.user.MFAEnabled() {
		n, err := s.Service.RecoveryCodesLeft(ctx, c.user.ID)
		if err != nil {
			return nil, err
		}
		d["CodesLeft"] = n
	} else if setup, err := s.Service.PendingMFA(ctx, c.user); err != nil {
		return nil, err
	} else if setup != nil {
		d["Setup"] = setup
		d["QR"] = qrDataURI(setup)
	}
	return d, nil
}

// qrDataURI draws the otpauth URL as a PNG QR code in a data: URI (made
// here, so safe for the template).
func qrDataURI(m *service.MFASetup) template.URL {
	key, err := otp.NewKeyFromURL(m.URL)
	if err != nil {
		return ""
	}
	img, err := key.Image(200, 200)
	if err != nil {
		return ""
	}
	var buf bytes.Buffer
	if png.Encode(&buf, img) != nil {
		return ""
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
}

func (s *Server) securityPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := s.securityData(r, c, "")
	if err != nil {
		return err
	}
	return s.page(w, r, c, "settings_security", d)
}

func (s *Server) securityForm(w http.ResponseWriter, r *http.Request, c *reqCtx, which string, err error) error {
	d, derr := s.securityData(r, c, which)
	if derr != nil {
		return derr
	}
	return s.formError(w, r, c, "settings_security", d, err)
}

func (s *Server) mfaStart(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if _, err := s.Service.BeginMFA(r.Context(), c.user.ID); err != nil {
		return s.securityForm(w, r, c, "enable", err)
	}
	http.Redirect(w, r, "/settings/security#mfa", http.StatusSeeOther)
	return nil
}

func (s *Server) mfaEnable(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	codes, token, err := s.Service.EnableMFA(r.Context(), c.sess, r.PostFormValue("code"), c.client)
	if err != nil {
		return s.securityForm(w, r, c, "enable", err)
	}
	s.setSessionCookie(w, token)
	// The rotated session carries a new CSRF token; show the codes once, now.
	if c.user, err = s.Service.User(r.Context(), c.user.ID); err != nil {
		return err
	}
	c.csrf, c.mfaSetup = c.sess.CSRFToken, false
	if c.org != nil {
		if c.actor, c.org, err = s.Service.Actor(r.Context(), c.sess, c.user, c.client.IP); err != nil {
			return err
		}
	}
	d, err := s.securityData(r, c, "")
	if err != nil {
		return err
	}
	d["RecoveryCodes"] = codes
	d["Flash"] = "Two-factor authentication is on."
	return s.page(w, r, c, "settings_security", d)
}

func (s *Server) mfaDisable(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	token, err := s.Service.DisableMFA(r.Context(), c.sess, r.PostFormValue("password"), r.PostFormValue("code"), c.client)
	if err != nil {
		return s.securityForm(w, r, c, "disable", err)
	}
	s.setSessionCookie(w, token)
	return s.redirect(w, r, "/settings/security", "Two-factor authentication is off.")
}

func (s *Server) mfaRecovery(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	codes, err := s.Service.RegenerateRecoveryCodes(r.Context(), c.user.ID, r.PostFormValue("code"), c.client)
	if err != nil {
		return s.securityForm(w, r, c, "recovery", err)
	}
	d, err := s.securityData(r, c, "")
	if err != nil {
		return err
	}
	d["RecoveryCodes"] = codes
	return s.page(w, r, c, "settings_security", d)
}

func (s *Server) sessionRevoke(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	if err := s.Service.RevokeSession(r.Context(), c.user.ID, id); err != nil {
		return err
	}
	if id == c.sess.ID {
		s.clearSessionCookie(w)
		return s.redirect(w, r, "/login", "You are signed out.")
	}
	return s.redirect(w, r, "/settings/security#sessions", "That session is signed out.")
}
