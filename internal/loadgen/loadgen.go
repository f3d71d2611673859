// Package loadgen sends realistic SES events to a SendOps ingest endpoint
// the way an EventBridge API destination does, measures how the endpoint
// answers, and then checks through the API that every event the endpoint
// acknowledged is stored exactly once.
//
// It sends only to the loopback interface: load tests of this project run
// against 127.0.0.1, never against another machine.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config says where to send, how hard and for how long. Only URL is
// required; every bound has a default, so that a run always ends.
type Config struct {
	URL    string // the EventBridge ingest URL, on a loopback address
	Header string // the API destination's header (default X-Sendops-Ingest-Key)
	Secret string // its value

	// APIURL is the API's base URL for verification (default: the scheme
	// and host of URL); APIKey a key with the read and recipients:read
	// scopes. Without APIKey, Verify refuses to run.
	APIURL string
	APIKey string

	Account string // the envelope's AWS account (default 123456789012)
	Region  string // and region (default us-east-1)

	Rate        float64       // events per second; 0 sends as fast as answers come
	Concurrency int           // requests in flight at most (default 16)
	Duration    time.Duration // no new event starts after this (default 30 s, at most 1 h)
	Messages    int           // SES messages to send; 0: as many as Duration allows

	MaxAttempts   int           // tries per event, first included (default 10)
	RetryWindow   time.Duration // retries stop this long after Duration ends (default 30 s)
	Timeout       time.Duration // per request (default 5 s, as EventBridge)
	MaxRetryAfter time.Duration // longest Retry-After obeyed (default 10 s)

	Seed  uint64    // makes the messages; 0 picks one at random
	Start time.Time // mail timestamps start here (default 24 h ago)

	VerifyConcurrency int // API requests in flight while verifying (default 8)

	// Client sends the requests; nil makes one that connects to loopback
	// addresses only.
	Client *http.Client
}

// Default values.
const (
	DefaultHeader   = "X-Sendops-Ingest-Key"
	DefaultDuration = 30 * time.Second
	MaxDuration     = time.Hour
)

// Runner is one load test: Run sends, Acknowledged and Report tell what
// happened, Verify checks the store.
type Runner struct {
	cfg    Config
	gen    Generator
	client *http.Client
	api    string // API base URL, without a trailing slash

	mu   sync.Mutex
	msgs []*msgState // in message order; appended by the dispatcher

	events    atomic.Int64 // events started
	acked     atomic.Int64
	firstSent atomic.Int64 // unix ns
	lastAck   atomic.Int64 // unix ns
	ran       atomic.Bool
}

// msgState is what a run remembers of one message: which of its events
// were acknowledged, and which were given up.
type msgState struct {
	index  uint64
	n      int           // events
	acked  atomic.Uint64 // bit j: event j answered 200
	tried  atomic.Uint64 // bit j: event j was sent at least once
	gaveUp atomic.Uint64 // bit j: event j was never acknowledged
}

// maxEvents bounds the events of one message (bits of msgState's masks).
const maxEvents = 64

// New checks cfg and fills in its defaults. Errors name the setting.
func New(cfg Config) (*Runner, error) {
	u, err := CheckURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	api := u.Scheme + "://" + u.Host
	if cfg.APIURL != "" {
		a, err := CheckURL(cfg.APIURL)
		if err != nil {
			return nil, fmt.Errorf("api url: %w", err)
		}
		api = strings.TrimSuffix(a.String(), "/")
	}
	if cfg.Header == "" {
		cfg.Header = DefaultHeader
	}
	if cfg.Account == "" {
		cfg.Account = "123456789012"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	switch {
	case cfg.Rate < 0:
		return nil, errors.New("rate: must be positive, or 0 for as fast as possible")
	case cfg.Concurrency < 0 || cfg.Concurrency > 4096:
		return nil, errors.New("concurrency: must be from 1 to 4096")
	case cfg.Messages < 0:
		return nil, errors.New("messages: must not be negative")
	case cfg.Duration < 0 || cfg.Duration > MaxDuration:
		return nil, fmt.Errorf("duration: must be at most %s", MaxDuration)
	case cfg.MaxAttempts < 0 || cfg.MaxAttempts > 200:
		return nil, errors.New("max attempts: must be from 1 to 200")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 16
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.RetryWindow <= 0 {
		cfg.RetryWindow = 30 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 10 * time.Second
	}
	if cfg.VerifyConcurrency <= 0 {
		cfg.VerifyConcurrency = 8
	}
	for cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Now().Add(-24 * time.Hour)
	}
	r := &Runner{cfg: cfg, api: api, client: cfg.Client,
		gen: Generator{Seed: cfg.Seed, Start: cfg.Start.UTC().Truncate(time.Millisecond), Account: cfg.Account, Region: cfg.Region}}
	if r.client == nil {
		r.client = LoopbackClient(cfg.Concurrency + cfg.VerifyConcurrency)
	}
	return r, nil
}

// CheckURL parses an http URL and refuses one whose host is not a loopback
// address (127.0.0.0/8, ::1) or localhost.
func CheckURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("missing")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("%q is not on this machine: load is sent only to 127.0.0.1, ::1 or localhost", u.Host)
	}
	return u, nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// LoopbackClient returns an HTTP client that keeps up to conns connections
// open, follows no redirect and connects to loopback addresses only,
// whatever a name resolves to.
func LoopbackClient(conns int) *http.Client {
	d := &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("loadgen: refusing to connect to %s: not a loopback address", address)
			}
			return nil
		},
	}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// item is one event to send.
type item struct {
	m  *message
	st *msgState
	j  int
}

// worker is one sender's counters, merged into the Report at the end.
type worker struct {
	lat                           Histogram
	requests, retries             int64
	stored, duplicate, badAnswers int64
	gaveUp                        int64
	errors                        map[string]int64
	firstAttemptDuplicates        int64
}

// Run sends events until Messages are sent or Duration has passed, lets the
// retries finish (up to MaxAttempts per event, and RetryWindow after
// Duration), and returns the report. It returns early when ctx ends. A
// Runner runs once.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	if !r.ran.CompareAndSwap(false, true) {
		return nil, errors.New("loadgen: a Runner runs once")
	}
	cfg := r.cfg
	start := time.Now()
	sendUntil := start.Add(cfg.Duration)
	hard, cancel := context.WithDeadline(ctx, sendUntil.Add(cfg.RetryWindow))
	defer cancel()

	work := make(chan item, cfg.Concurrency)
	go r.dispatch(hard, work, start, sendUntil)

	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{errors: map[string]int64{}}
		workers[i] = w
		wg.Go(func() {
			for it := range work {
				r.send(hard, w, it)
			}
		})
	}
	wg.Wait()

	rep := &Report{Config: cfg, Errors: map[string]int64{}, Elapsed: time.Since(start)}
	for _, w := range workers {
		rep.Latency.Merge(&w.lat)
		rep.Requests += w.requests
		rep.Retries += w.retries
		rep.Stored += w.stored
		rep.Duplicate += w.duplicate
		rep.FirstAttemptDuplicates += w.firstAttemptDuplicates
		rep.BadAnswers += w.badAnswers
		rep.GaveUp += w.gaveUp
		for k, v := range w.errors {
			rep.Errors[k] += v
		}
	}
	r.mu.Lock()
	rep.Messages = len(r.msgs)
	r.mu.Unlock()
	rep.Events = r.events.Load()
	rep.Acked = r.acked.Load()
	if f, l := r.firstSent.Load(), r.lastAck.Load(); f != 0 && l > f {
		rep.AckSpan = time.Duration(l - f)
	}
	return rep, ctx.Err()
}

// dispatch hands events to the workers, message by message, at the rate.
func (r *Runner) dispatch(ctx context.Context, work chan<- item, start, until time.Time) {
	defer close(work)
	cfg := r.cfg
	var sent int64
	for i := uint64(0); cfg.Messages == 0 || i < uint64(cfg.Messages); i++ {
		if time.Now().After(until) {
			return
		}
		m := r.gen.message(i)
		st := &msgState{index: i, n: min(len(m.events), maxEvents)}
		r.mu.Lock()
		r.msgs = append(r.msgs, st)
		r.mu.Unlock()
		for j := range st.n {
			if cfg.Rate > 0 {
				// Open loop: event k is due at start + k/rate.
				due := start.Add(time.Duration(float64(sent) / cfg.Rate * float64(time.Second)))
				if wait := time.Until(due); wait > 0 {
					if wait > until.Sub(time.Now()) {
						return
					}
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case work <- item{m: m, st: st, j: j}:
				sent++
				r.events.Add(1)
			}
		}
	}
}

// send posts one event until it is acknowledged or the bounds are reached,
// retrying what EventBridge retries: 429, 5xx and transport errors.
func (r *Runner) send(ctx context.Context, w *worker, it item) {
	body := r.gen.body(it.m, it.j)
	bit := uint64(1) << it.j
	it.st.tried.Or(bit)
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			break
		}
		r.firstSent.CompareAndSwap(0, time.Now().UnixNano())
		status, retryAfter, answer, err := r.post(ctx, w, body)
		if status == http.StatusOK {
			switch answer {
			case "stored":
				w.stored++
			case "duplicate":
				w.duplicate++
				if attempt == 1 {
					w.firstAttemptDuplicates++
				}
			default:
				w.badAnswers++
			}
			it.st.acked.Or(bit)
			r.acked.Add(1)
			r.lastAck.Store(time.Now().UnixNano())
			return
		}
		key := strconv.Itoa(status)
		if err != nil {
			key = errorKind(err)
		}
		w.errors[key]++
		retryable := err != nil || status == http.StatusTooManyRequests || status >= 500
		if !retryable || attempt >= r.cfg.MaxAttempts {
			break
		}
		wait := backoff(attempt)
		if retryAfter > 0 {
			wait = min(retryAfter, r.cfg.MaxRetryAfter)
			wait += rand.N(wait/10 + 1) // jitter, as EventBridge's
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		w.retries++
	}
	it.st.gaveUp.Or(bit)
	w.gaveUp++
}

// backoff is the wait before retry n without a Retry-After: exponential
// from 100 ms to 5 s, with full jitter.
func backoff(n int) time.Duration {
	d := min(100*time.Millisecond<<min(n-1, 10), 5*time.Second)
	return d/2 + rand.N(d/2+1)
}

// post sends body once and returns the status, the Retry-After delay, and
// for a 200 the answer's status.
func (r *Runner) post(ctx context.Context, w *worker, body []byte) (status int, retryAfter time.Duration, answer string, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Amazon/EventBridge/ApiDestinations (sendops loadgen)")
	req.Header.Set(r.cfg.Header, r.cfg.Secret)
	start := time.Now()
	w.requests++
	res, err := r.client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	w.lat.Record(time.Since(start))
	if err != nil {
		return 0, 0, "", err
	}
	if res.StatusCode == http.StatusOK {
		var a struct {
			Status string `json:"status"`
		}
		json.Unmarshal(b, &a)
		return res.StatusCode, 0, a.Status, nil
	}
	if s, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After"))); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return res.StatusCode, retryAfter, "", nil
}

// errorKind names a transport error for the report.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "transport error"
}

// Acknowledged returns the events answered 200 so far, in message order.
// It may be called while Run runs.
func (r *Runner) Acknowledged() []Event {
	var out []Event
	for _, st := range r.states() {
		mask := st.acked.Load()
		if mask == 0 {
			continue
		}
		m := r.gen.message(st.index)
		for j := range st.n {
			if mask&(1<<j) != 0 {
				out = append(out, m.events[j].Event)
			}
		}
	}
	return out
}

// AckedCount is how many events were answered 200 so far.
func (r *Runner) AckedCount() int64 { return r.acked.Load() }

func (r *Runner) states() []*msgState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// Report is what a run measured.
type Report struct {
	Config   Config
	Messages int   // SES messages started
	Events   int64 // events started
	Acked    int64 // events answered 200
	// Stored and Duplicate split Acked by the answer; a duplicate on the
	// first attempt means two generated events had the same identity.
	Stored, Duplicate, FirstAttemptDuplicates, BadAnswers int64
	GaveUp                                                int64 // events never acknowledged
	Requests, Retries                                     int64
	Errors                                                map[string]int64 // failed attempts, by status or transport error
	Latency                                               Histogram        // of every request answered
	Elapsed                                               time.Duration    // the whole run
	AckSpan                                               time.Duration    // first request to last acknowledgement
}

// Rate is the acknowledged events per second over AckSpan.
func (rep *Report) Rate() float64 {
	if rep.AckSpan <= 0 {
		return 0
	}
	return float64(rep.Acked) / rep.AckSpan.Seconds()
}

// String is the plain report.
func (rep *Report) String() string {
	var b strings.Builder
	rate := "max"
	if rep.Config.Rate > 0 {
		rate = strconv.FormatFloat(rep.Config.Rate, 'f', -1, 64) + "/s"
	}
	fmt.Fprintf(&b, "target        %s (rate %s, concurrency %d, duration %s", rep.Config.URL, rate, rep.Config.Concurrency, rep.Config.Duration)
	if rep.Config.Messages > 0 {
		fmt.Fprintf(&b, ", messages %d", rep.Config.Messages)
	}
	fmt.Fprintf(&b, ", seed %d)\n", rep.Config.Seed)
	fmt.Fprintf(&b, "messages      %d\n", rep.Messages)
	fmt.Fprintf(&b, "events        %d sent, %d acknowledged (%d stored, %d duplicate), %d given up\n", rep.Events, rep.Acked, rep.Stored, rep.Duplicate, rep.GaveUp)
	if rep.FirstAttemptDuplicates > 0 || rep.BadAnswers > 0 {
		fmt.Fprintf(&b, "anomalies     %d duplicate on first attempt, %d 200 answers without a known status\n", rep.FirstAttemptDuplicates, rep.BadAnswers)
	}
	fmt.Fprintf(&b, "requests      %d (%d retries)\n", rep.Requests, rep.Retries)
	fmt.Fprintf(&b, "achieved      %.0f acknowledged events/s over %s (run %s)\n", rep.Rate(), rep.AckSpan.Round(time.Millisecond), rep.Elapsed.Round(time.Millisecond))
	l := &rep.Latency
	fmt.Fprintf(&b, "latency       p50 %s  p90 %s  p99 %s  max %s  mean %s  (%d answers)\n",
		ms(l.Quantile(0.50)), ms(l.Quantile(0.90)), ms(l.Quantile(0.99)), ms(l.Max()), ms(l.Mean()), l.Count())
	if len(rep.Errors) == 0 {
		b.WriteString("errors        none\n")
	} else {
		keys := make([]string, 0, len(rep.Errors))
		for k := range rep.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString("errors       ")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s: %d;", k, rep.Errors[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}
