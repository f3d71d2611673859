package seed_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/ingest"
	"sendops/internal/secret"
	"sendops/internal/seed"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

var end = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// open returns a migrated database with an organisation, its connection
// and an ingest writer.
func open(t *testing.T, dsn string) (*store.DB, *ingest.Writer, *domain.Connection) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kr, err := db.Keyring(ctx, []byte("seed-test-secret-key-0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	org := &domain.Org{ID: domain.NewID(), Name: "Seeded", CreatedAt: time.Now().UTC()}
	conn := &domain.Connection{ID: domain.NewID(), OrgID: org.ID, Name: "Seed data", AWSAccountID: "123456789012", Region: "us-east-1", CreatedAt: time.Now().UTC()}
	if err := db.Update(ctx, func(tx *store.Tx) error {
		if err := store.CreateOrg(ctx, tx, org); err != nil {
			return err
		}
		return store.CreateConnection(ctx, tx, conn, secret.HashToken("sns"), secret.HashToken("secret"))
	}); err != nil {
		t.Fatal(err)
	}
	w := ingest.NewWriter(db, kr, slog.New(slog.NewTextHandler(io.Discard, nil)), ingest.Options{}, nil)
	t.Cleanup(func() { w.Close(context.Background()) })
	return db, w, conn
}

// TestRun stores the messages it says, with their events, rollups and
// recipients, in several transactions; running again with the same
// options stores nothing new, another seed other messages.
func TestRun(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := context.Background()
		db, w, conn := open(t, e.DSN)
		opts := seed.Options{Messages: 700, Days: 10, End: end, Seed: 7, BatchRows: 500}
		var progress []seed.Progress
		opts.Progress = func(p seed.Progress) { progress = append(progress, p) }
		p, err := seed.Run(ctx, db, w, conn, opts)
		if err != nil {
			t.Fatal(err)
		}
		if p.Messages != 700 || p.Events < 2*700 || p.Rows < p.Events || p.New != p.Rows {
			t.Fatalf("progress %+v", p)
		}
		if len(progress) < 3 || progress[len(progress)-1] != p {
			t.Errorf("progress reported %d times, last %+v, want several ending with %+v", len(progress), progress[len(progress)-1], p)
		}
		var messages, rows, rollups int64
		var first, last time.Time
		if err := db.View(ctx, func(tx *store.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?)`, conn.OrgID).Scan(&messages); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT coalesce(sum(count), 0) FROM rollups_hourly WHERE org_id = ?`, conn.OrgID).Scan(&rollups); err != nil {
				return err
			}
			var err error
			if rows, err = store.CountEvents(ctx, tx, conn.OrgID); err != nil {
				return err
			}
			ids, err := seed.MessageIDs(opts)
			if err != nil {
				return err
			}
			m1, err := store.Message(ctx, tx, conn.OrgID, ids[0])
			if err != nil {
				return err
			}
			m2, err := store.Message(ctx, tx, conn.OrgID, ids[len(ids)-1])
			if err != nil {
				return err
			}
			first, last = *m1.SentAt, *m2.SentAt
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if messages != 700 || rows != int64(p.Rows) || rollups != int64(p.Rows) {
			t.Errorf("stored %d messages, %d event rows, %d in rollups; want 700, %d, %d", messages, rows, rollups, p.Rows, p.Rows)
		}
		if first.Before(end.AddDate(0, 0, -10)) || !last.Before(end) || !first.Before(last) || last.Sub(first) < 9*24*time.Hour {
			t.Errorf("messages sent from %s to %s, want spread over the 10 days before %s", first, last, end)
		}

		opts.Progress = nil
		again, err := seed.Run(ctx, db, w, conn, opts)
		if err != nil || again.New != 0 || again.Rows != p.Rows {
			t.Errorf("the same seed again: %+v, %v; want the same %d rows, none new", again, err, p.Rows)
		}
		opts.Seed, opts.Messages = 8, 50
		other, err := seed.Run(ctx, db, w, conn, opts)
		if err != nil || other.New != other.Rows {
			t.Errorf("another seed: %+v, %v; want every row new", other, err)
		}
	})
}

// TestRunRefuses checks the options.
func TestRunRefuses(t *testing.T) {
	db, w, conn := open(t, testdb.SQLite(t))
	for _, o := range []seed.Options{{Messages: 0}, {Messages: 10, Days: -1}, {Messages: 10, Days: 4000}} {
		if _, err := seed.Run(context.Background(), db, w, conn, o); domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("%+v: %v, want invalid", o, err)
		}
	}
}

// TestMessageIDs: the same options give the same messages, whatever the
// batch size; another seed or end other ones.
func TestMessageIDs(t *testing.T) {
	a, _ := seed.MessageIDs(seed.Options{Messages: 300, End: end, Seed: 3})
	b, _ := seed.MessageIDs(seed.Options{Messages: 300, End: end, Seed: 3, BatchRows: 7})
	c, _ := seed.MessageIDs(seed.Options{Messages: 300, End: end, Seed: 4})
	d, _ := seed.MessageIDs(seed.Options{Messages: 300, End: end.Add(time.Hour), Seed: 3})
	if !slices.Equal(a, b) || len(a) != 300 {
		t.Fatalf("the same options gave different messages")
	}
	if slices.Equal(a, c) || slices.Equal(a, d) {
		t.Errorf("another seed or end gave the same messages")
	}
	seen := map[string]bool{}
	for _, id := range a {
		if seen[id] {
			t.Fatalf("message id %s twice", id)
		}
		seen[id] = true
	}
}
