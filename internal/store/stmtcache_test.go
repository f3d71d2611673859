package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"modernc.org/sqlite"

	"sendops/internal/domain"
	"sendops/internal/testutil/testdb"
)

// openKV opens a database with one table, kv, and no migrations.
func openKV(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	update(t, db, func(tx *Tx) error {
		_, err := tx.Exec(t.Context(), `CREATE TABLE kv (k BIGINT PRIMARY KEY, v TEXT NOT NULL)`)
		return err
	})
	return db
}

// stmtUsed is the memory SQLite's writer connection holds in prepared
// statements.
func stmtUsed(t *testing.T, db *DB) int {
	t.Helper()
	c, err := db.write.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	err = c.Raw(func(dc any) error {
		cur, _, err := dc.(sqlite.DBStatus).Status(sqlite.DBStatusStmtUsed, false)
		n = cur
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// openKVCache is openKV on SQLite with a cache of max statements.
func openKVCache(t *testing.T, max int) *DB {
	db := openKV(t, testdb.SQLite(t))
	db.stmts.close()
	db.stmts = newStmtCache(max, 1<<20)
	return db
}

// The writer prepares a statement once and runs it prepared in later
// transactions, with the same results as unprepared.
func TestStmtCacheReuse(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		db := openKV(t, e.DSN)
		const ins = `INSERT INTO kv (k, v) VALUES (?, ?), (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v RETURNING k`
		const upd = `UPDATE kv SET v = v || ? WHERE k = ?`
		var used []int
		for i := range 10 {
			update(t, db, func(tx *Tx) error {
				for j := range 3 {
					k := int64(i*10 + j*2)
					rows, err := tx.Query(ctx, ins, k, fmt.Sprint("v", k), k+1, fmt.Sprint("v", k+1))
					if err != nil {
						return err
					}
					var got []int64
					for rows.Next() {
						var n int64
						if err := rows.Scan(&n); err != nil {
							return err
						}
						got = append(got, n)
					}
					if err := rows.Err(); err != nil {
						return err
					}
					if len(got) != 2 || got[0]+got[1] != 2*k+1 {
						t.Errorf("update %d: returned %v", i, got)
					}
				}
				for j := range 2 {
					res, err := tx.Exec(ctx, upd, "!", int64(i*10+j))
					if err != nil {
						return err
					}
					if n, _ := res.RowsAffected(); n != 1 {
						t.Errorf("update %d: %d rows updated", i, n)
					}
				}
				return nil
			})
			if db.Engine == SQLite && i >= 2 {
				used = append(used, stmtUsed(t, db))
			}
		}
		if n := count(t, db, `SELECT count(*) FROM kv`); n != 60 {
			t.Fatalf("%d rows, want 60", n)
		}
		if n := count(t, db, `SELECT count(*) FROM kv WHERE v = 'v' || k || '!'`); n != 20 {
			t.Fatalf("%d rows updated, want 20", n)
		}
		if db.Engine != SQLite {
			if db.stmts != nil {
				t.Fatal("a statement cache on PostgreSQL")
			}
			return
		}
		db.stmts.mu.Lock()
		hits, prepares, evictions, kept := db.stmts.hits, db.stmts.prepares, db.stmts.evictions, db.stmts.lru.Len()
		db.stmts.mu.Unlock()
		// Prepared after the first transaction, which ran both twice;
		// run prepared in the nine others, each found in the cache once
		// per transaction.
		if hits != 9*2 || prepares != 2 || evictions != 0 || kept != 2 {
			t.Fatalf("%d hits, %d prepares, %d evictions, %d kept; want 18, 2, 0, 2", hits, prepares, evictions, kept)
		}
		// The connection holds the two statements and no more: the
		// transactions ran them, not copies of their own.
		for _, u := range used[1:] {
			if u != used[0] || u == 0 {
				t.Fatalf("statement memory after each transaction: %v", used)
			}
		}
	})
}

// Beyond its size the cache closes the least recently used statements, and
// the texts still run (prepared again when they come back).
func TestStmtCacheEviction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openKVCache(t, 3)
	text := func(i int) string { return fmt.Sprintf(`INSERT INTO kv (k, v) VALUES (?, '%d')`, i) }
	k := int64(0)
	run := func(i int) {
		update(t, db, func(tx *Tx) error {
			k++
			_, err := tx.Exec(ctx, text(i), k)
			return err
		})
	}
	stmts := map[int]*sql.Stmt{}
	for i := range 8 {
		run(i) // seen
		run(i) // prepared after
		run(i) // prepared
		db.stmts.mu.Lock()
		stmts[i] = db.stmts.byText[text(i)].Value.(*cachedStmt).stmt
		db.stmts.mu.Unlock()
	}
	if db.stmts.prepares != 8 || db.stmts.evictions != 5 || db.stmts.lru.Len() != 3 {
		t.Fatalf("%d prepares, %d evictions, %d kept; want 8, 5, 3", db.stmts.prepares, db.stmts.evictions, db.stmts.lru.Len())
	}
	for i, st := range stmts {
		_, err := st.Exec(int64(1000 + i))
		if closed := err != nil && err.Error() == "sql: statement is closed"; closed != (i < 5) {
			t.Errorf("statement %d: %v", i, err)
		}
	}
	for range 3 {
		for i := range 8 {
			run(i)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM kv WHERE k < 1000`); n != 8*3+3*8 {
		t.Fatalf("%d rows, want %d", n, 8*3+3*8)
	}
	// Statement i ran 6 times (and 5, 6, 7 once more outside, above).
	for i := range 8 {
		if n := count(t, db, `SELECT count(*) FROM kv WHERE v = ?`, fmt.Sprint(i)); n != 6+min(1, max(0, i-4)) {
			t.Errorf("text %d: %d rows", i, n)
		}
	}
	db.Close()
	for i := 5; i < 8; i++ {
		if _, err := stmts[i].Exec(int64(2000 + i)); err == nil || err.Error() != "sql: statement is closed" {
			t.Errorf("statement %d after Close: %v", i, err)
		}
	}
}

// A query run again while the rows of its cached statement are open (the
// driver would reset them) runs unprepared.
func TestStmtCacheNestedQuery(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openKV(t, testdb.SQLite(t))
	update(t, db, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO kv (k, v) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')`)
		return err
	})
	const q = `SELECT k FROM kv WHERE k >= ? ORDER BY k`
	for range 2 {
		update(t, db, func(tx *Tx) error {
			rows, err := tx.Query(ctx, q, 0)
			if err != nil {
				return err
			}
			return rows.Close()
		})
	}
	if db.stmts.lru.Len() != 1 {
		t.Fatalf("%d statements cached, want 1", db.stmts.lru.Len())
	}
	// What the guard is for: the transaction's statements for one text are
	// the same prepared statement on the connection, so that a second use
	// while the first's rows are open fails.
	update(t, db, func(tx *Tx) error {
		a, b := tx.stmt(ctx, q), tx.stmt(ctx, q)
		if a == nil || b == nil {
			t.Fatal("statement not cached")
		}
		rows, err := a.QueryContext(ctx, 1)
		if err != nil {
			return err
		}
		defer rows.Close()
		rows.Next()
		if _, err := b.QueryContext(ctx, 2); err == nil {
			t.Error("two uses of one prepared statement at once: no error")
		}
		return nil
	})
	update(t, db, func(tx *Tx) error {
		rows, err := tx.Query(ctx, q, 1)
		if err != nil {
			return err
		}
		defer rows.Close()
		var outer, inner []int64
		for rows.Next() {
			var k int64
			if err := rows.Scan(&k); err != nil {
				return err
			}
			outer = append(outer, k)
			in, err := tx.Query(ctx, q, k+1)
			if err != nil {
				return err
			}
			for in.Next() {
				var k int64
				in.Scan(&k)
				inner = append(inner, k)
			}
			in.Close()
			// Exec of the same text, and the cache is free again.
			if _, err := tx.Exec(ctx, q, 0); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if fmt.Sprint(outer) != "[1 2 3 4]" || fmt.Sprint(inner) != "[2 3 4 3 4 4]" {
			t.Errorf("outer %v, inner %v", outer, inner)
		}
		return nil
	})
}

// Writers in parallel through a cache too small for their texts: every
// statement runs, whatever is evicted meanwhile.
func TestStmtCacheConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openKVCache(t, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				err := db.Update(ctx, func(tx *Tx) error {
					text := fmt.Sprintf(`INSERT INTO kv (k, v) VALUES (?, '%d')`, (g+i)%5)
					for j := range 2 {
						if _, err := tx.Exec(ctx, text, int64(g*1000+i*2+j)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM kv`); n != 4*40*2 {
		t.Fatalf("%d rows, want %d", n, 4*40*2)
	}
	if db.stmts.prepares < 3 || db.stmts.evictions == 0 {
		t.Fatalf("%d prepares, %d evictions: the cache was not exercised", db.stmts.prepares, db.stmts.evictions)
	}
}

// The cache keeps no more SQL than its bound, and skips texts too long for
// it.
func TestStmtCacheTextBound(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openKV(t, testdb.SQLite(t))
	db.stmts.close()
	db.stmts = newStmtCache(100, 800) // texts up to 100 bytes
	var texts []string
	for i := range 15 {
		// 37 to 107 bytes, the last two too long for the cache.
		texts = append(texts, fmt.Sprintf(`INSERT INTO kv (k, v) VALUES (?, '%d')`, i%10)+strings.Repeat(" ", i*5))
	}
	for i, text := range texts {
		for j := range 3 {
			update(t, db, func(tx *Tx) error {
				_, err := tx.Exec(ctx, text, int64(i*10+j))
				return err
			})
		}
	}
	if n := count(t, db, `SELECT count(*) FROM kv`); n != 45 {
		t.Fatalf("%d rows, want 45", n)
	}
	c := db.stmts
	kept := 0
	for _, e := range c.byText {
		kept += len(e.Value.(*cachedStmt).query)
	}
	if c.prepares != 13 || c.evictions != 13-c.lru.Len() || c.evictions == 0 || c.len != kept || kept > 800 || c.byText[texts[13]] != nil || c.byText[texts[14]] != nil {
		t.Fatalf("%d prepares, %d evictions, %d kept, %d bytes (%d counted)", c.prepares, c.evictions, c.lru.Len(), kept, c.len)
	}
}

// chunks cuts any length into parts of chunk rows and powers of two: few
// sizes in all, in order, nothing lost.
func TestChunks(t *testing.T) {
	sizes := map[int]bool{}
	for n := range 3*chunk + 7 {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		var got []int
		for part := range chunks(SQLite, s) {
			if k := len(part); k != chunk && k&(k-1) != 0 || k == 0 {
				t.Fatalf("n=%d: a part of %d", n, k)
			}
			sizes[len(part)] = true
			got = append(got, part...)
		}
		if !slices.Equal(got, s) {
			t.Fatalf("n=%d: parts join to %v", n, got)
		}
	}
	if len(sizes) != 9 { // 250, 128, 64, …, 1
		t.Errorf("%d sizes; want 9", len(sizes))
	}
	var parts []int
	for part := range chunks(Postgres, make([]int, 2*chunk+7)) {
		parts = append(parts, len(part))
	}
	if !slices.Equal(parts, []int{chunk, chunk, 7}) {
		t.Errorf("not fixed: parts of %v; want %v", parts, []int{chunk, chunk, 7})
	}
}

// Ingest batches of every size keep reusing a bounded set of prepared
// statements: none is evicted, and preparing stops.
func TestStmtCacheIngest(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openTestDB(t, testdb.Engine{Name: "sqlite", DSN: testdb.SQLite(t)})
	org := &domain.Org{Name: "Shop"}
	if err := db.Update(ctx, func(tx *Tx) error { return CreateOrg(ctx, tx, org) }); err != nil {
		t.Fatal(err)
	}
	insert := func(batch, n int) {
		rows := make([]EventRow, n)
		for i := range rows {
			k := make([]byte, 16)
			binary.BigEndian.PutUint64(k, uint64(batch))
			binary.BigEndian.PutUint64(k[8:], uint64(i))
			rows[i] = EventRow{Key: k, OrgID: org.ID, ConnectionID: "conn", MessageID: fmt.Sprintf("m-%d-%d", batch, i/3), Type: "Delivery",
				At: evAt(batch*1000 + i), Recipient: fmt.Sprintf("r%d@example.com", i), Subject: "Your order", Raw: []byte{1}}
		}
		if err := db.Update(ctx, func(tx *Tx) error { _, err := InsertEvents(ctx, tx, rows); return err }); err != nil {
			t.Fatal(err)
		}
	}
	for b := range 120 {
		insert(b, 1+(b*37)%600)
	}
	prepared := db.stmts.prepares
	for b := 120; b < 160; b++ {
		insert(b, 1+(b*37)%600)
	}
	if db.stmts.evictions != 0 || db.stmts.prepares != prepared || db.stmts.hits == 0 {
		t.Errorf("%d evictions, %d prepares after the first 120 batches (%d before), %d hits; want none evicted, none prepared anew",
			db.stmts.evictions, db.stmts.prepares, prepared, db.stmts.hits)
	}
}
