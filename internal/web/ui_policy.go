package web

import (
	"net/http"
	"strconv"
)

// connectionsIAMPolicy downloads the IAM policy SendOps needs in an AWS
// account (?partition=aws-cn or aws-us-gov for China or GovCloud).
func (s *Server) connectionsIAMPolicy(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	partition := r.URL.Query().Get("partition")
	b, err := s.Service.IAMPolicy(r.Context(), c.actor, partition)
	if err != nil {
		return err
	}
	name := "sendops-iam-policy.json"
	if partition != "" && partition != "aws" {
		name = "sendops-iam-policy-" + partition + ".json"
	}
	return writeAttachment(w, "application/json", name, b)
}

// connectionsCloudFormation downloads the CloudFormation template that
// creates SendOps's roles in an AWS account. It is JSON, which is also
// YAML: CloudFormation reads it either way.
func (s *Server) connectionsCloudFormation(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	b, err := s.Service.CloudFormation(r.Context(), c.actor)
	if err != nil {
		return err
	}
	return writeAttachment(w, "application/yaml", "sendops-cloudformation.yaml", b)
}

// writeAttachment answers a file to save.
func writeAttachment(w http.ResponseWriter, contentType, name string, b []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, err := w.Write(b)
	return err
}
