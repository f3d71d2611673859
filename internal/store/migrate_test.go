package store

import (
	"strings"
	"testing"

	"sendops/internal/testutil/testdb"
)

// A database that lacks a migration below its newest one (made while that
// migration was on another branch) is not taken for current: the server
// refuses it (and Migrate applies every version not recorded, not only
// those above the newest).
func TestMigrationGap(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		db := openTestDB(t, e)
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatalf("a migrated database: %v", err)
		}
		// Forget 0003, as if it had never run.
		update(t, db, func(tx *Tx) error {
			_, err := tx.Exec(ctx, `DELETE FROM schema_migrations WHERE version = 3`)
			return err
		})
		if err := db.CheckSchema(ctx); err == nil || !strings.Contains(err.Error(), "0003") {
			t.Fatalf("a database lacking 0003: %v", err)
		}
	})
}
