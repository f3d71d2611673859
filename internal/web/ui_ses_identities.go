package web

import (
	"net/http"
	"net/url"
	"strings"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// sesIdentitiesData is the identities page of a connection: a page of its
// identities (an AWS error is shown on the page).
func (s *Server) sesIdentitiesData(r *http.Request, c *reqCtx) (d map[string]any, awsErr, err error) {
	d, err = s.sesData(r, c, "identities", "Identities")
	if err != nil {
		return nil, nil, err
	}
	cursor := r.URL.Query().Get("cursor")
	ids, next, awsErr := s.Service.SESIdentities(r.Context(), c.actor, r.PathValue("id"), domain.Page{Limit: 50, Cursor: cursor})
	d["Identities"], d["Next"], d["Paged"] = ids, next, cursor != ""
	return d, awsErr, nil
}

func (s *Server) sesIdentitiesPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, awsErr, err := s.sesIdentitiesData(r, c)
	if err != nil {
		return err
	}
	return s.sesShow(w, r, c, "ses_identities", d, awsErr)
}

func (s *Server) sesIdentityCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	connID := r.PathValue("id")
	id, err := s.Service.CreateSESIdentity(r.Context(), c.actor, connID, service.SESIdentityInput{
		Identity: r.PostFormValue("identity"), MailFromDomain: r.PostFormValue("mail_from_domain")})
	if err != nil {
		d, awsErr, derr := s.sesIdentitiesData(r, c)
		if derr != nil {
			return derr
		}
		if awsErr != nil {
			d["ListError"] = domain.ErrorMessage(awsErr)
		}
		return s.formError(w, r, c, "ses_identities", d, err)
	}
	msg := "Added " + id.Name + "."
	if id.Type == service.IdentityDomain {
		msg += " Publish the DNS records below to verify it."
	} else {
		msg += " SES emailed a verification link to the address."
	}
	return s.redirect(w, r, identityPath(connID, id.Name), msg)
}

// identityPath is the page of an identity.
func identityPath(connID, name string) string {
	return "/connections/" + url.PathEscape(connID) + "/identities/" + url.PathEscape(name)
}

func (s *Server) sesIdentityData(r *http.Request, c *reqCtx) (d map[string]any, awsErr, err error) {
	name := r.PathValue("identity")
	d, err = s.sesData(r, c, "identities", name)
	if err != nil {
		return nil, nil, err
	}
	id, awsErr := s.Service.SESIdentity(r.Context(), c.actor, r.PathValue("id"), name)
	if domain.IsNotFound(awsErr) {
		return nil, nil, awsErr
	}
	d["Identity"], d["Name"] = id, name
	return d, awsErr, nil
}

func (s *Server) sesIdentityPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, awsErr, err := s.sesIdentityData(r, c)
	if err != nil {
		return err
	}
	return s.sesShow(w, r, c, "ses_identity", d, awsErr)
}

func (s *Server) sesIdentityDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	connID, name := r.PathValue("id"), r.PathValue("identity")
	var err error
	if !strings.EqualFold(strings.TrimSpace(r.PostFormValue("confirm")), name) {
		err = domain.FieldError("confirm", "Type %s to confirm: SES stops sending from it at once.", name)
	} else {
		err = s.Service.DeleteSESIdentity(r.Context(), c.actor, connID, name)
	}
	if err != nil {
		d, awsErr, derr := s.sesIdentityData(r, c)
		if derr != nil {
			return derr
		}
		if awsErr != nil {
			d["Error"] = domain.ErrorMessage(awsErr)
		}
		return s.formError(w, r, c, "ses_identity", d, err)
	}
	return s.redirect(w, r, "/connections/"+url.PathEscape(connID)+"/identities", "Removed "+name+" from SES.")
}
