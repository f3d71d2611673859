package store

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"sendops/internal/domain"
	"sendops/internal/testutil/testdb"
)

// Audit entries written in one transaction (one instant, one millisecond
// of ids) are listed in the order written, newest first, every time.
func TestAuditOrderWithinTransaction(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := context.Background()
		db, err := Open(ctx, e.DSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		o := newOrg(t, db, "A")
		var want []string
		for i := range 20 {
			update(t, db, func(tx *Tx) error {
				for _, step := range []string{"first", "second", "third"} {
					action := fmt.Sprintf("t%02d.%s", i, step)
					want = append(want, action)
					if err := AddAudit(ctx, tx, &domain.AuditEntry{OrgID: o.ID, ActorName: "ann", Action: action}); err != nil {
						return err
					}
				}
				return nil
			})
		}
		var got []string
		view(t, db, func(tx *Tx) error {
			_, err := Audit(ctx, tx, o.ID, domain.AuditFilter{Page: domain.Page{Limit: -1}}, func(e *domain.AuditEntry) error {
				got = append(got, e.Action)
				return nil
			})
			return err
		})
		slices.Reverse(got)
		if !slices.Equal(got, want) {
			t.Fatalf("audit order %q, want %q", got, want)
		}
	})
}
