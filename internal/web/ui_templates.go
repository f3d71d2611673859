package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/templates"
)

// Templates as code: the organisation's template sources (Git
// repositories), their mapping, syncs and webhook. The pages of one
// template are in ui_templates_view.go, pushing and drift in
// ui_templates_push.go.

func sourcePath(id string) string { return "/templates/" + url.PathEscape(id) }

// templateSourcesPage lists the organisation's sources with their last
// sync.
func (s *Server) templateSourcesPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	srcs, err := s.Service.TemplateSources(r.Context(), c.actor)
	if err != nil {
		return err
	}
	return s.page(w, r, c, "templates_sources", map[string]any{"Title": "Templates", "Section": "templates", "Sources": srcs})
}

// ruleRow is a glob rule as the form shows it.
type ruleRow struct{ HTML, Name string }

// sourceFormData starts the data of the add or edit form: src is nil for
// a new source.
func sourceFormData(src *service.TemplateSource) map[string]any {
	d := map[string]any{"Section": "templates", "Source": src}
	if src == nil {
		d["Title"] = "Add a repository"
	} else {
		d["Title"] = "Edit " + src.Name
	}
	return d
}

// setRules puts the mapping's rows on the form: those typed, or the saved
// mapping's, with a blank row to add one more (two for a new mapping).
func setRules(d map[string]any, rules []ruleRow) {
	rows := append([]ruleRow{}, rules...)
	rows = append(rows, ruleRow{})
	if len(rows) < 2 {
		rows = append(rows, ruleRow{})
	}
	d["Rules"] = rows
}

// typedRules reads the rule rows of a sent form, skipping blank ones.
func typedRules(r *http.Request) []ruleRow {
	htmls, names := r.PostForm["rule_html"], r.PostForm["rule_name"]
	var out []ruleRow
	for i, h := range htmls {
		n := ""
		if i < len(names) {
			n = names[i]
		}
		h, n = strings.TrimSpace(h), strings.TrimSpace(n)
		if h == "" && n == "" {
			continue
		}
		out = append(out, ruleRow{HTML: h, Name: n})
	}
	return out
}

// typedMapping reads the mapping of a sent form: nil for "the
// repository's own" (an empty mapping when reset is set, which an update
// needs to go back to it); keep are entries of a saved mapping (made
// through the API) that rules are added to.
func typedMapping(r *http.Request, reset bool, keep []templates.Entry) (*templates.Mapping, error) {
	if r.PostFormValue("mapping_mode") != "rules" {
		if reset {
			return &templates.Mapping{}, nil
		}
		return nil, nil
	}
	m := &templates.Mapping{Templates: keep}
	for i, row := range typedRules(r) {
		if row.HTML == "" {
			return nil, domain.FieldError("mapping", "Rule %d has a name pattern but no files: give a glob such as emails/**/*.html.", i+1)
		}
		m.Rules = append(m.Rules, templates.Rule{HTML: row.HTML, Name: row.Name})
	}
	if len(m.Rules) == 0 && len(m.Templates) == 0 {
		return nil, domain.FieldError("mapping", "Add a rule, or use the repository's manifest and front matter.")
	}
	return m, nil
}

// sealContext binds the credentials a form carries between its preview
// and its save to the organisation and the user.
func sealContext(c *reqCtx) string {
	uid := ""
	if c.user != nil {
		uid = c.user.ID
	}
	return "template-source-form:" + c.actor.OrgID + ":" + uid
}

// secretFields are the form's credentials: never sent back to the browser
// as typed; a preview carries them sealed with the server's key.
var secretFields = []string{"token", "ssh_key"}

// typedAuth reads the credentials of a sent form: those typed, else those
// a preview sealed into it. ok is false when none were given.
func (s *Server) typedAuth(r *http.Request, c *reqCtx) (auth service.GitAuth, ok bool) {
	vals := map[string]string{}
	for _, f := range secretFields {
		v := r.PostFormValue(f)
		if strings.TrimSpace(v) == "" {
			if sealed := r.PostFormValue(f + "_sealed"); sealed != "" {
				if plain, err := s.Service.Keyring.Open(sealed, sealContext(c)+":"+f); err == nil {
					v = plain
				}
			}
		}
		vals[f] = v
	}
	auth = service.GitAuth{Username: r.PostFormValue("username"), Token: vals["token"], SSHKey: vals["ssh_key"], KnownHosts: r.PostFormValue("known_hosts")}
	ok = strings.TrimSpace(auth.Token) != "" || strings.TrimSpace(auth.SSHKey) != "" || strings.TrimSpace(auth.Username) != "" || strings.TrimSpace(auth.KnownHosts) != ""
	return auth, ok
}

// sourceForm is the sent form as the page shows it again: what was typed
// (the credentials sealed, not echoed) and err's message by its field.
func (s *Server) sourceForm(r *http.Request, c *reqCtx, auth service.GitAuth, err error) *form {
	f := formFrom(r, err)
	for _, k := range secretFields {
		delete(f.Values, k)
		delete(f.Values, k+"_sealed")
	}
	if auth.Token != "" {
		f.Values.Set("token_sealed", s.Service.Keyring.Seal(auth.Token, sealContext(c)+":token"))
	}
	if strings.TrimSpace(auth.SSHKey) != "" {
		f.Values.Set("ssh_key_sealed", s.Service.Keyring.Seal(auth.SSHKey, sealContext(c)+":ssh_key"))
	}
	return f
}

// showSourceForm renders the form again after a preview or a refusal.
func (s *Server) showSourceForm(w http.ResponseWriter, r *http.Request, c *reqCtx, d map[string]any, auth service.GitAuth, err error) error {
	setRules(d, typedRules(r))
	d["Mode"] = r.PostFormValue("mapping_mode")
	d["Form"] = s.sourceForm(r, c, auth, err)
	if err != nil {
		code := domain.ErrorCode(err)
		if code == domain.EInternal || code == domain.ENotFound || code == domain.EForbidden {
			return err
		}
		setRetryAfter(w, err)
		return s.render(w, r, c, httpStatus(code), "templates_form", d)
	}
	return s.page(w, r, c, "templates_form", d)
}

// interval reads the schedule field.
func interval(r *http.Request) (int, error) {
	v := strings.TrimSpace(r.PostFormValue("sync_interval_minutes"))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, domain.FieldError("sync_interval_minutes", "Give a number of minutes (%d to %d), or 0 for no schedule.", service.MinSyncInterval, service.MaxSyncInterval)
	}
	return n, nil
}

func (s *Server) templateSourceNewPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := c.actor.Require(domain.ActTemplatesManage); err != nil {
		return err
	}
	d := sourceFormData(nil)
	setRules(d, nil)
	d["Mode"] = "repo"
	d["Form"] = &form{Values: url.Values{"branch": {"main"}, "sync_interval_minutes": {"0"}}, Errors: map[string]string{}}
	return s.page(w, r, c, "templates_form", d)
}

// templateSourceCreate previews the mapping (action=preview) or adds the
// source; once added, the page shows the webhook's secret, once.
func (s *Server) templateSourceCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := c.actor.Require(domain.ActTemplatesManage); err != nil {
		return err
	}
	d := sourceFormData(nil)
	auth, _ := s.typedAuth(r, c)
	mapping, err := typedMapping(r, false, nil)
	if err != nil {
		return s.showSourceForm(w, r, c, d, auth, err)
	}
	if r.PostFormValue("action") == "preview" {
		pv, err := s.Service.PreviewMapping(r.Context(), c.actor, service.PreviewInput{
			URL: r.PostFormValue("url"), Branch: r.PostFormValue("branch"), Auth: &auth, Mapping: mapping})
		d["Preview"] = pv
		return s.showSourceForm(w, r, c, d, auth, err)
	}
	n, err := interval(r)
	if err != nil {
		return s.showSourceForm(w, r, c, d, auth, err)
	}
	created, err := s.Service.CreateTemplateSource(r.Context(), c.actor, service.TemplateSourceInput{
		Name: r.PostFormValue("name"), URL: r.PostFormValue("url"), Branch: r.PostFormValue("branch"),
		Auth: auth, Mapping: mapping, SyncIntervalMinutes: n})
	if err != nil {
		return s.showSourceForm(w, r, c, d, auth, err)
	}
	sd, err := s.templateSourceData(r, c, created.Source.ID)
	if err != nil {
		return err
	}
	sd["Created"], sd["Secret"] = created, &service.WebhookSecret{WebhookURL: created.WebhookURL, WebhookSecret: created.WebhookSecret}
	return s.page(w, r, c, "templates_source", sd)
}

// savedForm fills the edit form from the saved source.
func savedForm(src *service.TemplateSource, d map[string]any) {
	f := &form{Values: url.Values{}, Errors: map[string]string{}}
	f.Values.Set("name", src.Name)
	f.Values.Set("branch", src.Branch)
	f.Values.Set("sync_interval_minutes", strconv.Itoa(src.SyncIntervalMinutes))
	f.Values.Set("username", src.AuthUsername)
	d["Form"] = f
	d["Mode"] = "repo"
	var rows []ruleRow
	if src.Mapping != nil {
		for _, rl := range src.Mapping.Rules {
			rows = append(rows, ruleRow{HTML: rl.HTML, Name: rl.Name})
		}
		if len(src.Mapping.Rules) > 0 || len(src.Mapping.Templates) > 0 {
			d["Mode"] = "rules"
		}
	}
	setRules(d, rows)
}

func (s *Server) templateSourceEditPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := c.actor.Require(domain.ActTemplatesManage); err != nil {
		return err
	}
	src, err := s.Service.GetTemplateSource(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := sourceFormData(src)
	savedForm(src, d)
	return s.page(w, r, c, "templates_form", d)
}

// templateSourceUpdate previews the edited mapping or saves the changes.
// Credentials change only when new ones are typed, or when "remove" is
// ticked.
func (s *Server) templateSourceUpdate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := c.actor.Require(domain.ActTemplatesManage); err != nil {
		return err
	}
	id := r.PathValue("id")
	src, err := s.Service.GetTemplateSource(r.Context(), c.actor, id)
	if err != nil {
		return err
	}
	d := sourceFormData(src)
	auth, typed := s.typedAuth(r, c)
	var newAuth *service.GitAuth
	switch {
	case typed:
		newAuth = &auth
	case r.PostFormValue("clear_auth") != "":
		newAuth = &service.GitAuth{}
	}
	var keep []templates.Entry
	if src.Mapping != nil {
		keep = src.Mapping.Templates
	}
	mapping, err := typedMapping(r, true, keep)
	if err != nil {
		return s.showSourceForm(w, r, c, d, auth, err)
	}
	if r.PostFormValue("action") == "preview" {
		pv, err := s.Service.PreviewMapping(r.Context(), c.actor, service.PreviewInput{SourceID: id, Branch: r.PostFormValue("branch"), Auth: newAuth, Mapping: mapping})
		d["Preview"] = pv
		return s.showSourceForm(w, r, c, d, auth, err)
	}
	n, err := interval(r)
	if err != nil {
		return s.showSourceForm(w, r, c, d, auth, err)
	}
	name, branch := r.PostFormValue("name"), r.PostFormValue("branch")
	_, err = s.Service.UpdateTemplateSource(r.Context(), c.actor, id, service.TemplateSourceUpdate{
		Name: &name, Branch: &branch, Auth: newAuth, Mapping: mapping, SyncIntervalMinutes: &n})
	if err != nil {
		return s.showSourceForm(w, r, c, d, auth, err)
	}
	return s.redirect(w, r, sourcePath(id), "Saved. A change of branch, credentials or mapping syncs the source in a few seconds.")
}

// templateSourceData gathers the source page: the source, its templates
// at the synced commit and its recent syncs.
func (s *Server) templateSourceData(r *http.Request, c *reqCtx, id string) (map[string]any, error) {
	src, err := s.Service.GetTemplateSource(r.Context(), c.actor, id)
	if err != nil {
		return nil, err
	}
	tpls, err := s.Service.SourceTemplates(r.Context(), c.actor, id)
	if err != nil {
		return nil, err
	}
	syncs, err := s.Service.TemplateSyncs(r.Context(), c.actor, id, 20)
	if err != nil {
		return nil, err
	}
	errs, warns := 0, 0
	for _, t := range tpls {
		errs += t.Errors
		warns += t.Warnings
	}
	return map[string]any{"Title": src.Name, "Section": "templates", "Source": src, "Templates": tpls, "Syncs": syncs,
		"Errors": errs, "Warnings": warns}, nil
}

func (s *Server) templateSourcePage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := s.templateSourceData(r, c, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.page(w, r, c, "templates_source", d)
}

func (s *Server) templateSourceSync(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	run, err := s.Service.SyncTemplateSource(r.Context(), c.actor, id)
	switch {
	case domain.ErrorCode(err) == domain.EConflict:
		return s.redirect(w, r, sourcePath(id), domain.ErrorMessage(err))
	case err != nil:
		return err
	case run.Status != "ok":
		return s.redirect(w, r, sourcePath(id), "The sync failed: "+run.Error)
	}
	return s.redirect(w, r, sourcePath(id), "Synced "+service.ShortHash(run.Commit)+": "+run.Summary()+".")
}

func (s *Server) templateSourceRotate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	sec, err := s.Service.RotateWebhookSecret(r.Context(), c.actor, id)
	if err != nil {
		return err
	}
	d, err := s.templateSourceData(r, c, id)
	if err != nil {
		return err
	}
	d["Secret"], d["Rotated"] = sec, true
	return s.page(w, r, c, "templates_source", d)
}

func (s *Server) templateSourceDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	if err := c.actor.Require(domain.ActTemplatesManage); err != nil {
		return err
	}
	src, err := s.Service.GetTemplateSource(r.Context(), c.actor, id)
	if err != nil {
		return err
	}
	if strings.TrimSpace(r.PostFormValue("confirm")) != src.Name {
		d, derr := s.templateSourceData(r, c, id)
		if derr != nil {
			return derr
		}
		return s.formError(w, r, c, "templates_source", d, domain.FieldError("confirm", "Type %s to confirm.", src.Name))
	}
	if err := s.Service.DeleteTemplateSource(r.Context(), c.actor, id); err != nil {
		return err
	}
	return s.redirect(w, r, "/templates", "Removed "+src.Name+" and its history from SendOps. The repository and the templates in SES are as they were.")
}
