package service

import (
	"context"

	"sendops/internal/domain"
	"sendops/internal/store"
)

// SandboxConnection gives the actor's organisation a connection to the
// sandbox's emulated AWS account (in.Endpoint must be SandboxEndpoint):
// it adds it, or — when the organisation already has a connection of that
// name for that account, from an earlier run of the sandbox — points it at
// the emulator's current address, so a restarted sandbox keeps one
// connection. Developers and up. Errors: EForbidden, EInvalid.
func (s *Service) SandboxConnection(ctx context.Context, a *domain.Actor, in ConnectionInput) (*domain.Connection, error) {
	if err := a.Require(domain.ActConnectionsWrite); err != nil {
		return nil, err
	}
	if s.SandboxEndpoint == "" || in.Endpoint != s.SandboxEndpoint {
		return nil, domain.FieldError("endpoint", "Only the sandbox's own emulator can be a sandbox connection.")
	}
	conns, err := s.Connections(ctx, a)
	if err != nil {
		return nil, err
	}
	for i := range conns {
		c := &conns[i]
		if c.Name != in.Name || c.AWSAccountID != in.AWSAccountID {
			continue
		}
		if c.Endpoint == in.Endpoint {
			return c, nil
		}
		err := s.DB.Update(ctx, func(tx *store.Tx) error {
			if err := store.SetConnectionEndpoint(ctx, tx, a.OrgID, c.ID, in.Endpoint); err != nil {
				return err
			}
			return audit(ctx, tx, a, "connection.updated", c.Name, "the sandbox's emulator now answers at "+in.Endpoint)
		})
		if err != nil {
			return nil, err
		}
		c.Endpoint = in.Endpoint
		return c, nil
	}
	c, _, err := s.CreateConnection(ctx, a, in)
	return c, err
}
