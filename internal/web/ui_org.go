package web

import (
	"encoding/csv"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
)

func (s *Server) orgCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	org, err := s.Service.CreateOrg(r.Context(), c.user, r.PostFormValue("name"), c.client)
	if err != nil {
		return s.formError(w, r, c, "settings_org", map[string]any{"Title": "Organisation", "Section": "settings", "Which": "new"}, err)
	}
	if err := s.Service.SwitchOrg(r.Context(), c.sess, org.ID); err != nil {
		return err
	}
	return s.redirect(w, r, "/settings/organisation", org.Name+" is created and you are its owner.")
}

func (s *Server) orgSwitch(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.SwitchOrg(r.Context(), c.sess, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/overview", http.StatusSeeOther)
	return nil
}

func (s *Server) orgPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.page(w, r, c, "settings_org", map[string]any{"Title": "Organisation", "Section": "settings"})
}

func (s *Server) orgSave(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	name := r.PostFormValue("name")
	req := r.PostFormValue("require_mfa") == "1"
	in := service.OrgSettings{Name: &name, RequireMFA: &req}
	if v := r.PostFormValue("retention_days"); v != "" {
		days, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			days = -1 // refused below with the field's message
		}
		in.RetentionDays = &days
	}
	if _, err := s.Service.UpdateOrg(r.Context(), c.actor, in); err != nil {
		return s.formError(w, r, c, "settings_org", map[string]any{"Title": "Organisation", "Section": "settings", "Which": "org"}, err)
	}
	return s.redirect(w, r, "/settings/organisation", "Saved.")
}

func (s *Server) orgLeave(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.RemoveMember(r.Context(), c.actor, c.user.ID); err != nil {
		return s.formError(w, r, c, "settings_org", map[string]any{"Title": "Organisation", "Section": "settings", "Which": "leave"}, err)
	}
	return s.redirect(w, r, "/settings/organisation", "You left "+c.org.Name+".")
}

// membersData gathers what the members page shows.
func (s *Server) membersData(r *http.Request, c *reqCtx, which string) (map[string]any, error) {
	members, err := s.Service.Members(r.Context(), c.actor)
	if err != nil {
		return nil, err
	}
	d := map[string]any{"Title": "Members", "Section": "settings", "Members": members, "Which": which}
	if c.actor.Can(domain.ActInvitationsView) {
		if d["Invitations"], err = s.Service.Invitations(r.Context(), c.actor); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (s *Server) membersPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := s.membersData(r, c, "")
	if err != nil {
		return err
	}
	return s.page(w, r, c, "settings_members", d)
}

func (s *Server) membersForm(w http.ResponseWriter, r *http.Request, c *reqCtx, which string, err error) error {
	if code := domain.ErrorCode(err); code == domain.ENotFound || code == domain.EInternal {
		return err
	}
	d, derr := s.membersData(r, c, which)
	if derr != nil {
		return derr
	}
	return s.formError(w, r, c, "settings_members", d, err)
}

func (s *Server) memberInvite(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	email := r.PostFormValue("email")
	if _, err := s.Service.Invite(r.Context(), c.actor, email, domain.Role(r.PostFormValue("role"))); err != nil {
		return s.membersForm(w, r, c, "invite", err)
	}
	return s.redirect(w, r, "/settings/members", "We sent an invitation to "+email+".")
}

func (s *Server) memberRole(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	m, err := s.Service.SetRole(r.Context(), c.actor, r.PathValue("id"), domain.Role(r.PostFormValue("role")))
	if err != nil {
		return s.membersForm(w, r, c, "member", err)
	}
	return s.redirect(w, r, "/settings/members", m.UserEmail+" is now "+string(m.Role)+".")
}

func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.RemoveMember(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return s.membersForm(w, r, c, "member", err)
	}
	return s.redirect(w, r, "/settings/members", "The member was removed.")
}

func (s *Server) invitationRevoke(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.RevokeInvitation(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return s.membersForm(w, r, c, "invite", err)
	}
	return s.redirect(w, r, "/settings/members", "The invitation was revoked.")
}

// apiKeysData gathers what the API keys page shows.
func (s *Server) apiKeysData(r *http.Request, c *reqCtx) (map[string]any, error) {
	keys, next, err := s.Service.APIKeys(r.Context(), c.actor, domain.Page{Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return nil, err
	}
	return map[string]any{"Title": "API keys", "Section": "settings", "Keys": keys, "Next": next}, nil
}

func (s *Server) apiKeysPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := s.apiKeysData(r, c)
	if err != nil {
		return err
	}
	return s.page(w, r, c, "settings_apikeys", d)
}

func (s *Server) apiKeyCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	parsed, err := domain.ParseScopeList(r.PostForm["scopes"])
	var token string
	if err == nil {
		_, token, err = s.Service.CreateAPIKey(r.Context(), c.actor, r.PostFormValue("name"), parsed)
	}
	d, derr := s.apiKeysData(r, c)
	if derr != nil {
		return derr
	}
	if err != nil {
		return s.formError(w, r, c, "settings_apikeys", d, err)
	}
	d["NewKey"] = token
	return s.page(w, r, c, "settings_apikeys", d)
}

func (s *Server) apiKeyRevoke(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.RevokeAPIKey(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return err
	}
	return s.redirect(w, r, "/settings/apikeys", "The key was revoked.")
}

// auditFilter reads an audit filter from a query string. Dates are whole
// UTC days (YYYY-MM-DD) or RFC 3339 times; "until" includes its day.
func auditFilter(q url.Values) (domain.AuditFilter, error) {
	f := domain.AuditFilter{Action: q.Get("action"), Actor: q.Get("actor")}
	var err error
	if f.Since, err = searchTime("since", q.Get("since"), false); err != nil {
		return f, err
	}
	if f.Until, err = searchTime("until", q.Get("until"), true); err != nil {
		return f, err
	}
	return f, nil
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := r.URL.Query()
	f, ferr := auditFilter(q)
	f.Cursor = q.Get("cursor")
	var entries []domain.AuditEntry
	next := ""
	var err error
	if ferr == nil {
		next, err = s.Service.Audit(r.Context(), c.actor, f, func(e *domain.AuditEntry) error {
			entries = append(entries, *e)
			return nil
		})
	}
	if err != nil && domain.ErrorCode(err) != domain.EInvalid {
		return err
	}
	keep := url.Values{}
	filter := map[string]string{}
	for _, k := range []string{"action", "actor", "since", "until"} {
		filter[k] = q.Get(k)
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	d := map[string]any{"Title": "Audit log", "Section": "settings", "Entries": entries, "Next": next,
		"Filter": filter, "Query": template.URL(keep.Encode())}
	if ferr != nil {
		d["Error"] = domain.ErrorMessage(ferr)
	} else if err != nil {
		d["Error"] = domain.ErrorMessage(err)
	}
	return s.page(w, r, c, "settings_audit", d)
}

func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.writeAuditCSV(w, r, c.actor)
}

// writeAuditCSV streams every audit entry matching the query as CSV.
func (s *Server) writeAuditCSV(w http.ResponseWriter, r *http.Request, a *domain.Actor) error {
	if err := a.Require(domain.ActAuditView); err != nil {
		return err
	}
	f, err := auditFilter(r.URL.Query())
	if err != nil {
		return err
	}
	f.Limit = -1
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="sendops-audit-`+time.Now().UTC().Format("20060102")+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "actor", "actor_id", "action", "target", "details", "ip"})
	_, err = s.Service.Audit(r.Context(), a, f, func(e *domain.AuditEntry) error {
		return cw.Write([]string{e.At.Format(time.RFC3339), csvSafe(e.ActorName), e.ActorID, e.Action, csvSafe(e.Target), csvSafe(e.Details), e.IP})
	})
	cw.Flush()
	if err != nil {
		// Headers are gone; the truncated file ends here and the error is logged.
		s.Logger.ErrorContext(r.Context(), "audit export failed", "err", err)
		return nil
	}
	return cw.Error()
}

// csvSafe neutralises a cell that a spreadsheet would run as a formula.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r') {
		return "'" + v
	}
	return v
}
