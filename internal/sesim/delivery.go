package sesim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Delivery is one event's invocation of an API destination, after its last
// attempt.
type Delivery struct {
	EventID     string // the EventBridge event id
	DetailType  string // "Email Sent", "Email Bounced"…
	MessageID   string // the SES message id of the event
	Rule        string // the rule that matched
	TargetID    string
	Destination string // API destination ARN
	Endpoint    string // URL invoked
	Attempts    int
	Status      int    // HTTP status of the last attempt (0: no answer)
	Delivered   bool   // the endpoint answered 2xx
	Err         string // why it was not delivered
	Body        []byte // what was sent
	Finished    time.Time
}

// ebEnvelope is an event on an EventBridge bus.
type ebEnvelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// invocation is everything needed to invoke an API destination, copied
// out of the state when the event is matched.
type invocation struct {
	delivery    Delivery
	method      string
	url         string
	header      http.Header
	body        []byte
	rate        int
	maxAttempts int
}

// publishLocked sends a message's SES events to the EventBridge event
// destinations of its configuration set.
func (s *Sim) publishLocked(rs *regionState, m *outMessage, events []sesEvent) {
	if m.configSet == nil {
		return
	}
	for _, e := range events {
		for _, d := range m.configSet.dests {
			if d.EventBridgeDestination == nil || !d.matches(e.EventType) {
				continue
			}
			detail, err := json.Marshal(e)
			if err != nil {
				s.log.Error("sesim: encode event", "err", err)
				continue
			}
			env := ebEnvelope{
				Version:    "0",
				ID:         newUUID(),
				DetailType: detailTypes[e.EventType],
				Source:     "aws.ses",
				Account:    rs.account,
				Time:       e.at.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z"),
				Region:     rs.region,
				Resources:  []string{"arn:aws:ses:" + rs.region + ":" + rs.account + ":configuration-set/" + m.configSet.name},
				Detail:     detail,
			}
			s.putEventLocked(rs, env, m.id)
		}
	}
}

// putEventLocked puts an event on the default bus: every enabled rule whose
// pattern matches invokes its targets.
func (s *Sim) putEventLocked(rs *regionState, env ebEnvelope, messageID string) {
	body, err := json.Marshal(env)
	if err != nil {
		return
	}
	var generic map[string]any
	if err := json.Unmarshal(body, &generic); err != nil {
		return
	}
	for _, r := range rs.rules {
		if r.state != "ENABLED" || r.pattern == nil || !matchPattern(r.pattern, generic) {
			continue
		}
		for _, t := range r.targets {
			inv, err := s.invocationLocked(rs, r, t, env, body, messageID)
			if err != nil {
				s.finishLocked(Delivery{
					EventID: env.ID, DetailType: env.DetailType, MessageID: messageID,
					Rule: r.name, TargetID: t.ID, Destination: t.Arn, Err: err.Error(), Finished: time.Now(),
				})
				continue
			}
			s.startLocked(inv)
		}
	}
}

func (s *Sim) invocationLocked(rs *regionState, r *ebRule, t *ebTarget, env ebEnvelope, body []byte, messageID string) (*invocation, error) {
	d := apiDestinationByARN(rs, t.Arn)
	if d == nil {
		return nil, fmt.Errorf("target %s is not an API destination of this account and region; sesim delivers only to API destinations", t.Arn)
	}
	if err := s.invokeRoleLocked(rs, t.RoleArn, d.arn); err != nil {
		return nil, err
	}
	conn := s.connectionByARN(rs, d.connectionArn)
	if conn == nil {
		return nil, fmt.Errorf("connection %s of API destination %s does not exist", d.connectionArn, d.name)
	}
	payload, err := targetInput(t, body)
	if err != nil {
		return nil, err
	}
	endpoint := d.endpoint
	header := http.Header{}
	query := url.Values{}
	if hp := t.HttpParameters; hp != nil {
		for _, v := range hp.PathParameterValues {
			endpoint = strings.Replace(endpoint, "*", url.PathEscape(v), 1)
		}
		for k, v := range hp.HeaderParameters {
			header.Set(k, v)
		}
		for k, v := range hp.QueryStringParameters {
			query.Set(k, v)
		}
	}
	if p := conn.invocationHTTP; p != nil {
		for _, kv := range p.HeaderParameters {
			header.Set(kv.Key, kv.Value)
		}
		for _, kv := range p.QueryStringParameters {
			query.Set(kv.Key, kv.Value)
		}
	}
	switch conn.authType {
	case "API_KEY":
		header.Set(conn.apiKeyName, conn.apiKeyValue)
	case "BASIC":
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(conn.basicUser+":"+conn.basicPassword)))
	default:
		return nil, fmt.Errorf("sesim does not emulate %s connections", conn.authType)
	}
	header.Set("Content-Type", "application/json; charset=utf-8")
	header.Set("User-Agent", "Amazon/EventBridge/ApiDestinations")
	header.Set("Range", "bytes=0-1048575")
	header.Set("Accept-Encoding", "gzip,deflate")
	if len(query) > 0 {
		sep := "?"
		if strings.Contains(endpoint, "?") {
			sep = "&"
		}
		endpoint += sep + query.Encode()
	}
	maxAttempts := s.opts.MaxAttempts
	if rp := t.RetryPolicy; rp != nil && rp.MaximumRetryAttempts != nil && *rp.MaximumRetryAttempts+1 < maxAttempts {
		maxAttempts = *rp.MaximumRetryAttempts + 1
	}
	return &invocation{
		delivery: Delivery{
			EventID: env.ID, DetailType: env.DetailType, MessageID: messageID,
			Rule: r.name, TargetID: t.ID, Destination: d.arn, Endpoint: endpoint, Body: payload,
		},
		method:      d.method,
		url:         endpoint,
		header:      header,
		body:        payload,
		rate:        d.rate,
		maxAttempts: maxAttempts,
	}, nil
}

// targetInput applies a target's Input or InputPath to the event.
func targetInput(t *ebTarget, event []byte) ([]byte, error) {
	switch {
	case t.Input != "":
		return []byte(t.Input), nil
	case t.InputPath == "" || t.InputPath == "$":
		return event, nil
	}
	path, ok := strings.CutPrefix(t.InputPath, "$.")
	if !ok {
		return nil, fmt.Errorf("sesim supports only $.a.b InputPath, not %q", t.InputPath)
	}
	var cur any
	if err := json.Unmarshal(event, &cur); err != nil {
		return nil, err
	}
	for part := range strings.SplitSeq(path, ".") {
		m, _ := cur.(map[string]any)
		cur = m[part]
	}
	return json.Marshal(cur)
}

func (s *Sim) startLocked(inv *invocation) {
	if s.closed {
		return
	}
	if s.pending == 0 {
		s.idle = make(chan struct{})
	}
	s.pending++
	s.wg.Add(1)
	go s.deliver(inv)
}

// finishLocked records a finished delivery and wakes waiters.
func (s *Sim) finishLocked(d Delivery) {
	s.deliveries = append(s.deliveries, d)
	close(s.changed)
	s.changed = make(chan struct{})
}

// deliver invokes an API destination, retrying 429, 5xx and transport
// errors with exponential backoff (honouring Retry-After) up to the attempt
// limit, as EventBridge does. Other answers are final.
func (s *Sim) deliver(inv *invocation) {
	defer s.wg.Done()
	d := inv.delivery
	for {
		if err := s.waitRate(inv); err != nil {
			d.Err = "simulator closed"
			break
		}
		d.Attempts++
		status, retryAfter, err := s.invoke(inv)
		d.Status = status
		if err == nil && status >= 200 && status < 300 {
			d.Delivered, d.Err = true, ""
			break
		}
		if err != nil {
			d.Err = err.Error()
		} else {
			d.Err = fmt.Sprintf("endpoint answered %d", status)
		}
		retryable := err != nil || status == http.StatusTooManyRequests || status >= 500
		if !retryable || d.Attempts >= inv.maxAttempts || retryAfter < 0 {
			break
		}
		delay := s.opts.RetryBase << (d.Attempts - 1)
		if delay > s.opts.RetryMax || delay <= 0 {
			delay = s.opts.RetryMax
		}
		if retryAfter > delay {
			delay = retryAfter
		}
		s.log.Debug("sesim: api destination retry", "destination", d.Destination, "attempt", d.Attempts, "status", status, "delay", delay)
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
			continue
		case <-s.ctx.Done():
			timer.Stop()
			d.Err = "simulator closed"
		}
		break
	}
	d.Finished = time.Now()
	s.log.Debug("sesim: api destination delivery", "destination", d.Destination, "attempts", d.Attempts, "status", d.Status, "delivered", d.Delivered)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finishLocked(d)
	s.pending--
	if s.pending == 0 {
		close(s.idle)
	}
}

// invoke makes one attempt. retryAfter is the endpoint's Retry-After (-1
// when negative, which stops retries).
func (s *Sim) invoke(inv *invocation) (status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, inv.method, inv.url, bytes.NewReader(inv.body))
	if err != nil {
		return 0, 0, err
	}
	req.Header = inv.header.Clone()
	req.Close = true
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After")), nil
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if n < 0 {
			return -1
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// rateLimiter spaces the invocations of one API destination to its
// InvocationRateLimitPerSecond.
type rateLimiter struct {
	next time.Time
}

func (s *Sim) waitRate(inv *invocation) error {
	if inv.rate <= 0 {
		return nil
	}
	interval := time.Second / time.Duration(inv.rate)
	s.mu.Lock()
	l := s.limiters[inv.delivery.Destination]
	if l == nil {
		l = &rateLimiter{}
		s.limiters[inv.delivery.Destination] = l
	}
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(interval)
	s.mu.Unlock()
	wait := time.Until(at)
	if wait <= 0 {
		return nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// Deliveries returns every finished API destination delivery, oldest first.
func (s *Sim) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// Idle waits until no delivery is in flight or waiting to retry.
func (s *Sim) Idle(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitDelivered waits until at least n deliveries have finished (delivered
// or given up) and returns them all.
func (s *Sim) WaitDelivered(ctx context.Context, n int) ([]Delivery, error) {
	for {
		s.mu.Lock()
		if len(s.deliveries) >= n {
			out := append([]Delivery(nil), s.deliveries...)
			s.mu.Unlock()
			return out, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return s.Deliveries(), fmt.Errorf("sesim: %d of %d deliveries finished: %w", len(s.Deliveries()), n, ctx.Err())
		}
	}
}

// Close stops background deliveries (those in flight end as not delivered)
// and waits for them. The handler keeps answering API calls.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}
