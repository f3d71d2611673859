package web

import (
	"net/http"
	"net/url"
	"strings"

	"sendops/internal/domain"
)

// sesConfigSetsData is the configuration sets page of a connection: a page
// of sets with their event destinations (an AWS error is on the page).
func (s *Server) sesConfigSetsData(r *http.Request, c *reqCtx) (d map[string]any, awsErr, err error) {
	d, err = s.sesData(r, c, "configsets", "Configuration sets")
	if err != nil {
		return nil, nil, err
	}
	cursor := r.URL.Query().Get("cursor")
	sets, next, awsErr := s.Service.SESConfigSets(r.Context(), c.actor, r.PathValue("id"), domain.Page{Limit: 20, Cursor: cursor}, true)
	d["Sets"], d["Next"], d["Paged"] = sets, next, cursor != ""
	return d, awsErr, nil
}

func (s *Server) sesConfigSetsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, awsErr, err := s.sesConfigSetsData(r, c)
	if err != nil {
		return err
	}
	return s.sesShow(w, r, c, "ses_configsets", d, awsErr)
}

// sesConfigSetsFormError shows the page again with a form's error; which
// names the form ("create", or the set whose delete form it was).
func (s *Server) sesConfigSetsFormError(w http.ResponseWriter, r *http.Request, c *reqCtx, which string, err error) error {
	d, awsErr, derr := s.sesConfigSetsData(r, c)
	if derr != nil {
		return derr
	}
	if awsErr != nil {
		d["Error"] = domain.ErrorMessage(awsErr)
	}
	d["Which"] = which
	return s.formError(w, r, c, "ses_configsets", d, err)
}

func (s *Server) sesConfigSetCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	connID := r.PathValue("id")
	cs, err := s.Service.CreateSESConfigSet(r.Context(), c.actor, connID, r.PostFormValue("name"))
	if err != nil {
		return s.sesConfigSetsFormError(w, r, c, "create", err)
	}
	return s.redirect(w, r, "/connections/"+url.PathEscape(connID)+"/configuration-sets", "Created the configuration set "+cs.Name+".")
}

func (s *Server) sesConfigSetDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	connID, name := r.PathValue("id"), r.PathValue("name")
	var err error
	if strings.TrimSpace(r.PostFormValue("confirm")) != name {
		err = domain.FieldError("confirm", "Type %s to confirm: mail sent with it fails afterwards.", name)
	} else {
		err = s.Service.DeleteSESConfigSet(r.Context(), c.actor, connID, name)
	}
	if err != nil {
		return s.sesConfigSetsFormError(w, r, c, "delete "+name, err)
	}
	return s.redirect(w, r, "/connections/"+url.PathEscape(connID)+"/configuration-sets", "Deleted the configuration set "+name+" and its event destinations.")
}
