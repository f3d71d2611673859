package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/testutil/testdb"
)

// statsDB opens a migrated database of the engine.
func statsDB(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// statsRow is an event row as ingest builds it; n makes its key unique.
func statsRow(n int, org, msg, typ, rcpt string, at time.Time, tags string) EventRow {
	key := make([]byte, 16)
	copy(key, fmt.Sprintf("%016d", n))
	return EventRow{Key: key, OrgID: org, ConnectionID: "conn-1", MessageID: msg, Type: typ, At: at, Recipient: rcpt,
		Sender: "news@shop.example", SendingDomain: "shop.example", ConfigSet: "marketing", Template: "welcome", Tags: tags, MailTime: at, Raw: []byte("raw")}
}

// ensureOrgs stores the organisations of rows that are not stored yet, as
// ingest finds them stored: the tables derived from messages are keyed by
// their number (orgs.num).
func ensureOrgs(t testing.TB, db *DB, rows []EventRow) {
	t.Helper()
	if err := db.Update(t.Context(), func(tx *Tx) error {
		seen := map[string]bool{}
		for _, r := range rows {
			if seen[r.OrgID] {
				continue
			}
			seen[r.OrgID] = true
			if _, err := OrgByID(t.Context(), tx, r.OrgID); err == nil {
				continue
			}
			if err := CreateOrg(t.Context(), tx, &domain.Org{ID: r.OrgID, Name: r.OrgID}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func insertRows(t *testing.T, db *DB, rows []EventRow) []bool {
	t.Helper()
	ensureOrgs(t, db, rows)
	var ins []bool
	update(t, db, func(tx *Tx) (err error) {
		ins, err = InsertEvents(t.Context(), tx, rows)
		return err
	})
	return ins
}

func tagsJSON(t *testing.T, m map[string][]string) string {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func tagCounts(t *testing.T, db *DB, org string, from, to time.Time) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	view(t, db, func(tx *Tx) error {
		cs, err := RollupCounts(t.Context(), tx, org, from, to, ByTag)
		for _, c := range cs {
			out[c.Key+"="+c.Value+"/"+c.Type] += c.N
		}
		return err
	})
	return out
}

// The tag rollup counts a message's first ten tags, cuts long keys and
// values, and counts at most MaxTagKeysPerHour keys and
// MaxTagValuesPerHour values of a key per organisation and hour: a tag with
// a value per message cannot grow it like the events.
func TestTagRollupCaps(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		db := statsDB(t, e.DSN)
		hour := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

		// Twelve tags on one message: the first ten by key count.
		many := map[string][]string{}
		for i := range 12 {
			many[fmt.Sprintf("k%02d", i)] = []string{"v"}
		}
		many["k00"] = []string{strings.Repeat("é", 150)}
		insertRows(t, db, []EventRow{statsRow(1, "org_a", "m-many", "Send", "ann@example.com", hour.Add(time.Minute), tagsJSON(t, many))})
		got := tagCounts(t, db, "org_a", hour, hour.Add(time.Hour))
		if len(got) != MaxTagsPerMessage {
			t.Fatalf("%d tag cells for a message of 12 tags, want %d: %v", len(got), MaxTagsPerMessage, got)
		}
		if got["k00="+strings.Repeat("é", MaxTagLength)+"/Send"] != 1 || got["k09=v/Send"] != 1 || got["k10=v/Send"] != 0 {
			t.Fatalf("tags counted: %v", got)
		}

		// A value per message: 105 messages of one hour, each a Send and a
		// Delivery (and one repeated event, a duplicate counted once).
		var rows []EventRow
		for i := range 105 {
			tags := tagsJSON(t, map[string][]string{"msg_id": {fmt.Sprintf("id-%03d", i)}, "campaign": {"spring"}})
			at := hour.Add(2*time.Hour + time.Duration(i)*time.Second)
			rows = append(rows, statsRow(1000+2*i, "org_a", fmt.Sprintf("m-%03d", i), "Send", "bob@example.com", at, tags),
				statsRow(1001+2*i, "org_a", fmt.Sprintf("m-%03d", i), "Delivery", "bob@example.com", at.Add(time.Second), tags))
		}
		insertRows(t, db, rows[:150])
		insertRows(t, db, append(rows[149:], rows[0]))
		h2 := hour.Add(2 * time.Hour)
		got = tagCounts(t, db, "org_a", h2, h2.Add(time.Hour))
		values := 0
		for k := range got {
			if strings.HasPrefix(k, "msg_id=id-") && strings.HasSuffix(k, "/Send") {
				values++
			}
		}
		if values != MaxTagValuesPerHour || got["msg_id=/Send"] != 5 || got["msg_id=/Delivery"] != 5 || got["msg_id=id-000/Send"] != 1 {
			t.Fatalf("%d values of msg_id counted, other values %d sends and %d deliveries; want %d and 5", values, got["msg_id=/Send"], got["msg_id=/Delivery"], MaxTagValuesPerHour)
		}
		if got["campaign=spring/Send"] != 105 || got["campaign=spring/Delivery"] != 105 {
			t.Fatalf("campaign counted %d sends, %d deliveries; want 105 each", got["campaign=spring/Send"], got["campaign=spring/Delivery"])
		}
		// The next hour starts afresh.
		insertRows(t, db, []EventRow{statsRow(5000, "org_a", "m-next", "Send", "cy@example.com", h2.Add(time.Hour),
			tagsJSON(t, map[string][]string{"msg_id": {"id-new"}}))})
		if got := tagCounts(t, db, "org_a", h2.Add(time.Hour), h2.Add(2*time.Hour)); got["msg_id=id-new/Send"] != 1 {
			t.Fatalf("next hour: %v", got)
		}

		// Keys: 25 messages with a key of their own in one hour.
		h4 := hour.Add(4 * time.Hour)
		rows = nil
		for i := range 25 {
			rows = append(rows, statsRow(6000+i, "org_a", fmt.Sprintf("k-%02d", i), "Send", "dan@example.com", h4.Add(time.Duration(i)*time.Second),
				tagsJSON(t, map[string][]string{fmt.Sprintf("key%02d", i): {"x"}})))
		}
		insertRows(t, db, rows)
		got = tagCounts(t, db, "org_a", h4, h4.Add(time.Hour))
		if len(got) != MaxTagKeysPerHour+1 || got["=/Send"] != 5 || got["key00=x/Send"] != 1 {
			t.Fatalf("25 keys in an hour: %d cells, other tags %d; want %d and 5: %v", len(got), got["=/Send"], MaxTagKeysPerHour+1, got)
		}
		// Another organisation's hour has caps of its own.
		if got := tagCounts(t, db, "org_b", hour, h4.Add(time.Hour)); len(got) != 0 {
			t.Fatalf("org_b sees %v", got)
		}
	})
}

// Bounces and complaints are rolled up with their sub-type and status code;
// rollups group by hour and day in UTC on both engines.
func TestFeedbackRollupAndGroups(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		db := statsDB(t, e.DSN)
		day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
		bounce := func(n int, rcpt, bt, sub, diag string, at time.Time) EventRow {
			r := statsRow(n, "org_a", fmt.Sprintf("b-%d", n), "Bounce", rcpt, at, "")
			r.BounceType, r.BounceSub, r.Diagnostic = bt, sub, diag
			return r
		}
		complaint := statsRow(9, "org_a", "c-9", "Complaint", "eve@yahoo.com", day.Add(25*time.Hour), "")
		complaint.BounceSub = "OnAccountSuppressionList"
		rows := []EventRow{
			bounce(1, "ann@gmail.com", "Permanent", "General", "smtp; 550 5.1.1 user unknown", day.Add(23*time.Hour+59*time.Minute)),
			bounce(2, "bob@gmail.com", "Permanent", "General", "smtp; 550-5.1.1 The email account does not exist", day.Add(23*time.Hour)),
			bounce(3, "cy@outlook.com", "Permanent", "OnAccountSuppressionList", "Amazon SES did not send the message to this address because it is on the suppression list for your account.", day.Add(24*time.Hour)),
			bounce(4, "dan@gmail.com", "Transient", "General", "", day.Add(24*time.Hour)),
			complaint,
			statsRow(10, "org_a", "s-10", "Send", "fay@gmail.com", day.Add(30*time.Minute), ""),
		}
		insertRows(t, db, rows)
		insertRows(t, db, rows[:2]) // duplicates add nothing

		var fb []FeedbackCount
		view(t, db, func(tx *Tx) (err error) {
			fb, err = FeedbackCounts(t.Context(), tx, "org_a", day, day.Add(48*time.Hour), ByRecipientDomain)
			return err
		})
		got := map[string]int64{}
		for _, c := range fb {
			got[strings.Join([]string{c.Key, c.Type, c.BounceType, c.SubType, c.StatusCode}, "|")] += c.N
		}
		want := map[string]int64{
			"gmail.com|Bounce|Permanent|General|5.1.1":               2,
			"outlook.com|Bounce|Permanent|OnAccountSuppressionList|": 1,
			"gmail.com|Bounce|Transient|General|":                    1,
			"yahoo.com|Complaint||OnAccountSuppressionList|":         1,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("feedback rollup:\n got %v\nwant %v", got, want)
		}

		for _, c := range []struct {
			by   Dim
			want []string
		}{
			{ByDay, []string{"2026-03-10 Bounce Permanent 2", "2026-03-10 Send  1", "2026-03-11 Bounce Permanent 1", "2026-03-11 Bounce Transient 1", "2026-03-11 Complaint  1"}},
			{ByHour, []string{"2026-03-10T00 Send  1", "2026-03-10T23 Bounce Permanent 2", "2026-03-11T00 Bounce Permanent 1", "2026-03-11T00 Bounce Transient 1", "2026-03-11T01 Complaint  1"}},
			{ByNone, []string{" Bounce Permanent 3", " Bounce Transient 1", " Complaint  1", " Send  1"}},
			{ByTemplate, []string{"welcome Bounce Permanent 3", "welcome Bounce Transient 1", "welcome Complaint  1", "welcome Send  1"}},
		} {
			var rc []RollupCount
			view(t, db, func(tx *Tx) (err error) {
				rc, err = RollupCounts(t.Context(), tx, "org_a", day, day.Add(48*time.Hour), c.by)
				return err
			})
			var lines []string
			for _, r := range rc {
				lines = append(lines, fmt.Sprintf("%s %s %s %d", r.Key, r.Type, r.BounceType, r.N))
			}
			slices.Sort(lines)
			if !slices.Equal(lines, c.want) {
				t.Errorf("by %q:\n got %q\nwant %q", c.by, lines, c.want)
			}
		}
		// The range is [from, to) in whole hours.
		var rc []RollupCount
		view(t, db, func(tx *Tx) (err error) {
			rc, err = RollupCounts(t.Context(), tx, "org_a", day.Add(23*time.Hour), day.Add(24*time.Hour), ByNone)
			return err
		})
		if len(rc) != 1 || rc[0].N != 2 || rc[0].Type != "Bounce" {
			t.Fatalf("one hour: %+v", rc)
		}
	})
}

// Migration 0010 rolls up the bounces and complaints stored before it, and
// the organisations' totals per hour of rollups_hourly.
func TestFeedbackRollupMigration(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		db := openTestDBAt(t, e, 9)
		at := time.Date(2026, 3, 10, 9, 41, 5, 123e6, time.UTC)
		update(t, db, func(tx *Tx) error {
			if err := CreateOrg(ctx, tx, &domain.Org{ID: "org_a", Name: "A"}); err != nil {
				return err
			}
			var ref int64
			if err := tx.QueryRow(ctx, `INSERT INTO ses_messages (org_id, message_id, connection_id, sender, sending_domain, subject, config_set, template, tags, sent_at, first_event_at, last_event_at)
				VALUES ('org_a', 'm-1', 'conn-1', 'news@shop.example', 'shop.example', 'Hi', 'marketing', 'welcome', '', ?, ?, ?) RETURNING id`,
				msTime(at), msTime(at), msTime(at)).Scan(&ref); err != nil {
				return err
			}
			for _, r := range []string{"ann@gmail.com", "bob@yahoo.com"} {
				if _, err := tx.Exec(ctx, `INSERT INTO message_recipients (org_id, message_ref, recipient, domain, status, status_rank, status_at, last_event_at)
					VALUES ('org_a', ?, ?, ?, 'bounced_hard', 7, ?, ?)`, ref, r, domainOf(r), msTime(at), msTime(at)); err != nil {
					return err
				}
			}
			key := "?"
			if db.Engine == Postgres {
				key = "encode(?::bytea, 'hex')::uuid"
			}
			for i, ev := range []struct{ typ, rcpt, bt, sub string }{
				{"Send", "ann@gmail.com", "", ""},
				{"Bounce", "ann@gmail.com", "Permanent", "General"},
				{"Bounce", "bob@yahoo.com", "Permanent", "General"},
				{"Complaint", "bob@yahoo.com", "", ""},
			} {
				if _, err := tx.Exec(ctx, `INSERT INTO events (row_key, message_ref, type, at, recipient, bounce_type, bounce_subtype, diagnostic) VALUES (`+key+`, ?, ?, ?, ?, ?, ?, 'smtp; 550 5.1.1 unknown')`,
					rowKey(byte(i+1)), ref, ev.typ, msTime(at), ev.rcpt, ev.bt, ev.sub); err != nil {
					return err
				}
			}
			// The Send's hourly rollup, for the totals per hour.
			_, err := tx.Exec(ctx, `INSERT INTO rollups_hourly (org_id, hour, connection_id, config_set, sending_domain, template, recipient_domain, event_type, bounce_type, count)
				VALUES ('org_a', ?, 'conn-1', 'marketing', 'shop.example', 'welcome', 'gmail.com', 'Send', '', 1), ('org_a', ?, 'conn-1', 'marketing', 'shop.example', 'welcome', 'yahoo.com', 'Send', '', 2)`,
				at.Truncate(time.Hour), at.Truncate(time.Hour))
			return err
		})
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var rc []RollupCount
		view(t, db, func(tx *Tx) (err error) {
			rc, err = RollupCounts(ctx, tx, "org_a", at.Truncate(24*time.Hour), at.Truncate(24*time.Hour).Add(24*time.Hour), ByDay)
			return err
		})
		if len(rc) != 1 || rc[0].Key != "2026-03-10" || rc[0].Type != "Send" || rc[0].N != 3 {
			t.Fatalf("totals per day after 0010: %+v", rc)
		}
		var fb []FeedbackCount
		view(t, db, func(tx *Tx) (err error) {
			fb, err = FeedbackCounts(ctx, tx, "org_a", at.Truncate(time.Hour), at.Truncate(time.Hour).Add(time.Hour), ByRecipientDomain)
			return err
		})
		var got []string
		for _, c := range fb {
			got = append(got, fmt.Sprintf("%s %s %s %s %q %d", c.Key, c.Type, c.BounceType, c.SubType, c.StatusCode, c.N))
		}
		slices.Sort(got)
		want := []string{`gmail.com Bounce Permanent General "" 1`, `yahoo.com Bounce Permanent General "" 1`, `yahoo.com Complaint   "" 1`}
		if !slices.Equal(got, want) {
			t.Fatalf("after 0010:\n got %q\nwant %q", got, want)
		}
	})
}

// Two transactions counting new values of one tag in the same hour at once
// (several writers on PostgreSQL) still count at most MaxTagValuesPerHour:
// the second waits for the first to commit before it reads the hour's
// values.
func TestTagRollupCapsConcurrent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		db := statsDB(t, e.DSN)
		hour := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
		// Recipients at different domains: the two share no rollups_hourly
		// row, whose lock would order them anyway.
		batch := func(first int, rcpt string) []EventRow {
			var rows []EventRow
			for i := first; i < first+60; i++ {
				rows = append(rows, statsRow(i, "org_a", fmt.Sprintf("m-%03d", i), "Send", rcpt, hour.Add(time.Duration(i)*time.Second),
					tagsJSON(t, map[string][]string{"msg_id": {fmt.Sprintf("id-%03d", i)}})))
			}
			return rows
		}
		ensureOrgs(t, db, batch(0, "ann@example.com"))
		ensureOrgs(t, db, batch(100, "bob@example.net"))
		inserted, release := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- db.Update(t.Context(), func(tx *Tx) error {
				if _, err := InsertEvents(t.Context(), tx, batch(0, "ann@example.com")); err != nil {
					return err
				}
				close(inserted)
				<-release // commit later
				return nil
			})
		}()
		select {
		case <-inserted:
		case err := <-first: // failed before it inserted: nothing to wait for
			t.Fatalf("first transaction: %v", err)
		}
		second := make(chan error, 1)
		go func() {
			second <- db.Update(t.Context(), func(tx *Tx) error {
				_, err := InsertEvents(t.Context(), tx, batch(100, "bob@example.net"))
				return err
			})
		}()
		time.Sleep(300 * time.Millisecond) // the second transaction reaches the tags
		close(release)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if err := <-second; err != nil {
			t.Fatal(err)
		}
		got := tagCounts(t, db, "org_a", hour, hour.Add(time.Hour))
		values := 0
		for k := range got {
			if strings.HasPrefix(k, "msg_id=id-") {
				values++
			}
		}
		if values != MaxTagValuesPerHour || got["msg_id=/Send"] != 20 {
			t.Fatalf("%d values counted and %d other values; want %d and 20", values, got["msg_id=/Send"], MaxTagValuesPerHour)
		}
	})
}
