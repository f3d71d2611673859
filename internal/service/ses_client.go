package service

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"sendops/internal/dnscheck"
	"sendops/internal/domain"
	"sendops/internal/store"
)

// sesClient checks that the actor may take act and returns the connection
// and an SES v2 client reaching its account. Errors: EForbidden, ENotFound,
// EInvalid (a connection that only receives events), EAWS.
func (s *Service) sesClient(ctx context.Context, a *domain.Actor, act domain.Action, connID string) (*domain.Connection, *sesv2.Client, error) {
	c, cfg, err := s.connectionAWS(ctx, a, act, connID)
	if err != nil {
		return nil, nil, err
	}
	return c, sesv2.NewFromConfig(cfg), nil
}

// resolver is the DNS resolver of live record checks.
func (s *Service) resolver() dnscheck.Resolver {
	if s.DNS != nil {
		return s.DNS
	}
	return net.DefaultResolver
}

// sesCallError is awsError for SES calls, which also knows AWS's answer to
// a paging token it does not accept.
func sesCallError(err error, action string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "InvalidNextTokenException" {
		return domain.FieldError("cursor", "The cursor is no longer valid: start again from the first page.")
	}
	return awsError(err, action)
}

// sesAudit records a change SendOps made in a connection's account. The
// change is made, so it is recorded even when the client has gone: on a
// detached context.
func (s *Service) sesAudit(ctx context.Context, a *domain.Actor, c *domain.Connection, action, target string, details ...string) error {
	d := "connection " + c.Name + " (" + c.AWSAccountID + " " + c.Region + ")"
	if len(details) > 0 {
		d += ", " + strings.Join(details, ", ")
	}
	ctx, cancel := detached(ctx, auditTimeout)
	defer cancel()
	return s.DB.Update(ctx, func(tx *store.Tx) error { return audit(ctx, tx, a, action, target, d) })
}

// sesCursor wraps an AWS NextToken as an API cursor ("" stays "").
func sesCursor(token *string) string {
	if token == nil || *token == "" {
		return ""
	}
	return store.EncodeCursor(*token)
}

// sesListing prepares one page of an SES listing for someone who may view
// the connection's SES: the page size, SES's own token from the cursor, and
// the client.
func (s *Service) sesListing(ctx context.Context, a *domain.Actor, connID string, p domain.Page) (*sesv2.Client, int32, *string, error) {
	size, err := pageSize(p)
	if err != nil {
		return nil, 0, nil, err
	}
	token, err := sesToken(p.Cursor)
	if err != nil {
		return nil, 0, nil, err
	}
	_, client, err := s.sesClient(ctx, a, domain.ActSESView, connID)
	return client, size, token, err
}

// sesToken unwraps an API cursor into an AWS NextToken (nil for "").
func sesToken(cursor string) (*string, error) {
	if cursor == "" {
		return nil, nil
	}
	t, err := store.DecodeCursor(cursor)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// pageSize is a page's limit, 50 by default, at most store.MaxLimit.
func pageSize(p domain.Page) (int32, error) {
	switch {
	case p.Limit == 0:
		return 50, nil
	case p.Limit < 1 || p.Limit > store.MaxLimit:
		return 0, domain.FieldError("limit", "limit must be between 1 and %d.", store.MaxLimit)
	}
	return int32(p.Limit), nil
}
