// Package ingest turns SES events into stored rows and commits them in
// groups: many concurrent requests share one transaction, and each is
// acknowledged only after its transaction commits.
package ingest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sendops/internal/domain"
	"sendops/internal/rawjson"
	"sendops/internal/secret"
	"sendops/internal/sesevent"
	"sendops/internal/store"
)

// Errors a caller answers with 503 and Retry-After: nothing was stored.
var (
	ErrOverloaded   = errors.New("ingest queue is full")
	ErrShuttingDown = errors.New("ingest is shutting down")
)

// Options tune the group commit.
type Options struct {
	MaxBatch  int           // rows per transaction at most (default 2000)
	MaxWait   time.Duration // how long a batch waits to fill; 0 (default): it takes what is queued
	QueueSize int           // requests waiting at most before 503 (default 20000)
	// Writers is how many transactions run at once (default 1). On
	// SQLite there is one writer at a time anyway. On PostgreSQL, batches
	// in parallel wait on each other's locks on the same rollup rows (the
	// current hour's): 4 writers stored 1,644–1,887 events/s from 64
	// clients, 2 stored 1,793 and 1 stored 2,273–2,520 (BENCHMARKS.md,
	// "One writer on PostgreSQL, a smaller SQLite writer cache").
	Writers int
}

// Writer is the single writer of events.
type Writer struct {
	db      *store.DB
	keyring *secret.Keyring
	logger  *slog.Logger
	opts    Options

	mu     sync.RWMutex // held for reading while enqueuing, for writing by Close
	closed bool
	in     chan *job
	done   chan struct{}

	keys sync.Map // org id → HMAC key ([]byte)

	batchSize prometheus.Histogram
	commitDur prometheus.Histogram
	queued    prometheus.GaugeFunc
}

type job struct {
	ctx  context.Context // the request's: a job whose caller left is not committed
	rows []store.EventRow
	res  chan jobResult
}

type jobResult struct {
	stored bool
	err    error
}

// NewWriter starts the writer. reg may be nil.
func NewWriter(db *store.DB, keyring *secret.Keyring, logger *slog.Logger, opts Options, reg prometheus.Registerer) *Writer {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 2000
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 20000
	}
	w := &Writer{db: db, keyring: keyring, logger: logger, opts: opts, in: make(chan *job, opts.QueueSize), done: make(chan struct{}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sendops_ingest_batch_rows", Help: "Rows (events × recipients) per ingest transaction.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sendops_ingest_commit_seconds", Help: "Time to write and commit one ingest batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	w.queued = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sendops_ingest_queue_length", Help: "Events waiting for the writer."},
		func() float64 { return float64(len(w.in)) })
	if reg != nil {
		reg.MustRegister(w.batchSize, w.commitDur, w.queued)
	}
	if opts.Writers <= 0 {
		opts.Writers = 1
	}
	w.opts = opts
	var wg sync.WaitGroup
	for range opts.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop()
		}()
	}
	go func() {
		wg.Wait()
		close(w.done)
	}()
	return w
}

// Write stores one event of a connection and reports whether it was new
// (false: a duplicate, stored before). It returns only after the event's
// transaction committed, or with an error when nothing was stored for it:
// ErrOverloaded, ErrShuttingDown, a database error or ctx's error.
func (w *Writer) Write(ctx context.Context, conn *domain.Connection, ev *sesevent.Event) (bool, error) {
	key, err := w.orgKey(ctx, conn.OrgID)
	if err != nil {
		return false, err
	}
	j := &job{ctx: ctx, rows: w.rows(conn, ev, key), res: make(chan jobResult, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return false, ErrShuttingDown
	}
	select {
	case w.in <- j:
	default:
		w.mu.RUnlock()
		return false, ErrOverloaded
	}
	w.mu.RUnlock()
	select {
	case r := <-j.res:
		return r.stored, r.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Rows returns the rows Write would store for an event of a connection
// (one per recipient), for a caller that commits them itself with
// store.InsertEvents, many events to a transaction (sendops seed). Safe for
// concurrent use.
func (w *Writer) Rows(ctx context.Context, conn *domain.Connection, ev *sesevent.Event) ([]store.EventRow, error) {
	key, err := w.orgKey(ctx, conn.OrgID)
	if err != nil {
		return nil, err
	}
	return w.rows(conn, ev, key), nil
}

// Close stops taking events, commits what is queued and returns when the
// writer has stopped or ctx ends.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.in)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) loop() {
	for {
		first, ok := <-w.in
		if !ok {
			return
		}
		batch := []*job{first}
		n := len(first.rows)
		// Take whatever queued while the last batch committed: under load
		// batches grow by themselves. Only with MaxWait set does a batch
		// also wait for more.
		var timer *time.Timer
		var timeout <-chan time.Time
		if w.opts.MaxWait > 0 {
			timer = time.NewTimer(w.opts.MaxWait)
			timeout = timer.C
		}
	fill:
		for n < w.opts.MaxBatch {
			var j *job
			var ok bool
			if timeout == nil {
				select {
				case j, ok = <-w.in:
				default:
					break fill
				}
			} else {
				select {
				case j, ok = <-w.in:
				case <-timeout:
					break fill
				}
			}
			if !ok {
				break
			}
			batch = append(batch, j)
			n += len(j.rows)
		}
		if timer != nil {
			timer.Stop()
		}
		w.commit(batch, n)
	}
}

func (w *Writer) commit(batch []*job, n int) {
	// Requests that gave up waiting (and were answered 503) are not
	// committed: after an outage the backlog clears at once.
	live := batch[:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			n -= len(j.rows)
			j.res <- jobResult{err: err}
			continue
		}
		live = append(live, j)
	}
	batch = live
	if len(batch) == 0 {
		return
	}
	start := time.Now()
	err := w.insert(batch, n)
	w.batchSize.Observe(float64(n))
	w.commitDur.Observe(time.Since(start).Seconds())
	if err != nil && len(batch) > 1 && store.IsDataError(err) {
		// One bad event must not fail the others: commit them one by one,
		// so that only the requests whose own event fails get an error.
		w.logger.Warn("ingest batch refused, committing its events one by one", "rows", n, "err", err)
		for _, j := range batch {
			if err := w.insert([]*job{j}, len(j.rows)); err != nil {
				w.logger.Error("ingest commit failed", "rows", len(j.rows), "err", err)
			}
		}
		return
	}
	if err != nil {
		w.logger.Error("ingest commit failed", "rows", n, "err", err)
		if len(batch) > 1 {
			for _, j := range batch {
				j.res <- jobResult{err: err}
			}
		}
	}
}

// insert commits the rows of the jobs in one transaction and answers each
// job, or, on failure, answers none and returns the error (the caller
// decides).
func (w *Writer) insert(batch []*job, n int) error {
	rows := make([]store.EventRow, 0, n)
	for _, j := range batch {
		rows = append(rows, j.rows...)
	}
	var inserted []bool
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := w.db.Update(ctx, func(tx *store.Tx) (err error) {
		inserted, err = store.InsertEvents(ctx, tx, rows)
		return err
	})
	if err != nil && len(batch) > 1 {
		return err
	}
	i := 0
	for _, j := range batch {
		r := jobResult{err: err}
		if err == nil {
			for range j.rows {
				r.stored = r.stored || inserted[i]
				i++
			}
		}
		j.res <- r
	}
	return err
}

// orgKey returns the organisation's recipient-hash key, making it on first use.
func (w *Writer) orgKey(ctx context.Context, orgID string) ([]byte, error) {
	if k, ok := w.keys.Load(orgID); ok {
		return k.([]byte), nil
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	sealCtx := "orgkey:" + orgID
	var sealed string
	err := w.db.Update(ctx, func(tx *store.Tx) (err error) {
		sealed, err = store.PutOrgKey(ctx, tx, orgID, w.keyring.Seal(hex.EncodeToString(fresh), sealCtx))
		return err
	})
	if err != nil {
		return nil, err
	}
	plain, err := w.keyring.Open(sealed, sealCtx)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(plain)
	if err != nil {
		return nil, err
	}
	w.keys.Store(orgID, key)
	return key, nil
}

// RowKey is the stored identity of one event for one recipient: the
// event's own time in milliseconds (6 bytes) and 10 bytes of a hash of the
// organisation, the event's identity (which includes that time) and the
// recipient. Leading with the time keeps the unique index's inserts near
// each other, as events arrive roughly in time order.
func RowKey(orgID, eventKey, recipient string, at time.Time) []byte {
	h := sha256.New()
	h.Write([]byte(orgID))
	h.Write([]byte{0})
	h.Write([]byte(eventKey))
	h.Write([]byte{0})
	h.Write([]byte(recipient))
	key := make([]byte, 16)
	ms := uint64(at.UnixMilli())
	for i := 5; i >= 0; i-- {
		key[i] = byte(ms)
		ms >>= 8
	}
	copy(key[6:], h.Sum(nil))
	return key
}

// RecipientHash is the keyed, irreversible hash of an address.
func RecipientHash(key []byte, addr string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(addr))
	return m.Sum(nil)
}

// rows turns an event into one row per recipient.
func (w *Writer) rows(conn *domain.Connection, ev *sesevent.Event, key []byte) []store.EventRow {
	evKey := ev.Key()
	recips := ev.Recipients
	if len(recips) == 0 {
		recips = []string{""}
	}
	sender := sesevent.Address(ev.Mail.Source)
	var tags string
	// The message keeps the sender's own tags; SES's automatic ses:* tags
	// (configuration set, source IP, caller identity…) stay in the raw event
	// and, where they matter, in their own columns.
	custom := make(map[string][]string, len(ev.Mail.Tags))
	for k, v := range ev.Mail.Tags {
		if !strings.HasPrefix(k, "ses:") {
			custom[k] = v
		}
	}
	if len(custom) > 0 {
		b, _ := json.Marshal(custom)
		tags = string(b)
	}
	template := ev.Mail.Template
	if ev.Failure != nil && template == "" {
		template = ev.Failure.TemplateName
	}
	raw, split := rawjson.Encode(ev.Raw)
	out := make([]store.EventRow, len(recips))
	for i, rcpt := range recips {
		r := store.EventRow{
			Key: RowKey(conn.OrgID, evKey, rcpt, ev.Time), OrgID: conn.OrgID, ConnectionID: conn.ID, MessageID: ev.Mail.MessageID,
			Type: ev.Type, At: ev.Time, Recipient: rcpt,
			Sender: sender, SendingDomain: sesevent.Domain(sender), Subject: ev.Mail.Subject, ConfigSet: ev.Mail.ConfigurationSet,
			Template: template, Tags: tags, MailTime: ev.Mail.Timestamp,
		}
		if i == 0 {
			r.Raw, r.Split = raw, split
		}
		if rcpt != "" {
			r.RecipientHash = RecipientHash(key, rcpt)
		}
		switch {
		case ev.Bounce != nil:
			r.BounceType, r.BounceSub, r.ReportingMTA = ev.Bounce.Type, ev.Bounce.SubType, ev.Bounce.ReportingMTA
			for _, br := range ev.Bounce.Recipients {
				if sesevent.Address(br.Email) == rcpt {
					r.Diagnostic = br.DiagnosticCode
					if r.Diagnostic == "" {
						r.Diagnostic = br.Status
					}
				}
			}
		case ev.Complaint != nil:
			r.Complaint, r.BounceSub, r.UserAgent = ev.Complaint.FeedbackType, ev.Complaint.SubType, ev.Complaint.UserAgent
		case ev.Delivery != nil:
			r.Diagnostic, r.ReportingMTA, r.IP = ev.Delivery.SMTPResponse, ev.Delivery.ReportingMTA, ev.Delivery.RemoteMtaIP
		case ev.Delay != nil:
			r.BounceSub, r.ReportingMTA = ev.Delay.DelayType, ev.Delay.ReportingMTA
			for _, dr := range ev.Delay.Recipients {
				if sesevent.Address(dr.Email) == rcpt {
					r.Diagnostic = dr.DiagnosticCode
				}
			}
		case ev.Open != nil:
			r.UserAgent, r.IP = ev.Open.UserAgent, ev.Open.IPAddress
		case ev.Click != nil:
			r.UserAgent, r.IP, r.Link = ev.Click.UserAgent, ev.Click.IPAddress, ev.Click.Link
		case ev.Reject != nil:
			r.Diagnostic = ev.Reject.Reason
		case ev.Failure != nil:
			r.Diagnostic = ev.Failure.ErrorMessage
		}
		clean(&r)
		out[i] = r
	}
	return out
}

// clean removes NUL characters from the text fields: valid in JSON, but
// PostgreSQL's text cannot hold them. The raw event keeps them.
func clean(r *store.EventRow) {
	for _, f := range []*string{&r.MessageID, &r.Type, &r.Recipient, &r.BounceType, &r.BounceSub, &r.Diagnostic, &r.ReportingMTA,
		&r.Complaint, &r.Link, &r.UserAgent, &r.IP, &r.Sender, &r.SendingDomain, &r.Subject, &r.ConfigSet, &r.Template, &r.Tags} {
		if strings.IndexByte(*f, 0) >= 0 {
			*f = strings.ReplaceAll(*f, "\x00", "")
		}
	}
}
