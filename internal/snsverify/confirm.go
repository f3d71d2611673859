package snsverify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Confirm confirms the subscription a SubscriptionConfirmation asks for, by
// a GET of its SubscribeURL, and only once the message has passed every
// check: the SubscribeURL passes CheckURL (checked first, so a bad one costs
// no request of any kind) and v.Verify succeeds (Confirm calls it; with a
// cached certificate that costs no fetch either).
//
// client nil means a client with a 10 s timeout; redirects are never
// followed, whichever client is given, and the answer must be 200.
//
// Errors wrap ErrInvalid (m is not a SubscriptionConfirmation, or is
// malformed), ErrForged (a SubscribeURL off SNS, or Verify's reasons) or
// ErrUnavailable (the certificate or SNS could not be reached, or SNS
// answered 429 or 5xx: the caller answers 5xx so SNS retries). Any other
// status, such as a 4xx for an expired token or a redirect, is returned as
// an error wrapping none of them: retrying will not help.
func (v *Verifier) Confirm(ctx context.Context, client *http.Client, m *Message) error {
	if m == nil || m.Type != TypeSubscriptionConfirmation {
		return fmt.Errorf("%w: not a SubscriptionConfirmation", ErrInvalid)
	}
	if err := CheckURL(m.SubscribeURL); err != nil {
		return fmt.Errorf("SubscribeURL: %w", err)
	}
	if err := v.Verify(ctx, m); err != nil {
		return err
	}
	c := http.Client{Timeout: 10 * time.Second}
	if client != nil {
		c = *client
	}
	c.CheckRedirect = refuseRedirect
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.SubscribeURL, nil)
	if err != nil {
		return fmt.Errorf("%w: SubscribeURL: %v", ErrForged, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: confirm subscription: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch s := resp.StatusCode; {
	case s == http.StatusOK:
		return nil
	case s == http.StatusTooManyRequests || s >= 500:
		return fmt.Errorf("%w: confirm subscription: status %d", ErrUnavailable, s)
	default:
		return fmt.Errorf("snsverify: confirm subscription: status %d", s)
	}
}
