package service

import (
	"context"
	"slices"
	"time"

	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
)

// APIKeyPrefix starts every API key, so that leaked keys are recognisable.
const APIKeyPrefix = "sk_"

// CreateAPIKey makes an API key and returns it with its secret (shown once).
// Admins and owners, or admin keys; a key cannot grant a scope it lacks.
// Errors: EForbidden, EInvalid.
func (s *Service) CreateAPIKey(ctx context.Context, a *domain.Actor, name string, scopes []domain.Scope) (*domain.APIKey, string, error) {
	if err := a.Require(domain.ActAPIKeysManage); err != nil {
		return nil, "", err
	}
	if a.IsKey() {
		for _, sc := range scopes {
			if !slices.Contains(a.Scopes, sc) {
				return nil, "", domain.Errorf(domain.EForbidden, "This API key cannot grant the %q scope it lacks.", sc)
			}
		}
	} else if slices.Contains(scopes, domain.ScopeAdmin) && a.Role != domain.RoleOwner && a.UserID != "" {
		// An admin key can do what owners do through the API (organisation
		// settings), so only owners mint one.
		return nil, "", &domain.Error{Code: domain.EForbidden, Field: "scopes", Message: "Only an owner may create a key with the admin scope."}
	}
	name, err := checkName("name", "a name for the key", name)
	if err != nil {
		return nil, "", err
	}
	if len(scopes) == 0 {
		return nil, "", domain.FieldError("scopes", "Choose at least one scope.")
	}
	token := secret.Token(APIKeyPrefix)
	k := &domain.APIKey{OrgID: a.OrgID, Name: name, Prefix: token[:len(APIKeyPrefix)+8], Hash: secret.HashToken(token), Scopes: scopes, CreatedBy: a.ID()}
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		if _, err := store.OrgByID(ctx, tx, a.OrgID); err != nil {
			return err
		}
		if err := store.CreateAPIKey(ctx, tx, k); err != nil {
			return err
		}
		return audit(ctx, tx, a, "apikey.created", k.Prefix, name+" ("+domain.JoinScopes(scopes)+")")
	})
	if err != nil {
		return nil, "", err
	}
	return k, token, nil
}

// APIKeys lists the organisation's keys. Errors: EForbidden, EInvalid (page).
func (s *Service) APIKeys(ctx context.Context, a *domain.Actor, p domain.Page) ([]domain.APIKey, string, error) {
	if err := a.Require(domain.ActAPIKeysView); err != nil {
		return nil, "", err
	}
	var out []domain.APIKey
	var next string
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		out, next, err = store.APIKeys(ctx, tx, a.OrgID, p)
		return err
	})
	return out, next, err
}

// RevokeAPIKey revokes a key at once. Errors: EForbidden, ENotFound.
func (s *Service) RevokeAPIKey(ctx context.Context, a *domain.Actor, id string) error {
	if err := a.Require(domain.ActAPIKeysManage); err != nil {
		return err
	}
	return s.DB.Update(ctx, func(tx *store.Tx) error {
		k, err := store.APIKey(ctx, tx, a.OrgID, id)
		if err != nil {
			return err
		}
		if err := store.RevokeAPIKey(ctx, tx, a.OrgID, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "apikey.revoked", k.Prefix, k.Name)
	})
}

// AuthenticateAPIKey returns the actor for a bearer key and records its use
// (at most once a minute). Errors: EUnauthorized.
func (s *Service) AuthenticateAPIKey(ctx context.Context, token, ip string) (*domain.Actor, error) {
	var k *domain.APIKey
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		k, err = store.APIKeyByHash(ctx, tx, secret.HashToken(token))
		return err
	})
	if domain.IsNotFound(err) {
		return nil, domain.Errorf(domain.EUnauthorized, "The API key is not valid or was revoked.")
	} else if err != nil {
		return nil, err
	}
	if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > time.Minute {
		if err := s.DB.Update(ctx, func(tx *store.Tx) error { return store.TouchAPIKey(ctx, tx, k.OrgID, k.ID) }); err != nil {
			return nil, err
		}
	}
	return &domain.Actor{OrgID: k.OrgID, KeyID: k.ID, KeyPrefix: k.Prefix, Scopes: k.Scopes, IP: ip}, nil
}

// SystemActor is the command line acting as an owner of an organisation.
func SystemActor(orgID string) *domain.Actor {
	return &domain.Actor{OrgID: orgID, Role: domain.RoleOwner, IP: "cli"}
}

// Audit streams the organisation's audit log through fn, newest first, and
// returns the next page's cursor. Owners and admins. Errors: EForbidden,
// EInvalid (filter or page).
func (s *Service) Audit(ctx context.Context, a *domain.Actor, f domain.AuditFilter, fn func(*domain.AuditEntry) error) (string, error) {
	if err := a.Require(domain.ActAuditView); err != nil {
		return "", err
	}
	var next string
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		next, err = store.Audit(ctx, tx, a.OrgID, f, fn)
		return err
	})
	return next, err
}
