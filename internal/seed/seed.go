// Package seed fills an organisation with realistic synthetic SES traffic,
// for benchmarks and demos: messages spread over a range of days with a
// daily pattern, stored through the same code as ingest (sesevent parses
// each event, ingest builds its rows, store.InsertEvents writes them with
// the messages, the recipient index and the rollups), many thousand rows
// to a transaction.
//
// The mail is an online shop's: order receipts, password resets and
// invoices (transactional), a spring sale (marketing) and a weekly
// newsletter, plus sign-in alerts of the shop's app, from four sending
// domains to recipients at every mailbox provider insight knows and at a
// few companies. Like loadgen's, about 3 % of recipients bounce hard (an
// unknown address in each provider's words, the account's suppression
// list, policy blocks, and the newsletter domain failing Gmail's and
// Microsoft's authentication rules: 5.1.1, 5.1.10, 5.2.1, 5.4.1, 5.5.0,
// 5.7.1, 5.7.26, 5.7.509, 5.7.515…), about 1.5 % bounce soft (full
// mailboxes, oversized invoices, deliveries that expired with 4.4.7), 2.5 %
// are delayed first, and a few in a thousand complain (the newsletter
// most). Opens and clicks follow tracked mail. Events that would happen
// after the end of the range have not happened yet.
//
// The same options give the same messages and events: seeding again
// stores nothing new.
package seed

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"sendops/internal/domain"
	"sendops/internal/ingest"
	"sendops/internal/service"
	"sendops/internal/sesevent"
	"sendops/internal/store"
)

// Options say what to seed.
type Options struct {
	Messages int       // SES messages to make, at least 1
	Days     int       // spread over this many days before End (default 30)
	End      time.Time // nothing happens at or after it (default: now, to the minute)
	Seed     uint64    // with the other options, decides every message (default 1)

	BatchRows int // rows (events × recipients) per transaction (default 5000)
	Workers   int // goroutines making rows (default GOMAXPROCS)
	// Progress, when set, is called after each transaction commits, never
	// twice at once.
	Progress func(Progress)
}

// MaxMessages bounds one seeding.
const MaxMessages = 100_000_000

// Progress is how far a seeding got.
type Progress struct {
	Messages int // made and committed
	Events   int // SES events committed
	Rows     int // rows committed
	New      int // rows that were not stored before
	Elapsed  time.Duration
}

// EventsPerSecond is the rate of SES events stored so far.
func (p Progress) EventsPerSecond() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Events) / p.Elapsed.Seconds()
}

func (o *Options) check() error {
	if o.Messages < 1 || o.Messages > MaxMessages {
		return domain.FieldError("messages", "Seed between 1 and %d messages.", MaxMessages)
	}
	if o.Days == 0 {
		o.Days = 30
	}
	if o.Days < 1 || o.Days > 3650 {
		return domain.FieldError("days", "Spread the messages over 1 to 3650 days.")
	}
	if o.End.IsZero() {
		o.End = time.Now()
	}
	o.End = o.End.UTC().Truncate(time.Minute)
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.BatchRows <= 0 {
		o.BatchRows = 5000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return nil
}

// chunkMessages is how many messages one worker makes at a time.
const chunkMessages = 200

type chunk struct {
	rows             []store.EventRow
	messages, events int
	err              error
}

// Run makes the messages and stores them as events of conn, through w's
// row building (w itself is not used to commit) and store.InsertEvents.
// It returns how far it got, also on error; what was committed stays, and
// running again with the same options completes it.
func Run(ctx context.Context, db *store.DB, w *ingest.Writer, conn *domain.Connection, o Options) (Progress, error) {
	if err := o.check(); err != nil {
		return Progress{}, err
	}
	g := newGenerator(o)
	g.account, g.region = conn.AWSAccountID, conn.Region
	begin := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Workers make chunks in parallel; they are batched in order.
	results := make(chan chan chunk, 2*o.Workers)
	go func() {
		defer close(results)
		sem := make(chan struct{}, o.Workers)
		for start := 0; start < o.Messages; start += chunkMessages {
			c := make(chan chunk, 1)
			select {
			case results <- c:
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				c <- chunk{err: ctx.Err()}
				return
			}
			go func(start, end int) {
				defer func() { <-sem }()
				c <- g.rows(ctx, w, conn, start, end, o.End)
			}(start, min(start+chunkMessages, o.Messages))
		}
	}()

	// Writers commit batches: one on SQLite (one writer at a time anyway),
	// several on PostgreSQL, whose commits then overlap (InsertEvents
	// takes its locks in one order, so they cannot deadlock).
	writers := 1
	if db.Engine == store.Postgres {
		writers = 3
	}
	type batch struct {
		rows             []store.EventRow
		messages, events int
	}
	batches := make(chan batch)
	var (
		mu       sync.Mutex // guards p and failed
		p        Progress
		failed   error
		wg       sync.WaitGroup
		inserted = make([][]bool, writers)
	)
	for k := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				err := db.Update(ctx, func(tx *store.Tx) (err error) {
					inserted[k], err = store.InsertEvents(ctx, tx, b.rows)
					return err
				})
				mu.Lock()
				if err != nil {
					if failed == nil {
						failed = fmt.Errorf("store events: %w", err)
						cancel()
					}
				} else {
					for _, ok := range inserted[k] {
						if ok {
							p.New++
						}
					}
					p.Messages += b.messages
					p.Events += b.events
					p.Rows += len(b.rows)
					p.Elapsed = time.Since(begin)
					if o.Progress != nil {
						o.Progress(p)
					}
				}
				mu.Unlock()
			}
		}()
	}
	// The chunks, in order, into batches of about BatchRows rows.
	err := func() error {
		defer close(batches)
		var b batch
		send := func() error {
			if len(b.rows) == 0 {
				return nil
			}
			select {
			case batches <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			b = batch{}
			return nil
		}
		for c := range results {
			var ch chunk
			select {
			case ch = <-c:
			case <-ctx.Done():
				return ctx.Err()
			}
			if ch.err != nil {
				return ch.err
			}
			if b.rows == nil {
				b.rows = make([]store.EventRow, 0, o.BatchRows+chunkMessages*8)
			}
			b.rows = append(b.rows, ch.rows...)
			b.messages += ch.messages
			b.events += ch.events
			if len(b.rows) >= o.BatchRows {
				if err := send(); err != nil {
					return err
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return send()
	}()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if failed != nil {
		return p, failed
	}
	return p, err
}

// rows makes messages [from, to) and the rows their events are stored as.
func (g *generator) rows(ctx context.Context, w *ingest.Writer, conn *domain.Connection, from, to int, end time.Time) chunk {
	// About four rows a message; growing the slice would copy them again.
	c := chunk{rows: make([]store.EventRow, 0, (to-from)*5)}
	for i := from; i < to; i++ {
		if i%50 == 0 && ctx.Err() != nil {
			return chunk{err: ctx.Err()}
		}
		_, events := g.message(i, end)
		for _, e := range events {
			ev, err := sesevent.Parse(e.json)
			if err != nil {
				return chunk{err: fmt.Errorf("seed made an event ingest refuses: %w", err)}
			}
			rows, err := w.Rows(ctx, conn, ev)
			if err != nil {
				return chunk{err: err}
			}
			c.rows = append(c.rows, rows...)
			c.events++
		}
		c.messages++
	}
	return c
}

// MessageIDs returns the SES message ids Run stores with the same
// options, in the order it stores them.
func MessageIDs(o Options) ([]string, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	g := newGenerator(o)
	ids := make([]string, o.Messages)
	for i := range ids {
		ids[i], _ = g.message(i, o.End)
	}
	return ids, nil
}

// ConnectionName is the name of the connection seeded events arrive on when
// no other is named.
const ConnectionName = "Seed data"

// Connection returns the organisation's connection named name, making it
// through the service (a connection that only receives events, audited as
// made by the command line) when there is none; created says whether it
// was made. Errors: ENotFound (no such organisation), EInvalid (the name),
// the database's.
func Connection(ctx context.Context, svc *service.Service, orgID, name string) (c *domain.Connection, created bool, err error) {
	a := service.SystemActor(orgID)
	if _, err := svc.Org(ctx, a); err != nil {
		if domain.IsNotFound(err) {
			return nil, false, domain.Errorf(domain.ENotFound, "No organisation has the id %q.", orgID)
		}
		return nil, false, err
	}
	conns, err := svc.Connections(ctx, a)
	if err != nil {
		return nil, false, err
	}
	for i := range conns {
		if conns[i].Name == name {
			return &conns[i], false, nil
		}
	}
	c, _, err = svc.CreateConnection(ctx, a, service.ConnectionInput{Name: name, AWSAccountID: "123456789012", Region: "us-east-1"})
	return c, err == nil, err
}
