package service

import (
	"context"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
)

// IAMPolicy returns the least-privilege IAM policy SendOps needs in a
// customer's account (the same for every organisation). Anyone in the
// organisation, or read keys. Errors: EForbidden.
func (s *Service) IAMPolicy(ctx context.Context, a *domain.Actor) ([]byte, error) {
	if err := a.Require(domain.ActConnectionsView); err != nil {
		return nil, err
	}
	return awsconn.PolicyJSON(""), nil
}

// CloudFormation returns the CloudFormation template that creates, in a
// customer's account, the role SendOps assumes (trusting SendOps's
// principal with the organisation's ExternalId) and the invocation role of
// the event pipeline. Without SENDOPS_AWS_PRINCIPAL the template leaves
// the principal for the user to fill in. Anyone in the organisation, or
// read keys. Errors: EForbidden.
func (s *Service) CloudFormation(ctx context.Context, a *domain.Actor) ([]byte, error) {
	ext, err := s.ExternalID(ctx, a)
	if err != nil {
		return nil, err
	}
	return awsconn.CloudFormation(s.AWSPrincipal, ext), nil
}
