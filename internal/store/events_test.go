package store

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/rawjson"
	"sendops/internal/testutil/testdb"
)

// evBase is the send time of the messages of the event tests.
var evBase = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// evAt is evBase plus ms milliseconds.
func evAt(ms int) time.Time { return evBase.Add(time.Duration(ms) * time.Millisecond) }

func rowKey(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }

// Rows stored before migration 0007 (in the tables of 0002, with the SQL
// the code of that time ran) read back the same after it, and ingest goes
// on with them: a repeated event is still a duplicate, a new one joins its
// message.
func TestCompactEventsMigration(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		db := openTestDBAt(t, e, 6)
		if v, err := db.SchemaVersion(ctx); err != nil || v >= 7 {
			t.Fatalf("schema version %d, %v; want one before 0007", v, err)
		}

		// The same SES message id in two organisations.
		const orgA, orgB, msg = "org_a", "org_b", "0100018f-m1"
		update(t, db, func(tx *Tx) error {
			for _, org := range []string{orgA, orgB} {
				if _, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)`, org, org, tx.Now()); err != nil {
					return err
				}
			}
			for _, m := range []struct {
				org, subject string
				last         time.Time
			}{{orgA, "Spring sale", evAt(90_123)}, {orgB, "Other org", evAt(0)}} {
				if _, err := tx.Exec(ctx, `INSERT INTO ses_messages (org_id, message_id, connection_id, sender, sending_domain, subject, config_set, template, tags, sent_at, first_event_at, last_event_at)
					VALUES (?, ?, 'conn-1', 'news@shop.example', 'shop.example', ?, 'marketing', '', '{"campaign":["spring"]}', ?, ?, ?)`,
					m.org, msg, m.subject, evAt(-1_500), evAt(0), m.last); err != nil {
					return err
				}
			}
			for _, r := range []struct {
				org, rcpt, domain, status string
				rank                      int
				statusAt, last            time.Time
			}{
				{orgA, "ann@example.com", "example.com", domain.StatusOpened, 5, evAt(90_123), evAt(90_123)},
				{orgA, "bob@example.org", "example.org", domain.StatusBouncedHard, 7, evAt(1_999), evAt(1_999)},
				{orgB, "cy@example.net", "example.net", domain.StatusSent, 1, evAt(0), evAt(0)},
			} {
				if _, err := tx.Exec(ctx, `INSERT INTO message_recipients (org_id, message_id, recipient, domain, status, status_rank, status_at, last_event_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.org, msg, r.rcpt, r.domain, r.status, r.rank, r.statusAt, r.last); err != nil {
					return err
				}
			}
			// In the order they were stored: a two-recipient Send (raw on its
			// first row), the other organisation's Send, then the outcomes.
			for _, ev := range []struct {
				key                       byte
				org, typ, rcpt            string
				at                        time.Time
				bt, bs, diag, mta, ua, ip string
				raw                       []byte
			}{
				{1, orgA, "Send", "bob@example.org", evAt(0), "", "", "", "", "", "", rawjson.Compress([]byte("raw-send"))},
				{2, orgA, "Send", "ann@example.com", evAt(0), "", "", "", "", "", "", nil},
				{3, orgB, "Send", "cy@example.net", evAt(0), "", "", "", "", "", "", rawjson.Compress([]byte("raw-b"))},
				{4, orgA, "Delivery", "ann@example.com", evAt(2_345), "", "", "250 2.0.0 OK", "a8-42.smtp-out.amazonses.com", "", "192.0.2.1", rawjson.Compress([]byte("raw-delivery"))},
				{5, orgA, "Bounce", "bob@example.org", evAt(1_999), "Permanent", "General", "smtp; 550 5.1.1 user unknown", "dsn; a8-42.smtp-out.amazonses.com", "", "", rawjson.Compress([]byte("raw-bounce"))},
				{6, orgA, "Open", "ann@example.com", evAt(90_123), "", "", "", "", "Mozilla/5.0", "198.51.100.7", rawjson.Compress([]byte("raw-open"))},
			} {
				var raw any
				if ev.raw != nil {
					raw = ev.raw
				}
				if _, err := tx.Exec(ctx, `INSERT INTO events (row_key, org_id, message_id, connection_id, type, at, recipient, bounce_type, bounce_subtype, diagnostic, reporting_mta, complaint_type, link, user_agent, ip, raw)
					VALUES (?, ?, ?, 'conn-1', ?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, ?)`,
					rowKey(ev.key), ev.org, msg, ev.typ, ev.at, ev.rcpt, ev.bt, ev.bs, ev.diag, ev.mta, ev.ua, ev.ip, raw); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO recipient_stats (org_id, recipient_hash, sent, delivered, bounced, complained, opened, clicked, last_event_at)
				VALUES (?, ?, 1, 1, 0, 0, 1, 0, ?)`, orgA, rowKey(9), evAt(90_123))
			return err
		})

		if _, err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}

		sent := evAt(-1_500)
		want := &domain.Message{OrgID: orgA, MessageID: msg, ConnectionID: "conn-1", Sender: "news@shop.example", SendingDomain: "shop.example",
			Subject: "Spring sale", ConfigSet: "marketing", Tags: `{"campaign":["spring"]}`, SentAt: &sent, FirstEventAt: evAt(0), LastEventAt: evAt(90_123),
			Recipients: []domain.MessageRecipient{
				{Address: "ann@example.com", Domain: "example.com", Status: domain.StatusOpened, StatusAt: evAt(90_123), LastEventAt: evAt(90_123)},
				{Address: "bob@example.org", Domain: "example.org", Status: domain.StatusBouncedHard, StatusAt: evAt(1_999), LastEventAt: evAt(1_999)},
			},
			Events: []domain.StoredEvent{
				{Type: "Send", At: evAt(0), Recipient: "bob@example.org", Raw: []byte("raw-send")},
				{Type: "Send", At: evAt(0), Recipient: "ann@example.com"},
				{Type: "Bounce", At: evAt(1_999), Recipient: "bob@example.org", BounceType: "Permanent", BounceSubtype: "General",
					Diagnostic: "smtp; 550 5.1.1 user unknown", ReportingMTA: "dsn; a8-42.smtp-out.amazonses.com", Raw: []byte("raw-bounce")},
				{Type: "Delivery", At: evAt(2_345), Recipient: "ann@example.com", Diagnostic: "250 2.0.0 OK", ReportingMTA: "a8-42.smtp-out.amazonses.com",
					IP: "192.0.2.1", Raw: []byte("raw-delivery")},
				{Type: "Open", At: evAt(90_123), Recipient: "ann@example.com", UserAgent: "Mozilla/5.0", IP: "198.51.100.7", Raw: []byte("raw-open")},
			},
		}
		wantMessage(t, db, orgA, msg, want)
		sentB := evAt(-1_500)
		wantMessage(t, db, orgB, msg, &domain.Message{OrgID: orgB, MessageID: msg, ConnectionID: "conn-1", Sender: "news@shop.example",
			SendingDomain: "shop.example", Subject: "Other org", ConfigSet: "marketing", Tags: `{"campaign":["spring"]}`, SentAt: &sentB,
			FirstEventAt: evAt(0), LastEventAt: evAt(0),
			Recipients: []domain.MessageRecipient{{Address: "cy@example.net", Domain: "example.net", Status: domain.StatusSent, StatusAt: evAt(0), LastEventAt: evAt(0)}},
			Events:     []domain.StoredEvent{{Type: "Send", At: evAt(0), Recipient: "cy@example.net", Raw: []byte("raw-b")}},
		})
		var statsAt time.Time
		var opened int
		view(t, db, func(tx *Tx) error {
			return tx.QueryRow(ctx, `SELECT opened, last_event_at FROM recipient_stats WHERE org_num = (SELECT num FROM orgs WHERE id = ?) AND recipient_hash = ?`, orgA, rowKey(9)).Scan(&opened, utcTime{&statsAt})
		})
		if opened != 1 || !statsAt.Equal(evAt(90_123)) {
			t.Errorf("recipient_stats after migration: opened %d, last event %v; want 1, %v", opened, statsAt, evAt(90_123))
		}

		// Ingest after the migration: the Delivery again (a duplicate), a
		// Click, a late DeliveryDelay for the bounced address, and a new
		// message, whose id follows the copied ones (0007 and 0017 copy
		// the messages with their ids).
		row := func(key byte, typ, rcpt string, at time.Time) EventRow {
			return EventRow{Key: rowKey(key), OrgID: orgA, ConnectionID: "conn-1", MessageID: msg, Type: typ, At: at, Recipient: rcpt,
				Raw: rawjson.Compress([]byte("raw-" + typ)), Sender: "news@shop.example", SendingDomain: "shop.example", Subject: "Spring sale",
				ConfigSet: "marketing", MailTime: evAt(-1_500), RecipientHash: rowKey(9)}
		}
		ensureOrgs(t, db, []EventRow{row(4, "Delivery", "ann@example.com", evAt(2_345))})
		var inserted []bool
		newMsg := row(10, "Send", "dee@example.com", evAt(200_000))
		newMsg.MessageID = "0100018f-m2"
		update(t, db, func(tx *Tx) (err error) {
			inserted, err = InsertEvents(ctx, tx, []EventRow{
				row(4, "Delivery", "ann@example.com", evAt(2_345)),
				row(7, "Click", "ann@example.com", evAt(100_000)),
				row(8, "DeliveryDelay", "bob@example.org", evAt(500)),
				newMsg,
			})
			return err
		})
		if !slices.Equal(inserted, []bool{false, true, true, true}) {
			t.Errorf("InsertEvents after migration = %v, want [false true true true]", inserted)
		}
		want.LastEventAt = evAt(100_000)
		want.Recipients[0].Status, want.Recipients[0].StatusAt, want.Recipients[0].LastEventAt = domain.StatusClicked, evAt(100_000), evAt(100_000)
		old := want.Events
		want.Events = []domain.StoredEvent{old[0], old[1],
			{Type: "DeliveryDelay", At: evAt(500), Recipient: "bob@example.org", Raw: []byte("raw-DeliveryDelay")},
			old[2], old[3], old[4],
			{Type: "Click", At: evAt(100_000), Recipient: "ann@example.com", Raw: []byte("raw-Click")}}
		wantMessage(t, db, orgA, msg, want)
		var m2 *domain.Message
		view(t, db, func(tx *Tx) (err error) { m2, err = Message(ctx, tx, orgA, newMsg.MessageID); return err })
		if len(m2.Events) != 1 || len(m2.Recipients) != 1 || m2.Recipients[0].Address != "dee@example.com" {
			t.Errorf("new message after migration = %+v", m2)
		}
		var n int64
		view(t, db, func(tx *Tx) (err error) { n, err = CountEvents(ctx, tx, orgA); return err })
		if n != 8 {
			t.Errorf("CountEvents(org_a) = %d, want 8", n)
		}
	})
}

// InsertEvents counts every row once, keeps each recipient's strongest
// status whatever the order of arrival, and keeps organisations apart when
// they share an SES message id.
func TestInsertEvents(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		db := openTestDB(t, e)
		row := func(key byte, org, typ, rcpt string, at time.Time, raw bool) EventRow {
			r := EventRow{Key: rowKey(key), OrgID: org, ConnectionID: "conn-" + org, MessageID: "m-1", Type: typ, At: at, Recipient: rcpt,
				Subject: "Hello " + org, MailTime: evAt(0)}
			if raw {
				r.Raw = []byte{key}
			}
			return r
		}
		batches := [][]EventRow{
			// Delivery before its Send; the same Delivery twice in one call.
			{row(1, "a", "Delivery", "ann@example.com", evAt(2_000), true), row(1, "a", "Delivery", "ann@example.com", evAt(2_000), true)},
			{row(2, "a", "Send", "ann@example.com", evAt(0), true), row(3, "a", "Send", "bob@example.com", evAt(0), false),
				row(4, "b", "Send", "cy@example.com", evAt(0), true)},
			// Both again, in another call.
			{row(2, "a", "Send", "ann@example.com", evAt(0), true), row(3, "a", "Send", "bob@example.com", evAt(0), false),
				row(1, "a", "Delivery", "ann@example.com", evAt(2_000), true)},
		}
		wantInserted := [][]bool{{true, false}, {true, true, true}, {false, false, false}}
		for i, b := range batches {
			var got []bool
			ensureOrgs(t, db, b)
			update(t, db, func(tx *Tx) (err error) { got, err = InsertEvents(ctx, tx, b); return err })
			if !slices.Equal(got, wantInserted[i]) {
				t.Errorf("batch %d: inserted %v, want %v", i, got, wantInserted[i])
			}
		}
		var m *domain.Message
		view(t, db, func(tx *Tx) (err error) { m, err = Message(ctx, tx, "a", "m-1"); return err })
		var got []string
		for _, ev := range m.Events {
			got = append(got, ev.Type+" "+ev.Recipient)
		}
		if want := []string{"Send ann@example.com", "Send bob@example.com", "Delivery ann@example.com"}; !reflect.DeepEqual(got, want) {
			t.Errorf("events of org a = %q, want %q", got, want)
		}
		if len(m.Recipients) != 2 || m.Recipients[0].Status != domain.StatusDelivered || m.Recipients[1].Status != domain.StatusSent {
			t.Errorf("recipients of org a = %+v, want ann delivered, bob sent", m.Recipients)
		}
		if m.Subject != "Hello a" || m.ConnectionID != "conn-a" || !m.FirstEventAt.Equal(evAt(0)) || !m.LastEventAt.Equal(evAt(2_000)) {
			t.Errorf("message of org a = %+v", m)
		}
		view(t, db, func(tx *Tx) (err error) { m, err = Message(ctx, tx, "b", "m-1"); return err })
		if m.Subject != "Hello b" || len(m.Events) != 1 || m.Events[0].Recipient != "cy@example.com" || len(m.Recipients) != 1 {
			t.Errorf("message of org b = %+v", m)
		}
		view(t, db, func(tx *Tx) error {
			_, err := Message(ctx, tx, "c", "m-1")
			wantCode(t, "message of another organisation", err, domain.ENotFound)
			return nil
		})
	})
}

func wantMessage(t *testing.T, db *DB, org, id string, want *domain.Message) {
	t.Helper()
	var got *domain.Message
	view(t, db, func(tx *Tx) (err error) { got, err = Message(t.Context(), tx, org, id); return err })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Message(%s, %s):\n got %+v\nwant %+v", org, id, got, want)
	}
}

// A message first stored from an event without its headers (a Delivery
// that arrived before its Send, here with none of them) takes them from
// the first event that has them, and is then found by them; a later event
// with other values changes nothing but the message's event times. On
// SQLite the later events take the statement that assigns only those
// times (upsertMessages), which must still move them.
func TestInsertEventsFillsMessage(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		db := openTestDB(t, e)
		bare := EventRow{Key: rowKey(1), OrgID: "a", ConnectionID: "conn-a", MessageID: "m-1", Type: "Delivery", At: evAt(3_000),
			Recipient: "ann@example.com", Raw: []byte{1}}
		full := EventRow{Key: rowKey(2), OrgID: "a", ConnectionID: "conn-a", MessageID: "m-1", Type: "Send", At: evAt(1_000),
			Recipient: "ann@example.com", Raw: []byte{2}, Sender: "news@mail.shop.example", SendingDomain: "mail.shop.example",
			Subject: "Spring sale", ConfigSet: "marketing", Template: "spring", Tags: `{"campaign":["spring"]}`, MailTime: evAt(0)}
		other := full
		other.Key, other.Type, other.At, other.Raw = rowKey(3), "Open", evAt(9_000), []byte{3}
		other.Subject, other.ConfigSet, other.Tags = "Summer sale", "other", `{"campaign":["summer"]}`
		// Another message stored with every header but its template, which
		// a later event brings: that alone takes the statement that fills.
		noTemplate := full
		noTemplate.Key, noTemplate.MessageID, noTemplate.Template = rowKey(4), "m-2", ""
		withTemplate := noTemplate
		withTemplate.Key, withTemplate.Type, withTemplate.At, withTemplate.Template = rowKey(5), "Delivery", evAt(4_000), "autumn"
		for _, b := range [][]EventRow{{bare}, {full}, {other}, {noTemplate}, {withTemplate}} {
			ensureOrgs(t, db, b)
			update(t, db, func(tx *Tx) error { _, err := InsertEvents(ctx, tx, b); return err })
		}
		var m2 *domain.Message
		view(t, db, func(tx *Tx) (err error) { m2, err = Message(ctx, tx, "a", "m-2"); return err })
		if m2.Template != "autumn" || !m2.LastEventAt.Equal(evAt(4_000)) {
			t.Errorf("m-2: template %q, last event %v; want autumn, %v", m2.Template, m2.LastEventAt, evAt(4_000))
		}
		var m *domain.Message
		view(t, db, func(tx *Tx) (err error) { m, err = Message(ctx, tx, "a", "m-1"); return err })
		if m.Subject != "Spring sale" || m.Sender != full.Sender || m.SendingDomain != full.SendingDomain || m.ConfigSet != "marketing" ||
			m.Template != "spring" || m.Tags != full.Tags || m.SentAt == nil || !m.SentAt.Equal(evAt(3_000)) {
			// The send time is the first stored event's (its mail.timestamp,
			// or its own time without one), kept: the search orders on it.
			t.Errorf("message = %+v, want the Send's headers and the Delivery's time as sent", m)
		}
		if !m.FirstEventAt.Equal(evAt(1_000)) || !m.LastEventAt.Equal(evAt(9_000)) || len(m.Events) != 3 {
			t.Errorf("message times %v–%v with %d events, want %v–%v with 3", m.FirstEventAt, m.LastEventAt, len(m.Events), evAt(1_000), evAt(9_000))
		}
		for _, f := range []MessageSearch{
			{Subject: []SubjectTerm{{Word: "spring"}}},
			{Tags: []Tag{{"campaign", "spring"}}},
			{ConfigSet: "marketing"},
			{Template: "spring"},
			{Sender: full.Sender},
		} {
			var rows []SearchRow
			view(t, db, func(tx *Tx) (err error) { rows, err = SearchMessages(ctx, tx, "a", &f, nil, 10); return err })
			if !slices.ContainsFunc(rows, func(r SearchRow) bool { return r.MessageID == "m-1" }) {
				t.Errorf("search %+v: %d rows, none of them m-1", f, len(rows))
			}
		}
		for _, f := range []MessageSearch{{Subject: []SubjectTerm{{Word: "summer"}}}, {Tags: []Tag{{"campaign", "summer"}}}, {ConfigSet: "other"}} {
			var rows []SearchRow
			view(t, db, func(tx *Tx) (err error) { rows, err = SearchMessages(ctx, tx, "a", &f, nil, 10); return err })
			if len(rows) != 0 {
				t.Errorf("search %+v: %d rows, want none (the later event's values are not the message's)", f, len(rows))
			}
		}
	})
}

// Migration 0017 copies the messages of existing organisations with their
// ids; a message of an organisation that does not exist is dropped with
// its events, so that none of them joins the message later given its id.
func TestOrgNumbersMigrationOrphans(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		db := openTestDBAt(t, e, 16)
		key := "?"
		if db.Engine == Postgres {
			key = "encode(?::bytea, 'hex')::uuid"
		}
		update(t, db, func(tx *Tx) error {
			if err := CreateOrg(ctx, tx, &domain.Org{ID: "org_a", Name: "A"}); err != nil {
				return err
			}
			for i, org := range []string{"org_a", "org_gone"} {
				var ref int64
				if err := tx.QueryRow(ctx, `INSERT INTO ses_messages (org_id, message_id, connection_id, sent_at, first_event_at, last_event_at)
					VALUES (?, ?, 'conn-1', ?, ?, ?) RETURNING id`, org, "m-"+org, msTime(evAt(i)), msTime(evAt(i)), msTime(evAt(i))).Scan(&ref); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO message_recipients (org_id, message_ref, recipient, domain, status, status_rank, status_at, last_event_at, sent_at)
					VALUES (?, ?, 'ann@example.com', 'example.com', 'sent', 1, ?, ?, ?)`, org, ref, msTime(evAt(i)), msTime(evAt(i)), msTime(evAt(i))); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO events (row_key, message_ref, type, at, recipient) VALUES (`+key+`, ?, 'Send', ?, 'ann@example.com')`,
					rowKey(byte(i+1)), ref, msTime(evAt(i))); err != nil {
					return err
				}
			}
			return nil
		})
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var orphans, events int
		view(t, db, func(tx *Tx) error {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM events WHERE message_ref NOT IN (SELECT id FROM ses_messages)`).Scan(&orphans); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&events)
		})
		if orphans != 0 || events != 1 {
			t.Errorf("after 0017: %d events, %d of them without a message; want 1 and 0", events, orphans)
		}
		// A new message takes an id none of the old events has.
		row := EventRow{Key: rowKey(9), OrgID: "org_a", ConnectionID: "conn-1", MessageID: "m-new", Type: "Send", At: evAt(5), Recipient: "bob@example.com", Raw: []byte{9}}
		update(t, db, func(tx *Tx) error { _, err := InsertEvents(ctx, tx, []EventRow{row}); return err })
		for id, want := range map[string]int{"m-org_a": 1, "m-new": 1} {
			var m *domain.Message
			view(t, db, func(tx *Tx) (err error) { m, err = Message(ctx, tx, "org_a", id); return err })
			if len(m.Events) != want || len(m.Recipients) != 1 {
				t.Errorf("message %s after 0017: %d events, %d recipients; want %d and 1", id, len(m.Events), len(m.Recipients), want)
			}
		}
	})
}
