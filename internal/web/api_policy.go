package web

import "net/http"

// apiAWSPolicy answers the IAM policy SendOps needs in an AWS account
// (?partition=aws-cn or aws-us-gov for China or GovCloud).
func (s *Server) apiAWSPolicy(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	b, err := s.Service.IAMPolicy(r.Context(), c.actor, r.URL.Query().Get("partition"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

// apiAWSCloudFormation answers the CloudFormation template (JSON) that
// creates SendOps's roles in an AWS account, for the key's organisation.
func (s *Server) apiAWSCloudFormation(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	b, err := s.Service.CloudFormation(r.Context(), c.actor)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}
