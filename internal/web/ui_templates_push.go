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
		plan, err := s.Service.PlanPush(r.Context(), c.actor, r.PathValue("id"), chosen)
		if err != nil {
			if code := domain.ErrorCode(err); code != domain.EInvalid {
				return err
			}
			d["Form"] = &form{Errors: map[string]string{}, Error: domain.ErrorMessage(err)}
			return s.render(w, r, c, http.StatusBadRequest, "templates_push", d)
		}
		d["Plan"] = plan
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
	// Connections with the same deletions are pushed together.
	groups := map[string][]string{}
	var order []string
	for _, conn := range conns {
		names := dels[conn]
		slices.Sort(names)
		key := strings.Join(names, "\n")
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], conn)
	}
	if len(conns) == 0 {
		order, groups[""] = []string{""}, nil
	}
	result := &service.PushResult{SourceID: id}
	for _, key := range order {
		var del []string
		if key != "" {
			del = strings.Split(key, "\n")
		}
		res, err := s.Service.ApplyPush(r.Context(), c.actor, id, service.PushInput{ConnectionIDs: groups[key],
			Commit: r.PostFormValue("commit"), State: r.PostFormValue("state"), Delete: del})
		if err != nil {
			if code := domain.ErrorCode(err); code != domain.EInvalid && code != domain.EConflict {
				return err
			}
			d["Form"] = &form{Errors: map[string]string{}, Error: domain.ErrorMessage(err)}
			if len(result.Connections) > 0 {
				// Some connections were pushed before the source changed.
				d["Result"] = result
			} else if plan, perr := s.Service.PlanPush(r.Context(), c.actor, id, conns); perr == nil {
				d["Plan"] = plan
			}
			return s.render(w, r, c, httpStatus(domain.ErrorCode(err)), "templates_push", d)
		}
		result.Commit, result.State = res.Commit, res.State
		result.Connections = append(result.Connections, res.Connections...)
	}
	// Results in the order the connections were chosen.
	slices.SortStableFunc(result.Connections, func(a, b service.ConnectionPushResult) int {
		return slices.Index(conns, a.ConnectionID) - slices.Index(conns, b.ConnectionID)
	})
	d["Result"] = result
	return s.page(w, r, c, "templates_push", d)
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
		drift, err := s.Service.Drift(r.Context(), c.actor, r.PathValue("id"), connID)
		if err != nil {
			if !shownOnPage(err) {
				return err
			}
			d["Error"] = domain.ErrorMessage(err)
			setRetryAfter(w, err)
			return s.render(w, r, c, httpStatus(domain.ErrorCode(err)), "templates_drift", d)
		}
		d["Drift"] = drift
	}
	return s.page(w, r, c, "templates_drift", d)
}
