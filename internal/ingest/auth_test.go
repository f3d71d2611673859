package ingest

import (
	"context"
	"sync"
	"testing"

	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

// Many requests with one credential at once, on a cold cache, all get the
// right answer; a wrong credential gets 401 every time, and is not cached
// as good.
func TestAuthConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newWriterEnv(t, e, Options{})
		ctx := context.Background()
		sec := secret.Token("whsec_")
		if err := env.db.Update(ctx, func(tx *store.Tx) error {
			return store.AddIngestSecret(ctx, tx, env.conn.OrgID, env.conn.ID, secret.HashToken(sec))
		}); err != nil {
			t.Fatal(err)
		}
		a := &Auth{DB: env.db}
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cred := sec
				if i%2 == 1 {
					cred = sec + "x"
				}
				c, err := a.BySecret(ctx, cred)
				switch {
				case i%2 == 0 && (err != nil || c.ID != env.conn.ID):
					errs <- err
				case i%2 == 1 && domain.ErrorCode(err) != domain.EUnauthorized:
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("wrong answer: %v", err)
		}
		if _, err := a.BySecret(ctx, sec+"x"); domain.ErrorCode(err) != domain.EUnauthorized {
			t.Errorf("a wrong secret after the burst: %v", err)
		}
	})
}
