// Package store keeps SendOps's data in SQLite or PostgreSQL behind one set
// of methods. SQL is written once with ? placeholders and rebound for
// PostgreSQL; engine-specific SQL appears only where it pays.
//
// Every method on tenant data takes the organisation id and filters by it.
package store

import (
	"container/list"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"sendops/internal/domain"
)

// Engine names a database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is SendOps's database.
type DB struct {
	Engine Engine
	// write is the pool that changes data: one connection on SQLite, so
	// writers queue in Go rather than fail on a busy lock.
	write *sql.DB
	// read is the pool for queries; the same pool as write on PostgreSQL.
	read *sql.DB
	// checkpoint is SQLite's WAL checkpointer: a connection of its own, so
	// that commits never wait for a checkpoint.
	checkpoint *sql.DB
	// ckptEvery is how often it runs and walLimit the WAL size, in pages,
	// past which it truncates the WAL (tests make them small).
	ckptEvery time.Duration
	walLimit  int
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
	// orgNums caches organisations' numbers (orgNum): id → int64.
	orgNums sync.Map
	// stmts are the SQLite writer's prepared statements; nil on PostgreSQL,
	// whose driver keeps its own.
	stmts *stmtCache
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

// Open opens the database named by dsn: "sqlite:PATH" or a postgres:// URL.
// It does not migrate; call Migrate or CheckSchema.
func Open(ctx context.Context, dsn string) (*DB, error) {
	return open(ctx, dsn, 500*time.Millisecond, defaultWALLimit)
}

// open is Open with the SQLite checkpointer's period and WAL limit.
func open(ctx context.Context, dsn string, ckptEvery time.Duration, walLimit int) (*DB, error) {
	db := &DB{Now: func() time.Time { return time.Now().UTC() }}
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, fmt.Errorf("sqlite: empty path")
		}
		db.Engine = SQLite
		// busy_timeout first so that every later pragma already waits.
		pragmas := "_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"
		var err error
		// The writer keeps 16 MiB of pages cached and never checkpoints
		// itself; a background connection does (see checkpointer). With
		// 64 MiB the server's RSS reached 216 MB over a million loadgen
		// events, against 124 MB, for 2,816 events/s against 2,665 in
		// one run each (BENCHMARKS.md, "One writer on PostgreSQL, a smaller
		// SQLite writer cache"). A WAL that a burst made larger than 64 MiB
		// is cut back to that when it restarts. Statement journals (a
		// multi-row upsert's undo log, which SQLite keeps for every
		// statement of a transaction) stay in memory instead of temporary
		// files: 6.7% of the CPU of an ingest run went into writing them.
		// Every commit is synced (FULL): an event acknowledged once its
		// batch commits must survive a power loss, not only a crash of
		// the process, which NORMAL alone guarantees in WAL mode. Group
		// commit makes it one sync per batch: 2,769–2,789 events/s against
		// 3,229–3,578 at the fastest rate on 2 cores (BENCHMARKS.md,
		// "Every SQLite commit is synced").
		if db.write, err = sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=synchronous(FULL)&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)&_txlock=immediate"); err != nil {
			return nil, err
		}
		db.write.SetMaxOpenConns(1)
		db.write.SetConnMaxIdleTime(0)
		if db.read, err = sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=synchronous(NORMAL)&_pragma=query_only(1)"); err != nil {
			db.write.Close()
			return nil, err
		}
		db.read.SetMaxOpenConns(max(4, runtime.NumCPU()))
		if db.checkpoint, err = sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=synchronous(NORMAL)"); err != nil {
			db.write.Close()
			db.read.Close()
			return nil, err
		}
		db.checkpoint.SetMaxOpenConns(1)
		db.stmts = newStmtCache(stmtCacheSize, stmtCacheText)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db.Engine = Postgres
		var err error
		if db.write, err = sql.Open("pgx", dsn); err != nil {
			return nil, err
		}
		db.write.SetMaxOpenConns(20)
		db.write.SetMaxIdleConns(10)
		db.write.SetConnMaxIdleTime(5 * time.Minute)
		db.read = db.write
	default:
		return nil, fmt.Errorf("unknown database %q: use sqlite:PATH or a postgres:// URL", redactDSN(dsn))
	}
	// The first write on SQLite creates the file and switches it to WAL.
	if err := db.write.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", db.Engine, err)
	}
	if db.checkpoint != nil {
		db.stop, db.stopped = make(chan struct{}), make(chan struct{})
		db.ckptEvery, db.walLimit = ckptEvery, walLimit
		go db.checkpointer()
	}
	return db, nil
}

// busyTimeoutMS is how long a SQLite connection waits for a lock.
const busyTimeoutMS = 10000

// defaultWALLimit is 64 MiB of 4 KiB pages (SQLite's default page size).
const defaultWALLimit = 16384

// checkpointer copies SQLite's WAL into the database file in the
// background, twice a second, without blocking the writer (PASSIVE). The WAL
// restarts from its beginning once a checkpoint has caught up. Under writes
// that never pause (a seed, a long burst of events) a PASSIVE checkpoint
// never catches up, and the WAL would grow without bound: past walLimit
// pages, a TRUNCATE checkpoint makes the writer wait while it copies the
// rest (what came since the last pass) and empties the WAL.
func (db *DB) checkpointer() {
	defer close(db.stopped)
	t := time.NewTicker(db.ckptEvery)
	defer t.Stop()
	// Close need not wait for the writer's transaction to end.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-db.stop
		cancel()
	}()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			if !db.checkpointOnce(ctx) {
				// A reader holds an old snapshot (a long export): let it
				// finish rather than stall the writer again at once.
				select {
				case <-db.stop:
					return
				case <-time.After(10 * db.ckptEvery):
				}
			}
		}
	}
}

// checkpointOnce is one pass of the checkpointer; false when the WAL is
// past its limit and could not be emptied.
func (db *DB) checkpointOnce(ctx context.Context) bool {
	var busy, pages, copied int
	err := db.checkpoint.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &pages, &copied)
	return err != nil || pages <= db.walLimit || db.truncateWAL(ctx)
}

// truncateWAL checkpoints and empties the WAL on the writer's own
// connection: it waits for the transaction under way, and no other starts
// until it is done. It waits for readers for at most 100 ms, and reports
// whether it emptied the WAL.
func (db *DB) truncateWAL(ctx context.Context) bool {
	c, err := db.write.Conn(ctx)
	if err != nil {
		return false
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `PRAGMA busy_timeout = 100`); err != nil {
		return false
	}
	defer c.ExecContext(context.Background(), `PRAGMA busy_timeout = `+strconv.Itoa(busyTimeoutMS)) // as opened
	var busy, pages, copied int
	err = c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &pages, &copied)
	return err == nil && busy == 0
}

// redactDSN hides a password in a database URL so that it can be shown.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}

// Close closes the pools; on SQLite it first checkpoints the whole WAL.
func (db *DB) Close() error {
	var err error
	if db.checkpoint != nil {
		if db.stop != nil {
			db.closeOnce.Do(func() { close(db.stop) })
			<-db.stopped
		}
		// A last checkpoint leaves no WAL behind; a failure here loses
		// nothing (the WAL is replayed on the next open).
		db.checkpoint.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		err = db.checkpoint.Close()
	}
	if db.stmts != nil {
		db.stmts.close()
	}
	err = errors.Join(err, db.write.Close())
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Pools returns the database pools, for metrics.
func (db *DB) Pools() map[string]*sql.DB {
	if db.read == db.write {
		return map[string]*sql.DB{"main": db.write}
	}
	return map[string]*sql.DB{"write": db.write, "read": db.read}
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return err
	}
	return db.write.PingContext(ctx)
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is a transaction or a pool, with the engine's placeholders and time
// encoding applied to every statement.
type Tx struct {
	q       querier
	engine  Engine
	now     time.Time
	orgNums *sync.Map // the DB's
	// On SQLite's writer: the transaction, the DB's prepared statements,
	// the texts to prepare once it commits, and the rows each cached
	// statement last returned.
	sqlTx   *sql.Tx
	stmts   *stmtCache
	prepare []string
	open    map[string]*sql.Rows
	bound   map[string]*sql.Stmt // the cached statements bound to sqlTx
}

// timeLayout is how times are written to SQLite: fixed width, UTC, so that
// text comparison is time comparison, and parsed back by the driver.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// msTime is a time written as unix milliseconds on SQLite (an INTEGER of 6
// bytes instead of 27 characters of text) and as a timestamptz on
// PostgreSQL, truncated to the millisecond on both (SES's precision). The
// ingest tables' time columns take it (migration 0007); utcTime and nullTime
// read it back.
type msTime time.Time

func (tx *Tx) bind(query string, args []any) (string, []any) {
	if tx.engine == SQLite {
		for i, a := range args {
			switch v := a.(type) {
			case msTime:
				args[i] = time.Time(v).UnixMilli()
			case time.Time:
				args[i] = v.UTC().Format(timeLayout)
			case *time.Time:
				if v == nil {
					args[i] = nil
				} else {
					args[i] = v.UTC().Format(timeLayout)
				}
			}
		}
		return query, args
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	for i, a := range args {
		switch v := a.(type) {
		case *time.Time:
			if v == nil {
				args[i] = nil
			}
		case msTime:
			args[i] = time.Time(v).Truncate(time.Millisecond)
		}
	}
	return b.String(), args
}

// Exec runs a statement.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query, args = tx.bind(query, args)
	if st := tx.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.q.ExecContext(ctx, query, args...)
}

// Query runs a query.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, args = tx.bind(query, args)
	if st := tx.stmt(ctx, query); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		if err == nil {
			if tx.open == nil {
				tx.open = make(map[string]*sql.Rows)
			}
			tx.open[query] = rows
		}
		return rows, err
	}
	return tx.q.QueryContext(ctx, query, args...)
}

// stmt returns the cached statement for query in this transaction, or nil
// to run it unprepared: not cached (yet), or its rows from an earlier Query
// still open (the driver would reset them).
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if tx.stmts == nil {
		return nil
	}
	if rows, ok := tx.open[query]; ok {
		if _, err := rows.Columns(); err == nil {
			return nil
		}
		delete(tx.open, query)
	}
	if st, ok := tx.bound[query]; ok {
		return st
	}
	st, later := tx.stmts.get(query)
	if st == nil {
		if later {
			tx.prepare = append(tx.prepare, query)
		}
		return nil
	}
	if tx.bound == nil {
		tx.bound = make(map[string]*sql.Stmt)
	}
	tx.bound[query] = tx.sqlTx.StmtContext(ctx, st)
	return tx.bound[query]
}

// QueryRow runs a query for at most one row. It is not cached: a Row does
// not tell whether it was scanned, that is whether its statement is free.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	query, args = tx.bind(query, args)
	return tx.q.QueryRowContext(ctx, query, args...)
}

// Now is the transaction's clock reading, the same for every statement.
func (tx *Tx) Now() time.Time { return tx.now }

// Update runs fn in a write transaction, committing when it returns nil.
// A transaction that lost to another (SQLite busy, PostgreSQL deadlock) is
// run again a few times.
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = db.update(ctx, fn); !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return err
}

func (db *DB) update(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer sqlTx.Rollback()
	tx := &Tx{q: sqlTx, engine: db.Engine, now: db.Now().UTC().Truncate(time.Microsecond), orgNums: &db.orgNums, sqlTx: sqlTx, stmts: db.stmts}
	if err := fn(tx); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	// Now that the writer's connection is free again.
	for _, q := range tx.prepare {
		db.stmts.prepare(ctx, db.write, q)
	}
	return nil
}

// View runs fn against the read pool, outside a transaction.
func (db *DB) View(ctx context.Context, fn func(tx *Tx) error) error {
	return fn(&Tx{q: db.read, engine: db.Engine, now: db.Now().UTC().Truncate(time.Microsecond), orgNums: &db.orgNums})
}

// The SQLite writer keeps at most stmtCacheSize statements prepared, of at
// most stmtCacheText bytes of SQL in all: a statement takes about 30 times
// its text in SQLite's memory (a 250-row insert into events, 11 KB of SQL,
// about 360 KB).
const (
	stmtCacheSize = 256
	stmtCacheText = 512 << 10
)

// stmtCache keeps the SQLite writer's prepared statements by SQL text, so
// that statements run batch after batch (ingest's multi-row inserts) are
// parsed once. A text is prepared once a second transaction has run it
// (texts seen once are remembered by hash), after that transaction: while
// one is open the writer's only connection is taken. Transactions use the
// statements through Tx.StmtContext, which finds them prepared on that same
// connection. Beyond its bounds, the least recently used are closed;
// database/sql defers the driver's close while a transaction uses one.
type stmtCache struct {
	mu     sync.Mutex
	max    int                      // statements
	maxLen int                      // bytes of SQL
	len    int                      // bytes of SQL kept
	byText map[string]*list.Element // of *cachedStmt
	lru    list.List                // most recently used first
	seen   map[uint64]struct{}
	seed   maphash.Seed
	closed bool
	// hits, prepares and evictions count for tests.
	hits, prepares, evictions int
}

type cachedStmt struct {
	query string
	stmt  *sql.Stmt
}

func newStmtCache(max, maxLen int) *stmtCache {
	return &stmtCache{max: max, maxLen: maxLen, byText: make(map[string]*list.Element), seen: make(map[uint64]struct{}), seed: maphash.MakeSeed()}
}

// get returns query's statement, or nil and whether to prepare it after the
// transaction.
func (c *stmtCache) get(query string) (st *sql.Stmt, later bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byText[query]; ok {
		c.lru.MoveToFront(e)
		c.hits++
		return e.Value.(*cachedStmt).stmt, false
	}
	if c.closed {
		return nil, false
	}
	h := maphash.String(c.seed, query)
	if _, ok := c.seen[h]; ok {
		delete(c.seen, h)
		return nil, true
	}
	if len(c.seen) >= 4*c.max {
		clear(c.seen)
	}
	c.seen[h] = struct{}{}
	return nil, false
}

// prepare prepares query on pool and keeps it, closing the least recently
// used beyond max. A statement that fails to prepare is left uncached.
func (c *stmtCache) prepare(ctx context.Context, pool *sql.DB, query string) {
	c.mu.Lock()
	_, ok := c.byText[query]
	c.mu.Unlock()
	if ok {
		return
	}
	if len(query) > c.maxLen/8 {
		return
	}
	// Not under mu: this waits for the connection, which a transaction
	// looking up its statements may hold.
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return
	}
	var drop []*sql.Stmt
	c.mu.Lock()
	if _, ok := c.byText[query]; ok || c.closed {
		drop = append(drop, st)
	} else {
		c.byText[query] = c.lru.PushFront(&cachedStmt{query, st})
		c.len += len(query)
		c.prepares++
		for c.lru.Len() > c.max || c.len > c.maxLen {
			cs := c.lru.Remove(c.lru.Back()).(*cachedStmt)
			delete(c.byText, cs.query)
			c.len -= len(cs.query)
			drop = append(drop, cs.stmt)
			c.evictions++
		}
	}
	c.mu.Unlock()
	for _, st := range drop {
		st.Close()
	}
}

// close closes every statement; later ones are not kept.
func (c *stmtCache) close() {
	c.mu.Lock()
	var drop []*sql.Stmt
	for e := c.lru.Front(); e != nil; e = e.Next() {
		drop = append(drop, e.Value.(*cachedStmt).stmt)
	}
	c.lru.Init()
	clear(c.byText)
	c.len = 0
	c.closed = true
	c.mu.Unlock()
	for _, st := range drop {
		st.Close()
	}
}

// isBusy reports whether a transaction failed only because of another one
// and may simply run again: SQLite busy or locked, PostgreSQL deadlock or
// serialization failure.
func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code() & 0xff
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return err != nil && (strings.Contains(err.Error(), "SQLSTATE 40P01") || strings.Contains(err.Error(), "SQLSTATE 40001"))
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return strings.Contains(err.Error(), "SQLSTATE 23505")
}

// notFound turns sql.ErrNoRows into a domain not-found error naming what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.ENotFound, "%s not found.", what)
	}
	return err
}

// scanTime reads a time column of either engine: a time.Time from the
// drivers, text where SQLite lost the column type (an expression), or unix
// milliseconds (SQLite's msTime columns).
func scanTime(src any) (sql.NullTime, error) {
	var nt sql.NullTime
	switch v := src.(type) {
	case []byte:
		src = string(v)
	case int64:
		return sql.NullTime{Time: time.UnixMilli(v), Valid: true}, nil
	}
	if s, ok := src.(string); ok {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nt, fmt.Errorf("parse time %q: %w", s, err)
		}
		return sql.NullTime{Time: t, Valid: true}, nil
	}
	err := nt.Scan(src)
	return nt, err
}

// nullTime scans a nullable time column.
type nullTime struct{ t **time.Time }

func (n nullTime) Scan(src any) error {
	nt, err := scanTime(src)
	if err != nil {
		return err
	}
	if nt.Valid {
		t := nt.Time.UTC()
		*n.t = &t
	} else {
		*n.t = nil
	}
	return nil
}

// utcTime scans a time column and makes it UTC.
type utcTime struct{ t *time.Time }

func (u utcTime) Scan(src any) error {
	nt, err := scanTime(src)
	if err != nil {
		return err
	}
	*u.t = nt.Time.UTC()
	return nil
}

// IsDataError reports whether err is about the data of a statement (a value
// the database refuses, a constraint), rather than the database being
// unreachable or busy: retrying the same data cannot help.
func IsDataError(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
			return true
		}
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 22") || strings.Contains(msg, "SQLSTATE 23")
}
