package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/sesevent"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

// writerEnv is a migrated database of one engine with an organisation and a
// connection, and a writer on it.
type writerEnv struct {
	db   *store.DB
	conn *domain.Connection
	w    *Writer
}

func newWriterEnv(t testing.TB, e testdb.Engine, opts Options) *writerEnv {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, e.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keyring, err := secret.NewKeyring([]byte("writer-test-secret-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	org := &domain.Org{Name: "Shop"}
	conn := &domain.Connection{Name: "prod", AWSAccountID: "123456789012", Region: "us-east-1"}
	if err := db.Update(ctx, func(tx *store.Tx) error {
		if err := store.CreateOrg(ctx, tx, org); err != nil {
			return err
		}
		conn.OrgID = org.ID
		return store.CreateConnection(ctx, tx, conn, secret.HashToken(secret.Token("")), secret.HashToken(secret.Token("whsec_")))
	}); err != nil {
		t.Fatal(err)
	}
	w := NewWriter(db, keyring, slog.New(slog.NewTextHandler(io.Discard, nil)), opts, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			t.Errorf("close writer: %v", err)
		}
	})
	return &writerEnv{db: db, conn: conn, w: w}
}

// event returns a parsed Send event of message id to the recipients.
func sendEvent(t *testing.T, id string, to ...string) *sesevent.Event {
	t.Helper()
	var dest bytes.Buffer
	for i, r := range to {
		if i > 0 {
			dest.WriteString(",")
		}
		fmt.Fprintf(&dest, "%q", r)
	}
	ev, err := sesevent.Parse(fmt.Appendf(nil, `{"eventType":"Send","mail":{"timestamp":"2026-03-10T09:59:58.000Z","messageId":%q,"source":"news@mail.shop.example",
		"destination":[%s],"commonHeaders":{"subject":"Spring sale"},"tags":{"ses:configuration-set":["marketing"]}},"send":{}}`, id, dest.String()))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// rows counts the event rows of a message.
func (env *writerEnv) rows(t *testing.T, messageID string) int {
	t.Helper()
	var n int64
	if err := env.db.View(context.Background(), func(tx *store.Tx) (err error) {
		n, err = store.CountMessageEvents(context.Background(), tx, env.conn.OrgID, messageID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// writerBlocked reports whether a transaction waits on the database held
// by the full-queue test: for SQLite's one write connection, or for the lock
// on PostgreSQL's events table.
func (env *writerEnv) writerBlocked(t *testing.T, e testdb.Engine) bool {
	t.Helper()
	if e.Name == "sqlite" {
		return env.db.Pools()["write"].Stats().WaitCount > 0
	}
	var n int
	if err := env.db.View(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted`).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestWriter(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		t.Run("concurrent writes of one event", func(t *testing.T) {
			env := newWriterEnv(t, e, Options{})
			ev := sendEvent(t, "same", "Ann@Example.com", "bob@example.org", "cy@example.net")
			const n = 50
			var wg sync.WaitGroup
			results := make([]bool, n)
			errs := make([]error, n)
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					results[i], errs[i] = env.w.Write(context.Background(), env.conn, ev)
				})
			}
			close(start)
			wg.Wait()
			stored := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("write %d: %v", i, errs[i])
				}
				if results[i] {
					stored++
				}
			}
			if stored != 1 {
				t.Errorf("%d writes reported the event new, want exactly 1", stored)
			}
			if got := env.rows(t, "same"); got != 3 {
				t.Errorf("%d rows, want 3 (one per recipient)", got)
			}
			// Later, again: a duplicate.
			if stored, err := env.w.Write(context.Background(), env.conn, ev); err != nil || stored {
				t.Errorf("write after commit: %v, %v; want a duplicate", stored, err)
			}
		})

		t.Run("closed writer", func(t *testing.T) {
			env := newWriterEnv(t, e, Options{})
			if stored, err := env.w.Write(context.Background(), env.conn, sendEvent(t, "before", "a@example.com")); err != nil || !stored {
				t.Fatalf("write: %v, %v", stored, err)
			}
			if err := env.w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			stored, err := env.w.Write(context.Background(), env.conn, sendEvent(t, "after", "a@example.com"))
			if !errors.Is(err, ErrShuttingDown) || stored {
				t.Errorf("write after Close: %v, %v; want ErrShuttingDown", stored, err)
			}
			if got := env.rows(t, "after"); got != 0 {
				t.Errorf("%d rows stored after Close", got)
			}
		})

		t.Run("full queue", func(t *testing.T) {
			env := newWriterEnv(t, e, Options{QueueSize: 1, MaxBatch: 1, Writers: 1})
			ctx := context.Background()
			// The organisation's hash key is made on first use, in its own
			// transaction: make it before the database is blocked.
			if _, err := env.w.Write(ctx, env.conn, sendEvent(t, "warm-up", "a@example.com")); err != nil {
				t.Fatal(err)
			}
			// Hold the database so that the writer cannot commit: SQLite's
			// one-connection write pool, or a lock on the events table.
			held, release := make(chan struct{}), make(chan struct{})
			holder := make(chan error, 1)
			go func() {
				holder <- env.db.Update(ctx, func(tx *store.Tx) error {
					if e.Name == "postgres" {
						if _, err := tx.Exec(ctx, `LOCK TABLE events IN EXCLUSIVE MODE`); err != nil {
							return err
						}
					}
					close(held)
					<-release
					return nil
				})
			}()
			released := false
			releaseOnce := func() {
				if !released {
					released = true
					close(release)
				}
			}
			defer releaseOnce()
			select {
			case <-held:
			case err := <-holder:
				t.Fatalf("holding the database: %v", err)
			}

			type res struct {
				stored bool
				err    error
			}
			waitQueue := func(n int) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for len(env.w.in) != n {
					if time.Now().After(deadline) {
						t.Fatalf("queue length %d, want %d", len(env.w.in), n)
					}
					time.Sleep(time.Millisecond)
				}
			}
			// First: taken by the writer, which waits on the database.
			first := make(chan res, 1)
			go func() {
				s, err := env.w.Write(ctx, env.conn, sendEvent(t, "first", "a@example.com"))
				first <- res{s, err}
			}()
			// Wait until the writer has taken it and waits on the database.
			deadline := time.Now().Add(10 * time.Second)
			for !env.writerBlocked(t, e) {
				if time.Now().After(deadline) {
					t.Fatal("the writer never started its commit")
				}
				time.Sleep(time.Millisecond)
			}
			waitQueue(0)
			// Second: waits in the queue.
			second := make(chan res, 1)
			go func() {
				s, err := env.w.Write(ctx, env.conn, sendEvent(t, "second", "a@example.com"))
				second <- res{s, err}
			}()
			waitQueue(1)
			// Third: no room.
			stored, err := env.w.Write(ctx, env.conn, sendEvent(t, "third", "a@example.com"))
			if !errors.Is(err, ErrOverloaded) || stored {
				t.Errorf("write to a full queue: %v, %v; want ErrOverloaded", stored, err)
			}
			select {
			case r := <-first:
				t.Fatalf("the first write returned before its commit: %+v", r)
			default:
			}

			releaseOnce()
			if err := <-holder; err != nil {
				t.Fatal(err)
			}
			for name, ch := range map[string]chan res{"first": first, "second": second} {
				select {
				case r := <-ch:
					if r.err != nil || !r.stored {
						t.Errorf("%s write: %v, %v; want stored", name, r.stored, r.err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%s write did not return", name)
				}
			}
			for id, want := range map[string]int{"first": 1, "second": 1, "third": 0} {
				if got := env.rows(t, id); got != want {
					t.Errorf("%s: %d rows, want %d", id, got, want)
				}
			}
		})

		t.Run("database closed under the writer", func(t *testing.T) {
			env := newWriterEnv(t, e, Options{})
			ctx := context.Background()
			if _, err := env.w.Write(ctx, env.conn, sendEvent(t, "warm-up", "a@example.com")); err != nil {
				t.Fatal(err)
			}
			if err := env.db.Close(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			for _, id := range []string{"lost-1", "lost-2"} {
				stored, err := env.w.Write(ctx, env.conn, sendEvent(t, id, "a@example.com"))
				if err == nil || stored {
					t.Errorf("write to a closed database: %v, %v; want an error", stored, err)
				}
				if errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("write to a closed database hung until its deadline")
				}
			}
			db, err := store.Open(context.Background(), e.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := db.View(context.Background(), func(tx *store.Tx) error {
				return tx.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE message_ref IN (SELECT id FROM ses_messages WHERE message_id IN ('lost-1', 'lost-2'))`).Scan(&n)
			}); err != nil || n != 0 {
				t.Errorf("%d rows of the failed writes, %v", n, err)
			}
		})

		t.Run("recipient hash key per organisation", func(t *testing.T) {
			env := newWriterEnv(t, e, Options{})
			ctx := context.Background()
			ev := sendEvent(t, "hashed", "Ann@Example.com")
			if _, err := env.w.Write(ctx, env.conn, ev); err != nil {
				t.Fatal(err)
			}
			key, err := env.w.orgKey(ctx, env.conn.OrgID)
			if err != nil {
				t.Fatal(err)
			}
			var hash []byte
			if err := env.db.View(ctx, func(tx *store.Tx) error {
				return tx.QueryRow(ctx, `SELECT recipient_hash FROM recipient_stats WHERE org_num = (SELECT num FROM orgs WHERE id = ?)`, env.conn.OrgID).Scan(&hash)
			}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(hash, RecipientHash(key, "ann@example.com")) {
				t.Errorf("stored hash %x is not RecipientHash of the lower-cased address under the organisation's key", hash)
			}
			// The key is stored sealed and survives a new writer.
			w2 := NewWriter(env.db, env.w.keyring, env.w.logger, Options{}, nil)
			defer w2.Close(ctx)
			key2, err := w2.orgKey(ctx, env.conn.OrgID)
			if err != nil || !bytes.Equal(key, key2) {
				t.Errorf("a second writer has another key: %x, %v", key2, err)
			}
		})
	})
}

func TestRowKeyAndRecipientHash(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	k := RowKey("org1", "event1", "ann@example.com", at)
	if later := RowKey("org0", "event0", "a", at.Add(time.Millisecond)); bytes.Compare(k, later) >= 0 {
		t.Errorf("RowKey does not lead with the event time: %x then %x", k, later)
	}
	if len(k) != 16 || !bytes.Equal(k, RowKey("org1", "event1", "ann@example.com", at)) {
		t.Errorf("RowKey is not a deterministic 16-byte key: %x", k)
	}
	for _, other := range [][]byte{
		RowKey("org2", "event1", "ann@example.com", at),
		RowKey("org1", "event2", "ann@example.com", at),
		RowKey("org1", "event1", "bob@example.com", at),
		RowKey("org1", "event1", "", at),
		// Field boundaries matter: no shifting of bytes between fields.
		RowKey("org1e", "vent1", "ann@example.com", at),
		RowKey("org1", "event1ann@", "example.com", at),
	} {
		if bytes.Equal(k, other) {
			t.Errorf("RowKey collision: %x", other)
		}
	}

	key1, key2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	h := RecipientHash(key1, "ann@example.com")
	mac := hmac.New(sha256.New, key1)
	mac.Write([]byte("ann@example.com"))
	if !bytes.Equal(h, mac.Sum(nil)) || !bytes.Equal(h, RecipientHash(key1, "ann@example.com")) {
		t.Errorf("RecipientHash is not HMAC-SHA-256: %x", h)
	}
	plain := sha256.Sum256([]byte("ann@example.com"))
	for _, other := range [][]byte{RecipientHash(key2, "ann@example.com"), RecipientHash(key1, "bob@example.com"), plain[:]} {
		if bytes.Equal(h, other) {
			t.Errorf("RecipientHash is not keyed or not distinct: %x", other)
		}
	}
}

// A NUL character is valid JSON but not storable in PostgreSQL text: the
// event is stored without it, and it does not fail the events batched with it.
func TestWriterNUL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := newWriterEnv(t, e, Options{MaxWait: 50 * time.Millisecond})
		ctx := context.Background()
		bad, err := sesevent.Parse([]byte(`{"eventType":"Send","send":{},"mail":{"timestamp":"2026-03-10T09:59:58.000Z","messageId":"nul-1",
			"source":"a@shop.example","destination":["x@example.com"],"commonHeaders":{"subject":"Sale\u0000!"},"tags":{"k\u0000":["v\u0000"]}}}`))
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 6)
		for i := 0; i < 5; i++ {
			go func() {
				_, err := env.w.Write(ctx, env.conn, sendEvent(t, fmt.Sprintf("good-%d", i), "y@example.com"))
				errs <- err
			}()
		}
		go func() { _, err := env.w.Write(ctx, env.conn, bad); errs <- err }()
		for i := 0; i < 6; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		var subject string
		if err := env.db.View(ctx, func(tx *store.Tx) error {
			m, err := store.Message(ctx, tx, env.conn.OrgID, "nul-1")
			if m != nil {
				subject = m.Subject
			}
			return err
		}); err != nil || subject != "Sale!" {
			t.Fatalf("stored subject %q, %v", subject, err)
		}
	})
}
