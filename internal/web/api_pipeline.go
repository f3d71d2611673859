package web

import (
	"errors"
	"net/http"
	"strconv"

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
// the configuration set, or ask for a new secret) and answers the status
// of each piece with what changed. A run that stopped in AWS answers the
// error and the pipeline as it left it.
func (s *Server) apiPipelineSetUp(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in service.PipelineInput
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	p, err := s.Service.SetUpPipeline(r.Context(), c.actor, r.PathValue("id"), in)
	if err != nil && p != nil && domain.ErrorCode(err) != domain.EInternal {
		return writePipelineStopped(w, p, err)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// pipelineStoppedJSON is the answer to a set-up run that stopped: the
// API's error, and the pipeline as the run left it.
type pipelineStoppedJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Pipeline *domain.Pipeline `json:"pipeline"`
}

func writePipelineStopped(w http.ResponseWriter, p *domain.Pipeline, err error) error {
	var de *domain.Error
	if errors.As(err, &de) && de.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(de.RetryAfter))
	}
	var body pipelineStoppedJSON
	body.Error.Code, body.Error.Message, body.Pipeline = domain.ErrorCode(err), domain.ErrorMessage(err), p
	return writeJSON(w, httpStatus(body.Error.Code), body)
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
