package service

import (
	"context"
	"slices"
	"strings"

	"sendops/internal/awsconn"
	"sendops/internal/domain"
)

// IAMPolicy returns the least-privilege IAM policy SendOps needs in a
// customer's account (the same for every organisation) of partition: ""
// or aws, aws-cn for the China regions, aws-us-gov for GovCloud (US).
// Anyone in the organisation, or read keys. Errors: EForbidden, EInvalid
// (another partition).
func (s *Service) IAMPolicy(ctx context.Context, a *domain.Actor, partition string) ([]byte, error) {
	if err := a.Require(domain.ActConnectionsView); err != nil {
		return nil, err
	}
	if partition != "" && !slices.Contains(awsconn.Partitions, partition) {
		return nil, domain.FieldError("partition", "The partition is one of %s.", strings.Join(awsconn.Partitions, ", "))
	}
	return awsconn.PolicyJSON(partition, ""), nil
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
