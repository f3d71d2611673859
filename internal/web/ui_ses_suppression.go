package web

import (
	"html/template"
	"net/http"
	"net/url"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// sesSuppressionData is the suppression list page of a connection: the
// page of the list (or search) its query asks for.
func (s *Server) sesSuppressionData(r *http.Request, c *reqCtx) (d map[string]any, awsErr, err error) {
	d, err = s.sesData(r, c, "suppression", "Suppression list")
	if err != nil {
		return nil, nil, err
	}
	q := r.URL.Query()
	query := service.SuppressionQuery{Q: q.Get("q"), Reason: q.Get("reason"), Page: domain.Page{Limit: 50, Cursor: q.Get("cursor")}}
	keep := url.Values{}
	for _, k := range []string{"q", "reason"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	d["Q"], d["Reason"], d["Paged"], d["Query"] = query.Q, query.Reason, query.Cursor != "", template.URL(keep.Encode())
	d["ScanMax"] = number(service.SuppressionScanMax) + " entries"
	page, awsErr := s.Service.Suppressions(r.Context(), c.actor, r.PathValue("id"), query)
	if page != nil {
		d["Page"] = page
		d["Scanned"] = number(float64(page.Scanned)) + " entries"
		if page.Scanned == 1 {
			d["Scanned"] = "1 entry"
		}
	}
	return d, awsErr, nil
}

func (s *Server) sesSuppressionPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, awsErr, err := s.sesSuppressionData(r, c)
	if err != nil {
		return err
	}
	return s.sesShow(w, r, c, "ses_suppression", d, awsErr)
}

// sesSuppressionFormError shows the page again with the error of a form
// ("add", "remove" or "import").
func (s *Server) sesSuppressionFormError(w http.ResponseWriter, r *http.Request, c *reqCtx, which string, err error) error {
	d, awsErr, derr := s.sesSuppressionData(r, c)
	if derr != nil {
		return derr
	}
	if awsErr != nil {
		d["Error"] = domain.ErrorMessage(awsErr)
	}
	d["Which"] = which
	return s.formError(w, r, c, "ses_suppression", d, err)
}

func suppressionPath(connID string, q url.Values) string {
	p := "/connections/" + url.PathEscape(connID) + "/suppression"
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

func (s *Server) sesSuppressionAdd(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	connID := r.PathValue("id")
	d, err := s.Service.PutSuppression(r.Context(), c.actor, connID, r.PostFormValue("email"), r.PostFormValue("reason"))
	if err != nil {
		return s.sesSuppressionFormError(w, r, c, "add", err)
	}
	return s.redirect(w, r, suppressionPath(connID, url.Values{"q": {d.Email}}), d.Email+" is on the suppression list ("+d.Reason+"): SES will not send to it.")
}

// sesSuppressionRemove takes an address off the list. A form on another
// page (a recipient's) names it in next: the browser goes back there.
func (s *Server) sesSuppressionRemove(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	connID, email := r.PathValue("id"), r.PostFormValue("email")
	back := suppressionPath(connID, nil)
	if next := localNext(r.PostFormValue("next")); next != "" {
		back = next
	}
	if r.PostFormValue("confirm") != "yes" {
		return s.sesSuppressionFormError(w, r, c, "remove", domain.Errorf(domain.EInvalid, "Tick the box to confirm removing %s: SES will send to it again.", email))
	}
	if err := s.Service.DeleteSuppression(r.Context(), c.actor, connID, email); err != nil {
		if domain.IsNotFound(err) {
			return s.redirect(w, r, back, domain.ErrorMessage(err))
		}
		return s.sesSuppressionFormError(w, r, c, "remove", err)
	}
	return s.redirect(w, r, back, "Removed "+email+" from the suppression list: SES sends to it again.")
}

func (s *Server) sesSuppressionImport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f, _, err := r.FormFile("file")
	if err != nil {
		return s.sesSuppressionFormError(w, r, c, "import", domain.FieldError("file", "Choose a CSV file with the header email,reason."))
	}
	defer f.Close()
	extendWriteDeadline(w, importDeadline)
	res, err := s.Service.ImportSuppressions(r.Context(), c.actor, r.PathValue("id"), f)
	if err != nil {
		return s.sesSuppressionFormError(w, r, c, "import", err)
	}
	d, awsErr, err := s.sesSuppressionData(r, c)
	if err != nil {
		return err
	}
	d["Import"] = res
	return s.sesShow(w, r, c, "ses_suppression", d, awsErr)
}

func (s *Server) sesSuppressionExport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.writeSuppressionCSV(w, r, c.actor, r.PathValue("id"))
}
