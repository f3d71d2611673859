package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// The API of pushing a template source to SES: plan, push, drift; and a
// connection's SES templates with SES's own rendering of one.

type pushConnectionJSON struct {
	ConnectionID   string `json:"connection_id"`
	ConnectionName string `json:"connection_name"`
	AWSAccountID   string `json:"aws_account_id"`
	Region         string `json:"region"`
	// Error says why the connection's SES could not be read; nothing was
	// planned or pushed there.
	Error string `json:"error,omitempty"`
}

func toPushConnectionJSON(c service.PushConnection) pushConnectionJSON {
	return pushConnectionJSON{ConnectionID: c.ConnectionID, ConnectionName: c.ConnectionName, AWSAccountID: c.AccountID, Region: c.Region, Error: c.Error}
}

type planItemJSON struct {
	Name    string   `json:"name"`
	Action  string   `json:"action"`
	Changed []string `json:"changed"`
}

type connectionPlanJSON struct {
	pushConnectionJSON
	Items  []planItemJSON `json:"items"`
	Counts map[string]int `json:"counts"`
}

type pushPlanJSON struct {
	SourceID    string               `json:"source_id"`
	Commit      string               `json:"commit"`
	Connections []connectionPlanJSON `json:"connections"`
}

type pushItemJSON struct {
	Name    string   `json:"name"`
	Action  string   `json:"action"`
	Changed []string `json:"changed"`
	OK      bool     `json:"ok"`
	Error   string   `json:"error,omitempty"`
}

type connectionPushJSON struct {
	pushConnectionJSON
	Items  []pushItemJSON `json:"items"`
	Counts map[string]int `json:"counts"`
}

type pushResultJSON struct {
	SourceID    string               `json:"source_id"`
	Commit      string               `json:"commit"`
	Connections []connectionPushJSON `json:"connections"`
}

type partDiffJSON struct {
	Part     string `json:"part"`
	Unified  string `json:"unified"`
	Inserted int    `json:"inserted"`
	Deleted  int    `json:"deleted"`
}

type driftItemJSON struct {
	Name  string         `json:"name"`
	State string         `json:"state"`
	Diffs []partDiffJSON `json:"diffs"`
}

type driftJSON struct {
	SourceID string `json:"source_id"`
	Commit   string `json:"commit"`
	pushConnectionJSON
	Items  []driftItemJSON `json:"items"`
	Counts map[string]int  `json:"counts"`
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// pushTargets is the body of a plan.
type pushTargets struct {
	ConnectionIDs []string `json:"connection_ids"`
}

// sourceFirst answers 404 for a source of another organisation before the
// request itself is judged.
func (s *Server) sourceFirst(r *http.Request, c *reqCtx) error {
	return s.Service.TemplateSourceInOrg(r.Context(), c.actor, r.PathValue("id"))
}

func (s *Server) apiTemplatePushPlan(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.sourceFirst(r, c); err != nil {
		return err
	}
	var in pushTargets
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	plan, err := s.Service.PlanPush(r.Context(), c.actor, r.PathValue("id"), in.ConnectionIDs)
	if err != nil {
		return err
	}
	out := pushPlanJSON{SourceID: plan.SourceID, Commit: plan.Commit, Connections: []connectionPlanJSON{}}
	for _, cp := range plan.Connections {
		j := connectionPlanJSON{pushConnectionJSON: toPushConnectionJSON(cp.PushConnection), Items: []planItemJSON{}, Counts: map[string]int{}}
		for _, a := range []string{service.PushCreate, service.PushUpdate, service.PushUnchanged, service.PushExtra} {
			j.Counts[a] = cp.Count(a)
		}
		for _, it := range cp.Items {
			j.Items = append(j.Items, planItemJSON{Name: it.Name, Action: it.Action, Changed: orEmpty(it.Changed)})
		}
		out.Connections = append(out.Connections, j)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTemplatePush(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.sourceFirst(r, c); err != nil {
		return err
	}
	var in struct {
		ConnectionIDs []string `json:"connection_ids"`
		Commit        string   `json:"commit"`
		Delete        []string `json:"delete"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	res, err := s.Service.ApplyPush(r.Context(), c.actor, r.PathValue("id"), in.ConnectionIDs, in.Commit, in.Delete)
	if err != nil {
		return err
	}
	out := pushResultJSON{SourceID: res.SourceID, Commit: res.Commit, Connections: []connectionPushJSON{}}
	for _, cr := range res.Connections {
		j := connectionPushJSON{pushConnectionJSON: toPushConnectionJSON(cr.PushConnection), Items: []pushItemJSON{}, Counts: map[string]int{}}
		for _, a := range []string{service.PushCreate, service.PushUpdate, service.PushUnchanged, service.PushDelete, service.PushExtra, "failed"} {
			j.Counts[a] = cr.Count(a)
		}
		for _, it := range cr.Items {
			j.Items = append(j.Items, pushItemJSON{Name: it.Name, Action: it.Action, Changed: orEmpty(it.Changed), OK: it.OK, Error: it.Error})
		}
		out.Connections = append(out.Connections, j)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTemplateDrift(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.sourceFirst(r, c); err != nil {
		return err
	}
	connID := r.URL.Query().Get("connection_id")
	if connID == "" {
		return domain.FieldError("connection_id", "Name the connection to compare with: ?connection_id=.")
	}
	d, err := s.Service.Drift(r.Context(), c.actor, r.PathValue("id"), connID)
	if err != nil {
		return err
	}
	out := driftJSON{SourceID: d.SourceID, Commit: d.Commit, pushConnectionJSON: toPushConnectionJSON(d.PushConnection), Items: []driftItemJSON{},
		Counts: map[string]int{service.DriftInSync: 0, service.DriftChanged: 0, service.DriftMissing: 0, service.DriftExtra: 0}}
	for _, it := range d.Items {
		j := driftItemJSON{Name: it.Name, State: it.State, Diffs: []partDiffJSON{}}
		for _, p := range it.Diffs {
			j.Diffs = append(j.Diffs, partDiffJSON{Part: p.Part, Unified: p.Unified, Inserted: p.Inserted, Deleted: p.Deleted})
		}
		out.Counts[it.State]++
		out.Items = append(out.Items, j)
	}
	return writeJSON(w, http.StatusOK, out)
}

type sesTemplateJSON struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
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
	out := list[sesTemplateJSON]{Data: make([]sesTemplateJSON, len(tpls)), NextCursor: next}
	for i, t := range tpls {
		out.Data[i] = sesTemplateJSON{Name: t.Name, CreatedAt: t.CreatedAt}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiSESTemplateTestRender(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in struct {
		// Data is the template data: a JSON object, or a string holding one.
		Data json.RawMessage `json:"data"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	data := string(bytes.TrimSpace(in.Data))
	if bytes.HasPrefix(in.Data, []byte(`"`)) {
		if err := json.Unmarshal(in.Data, &data); err != nil {
			return domain.FieldError("data", "data must be a JSON object, or a string holding one.")
		}
	} else if data == "null" {
		data = ""
	}
	out, err := s.Service.TestRender(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"), data)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Subject string `json:"subject"`
		HTML    string `json:"html"`
		Text    string `json:"text"`
		MIME    string `json:"mime"`
	}{out.Subject, out.HTML, out.Text, out.MIME})
}
