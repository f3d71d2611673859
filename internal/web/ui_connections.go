package web

import (
	"net/http"

	"sendops/internal/service"
)

// connectionsData gathers what the connections page shows.
func (s *Server) connectionsData(r *http.Request, c *reqCtx) (map[string]any, error) {
	conns, err := s.Service.Connections(r.Context(), c.actor)
	if err != nil {
		return nil, err
	}
	ext, err := s.Service.ExternalID(r.Context(), c.actor)
	if err != nil {
		return nil, err
	}
	policy, err := s.Service.IAMPolicy(r.Context(), c.actor, "")
	if err != nil {
		return nil, err
	}
	return map[string]any{"Title": "Connections", "Section": "connections", "Connections": conns,
		"ExternalID": ext, "Principal": s.Service.AWSPrincipal, "AllowEndpoint": s.Service.AllowAWSEndpoint || len(s.Service.AWSEndpoints) > 0, "Policy": string(policy)}, nil
}

func (s *Server) connectionsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := s.connectionsData(r, c)
	if err != nil {
		return err
	}
	return s.page(w, r, c, "connections", d)
}

func (s *Server) connectionCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	conn, cr, err := s.Service.CreateConnection(r.Context(), c.actor, service.ConnectionInput{
		Name: r.PostFormValue("name"), AWSAccountID: r.PostFormValue("aws_account_id"), Region: r.PostFormValue("region"),
		RoleARN: r.PostFormValue("role_arn"), AccessKeyID: r.PostFormValue("access_key_id"), SecretAccessKey: r.PostFormValue("secret_access_key"),
		Endpoint: r.PostFormValue("endpoint")})
	d, derr := s.connectionsData(r, c)
	if derr != nil {
		return derr
	}
	if err != nil {
		return s.formError(w, r, c, "connections", d, err)
	}
	d["New"], d["Credentials"] = conn, cr
	return s.page(w, r, c, "connections", d)
}

func (s *Server) connectionRotate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	conn, cr, err := s.Service.RotateIngestCredentials(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.IngestAuth.Forget()
	d, err := s.connectionsData(r, c)
	if err != nil {
		return err
	}
	d["New"], d["Credentials"], d["Rotated"] = conn, cr, true
	return s.page(w, r, c, "connections", d)
}
