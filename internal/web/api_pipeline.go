package web

import (
	"net/http"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// apiPipelineGet answers the status of each piece of a connection's event
// pipeline.
func (s *Server) apiPipelineGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := s.Service.Pipeline(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// apiPipelineSetUp sets up event publishing (the body, optional, may name
// the configuration set) and answers the status of each piece with what
// changed.
func (s *Server) apiPipelineSetUp(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	// Another organisation's connection is not found, whatever the body.
	if _, err := s.Service.Connection(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return err
	}
	var in service.PipelineInput
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	p, err := s.Service.SetUpPipeline(r.Context(), c.actor, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// removedJSON is the answer to removing a connection: nothing was deleted
// in AWS, and what stays there.
type removedJSON struct {
	Connection connectionJSON     `json:"connection"`
	Message    string             `json:"message"`
	LeftInAWS  []domain.LeftInAWS `json:"left_in_aws"`
}

// removedMessage says what removing a connection did and did not do.
const removedMessage = "The connection was removed from SendOps: its ingest secrets and SNS URL no longer work, and the events it brought stay until retention removes them. SendOps deleted nothing in AWS: what it set up or used there stays until you remove it by hand."

// apiConnectionDelete removes a connection in SendOps only.
func (s *Server) apiConnectionDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	conn, left, err := s.Service.RemoveConnection(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.IngestAuth.Forget()
	if left == nil {
		left = []domain.LeftInAWS{}
	}
	return writeJSON(w, http.StatusOK, removedJSON{Connection: toConnectionJSON(conn, nil), Message: removedMessage, LeftInAWS: left})
}
