package web

import (
	"encoding/json"
	"net/http"
	"strconv"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// The API of template sources: Git repositories the organisation's email
// templates live in, their syncs, and each template's content, history,
// diffs and renders. Another organisation's source id is not found (see
// underTemplateSource).

func (s *Server) apiTemplateSourcesList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	srcs, err := s.Service.TemplateSources(r.Context(), c.actor)
	if err != nil {
		return err
	}
	res, err := paginate(srcs, p, false, func(t service.TemplateSource) string { return t.ID })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

func (s *Server) apiTemplateSourceCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in service.TemplateSourceInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	out, err := s.Service.CreateTemplateSource(r.Context(), c.actor, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) apiTemplateSourcePreview(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in service.PreviewInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	out, err := s.Service.PreviewMapping(r.Context(), c.actor, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTemplateSourceGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	out, err := s.Service.GetTemplateSource(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTemplateSourceUpdate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in service.TemplateSourceUpdate
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	out, err := s.Service.UpdateTemplateSource(r.Context(), c.actor, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTemplateSourceDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.DeleteTemplateSource(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiTemplateSourceSync syncs now and answers how it went: a failed sync
// is an answer (200, status "failed", with its error), not an error.
func (s *Server) apiTemplateSourceSync(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	out, err := s.Service.SyncTemplateSource(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTemplateSourceSyncs(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	limit := 0
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return domain.FieldError("limit", "limit must be a whole number from 1 to 200.")
		}
		limit = n
	}
	out, err := s.Service.TemplateSyncs(r.Context(), c.actor, r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[service.TemplateSync]{Data: out})
}

func (s *Server) apiTemplateSourceRotateHook(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	out, err := s.Service.RotateWebhookSecret(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiSourceTemplates(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	ts, err := s.Service.SourceTemplates(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	res, err := paginate(ts, p, false, func(t service.SourceTemplate) string { return t.Name })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

func (s *Server) apiSourceTemplateGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	out, err := s.Service.TemplateAt(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"), r.URL.Query().Get("commit"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiSourceTemplateHistory(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	out, err := s.Service.TemplateHistory(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[service.TemplateVersion]{Data: out})
}

func (s *Server) apiSourceTemplateDiff(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := r.URL.Query()
	out, err := s.Service.DiffTemplate(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"), q.Get("from"), q.Get("to"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// apiSourceTemplateRender renders a version with data: a JSON object (or
// a string holding one), or nothing for the repository's sample data.
func (s *Server) apiSourceTemplateRender(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in struct {
		Commit string          `json:"commit"`
		Data   json.RawMessage `json:"data"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	data, err := templateDataOf(in.Data)
	if err != nil {
		return err
	}
	out, err := s.Service.RenderTemplate(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"), in.Commit, data)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}
