package web

import (
	"net/http"
	"net/url"
	"strings"

	"sendops/internal/domain"
	"sendops/internal/service"
)

func (s *Server) home(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if c.user != nil {
		http.Redirect(w, r, "/overview", http.StatusSeeOther)
	} else {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
	return nil
}

func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/ingest/") {
		writeJSONError(w, http.StatusNotFound, domain.ENotFound, "No such route.")
		return nil
	}
	return domain.Errorf(domain.ENotFound, "There is no page at this address.")
}

func (s *Server) signupPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if c.user != nil {
		http.Redirect(w, r, "/overview", http.StatusSeeOther)
		return nil
	}
	return s.page(w, r, c, "signup", map[string]any{"Title": "Sign up"})
}

func (s *Server) signupSubmit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	in := service.SignUp{Name: r.PostFormValue("name"), Email: r.PostFormValue("email"), Password: r.PostFormValue("password"), OrgName: r.PostFormValue("org")}
	u, _, err := s.Service.Register(r.Context(), in, c.client)
	if err != nil {
		return s.formError(w, r, c, "signup", map[string]any{"Title": "Sign up"}, err)
	}
	// Sign the new user in straight away.
	token, err := s.Service.OpenSession(r.Context(), u.ID, c.client)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, token)
	return s.redirect(w, r, "/overview", "Welcome to SendOps. We sent a link to "+in.Email+" to verify your address.")
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	next := safeNext(r.URL.Query().Get("next"))
	if c.user != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	return s.page(w, r, c, "login", map[string]any{"Title": "Sign in", "Next": next})
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	next := safeNext(r.PostFormValue("next"))
	res, err := s.Service.Login(r.Context(), r.PostFormValue("email"), r.PostFormValue("password"), c.client)
	if err != nil {
		return s.formError(w, r, c, "login", map[string]any{"Title": "Sign in", "Next": next}, err)
	}
	s.setSessionCookie(w, res.Token)
	if res.MFARequired {
		http.Redirect(w, r, "/login/mfa?next="+url.QueryEscape(next), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) mfaChallengePage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.page(w, r, c, "login_mfa", map[string]any{"Title": "Two-factor authentication", "Next": safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) mfaChallengeSubmit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	next := safeNext(r.PostFormValue("next"))
	token, err := s.Service.VerifyMFA(r.Context(), c.sess, r.PostFormValue("code"), c.client)
	if err != nil {
		return s.formError(w, r, c, "login_mfa", map[string]any{"Title": "Two-factor authentication", "Next": next}, err)
	}
	s.setSessionCookie(w, token)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if sess, _, err := s.Service.Authenticate(r.Context(), ck.Value); err == nil {
			if err := s.Service.Logout(r.Context(), sess); err != nil {
				return err
			}
		}
	}
	s.clearSessionCookie(w)
	return s.redirect(w, r, "/login", "You are signed out.")
}

func (s *Server) verifyEmail(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	u, err := s.Service.VerifyEmail(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	if c.user != nil && c.user.ID == u.ID {
		c.user = u // the banner asking to verify is gone now
	}
	return s.page(w, r, c, "message", map[string]any{"Title": "Email address verified",
		"Message": u.Email + " is verified. Thank you.", "Link": "/overview", "LinkText": "Continue"})
}

func (s *Server) verifyResend(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.SendVerification(r.Context(), c.user.ID); err != nil {
		return err
	}
	back := "/overview"
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Path != "" {
		back = safeNext(ref.RequestURI())
	}
	return s.redirect(w, r, back, "We sent a new link to "+c.user.Email+".")
}

func (s *Server) forgotPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.page(w, r, c, "forgot", map[string]any{"Title": "Reset your password"})
}

func (s *Server) forgotSubmit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	email := r.PostFormValue("email")
	if err := s.Service.RequestPasswordReset(r.Context(), email); err != nil {
		return s.formError(w, r, c, "forgot", map[string]any{"Title": "Reset your password"}, err)
	}
	return s.page(w, r, c, "message", map[string]any{"Title": "Check your email",
		"Message": "If an account uses " + email + ", we sent it a link to choose a new password. The link works for an hour."})
}

func (s *Server) resetPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.CheckResetLink(r.Context(), r.PathValue("token")); err != nil {
		return err
	}
	return s.page(w, r, c, "reset", map[string]any{"Title": "Choose a new password", "Token": r.PathValue("token")})
}

func (s *Server) resetSubmit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	token := r.PathValue("token")
	if err := s.Service.ResetPassword(r.Context(), token, r.PostFormValue("password"), c.client); err != nil {
		return s.formError(w, r, c, "reset", map[string]any{"Title": "Choose a new password", "Token": token}, err)
	}
	s.clearSessionCookie(w)
	return s.redirect(w, r, "/login", "Your password was changed. Sign in with it.")
}

func (s *Server) emailConfirm(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	u, err := s.Service.ConfirmEmailChange(r.Context(), r.PathValue("token"), c.client)
	if err != nil {
		return err
	}
	return s.page(w, r, c, "message", map[string]any{"Title": "Email address changed",
		"Message": "Your account now uses " + u.Email + ".", "Link": "/settings/profile", "LinkText": "Continue"})
}

func (s *Server) invitationPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	inv, org, err := s.Service.InvitationPreview(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	return s.page(w, r, c, "invitation", map[string]any{"Title": "Invitation", "Inv": inv, "Org": org, "Token": r.PathValue("token")})
}

func (s *Server) invitationAccept(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	token := r.PathValue("token")
	org, err := s.Service.AcceptInvitation(r.Context(), c.user, token, c.client)
	if err != nil {
		if domain.ErrorCode(err) == domain.EForbidden {
			inv, iorg, perr := s.Service.InvitationPreview(r.Context(), token)
			if perr != nil {
				return perr
			}
			return s.formError(w, r, c, "invitation", map[string]any{"Title": "Invitation", "Inv": inv, "Org": iorg, "Token": token}, err)
		}
		return err
	}
	if err := s.Service.SwitchOrg(r.Context(), c.sess, org.ID); err != nil {
		return err
	}
	return s.redirect(w, r, "/overview", "You joined "+org.Name+".")
}

// sectionPage serves an application section that later features fill.
func (s *Server) sectionPage(name string) handler {
	texts := map[string][3]string{
		"overview":    {"Overview", "No events yet", "Connect an AWS account and publish SES events to SendOps to see sending, delivery, bounces and complaints here."},
		"messages":    {"Messages", "No messages yet", "Search by recipient, subject or message id once SES events arrive from a connection."},
		"connections": {"Connections", "No connections yet", "A connection is an AWS account and region whose SES events SendOps receives."},
		"identities":  {"Identities", "No identities yet", "The domains and addresses your connections send from, with the DNS records to publish."},
		"templates":   {"Templates", "No template repository yet", "Email templates live in your Git repository; SendOps renders, lints and pushes them to SES."},
	}
	t := texts[name]
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
		return s.page(w, r, c, "section", map[string]any{"Title": t[0], "Section": name, "Heading": t[1], "Text": t[2]})
	}
}
