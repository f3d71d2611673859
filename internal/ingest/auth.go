package ingest

import (
	"context"
	"sync"
	"time"

	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
)

// HeaderName is the header an EventBridge connection sends the secret in
// (API-key authorisation): service.IngestHeader, which the service package
// (a user of this one) tells its users.
const HeaderName = "X-Sendops-Ingest-Key"

// Auth finds the connection of an ingest credential, caching answers for a
// short time so that a busy endpoint does not read the database per request.
// A revoked or expired credential stops working within the cache's TTL.
type Auth struct {
	DB  *store.DB
	TTL time.Duration // default 15 s

	mu       sync.Mutex
	m        map[string]authEntry
	inflight map[string]*lookupCall // one database lookup per credential at a time
}

type lookupCall struct {
	done chan struct{}
	conn *domain.Connection
	err  error
}

type authEntry struct {
	conn    *domain.Connection
	expires time.Time
}

// BySecret returns the connection of an EventBridge secret. Errors:
// EUnauthorized.
func (a *Auth) BySecret(ctx context.Context, s string) (*domain.Connection, error) {
	return a.lookup(ctx, "s:", s, store.ConnectionBySecret)
}

// BySNSToken returns the connection of an SNS URL token. Errors:
// EUnauthorized.
func (a *Auth) BySNSToken(ctx context.Context, token string) (*domain.Connection, error) {
	return a.lookup(ctx, "t:", token, store.ConnectionBySNSToken)
}

func (a *Auth) lookup(ctx context.Context, kind, cred string, find func(context.Context, *store.Tx, string) (*domain.Connection, error)) (*domain.Connection, error) {
	if cred == "" || len(cred) > 200 {
		return nil, errUnauthorized
	}
	hash := secret.HashToken(cred)
	now := time.Now()
	a.mu.Lock()
	if e, ok := a.m[kind+hash]; ok && now.Before(e.expires) {
		a.mu.Unlock()
		return e.conn, nil
	}
	a.mu.Unlock()
	// Many requests with the same credential arriving together (a cold
	// cache under load) share one database lookup.
	a.mu.Lock()
	if call, ok := a.inflight[kind+hash]; ok {
		a.mu.Unlock()
		select {
		case <-call.done:
			return call.conn, call.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	call := &lookupCall{done: make(chan struct{})}
	if a.inflight == nil {
		a.inflight = map[string]*lookupCall{}
	}
	a.inflight[kind+hash] = call
	a.mu.Unlock()

	err := a.DB.View(ctx, func(tx *store.Tx) (err error) {
		call.conn, err = find(ctx, tx, hash)
		return err
	})
	if domain.IsNotFound(err) {
		err = errUnauthorized
	}
	call.err = err
	ttl := a.TTL
	if ttl == 0 {
		ttl = 15 * time.Second
	}
	a.mu.Lock()
	delete(a.inflight, kind+hash)
	if err == nil {
		if a.m == nil || len(a.m) > 10000 {
			a.m = map[string]authEntry{}
		}
		a.m[kind+hash] = authEntry{conn: call.conn, expires: now.Add(ttl)}
	}
	a.mu.Unlock()
	close(call.done)
	if err != nil {
		return nil, err
	}
	return call.conn, nil
}

// Forget drops cached answers (after a rotation, in this process).
func (a *Auth) Forget() {
	a.mu.Lock()
	a.m = nil
	a.mu.Unlock()
}

var errUnauthorized = domain.Errorf(domain.EUnauthorized, "The ingest credentials are not valid.")
