package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// One template of a source: its preview (ours beside SES's), its lint
// problems, and its history with diffs between versions.

// previewCSP is the policy of a rendered template's HTML: no scripts, no
// network (images only as data: URLs), inline styles as emails use them,
// sandboxed, and shown only in SendOps's own pages.
const previewCSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

// allowFrames lets a page of SendOps frame its own previews: the app's
// policy (set by securityHeaders) with frame-src 'self' added.
func allowFrames(w http.ResponseWriter) {
	h := w.Header()
	if csp := h.Get("Content-Security-Policy"); csp != "" {
		h.Set("Content-Security-Policy", csp+"; frame-src 'self'")
	}
}

func templatePath(id, name string) string {
	return sourcePath(id) + "/t/" + url.PathEscape(name)
}

// previewURL is the address of a rendered HTML part, for an iframe.
func previewURL(base string, q url.Values) string {
	for k, v := range q {
		if len(v) == 0 || v[0] == "" {
			delete(q, k)
		}
	}
	if len(q) == 0 {
		return base
	}
	return base + "?" + q.Encode()
}

// frameURL is the address of a frame showing a rendered HTML part: with
// data the user typed, the rendering is kept server-side for a few
// minutes and the address names it by a random key (the data never
// travels in a URL, nor reaches a log or the history); otherwise the
// frame renders again from what q says (a version, a connection).
func (s *Server) frameURL(r *http.Request, c *reqCtx, base string, q url.Values, typed bool, html string) (string, error) {
	if !typed {
		return previewURL(base, q), nil
	}
	key, err := s.Service.KeepPreview(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"), html)
	if err != nil {
		return "", err
	}
	return previewURL(base, url.Values{"preview": {key}}), nil
}

// frameHTML is what a frame shows of an HTML part: none's sentence when
// there is none.
func frameHTML(html, none string) string {
	if html == "" {
		return notRendered(none)
	}
	return html
}

// sesColumn is SES's own rendering of the template on a connection.
type sesColumn struct {
	Conn     *domain.Connection
	Rendered *service.RenderedTemplate
	Error    string
	FrameURL string
}

// templateData gathers the template page: the version at commit ("" the
// synced one), our rendering with data ("" the repository's sample data),
// and SES's on the chosen connection.
func (s *Server) templateData(r *http.Request, c *reqCtx, commit, data, connID string) (map[string]any, error) {
	ctx := r.Context()
	id, name := r.PathValue("id"), r.PathValue("name")
	src, err := s.Service.GetTemplateSource(ctx, c.actor, id)
	if err != nil {
		return nil, err
	}
	content, err := s.Service.TemplateAt(ctx, c.actor, id, name, commit)
	if err != nil {
		return nil, err
	}
	d := map[string]any{"Title": name + " · " + src.Name, "Section": "templates", "Source": src, "Name": name, "Content": content,
		"Commit": commit, "Data": data, "ConnID": connID, "Path": templatePath(id, name)}
	rendered, err := s.Service.RenderTemplate(ctx, c.actor, id, name, commit, data)
	if err != nil {
		return d, err
	}
	d["Rendered"] = rendered
	typed := strings.TrimSpace(data) != ""
	if rendered.OK {
		u, err := s.frameURL(r, c, templatePath(id, name)+"/preview.html", url.Values{"commit": {commit}}, typed,
			frameHTML(rendered.HTML, "The template has no HTML part."))
		if err != nil {
			return nil, err
		}
		d["FrameURL"] = u
	}

	// The lint problems of the synced version (a past version's are not
	// kept); the rendering's own problems are shown beside it.
	problems := content.Problems
	if !content.Current {
		if cur, err := s.Service.TemplateAt(ctx, c.actor, id, name, ""); err == nil {
			d["CurrentProblems"] = cur.Problems
		}
	}
	d["Problems"] = problems

	managed, err := s.managedConnections(r, c)
	if err != nil && domain.ErrorCode(err) != domain.EForbidden {
		return nil, err
	}
	d["Connections"] = managed
	if connID != "" {
		col := &sesColumn{}
		for i := range managed {
			if managed[i].ID == connID {
				col.Conn = &managed[i]
			}
		}
		if col.Conn == nil {
			return nil, domain.Errorf(domain.ENotFound, "Connection not found.")
		}
		sesData := data
		if strings.TrimSpace(sesData) == "" {
			sesData = content.Data
		}
		col.Rendered, err = s.Service.TestRender(ctx, c.actor, connID, name, sesData)
		if err != nil {
			if code := domain.ErrorCode(err); code == domain.EInternal || code == domain.EForbidden {
				return nil, err
			}
			col.Error = domain.ErrorMessage(err)
		} else if col.FrameURL, err = s.frameURL(r, c, templatePath(id, name)+"/ses.html", url.Values{"connection": {connID}, "commit": {commit}}, typed,
			frameHTML(col.Rendered.HTML, "SES's rendering has no HTML part.")); err != nil {
			return nil, err
		}
		d["SES"] = col
	}
	return d, nil
}

// templatePage shows a template: GET with ?commit= (a version of its
// history) and ?connection= (SES's rendering beside ours).
func (s *Server) templatePage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := r.URL.Query()
	d, err := s.templateData(r, c, q.Get("commit"), "", q.Get("connection"))
	if err != nil {
		return err
	}
	allowFrames(w)
	return s.page(w, r, c, "templates_template", d)
}

// templateRender renders the template again with the JSON typed in the
// form; JSON that is not an object is refused by the field, keeping the
// text.
func (s *Server) templateRender(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	data := r.PostFormValue("data")
	commit, connID := r.PostFormValue("commit"), r.PostFormValue("connection")
	d, err := s.templateData(r, c, commit, data, connID)
	if err == nil {
		if rv, ok := d["Rendered"].(*service.RenderedVersion); ok && strings.TrimSpace(data) != "" {
			for _, p := range rv.Problems {
				if p.File == "data" && p.Severity == "error" {
					err = domain.FieldError("data", "%s", p.String())
					break
				}
			}
		}
	}
	if err != nil {
		if d == nil {
			return err
		}
		allowFrames(w)
		return s.formError(w, r, c, "templates_template", d, err)
	}
	allowFrames(w)
	d["Form"] = &form{Values: url.Values{"data": {data}}, Errors: map[string]string{}}
	return s.page(w, r, c, "templates_template", d)
}

// writePreview sends a rendered HTML part for a sandboxed frame.
func writePreview(w http.ResponseWriter, html string) error {
	h := w.Header()
	h.Set("Content-Security-Policy", previewCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	_, err := w.Write([]byte(html))
	return err
}

// notRendered is what a frame shows when there is nothing to show.
func notRendered(msg string) string {
	return `<!doctype html><meta charset="utf-8"><p style="font:14px system-ui,sans-serif;color:#5b6675">` + template.HTMLEscapeString(msg) + `</p>`
}

// keptPreview serves a rendering kept for the frame (?preview=key): one
// expired says so.
func (s *Server) keptPreview(w http.ResponseWriter, r *http.Request, c *reqCtx, key string) error {
	html, err := s.Service.Preview(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"), key)
	switch {
	case domain.IsNotFound(err):
		return writePreview(w, notRendered("This preview has expired: render the template again."))
	case err != nil:
		return err
	}
	return writePreview(w, html)
}

// templatePreviewHTML serves our rendering of a version's HTML part with
// its sample data (?commit=), or one kept with typed data (?preview=).
func (s *Server) templatePreviewHTML(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := r.URL.Query()
	if key := q.Get("preview"); key != "" {
		return s.keptPreview(w, r, c, key)
	}
	rv, err := s.Service.RenderTemplate(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"), q.Get("commit"), "")
	if err != nil {
		return err
	}
	if !rv.OK {
		return writePreview(w, notRendered("The template does not render: see its problems."))
	}
	return writePreview(w, frameHTML(rv.HTML, "The template has no HTML part."))
}

// templateSESHTML serves SES's rendering of the template's HTML part on a
// connection (?connection=) with the sample data of a version (?commit=),
// or one kept with typed data (?preview=).
func (s *Server) templateSESHTML(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := r.URL.Query()
	if key := q.Get("preview"); key != "" {
		return s.keptPreview(w, r, c, key)
	}
	id, name := r.PathValue("id"), r.PathValue("name")
	content, err := s.Service.TemplateAt(r.Context(), c.actor, id, name, q.Get("commit"))
	if err != nil {
		return err
	}
	rt, err := s.Service.TestRender(r.Context(), c.actor, q.Get("connection"), name, content.Data)
	if err != nil {
		if code := domain.ErrorCode(err); code == domain.EInternal || code == domain.EForbidden || code == domain.ENotFound && strings.HasPrefix(domain.ErrorMessage(err), "Connection") {
			return err
		}
		return writePreview(w, notRendered(domain.ErrorMessage(err)))
	}
	return writePreview(w, frameHTML(rt.HTML, "SES's rendering has no HTML part."))
}

// templateHistoryPage lists the commits that changed a template, and
// with ?from=&to= the diff between two of them.
func (s *Server) templateHistoryPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	id, name := r.PathValue("id"), r.PathValue("name")
	src, err := s.Service.GetTemplateSource(ctx, c.actor, id)
	if err != nil {
		return err
	}
	versions, err := s.Service.TemplateHistory(ctx, c.actor, id, name)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	if from == "" && to == "" && len(versions) > 1 {
		// Preselect the newest change.
		from, to = versions[1].Commit, versions[0].Commit
		// A removal has nothing to compare; a mapping change at the
		// commit of the version before it is not told apart by commit.
		if versions[1].Removed || versions[0].Removed || from == to {
			from, to = "", ""
		}
	}
	d := map[string]any{"Title": "History of " + name + " · " + src.Name, "Section": "templates", "Source": src, "Name": name,
		"Versions": versions, "From": from, "To": to, "Path": templatePath(id, name)}
	if from != "" || to != "" {
		diff, err := s.Service.DiffTemplate(ctx, c.actor, id, name, from, to)
		switch {
		case err == nil:
			d["Diff"] = diff
		case domain.ErrorCode(err) == domain.EInvalid || domain.ErrorCode(err) == domain.ENotFound:
			d["DiffError"] = domain.ErrorMessage(err)
		default:
			return err
		}
	}
	return s.page(w, r, c, "templates_history", d)
}
