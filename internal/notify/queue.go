package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

const (
	// defaultQueueSize is the queue's capacity when NewQueue is given none.
	defaultQueueSize = 100
	// sendRetries is how many times a failed send is tried again.
	sendRetries = 3
	// firstBackoff is the wait before the first retry; it doubles for
	// each retry after that.
	firstBackoff = 250 * time.Millisecond
	// attemptTimeout bounds a single send.
	attemptTimeout = 30 * time.Second
)

// Queue sends notices in the background, one at a time, so that sending
// never slows a request. A failed send is tried again a few times, then
// logged and given up.
type Queue struct {
	mailer Mailer
	logger *slog.Logger
	ch     chan Message
	done   chan struct{} // closed when the worker has finished

	mu     sync.RWMutex // guards closed, and sending on ch against closing it
	closed bool

	// ctx is cancelled when Close gives up waiting, to abandon the rest.
	ctx    context.Context
	cancel context.CancelFunc

	backoff        time.Duration // firstBackoff, shortened by tests
	attemptTimeout time.Duration
}

// NewQueue returns a queue holding up to size notices for m, and starts its
// worker goroutine. A size below 1 means a default of 100. A nil logger
// means slog.Default().
func NewQueue(m Mailer, logger *slog.Logger, size int) *Queue {
	if logger == nil {
		logger = slog.Default()
	}
	if size < 1 {
		size = defaultQueueSize
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{
		mailer:         m,
		logger:         logger,
		ch:             make(chan Message, size),
		done:           make(chan struct{}),
		ctx:            ctx,
		cancel:         cancel,
		backoff:        firstBackoff,
		attemptTimeout: attemptTimeout,
	}
	go q.work()
	return q
}

// Enqueue adds m to the queue and returns at once. When the queue is full,
// or closed, it logs an error and drops m.
func (q *Queue) Enqueue(m Message) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.logger.Error("notice dropped: queue closed",
			slog.String("to", m.To), slog.String("subject", m.Subject))
		return
	}
	select {
	case q.ch <- m:
	default:
		q.logger.Error("notice dropped: queue full",
			slog.String("to", m.To), slog.String("subject", m.Subject),
			slog.Int("capacity", cap(q.ch)))
	}
}

// Close stops the queue accepting notices and waits until those already
// queued have been sent (or given up). If ctx is done first, Close abandons
// the rest, logging each one it drops, and returns ctx.Err(). Calling Close
// again waits in the same way.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		q.cancel()
		return ctx.Err()
	}
}

// work sends queued notices until the queue is closed and empty.
func (q *Queue) work() {
	defer close(q.done)
	defer q.cancel()
	for m := range q.ch {
		if q.ctx.Err() != nil {
			q.logger.Error("notice dropped: queue closed before it was sent",
				slog.String("to", m.To), slog.String("subject", m.Subject))
			continue
		}
		q.deliver(m)
	}
}

// deliver sends m, retrying with a growing pause when a send fails.
func (q *Queue) deliver(m Message) {
	// A malformed message would fail every time: do not retry it.
	if _, err := checkMessage(m); err != nil {
		q.logger.Error("notice not sent",
			slog.String("to", m.To), slog.String("subject", m.Subject),
			slog.String("error", err.Error()))
		return
	}
	wait := q.backoff
	for attempt := 1; ; attempt++ {
		err := q.send(m)
		if err == nil {
			return
		}
		if attempt > sendRetries || q.ctx.Err() != nil {
			q.logger.Error("notice not sent",
				slog.String("to", m.To), slog.String("subject", m.Subject),
				slog.Int("attempts", attempt), slog.String("error", err.Error()))
			return
		}
		q.logger.Warn("notice send failed; will retry",
			slog.String("to", m.To), slog.String("subject", m.Subject),
			slog.Int("attempt", attempt), slog.Duration("retry_in", wait),
			slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-q.ctx.Done():
			t.Stop()
		}
		wait *= 2
	}
}

// send makes one attempt at sending m. A panic in the Mailer is turned into
// an error so that it cannot stop the worker.
func (q *Queue) send(m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("notify: mailer panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(q.ctx, q.attemptTimeout)
	defer cancel()
	return q.mailer.Send(ctx, m)
}
