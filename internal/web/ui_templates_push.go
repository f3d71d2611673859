package web

import (
	"net/http"
	"slices"
	"strings"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// Pushing a source's templates to SES: choose connections, see the plan,
// apply it; and drift, a connection's SES against the repository.

// managedConnections are the organisation's connections SendOps reaches
// AWS through.
func (s *Server) managedConnections(r *http.Request, c *reqCtx) ([]domain.Connection, error) {
	conns, err := s.Service.Connections(r.Context(), c.actor)
	if err != nil {
		return nil, err
	}
	var out []domain.Connection
	for _, cn := range conns {
		if cn.Managed() {
			out = append(out, cn)
		}
	}
	return out, nil
}

// pushData starts the push page: the source and the connections to
// choose from, those in chosen ticked.
func (s *Server) pushData(r *http.Request, c *reqCtx, chosen []string) (map[string]any, error) {
	src, err := s.Service.GetTemplateSource(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	conns, err := s.managedConnections(r, c)
	if err != nil {
		return nil, err
	}
	ticked := map[string]bool{}
	for _, id := range chosen {
		ticked[id] = true
	}
	return map[string]any{"Title": "Push " + src.Name, "Section": "templates", "Source": src, "Connections": conns, "Chosen": ticked}, nil
}

// templatePushPage shows the connections to push to and, with
// ?connection=…, the plan for them.
func (s *Server) templatePushPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	chosen := r.URL.Query()["connection"]
	d, err := s.pushData(r, c, chosen)
	if err != nil {
		return err
	}
	if r.URL.Query().Has("plan") || len(chosen) > 0 {
		job, err := s.Service.StartPlan(r.Context(), c.actor, r.PathValue("id"), chosen)
		if err != nil {
			if code := domain.ErrorCode(err); code != domain.EInvalid {
				return err
			}
			d["Form"] = &form{Errors: map[string]string{}, Error: domain.ErrorMessage(err)}
			return s.render(w, r, c, http.StatusBadRequest, "templates_push", d)
		}
		if !job.Finished() {
			return followJob(w, r, job)
		}
		d["Plan"] = job.Plan
	}
	return s.page(w, r, c, "templates_push", d)
}

// templatePushApply pushes as planned: the state (and commit) the plan
// showed, and the extras ticked for deletion, each per connection
// ("connID/name").
func (s *Server) templatePushApply(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	if err := c.actor.Require(domain.ActTemplatesPush); err != nil {
		return err
	}
	conns := r.PostForm["connection"]
	d, err := s.pushData(r, c, conns)
	if err != nil {
		return err
	}
	dels := map[string][]string{}
	for _, v := range r.PostForm["delete"] {
		conn, name, ok := strings.Cut(v, "/")
		if ok && slices.Contains(conns, conn) {
			dels[conn] = append(dels[conn], name)
		}
	}
	// One push, each connection with its own deletions.
	job, err := s.Service.StartPush(r.Context(), c.actor, id, service.PushInput{ConnectionIDs: conns,
		Commit: r.PostFormValue("commit"), State: r.PostFormValue("state")}, dels)
	if err != nil {
		if code := domain.ErrorCode(err); code != domain.EInvalid && code != domain.EConflict {
			return err
		}
		d["Form"] = &form{Errors: map[string]string{}, Error: domain.ErrorMessage(err)}
		if len(conns) > 0 {
			// The plan as it is now, when it takes no longer than a
			// request may wait.
			if pj, perr := s.Service.StartPlan(r.Context(), c.actor, id, conns); perr == nil && pj.Finished() {
				d["Plan"] = pj.Plan
			}
		}
		return s.render(w, r, c, httpStatus(domain.ErrorCode(err)), "templates_push", d)
	}
	if !job.Finished() {
		return followJob(w, r, job)
	}
	d["Result"] = job.Push
	return s.page(w, r, c, "templates_push", d)
}

// followJob sends the browser to the page of a job that outlived the
// request's wait.
func followJob(w http.ResponseWriter, r *http.Request, job *service.TemplateJob) error {
	http.Redirect(w, r, "/templates/"+job.SourceID+"/jobs/"+job.ID, http.StatusSeeOther)
	return nil
}

// templateJobPage follows a plan, push or drift run as a job: its
// progress, refreshed every 2 seconds, until it ends; then what the plan,
// push or drift page would have shown.
func (s *Server) templateJobPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	job, err := s.Service.TemplateJob(r.Context(), c.actor, r.PathValue("job"))
	if err != nil {
		return err
	}
	if job.SourceID != r.PathValue("id") {
		return domain.Errorf(domain.ENotFound, "Template job not found.")
	}
	var chosen []string
	switch {
	case job.Plan != nil:
		for _, cp := range job.Plan.Connections {
			chosen = append(chosen, cp.ConnectionID)
		}
	case job.Push != nil:
		for _, cp := range job.Push.Connections {
			chosen = append(chosen, cp.ConnectionID)
		}
	}
	d, err := s.pushData(r, c, chosen)
	if err != nil {
		return err
	}
	d["Job"] = job
	src := d["Source"].(*service.TemplateSource).Name
	switch job.Kind {
	case service.JobPlan:
		d["Title"], d["Plan"] = "Plan · "+src, job.Plan
	case service.JobPush:
		d["Title"], d["Result"] = "Push · "+src, job.Push
	default:
		d["Title"], d["Drift"] = "Drift · "+src, job.Drift
	}
	return s.page(w, r, c, "templates_job", d)
}

// templateDriftPage compares a connection's SES with the source's synced
// commit (?connection=).
func (s *Server) templateDriftPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	connID := r.URL.Query().Get("connection")
	d, err := s.pushData(r, c, []string{connID})
	if err != nil {
		return err
	}
	d["Title"] = "Drift · " + d["Source"].(*service.TemplateSource).Name
	d["ConnID"] = connID
	if connID == "" {
		if conns := d["Connections"].([]domain.Connection); len(conns) == 1 {
			connID = conns[0].ID
			d["ConnID"] = connID
		}
	}
	if connID != "" {
		job, err := s.Service.StartDrift(r.Context(), c.actor, r.PathValue("id"), connID)
		if err != nil {
			if !shownOnPage(err) {
				return err
			}
			d["Error"] = domain.ErrorMessage(err)
			setRetryAfter(w, err)
			return s.render(w, r, c, httpStatus(domain.ErrorCode(err)), "templates_drift", d)
		}
		if !job.Finished() {
			return followJob(w, r, job)
		}
		d["Drift"] = job.Drift
	}
	return s.page(w, r, c, "templates_drift", d)
}
