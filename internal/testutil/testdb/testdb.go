// Package testdb gives tests real databases: a fresh SQLite file, and a
// fresh PostgreSQL schema on the server named by SENDOPS_TEST_POSTGRES_URL.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// Engine is a database a test runs against.
type Engine struct {
	Name string // "sqlite" or "postgres"
	DSN  string
}

// SQLite returns the DSN of a new SQLite database in the test's temp dir.
func SQLite(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "sendops.db")
}

// Postgres returns the DSN of a new, empty schema on the test server, which
// is dropped when the test ends. Without SENDOPS_TEST_POSTGRES_URL the test
// is skipped, or fails under CI=true.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SENDOPS_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SENDOPS_TEST_POSTGRES_URL is not set, and PostgreSQL tests must run in CI")
		}
		t.Skip("PostgreSQL test skipped: set SENDOPS_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema on %s: %v", base, err)
	}
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Each runs fn as a subtest on every engine: SQLite, then PostgreSQL.
func Each(t *testing.T, fn func(t *testing.T, e Engine)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, Engine{"sqlite", SQLite(t)}) })
	t.Run("postgres", func(t *testing.T) { fn(t, Engine{"postgres", Postgres(t)}) })
}

// EachBench runs fn as a sub-benchmark on every engine, SQLite then
// PostgreSQL; newDSN makes a new, empty database of that engine (a
// benchmark function runs more than once, each on a database of its own).
func EachBench(b *testing.B, fn func(b *testing.B, name string, newDSN func(testing.TB) string)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, "sqlite", SQLite) })
	b.Run("postgres", func(b *testing.B) { fn(b, "postgres", Postgres) })
}
