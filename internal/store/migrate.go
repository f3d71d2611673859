package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the engine's migrations in order. File names start with
// their version number: 0001_foundation.sql.
func (db *DB) migrations() ([]migration, error) {
	dir := path.Join("migrations", string(db.Engine))
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// KnownVersion is the newest schema version this binary knows.
func (db *DB) KnownVersion() int {
	ms, _ := db.migrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// SchemaVersion returns the version of the schema in the database, 0 when
// none was applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.View(ctx, func(tx *Tx) error {
		var exists int
		q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
		if db.Engine == Postgres {
			q = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
		}
		if err := tx.QueryRow(ctx, q).Scan(&exists); err != nil || exists == 0 {
			return err
		}
		return tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	})
	return v, err
}

// CheckSchema returns an error unless the schema is exactly the one this
// binary knows.
func (db *DB) CheckSchema(ctx context.Context) error {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if known := db.KnownVersion(); v > known {
		return fmt.Errorf("the database schema is at version %d, newer than this sendops knows (%d): run a newer sendops", v, known)
	} else if v < known {
		return fmt.Errorf("the database schema is at version %d, this sendops needs %d: run sendops migrate", v, known)
	}
	ms, err := db.migrations()
	if err != nil {
		return err
	}
	done, err := db.appliedVersions(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if !done[m.version] {
			return fmt.Errorf("the database schema lacks migration %s: run sendops migrate", m.name)
		}
	}
	return nil
}

// appliedVersions returns the versions recorded in schema_migrations.
func (db *DB) appliedVersions(ctx context.Context) (map[int]bool, error) {
	out := map[int]bool{}
	if v, err := db.SchemaVersion(ctx); err != nil || v == 0 {
		return out, err
	}
	err := db.View(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return err
			}
			out[v] = true
		}
		return rows.Err()
	})
	return out, err
}

// Migrate applies every migration not yet applied, each in its own
// transaction. It refuses a schema newer than this binary knows.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	return db.migrateTo(ctx, math.MaxInt)
}

// migrateTo applies the migrations not yet applied up to version last; tests
// use it to store rows in an older schema.
func (db *DB) migrateTo(ctx context.Context, last int) (applied int, err error) {
	ms, err := db.migrations()
	if err != nil {
		return 0, err
	}
	if err := db.Update(ctx, func(tx *Tx) error {
		if db.Engine == Postgres {
			// Replicas starting together: one creates the table at a time.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7364501)`); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
		return err
	}); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := db.SchemaVersion(ctx)
	if err != nil {
		return 0, err
	}
	if known := db.KnownVersion(); current > known {
		return 0, fmt.Errorf("the database schema is at version %d, newer than this sendops knows (%d): run a newer sendops", current, known)
	}
	applied0, err := db.appliedVersions(ctx)
	if err != nil {
		return 0, err
	}
	restore, err := db.spillToFiles(ctx)
	if err != nil {
		return 0, err
	}
	defer restore()
	// Every migration not applied yet, also one below the newest applied
	// (a database made while a branch's migration was not merged yet).
	for _, m := range ms {
		if applied0[m.version] || m.version > last {
			continue
		}
		err := db.Update(ctx, func(tx *Tx) error {
			if db.Engine == Postgres {
				// Serialise concurrent migrators across replicas.
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7364501)`); err != nil {
					return err
				}
			}
			// Another replica may have applied it since we looked.
			var done int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&done); err != nil || done > 0 {
				return err
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.version, m.name, tx.Now().Format(timeLayout))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		applied++
	}
	return applied, nil
}

// spillToFiles makes SQLite's writer keep temporary data (sorts, and the
// statement journals of large statements) in temporary files until
// restore is called, instead of in memory as it does for ingest (Open):
// a migration that builds an index over millions of rows would otherwise
// sort all of it in memory (542 MB instead of 90 MB for one index over 4M
// rows). Nothing to do on PostgreSQL.
func (db *DB) spillToFiles(ctx context.Context) (restore func(), err error) {
	if db.Engine != SQLite {
		return func() {}, nil
	}
	if _, err := db.write.ExecContext(ctx, `PRAGMA temp_store = FILE`); err != nil {
		return nil, fmt.Errorf("temp_store: %w", err)
	}
	return func() { db.write.ExecContext(context.WithoutCancel(ctx), `PRAGMA temp_store = MEMORY`) }, nil
}
