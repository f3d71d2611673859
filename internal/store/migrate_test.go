package store

import (
	"database/sql"
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

// Migrations run with SQLite's temporary data in files (an index build
// sorts all its rows), ingest with it in memory (statement journals): the
// writer is back in memory once Migrate returns.
func TestMigrationTempStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openTestDBAt(t, testdb.Engine{Name: "sqlite", DSN: testdb.SQLite(t)}, 16)
	tempStore := func() (v int) {
		t.Helper()
		if err := db.write.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := tempStore(); v != 2 {
		t.Fatalf("writer's temp_store = %d, want 2 (memory)", v)
	}
	restore, err := db.spillToFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v := tempStore(); v != 1 {
		t.Errorf("temp_store while migrating = %d, want 1 (file)", v)
	}
	restore()
	if n, err := db.Migrate(ctx); err != nil || n != 1 {
		t.Fatalf("Migrate from 16: %d applied, %v", n, err)
	}
	if v := tempStore(); v != 2 {
		t.Errorf("writer's temp_store after Migrate = %d, want 2 (memory)", v)
	}
}

// SQLite's writer syncs every commit (an acknowledged event survives a
// power loss); the connection that only reads does not need to.
func TestSQLiteWriterSyncs(t *testing.T) {
	t.Parallel()
	db := openTestDB(t, testdb.Engine{Name: "sqlite", DSN: testdb.SQLite(t)})
	for name, pool := range map[string]*sql.DB{"writer": db.write, "checkpointer": db.checkpoint} {
		var v int
		if err := pool.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"writer": 2, "checkpointer": 1}[name]; v != want {
			t.Errorf("%s: synchronous = %d, want %d", name, v, want)
		}
	}
}
