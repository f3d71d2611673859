package web

import (
	"fmt"
	"net/http"
	"strings"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
	"sendops/internal/service"
)

// connectionData gathers a connection's page: how SendOps reaches it,
// where its events arrive, and its event pipeline piece by piece (or why
// that could not be read). ran, when set, is the pipeline as a set-up run
// just left it, shown instead of reading it again.
func (s *Server) connectionData(r *http.Request, c *reqCtx, id string, ran *domain.Pipeline) (map[string]any, error) {
	conn, err := s.Service.Connection(r.Context(), c.actor, id)
	if err != nil {
		return nil, err
	}
	managed := conn.Managed()
	rate := awsconn.PipelineRateLimit
	d := map[string]any{
		"Title": conn.Name, "Section": "connections", "Conn": conn, "Managed": managed,
		"EventBridgeURL": s.Service.BaseURL + service.EventBridgePath, "HeaderName": service.IngestHeader,
		"ConfigSet": awsconn.DefaultConfigurationSet, "Rate": rate,
		// Three events (Send, Delivery and more) per mail, as DESIGN.md counts.
		"EventsPerDay": fmt.Sprintf("%.1f million", float64(rate)*86400/1e6),
		"MailsPerDay":  fmt.Sprintf("%.1f million", float64(rate)*86400/3/1e6),
	}
	if conn.RoleARN != "" {
		if d["ExternalID"], err = s.Service.ExternalID(r.Context(), c.actor); err != nil {
			return nil, err
		}
	}
	switch {
	case ran != nil:
		d["Pipeline"], d["ConfigSet"] = ran, ran.ConfigurationSet
	case managed && c.actor.Can(domain.ActSESView):
		p, err := s.Service.Pipeline(r.Context(), c.actor, id)
		switch code := domain.ErrorCode(err); {
		case err == nil:
			d["Pipeline"], d["ConfigSet"] = p, p.ConfigurationSet
		case code == domain.EAWS || code == domain.ETooMany || code == domain.EInvalid:
			d["PipelineError"] = domain.ErrorMessage(err)
		default:
			return nil, err
		}
	}
	return d, nil
}

// connectionPage is a connection's overview.
func (s *Server) connectionPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := s.connectionData(r, c, r.PathValue("id"), nil)
	if err != nil {
		return err
	}
	return s.page(w, r, c, "connection", d)
}

// connectionPipeline sets up event publishing ("Set up event publishing").
func (s *Server) connectionPipeline(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	p, err := s.Service.SetUpPipeline(r.Context(), c.actor, id, service.PipelineInput{
		ConfigurationSet: r.PostFormValue("configuration_set"), RotateSecret: r.PostFormValue("rotate_secret") != ""})
	if err != nil {
		// A run that stopped in AWS left p: shown as it is, not read again.
		d, derr := s.connectionData(r, c, id, p)
		if derr != nil {
			return derr
		}
		d["ConfigSet"] = r.PostFormValue("configuration_set")
		return s.formError(w, r, c, "connection", d, err)
	}
	msg := "Event publishing was already set up as SendOps expects: nothing changed."
	if len(p.Changes) > 0 {
		msg = "Event publishing is set up: SendOps " + strings.Join(p.Changes, ", ") + "."
	}
	return s.redirect(w, r, "/connections/"+id, msg)
}

// connectionRemove removes a connection in SendOps, once its name is
// typed, and shows what stays in AWS.
func (s *Server) connectionRemove(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	conn, err := s.Service.Connection(r.Context(), c.actor, id)
	if err != nil {
		return err
	}
	if err := c.actor.Require(domain.ActConnectionsWrite); err != nil {
		return err
	}
	if strings.TrimSpace(r.PostFormValue("confirm")) != conn.Name {
		d, err := s.connectionData(r, c, id, nil)
		if err != nil {
			return err
		}
		return s.formError(w, r, c, "connection", d, domain.FieldError("confirm", "Type the connection's name, %s, to remove it.", conn.Name))
	}
	removed, left, err := s.Service.RemoveConnection(r.Context(), c.actor, id)
	if err != nil {
		return err
	}
	s.IngestAuth.Forget()
	return s.page(w, r, c, "connection_removed", map[string]any{"Title": "Connection removed", "Section": "connections",
		"Conn": removed, "Left": left, "Message": removedMessage})
}
