package web

import (
	"bytes"
	"encoding/json"
	"net/http"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// The API of pushing a template source to SES: plan, push, drift; and a
// connection's SES templates with SES's own rendering of one. Another
// organisation's source is not found before the request is judged (see
// underTemplateSource).

func (s *Server) apiTemplatePushPlan(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in struct {
		ConnectionIDs []string `json:"connection_ids"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	job, err := s.Service.StartPlan(r.Context(), c.actor, r.PathValue("id"), in.ConnectionIDs)
	if err != nil {
		return err
	}
	return writeJobAnswer(w, job)
}

func (s *Server) apiTemplatePush(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in service.PushInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	job, err := s.Service.StartPush(r.Context(), c.actor, r.PathValue("id"), in, nil)
	if err != nil {
		return err
	}
	return writeJobAnswer(w, job)
}

func (s *Server) apiTemplateDrift(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	connID := r.URL.Query().Get("connection_id")
	if connID == "" {
		return domain.FieldError("connection_id", "Name the connection to compare with: ?connection_id=.")
	}
	job, err := s.Service.StartDrift(r.Context(), c.actor, r.PathValue("id"), connID)
	if err != nil {
		return err
	}
	return writeJobAnswer(w, job)
}

// writeJobAnswer answers a plan, push or drift: its result when its job
// finished within the wait, else 202 with the job to follow.
func writeJobAnswer(w http.ResponseWriter, job *service.TemplateJob) error {
	if job.Finished() {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(append(job.Result, '\n'))
		return err
	}
	url := "/api/v1/template-jobs/" + job.ID
	w.Header().Set("Location", url)
	return writeJSON(w, http.StatusAccepted, map[string]any{"job_id": job.ID, "status": job.Status, "done": job.Done, "total": job.Total, "url": url})
}

// apiTemplateJob answers a job's status, progress and, when done, its
// result (as the plan, push or drift would have answered).
func (s *Server) apiTemplateJob(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	job, err := s.Service.TemplateJob(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, job)
}

func (s *Server) apiSESTemplatesList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	tpls, next, err := s.Service.SESTemplates(r.Context(), c.actor, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	if tpls == nil {
		tpls = []service.SESTemplate{}
	}
	return writeJSON(w, http.StatusOK, list[service.SESTemplate]{Data: tpls, NextCursor: next})
}

func (s *Server) apiSESTemplateTestRender(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in struct {
		Data json.RawMessage `json:"data"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	data, err := templateDataOf(in.Data)
	if err != nil {
		return err
	}
	out, err := s.Service.TestRender(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"), data)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// templateDataOf reads a body's template data: a JSON object (its text),
// or a string holding one (the string); null or absent is "" (the
// default: the template's sample data, or {}).
func templateDataOf(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		var data string
		if err := json.Unmarshal(raw, &data); err != nil {
			return "", domain.FieldError("data", "data must be a JSON object, or a string holding one.")
		}
		return data, nil
	}
	return string(raw), nil
}
