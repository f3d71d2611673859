package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Verification is what the API shows of the events a run sent.
type Verification struct {
	Messages int // messages read through the API
	Acked    int // acknowledged events checked
	// Lost are acknowledged events the API does not show, or shows with
	// fewer recipients than the event named.
	Lost []Event
	// Doubled are events the API shows more than once, acknowledged or not.
	Doubled []Event
	// Of the events never acknowledged: how many were stored anyway (their
	// commit's answer was lost) and how many were not.
	UnackedStored, UnackedAbsent int
	// Unexpected counts stored events that no sent event explains.
	Unexpected int
	// Errors are API requests that failed after retries (the first few).
	Errors     []string
	ErrorCount int
}

// OK reports whether every acknowledged event is stored exactly once and
// every message could be read.
func (v *Verification) OK() bool {
	return len(v.Lost) == 0 && len(v.Doubled) == 0 && v.Unexpected == 0 && v.ErrorCount == 0
}

// String is the plain report.
func (v *Verification) String() string {
	var b strings.Builder
	verdict := "OK: every acknowledged event is stored exactly once"
	if !v.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "verification  %s\n", verdict)
	fmt.Fprintf(&b, "              %d messages read, %d acknowledged events checked: %d lost, %d doubled, %d unexpected\n",
		v.Messages, v.Acked, len(v.Lost), len(v.Doubled), v.Unexpected)
	fmt.Fprintf(&b, "              never acknowledged: %d stored anyway, %d not stored\n", v.UnackedStored, v.UnackedAbsent)
	for i, e := range v.Lost {
		if i == 10 {
			fmt.Fprintf(&b, "              … and %d more lost\n", len(v.Lost)-i)
			break
		}
		fmt.Fprintf(&b, "  lost        %s\n", e)
	}
	for i, e := range v.Doubled {
		if i == 10 {
			fmt.Fprintf(&b, "              … and %d more doubled\n", len(v.Doubled)-i)
			break
		}
		fmt.Fprintf(&b, "  doubled     %s\n", e)
	}
	if v.ErrorCount > 0 {
		fmt.Fprintf(&b, "              %d API errors, e.g. %s\n", v.ErrorCount, strings.Join(v.Errors, "; "))
	}
	return b.String()
}

// apiMessage is the part of GET /api/v1/messages/{id} that verification reads.
type apiMessage struct {
	MessageID string `json:"message_id"`
	Events    []struct {
		Type       string    `json:"type"`
		Time       time.Time `json:"time"`
		Recipients []string  `json:"recipients"`
	} `json:"events"`
}

// Verify reads every message the run sent through the API and checks that
// each acknowledged event, identified by its type and time, appears exactly
// once with all its recipients, and that no event appears twice. Call it
// after Run. It returns an error only when it cannot start (no API key) or
// ctx ends; failed API requests are counted in the result.
func (r *Runner) Verify(ctx context.Context) (*Verification, error) {
	if r.cfg.APIKey == "" {
		return nil, errors.New("loadgen: verification needs an API key with the read and recipients:read scopes")
	}
	states := r.states()
	v := &Verification{}
	var mu sync.Mutex
	next := make(chan *msgState)
	var wg sync.WaitGroup
	for range r.cfg.VerifyConcurrency {
		wg.Go(func() {
			for st := range next {
				if st.tried.Load() == 0 {
					continue
				}
				m := r.gen.message(st.index)
				got, err := r.fetch(ctx, m.id)
				mu.Lock()
				if err != nil {
					v.ErrorCount++
					if len(v.Errors) < 3 {
						v.Errors = append(v.Errors, err.Error())
					}
				} else {
					v.Messages++
					v.check(m, st, got)
				}
				mu.Unlock()
			}
		})
	}
	for _, st := range states {
		select {
		case next <- st:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	return v, ctx.Err()
}

// check compares what the API shows of m (nil: not found) with what was
// sent and acknowledged.
func (v *Verification) check(m *message, st *msgState, got *apiMessage) {
	type key struct {
		typ string
		at  int64
	}
	found := map[key][][]string{}
	if got != nil {
		for _, e := range got.Events {
			k := key{e.Type, e.Time.UnixMicro()}
			found[k] = append(found[k], e.Recipients)
		}
	}
	acked, tried := st.acked.Load(), st.tried.Load()
	for j := range st.n {
		e := m.events[j].Event
		k := key{e.Type, e.Time.UnixMicro()}
		seen := found[k]
		delete(found, k)
		isAcked := acked&(1<<j) != 0
		if isAcked {
			v.Acked++
		}
		switch {
		case len(seen) > 1:
			v.Doubled = append(v.Doubled, e)
		case len(seen) == 1 && !sameSet(seen[0], e.Recipients):
			if isAcked {
				v.Lost = append(v.Lost, e)
			} else {
				v.UnackedStored++
			}
		case len(seen) == 1 && !isAcked && tried&(1<<j) != 0:
			v.UnackedStored++
		case len(seen) == 1 && !isAcked:
			v.Unexpected++ // stored, yet never sent
		case len(seen) == 0 && isAcked:
			v.Lost = append(v.Lost, e)
		case len(seen) == 0 && tried&(1<<j) != 0:
			v.UnackedAbsent++
		}
	}
	for _, s := range found {
		v.Unexpected += len(s)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// fetch reads one message through the API, retrying an unavailable server
// a few times; a message the API does not know is nil.
func (r *Runner) fetch(ctx context.Context, id string) (*apiMessage, error) {
	var last error
	for attempt := 1; attempt <= 5; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(backoff(attempt)):
			}
		}
		m, retry, err := r.fetchOnce(ctx, id)
		if err == nil || !retry {
			return m, err
		}
		last = err
	}
	return nil, last
}

func (r *Runner) fetchOnce(ctx context.Context, id string) (m *apiMessage, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.api+"/api/v1/messages/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Authorization", "Bearer "+r.cfg.APIKey)
	res, err := r.client.Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("GET message %s: %w", id, err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotFound:
		io.Copy(io.Discard, res.Body)
		return nil, false, nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		io.Copy(io.Discard, res.Body)
		return nil, true, fmt.Errorf("GET message %s: %s", id, res.Status)
	case res.StatusCode != http.StatusOK:
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return nil, false, fmt.Errorf("GET message %s: %s: %s", id, res.Status, strings.TrimSpace(string(b)))
	}
	m = &apiMessage{}
	if err := json.NewDecoder(res.Body).Decode(m); err != nil {
		return nil, true, fmt.Errorf("GET message %s: %w", id, err)
	}
	if m.MessageID != id {
		return nil, false, fmt.Errorf("GET message %s: the answer is about %q", id, m.MessageID)
	}
	return m, false, nil
}
