package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"sendops/internal/domain"
)

// RecipientMessage is one message to one recipient: the message and that
// recipient's status in it.
type RecipientMessage struct {
	MessageID    string
	ConnectionID string
	Sender       string
	Subject      string
	ConfigSet    string
	SentAt       time.Time
	Status       string
	StatusAt     time.Time
	LastEventAt  time.Time
}

// MessagesToQuery asks for the messages to one address sent in [From, To),
// newest first.
type MessagesToQuery struct {
	Address  string // lower-case
	From, To time.Time
	domain.Page
}

// MessagesTo returns a page of the messages an organisation sent to one
// address in a time range, newest first, and the next page's cursor ("" on
// the last page). The cursor names the last message's send time and id, so
// that pages stay where they were while events keep arriving. Errors:
// EInvalid (limit, cursor).
//
// The recipient index (org_num, recipient, sent_at) finds the address's
// messages; each is read by its id, within the organisation. CROSS JOIN
// makes SQLite start from the recipient (it would otherwise read every
// message of the range by ses_messages_sent); PostgreSQL plans it as a
// join like any other.
func MessagesTo(ctx context.Context, tx *Tx, orgID string, q MessagesToQuery) ([]RecipientMessage, string, error) {
	limit, after, err := pageArgs(q.Page)
	if err != nil {
		return nil, "", err
	}
	num, err := orgNum(ctx, tx, orgID)
	if err != nil {
		return nil, "", err
	}
	where := `m.id = r.message_ref AND r.org_num = ? AND r.recipient = ? AND m.org_num = ? AND m.sent_at >= ? AND m.sent_at < ?`
	args := []any{num, q.Address, num, msTime(q.From), msTime(q.To)}
	if after != "" {
		ms, id, ok := parseRecipientCursor(after)
		if !ok {
			return nil, "", domain.FieldError("cursor", "The cursor is not one this server gave out.")
		}
		at := msTime(time.UnixMilli(ms).UTC())
		where += ` AND (m.sent_at < ? OR (m.sent_at = ? AND m.id < ?))`
		args = append(args, at, at, id)
	}
	args = append(args, limit+1)
	rows, err := tx.Query(ctx, `SELECT m.id, m.message_id, m.connection_id, m.sender, m.subject, m.config_set, m.sent_at, r.status, r.status_at, r.last_event_at
		FROM message_recipients r CROSS JOIN ses_messages m
		WHERE `+where+` ORDER BY m.sent_at DESC, m.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	type row struct {
		id int64
		m  RecipientMessage
	}
	var out []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.id, &x.m.MessageID, &x.m.ConnectionID, &x.m.Sender, &x.m.Subject, &x.m.ConfigSet, utcTime{&x.m.SentAt},
			&x.m.Status, utcTime{&x.m.StatusAt}, utcTime{&x.m.LastEventAt}); err != nil {
			return nil, "", err
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := nextCursor(out, limit, func(x row) string {
		return strconv.FormatInt(x.m.SentAt.UnixMilli(), 10) + ":" + strconv.FormatInt(x.id, 10)
	})
	msgs := make([]RecipientMessage, len(out))
	for i := range out {
		msgs[i] = out[i].m
	}
	return msgs, next, nil
}

func parseRecipientCursor(s string) (ms, id int64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	return ms, id, err1 == nil && err2 == nil
}

// HasRecipient reports whether an organisation has any message to an
// address (lower-case).
func HasRecipient(ctx context.Context, tx *Tx, orgID, address string) (bool, error) {
	num, err := orgNum(ctx, tx, orgID)
	if err != nil {
		return false, err
	}
	var n int
	err = tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM message_recipients WHERE org_num = ? AND recipient = ? LIMIT 1) x`, num, address).Scan(&n)
	return n > 0, err
}
