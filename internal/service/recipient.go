package service

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"sendops/internal/domain"
	"sendops/internal/store"
)

// recipientDefaultRange is how far back a recipient's messages reach when
// the range names no start: 30 days, or the retention window when that is
// shorter.
const recipientDefaultRange = 30 * 24 * time.Hour

// recipientRangeSkew is how far past now a default range ends, for events
// whose timestamps run a little ahead of this server's clock.
const recipientRangeSkew = 5 * time.Minute

// retainedRange resolves a time range [from, to) over event data for the
// organisation: from defaults to recipientDefaultRange ago (or the retention
// window's start, when later), to to now. Errors: EInvalid (from not
// before to), ERetentionExceeded (from before the retention window).
func (s *Service) retainedRange(ctx context.Context, orgID string, from, to *time.Time) (time.Time, time.Time, error) {
	var org *domain.Org
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		org, err = store.OrgByID(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	now := s.DB.Now()
	start := domain.RetentionStart(now, org.RetentionDays)
	f, t := now.Add(-recipientDefaultRange), now.Add(recipientRangeSkew)
	if f.Before(start) {
		f = start
	}
	if from != nil {
		f = from.UTC()
		if f.Before(start) {
			return time.Time{}, time.Time{}, &domain.Error{Code: domain.ERetentionExceeded, Field: "from",
				Message: "This organisation keeps event data for " + retentionDaysText(org.RetentionDays) + ": choose a start on or after " + start.Format("2006-01-02") + "."}
		}
	}
	if to != nil {
		t = to.UTC()
	}
	if !f.Before(t) {
		return time.Time{}, time.Time{}, domain.FieldError("from", "The start of the range must be before its end.")
	}
	return f, t, nil
}

func retentionDaysText(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// RecipientQuery asks for the messages to one address in a time range
// (nil ends: the default range, see retainedRange).
type RecipientQuery struct {
	Address  string
	From, To *time.Time
	domain.Page
}

// RecipientMessage is a message to the recipient, with its connection's
// name.
type RecipientMessage struct {
	store.RecipientMessage
	ConnectionName string
}

// RecipientPage is a page of the messages to one address, newest first.
type RecipientPage struct {
	Address  string // as stored: lower-case
	From, To time.Time
	Messages []RecipientMessage
	Next     string // the next page's cursor; "" on the last page
}

// recipientAddress is an address as the recipient index holds it.
func recipientAddress(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// RecipientMessages returns a page of the messages sent to one address in
// a range, newest first, across the organisation's connections. Members,
// or keys with read and recipients:read. Errors: EForbidden, ENotFound (no
// message to the address is stored at all), EInvalid (range, limit,
// cursor), ERetentionExceeded.
func (s *Service) RecipientMessages(ctx context.Context, a *domain.Actor, q RecipientQuery) (*RecipientPage, error) {
	if err := a.Require(domain.ActMessagesView); err != nil {
		return nil, err
	}
	if err := a.Require(domain.ActRecipientsRead); err != nil {
		return nil, err
	}
	addr := recipientAddress(q.Address)
	var known bool
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		known, err = store.HasRecipient(ctx, tx, a.OrgID, addr)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !known {
		return nil, domain.Errorf(domain.ENotFound, "No message to %s is stored.", addr)
	}
	from, to, err := s.retainedRange(ctx, a.OrgID, q.From, q.To)
	if err != nil {
		return nil, err
	}
	page := &RecipientPage{Address: addr, From: from, To: to, Messages: []RecipientMessage{}}
	var msgs []store.RecipientMessage
	var conns []domain.Connection
	err = s.DB.View(ctx, func(tx *store.Tx) (err error) {
		msgs, page.Next, err = store.MessagesTo(ctx, tx, a.OrgID, store.MessagesToQuery{Address: addr, From: from, To: to, Page: q.Page})
		if err != nil {
			return err
		}
		conns, err = store.Connections(ctx, tx, a.OrgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(conns))
	for _, c := range conns {
		names[c.ID] = c.Name
	}
	for _, m := range msgs {
		page.Messages = append(page.Messages, RecipientMessage{RecipientMessage: m, ConnectionName: names[m.ConnectionID]})
	}
	return page, nil
}

// RecipientSuppression is one connection's suppression list state of an
// address.
type RecipientSuppression struct {
	Connection domain.Connection
	// Managed is false for a connection that only receives events:
	// SendOps cannot read its suppression list.
	Managed bool
	// Checked is set when SES answered: Suppressed is then the entry, or
	// nil when the address is not on the list.
	Checked    bool
	Suppressed *Suppressed
	// Problem says why the state could not be read.
	Problem string
}

// suppressionCheckTimeout bounds how long RecipientSuppressions waits for
// all connections together.
const suppressionCheckTimeout = 10 * time.Second

// RecipientSuppressions reads, from every connection of the organisation
// in parallel, whether an address is on its account's SES suppression
// list. A connection that only receives events, or whose account did not
// answer in time or refused, says so in its Problem; that is not an error.
// Members, or keys with recipients:read. Errors: EForbidden.
func (s *Service) RecipientSuppressions(ctx context.Context, a *domain.Actor, address string) ([]RecipientSuppression, error) {
	if err := a.Require(domain.ActSuppressionView); err != nil {
		return nil, err
	}
	var conns []domain.Connection
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		conns, err = store.Connections(ctx, tx, a.OrgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	addr := recipientAddress(address)
	out := make([]RecipientSuppression, len(conns))
	ctx, cancel := context.WithTimeout(ctx, suppressionCheckTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i := range conns {
		out[i] = RecipientSuppression{Connection: conns[i], Managed: conns[i].Managed()}
		if !out[i].Managed {
			out[i].Problem = "This connection only receives events: SendOps has no access to its AWS account to read the suppression list."
			continue
		}
		wg.Add(1)
		go func(rs *RecipientSuppression) {
			defer wg.Done()
			d, err := s.Suppression(ctx, a, rs.Connection.ID, addr)
			switch {
			case err == nil:
				rs.Checked, rs.Suppressed = true, d
			case domain.IsNotFound(err):
				rs.Checked = true
			case ctx.Err() != nil:
				rs.Problem = "SES did not answer in time."
			default:
				rs.Problem = domain.ErrorMessage(err)
			}
		}(&out[i])
	}
	wg.Wait()
	return out, nil
}
