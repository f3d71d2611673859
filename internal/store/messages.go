package store

import (
	"context"

	"sendops/internal/domain"
	"sendops/internal/rawjson"
)

// Message returns a message with its recipients and its events in time
// order, or ENotFound.
//
// Recipients and events refer to their message by its id. They are read
// here by the id of a message selected by the organisation's number, and
// events (which carry no organisation of their own) only through a
// subquery on ses_messages by that number: an organisation never reads
// another's rows.
func Message(ctx context.Context, tx *Tx, orgID, messageID string) (*domain.Message, error) {
	num, err := orgNum(ctx, tx, orgID)
	if err != nil {
		return nil, err
	}
	m := &domain.Message{OrgID: orgID}
	var ref int64
	var mail []byte
	err = tx.QueryRow(ctx, `SELECT id, message_id, connection_id, sender, sending_domain, subject, config_set, template, tags, sent_at, first_event_at, last_event_at, mail
		FROM ses_messages WHERE org_num = ? AND message_id = ?`, num, messageID).Scan(&ref, &m.MessageID, &m.ConnectionID, &m.Sender, &m.SendingDomain,
		&m.Subject, &m.ConfigSet, &m.Template, &m.Tags, nullTime{&m.SentAt}, utcTime{&m.FirstEventAt}, utcTime{&m.LastEventAt}, &mail)
	if err != nil {
		return nil, notFound(err, "Message")
	}
	rows, err := tx.Query(ctx, `SELECT recipient, domain, status, status_at, last_event_at FROM message_recipients WHERE org_num = ? AND message_ref = ? ORDER BY recipient`, num, ref)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var r domain.MessageRecipient
		if err := rows.Scan(&r.Address, &r.Domain, &r.Status, utcTime{&r.StatusAt}, utcTime{&r.LastEventAt}); err != nil {
			rows.Close()
			return nil, err
		}
		m.Recipients = append(m.Recipients, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// id orders the rows of one time as they were stored: each event's row
	// with the raw JSON, then its other recipients' rows.
	rows, err = tx.Query(ctx, `SELECT type, at, recipient, bounce_type, bounce_subtype, diagnostic, reporting_mta, complaint_type, link, user_agent, ip, raw
		FROM events WHERE message_ref = (SELECT id FROM ses_messages WHERE org_num = ? AND message_id = ?) ORDER BY at, id`, num, messageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var raws [][]byte
	for rows.Next() {
		var e domain.StoredEvent
		var raw []byte
		if err := rows.Scan(&e.Type, utcTime{&e.At}, &e.Recipient, &e.BounceType, &e.BounceSubtype, &e.Diagnostic, &e.ReportingMTA,
			&e.ComplaintType, &e.Link, &e.UserAgent, &e.IP, &raw); err != nil {
			return nil, err
		}
		m.Events = append(m.Events, e)
		raws = append(raws, raw)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// The raw JSON: the message's mail object once, then each event
	// against it. The first event split against it may have been stored
	// after the message row was read (an older message without one): then
	// read it again.
	mailJSON, _ := rawjson.MailOf(mail)
	for i, raw := range raws {
		if raw == nil {
			continue
		}
		b, err := rawjson.Decode(raw, mailJSON)
		if err != nil && mail == nil {
			if tx.QueryRow(ctx, `SELECT mail FROM ses_messages WHERE id = ?`, ref).Scan(&mail) == nil && mail != nil {
				mailJSON, _ = rawjson.MailOf(mail)
				b, err = rawjson.Decode(raw, mailJSON)
			}
		}
		// A damaged frame shows no raw JSON (empty, not nil: the row still
		// begins its event) rather than hiding the message.
		if err != nil || b == nil {
			b = []byte{}
		}
		m.Events[i].Raw = b
	}
	return m, nil
}

// CountEvents returns how many event rows an organisation has.
func CountEvents(ctx context.Context, tx *Tx, orgID string) (n int64, err error) {
	num, err := orgNum(ctx, tx, orgID)
	if err != nil {
		return 0, err
	}
	err = tx.QueryRow(ctx, `SELECT count(*) FROM events WHERE message_ref IN (SELECT id FROM ses_messages WHERE org_num = ?)`, num).Scan(&n)
	return n, err
}

// CountMessageEvents returns how many event rows (one per SES event and
// recipient) a message has; 0 when there is no such message.
func CountMessageEvents(ctx context.Context, tx *Tx, orgID, messageID string) (n int64, err error) {
	num, err := orgNum(ctx, tx, orgID)
	if err != nil {
		return 0, err
	}
	err = tx.QueryRow(ctx, `SELECT count(*) FROM events WHERE message_ref = (SELECT id FROM ses_messages WHERE org_num = ? AND message_id = ?)`, num, messageID).Scan(&n)
	return n, err
}
