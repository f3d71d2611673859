package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"sendops/internal/rawjson"
	"sendops/internal/sesevent"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

// The raw JSON of every stored event reads back exactly, on both engines:
// each SES example as a message of its own, and the events of one message
// that share its mail object (the send event without SES's outgoing-IP tag,
// the later ones with it), after an event stored whole as SendOps did
// before schema 0015. The message keeps one copy of the mail object, and
// its events take much less than whole.
func TestRawJSONRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		ctx := context.Background()
		env := newWriterEnv(t, e, Options{})
		read := func(id string) [][]byte {
			t.Helper()
			var raws [][]byte
			if err := env.db.View(ctx, func(tx *store.Tx) error {
				m, err := store.Message(ctx, tx, env.conn.OrgID, id)
				if err != nil {
					return err
				}
				for _, e := range m.Events {
					if e.Raw != nil {
						raws = append(raws, e.Raw)
					}
				}
				return nil
			}); err != nil {
				t.Fatalf("%s: read back: %v", id, err)
			}
			return raws
		}
		files, err := filepath.Glob("../sesevent/testdata/event/*.json")
		if err != nil || len(files) == 0 {
			t.Fatalf("no SES examples: %v", err)
		}
		for i, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := sesevent.Parse(b)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			// One message per file, so that each is read back on its own.
			id := fmt.Sprintf("example-%02d", i)
			if ev.Mail.MessageID != "" {
				b = bytes.ReplaceAll(b, []byte(ev.Mail.MessageID), []byte(id))
				if ev, err = sesevent.Parse(b); err != nil {
					t.Fatal(err)
				}
			} else {
				ev.Mail.MessageID = id
			}
			if _, err := env.w.Write(ctx, env.conn, ev); err != nil {
				t.Fatalf("%s: write: %v", f, err)
			}
			if raws := read(id); len(raws) != 1 || !bytes.Equal(raws[0], b) {
				t.Errorf("%s: stored raw JSON = %.60q (%d events); want the event as received", f, raws, len(raws))
			}
		}

		// One message's events. The first was stored whole, by an older
		// version: its message has no mail object yet.
		const id = "0102019a00000001-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000"
		bodies := messageEvents(id)
		old, err := sesevent.Parse(bodies[0])
		if err != nil {
			t.Fatal(err)
		}
		rows, err := env.w.Rows(ctx, env.conn, old)
		if err != nil {
			t.Fatal(err)
		}
		rows[0].Raw, rows[0].Split = rawjson.Compress(bodies[0]), nil
		if err := env.db.Update(ctx, func(tx *store.Tx) error { _, err := store.InsertEvents(ctx, tx, rows); return err }); err != nil {
			t.Fatal(err)
		}
		for _, b := range append(bodies[1:], bodies[2]) { // the last again: a duplicate
			ev, err := sesevent.Parse(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if _, err := env.w.Write(ctx, env.conn, ev); err != nil {
				t.Fatal(err)
			}
		}
		raws := read(id)
		if len(raws) != len(bodies) {
			t.Fatalf("%d events read back, want %d", len(raws), len(bodies))
		}
		for i := range bodies {
			if !bytes.Equal(raws[i], bodies[i]) {
				t.Errorf("event %d: stored raw JSON = %q; want %q", i, raws[i], bodies[i])
			}
		}
		var mail []byte
		var stored, whole int
		if err := env.db.View(ctx, func(tx *store.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT mail FROM ses_messages WHERE org_num = (SELECT num FROM orgs WHERE id = ?) AND message_id = ?`, env.conn.OrgID, id).Scan(&mail); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT sum(length(raw)) FROM events WHERE raw IS NOT NULL AND message_ref = (SELECT id FROM ses_messages WHERE message_id = ?)`, id).Scan(&stored)
		}); err != nil {
			t.Fatal(err)
		}
		for _, b := range bodies {
			whole += len(rawjson.Compress(b))
		}
		if got, err := rawjson.MailOf(mail); err != nil || !bytes.Contains(bodies[1], got) {
			t.Errorf("the message's mail object = %.60q, %v; want the first one stored with it (the delivery's)", got, err)
		}
		if stored*10 > whole*6 {
			t.Errorf("the events take %d bytes stored, %d compressed whole: want under 60 %%", stored, whole)
		}
	})
}

// messageEvents returns the JSON of a message's events as SES publishes
// them: a send, then a delivery, an open and a click whose mail objects
// carry one more tag.
func messageEvents(id string) [][]byte {
	mail := func(outgoing string) string {
		return `{"timestamp":"2026-11-20T10:00:00.000Z","source":"receipts@mail.shop.test","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/mail.shop.test",` +
			`"sendingAccountId":"123456789012","messageId":"` + id + `","destination":["ann.lee@example.com"],"headersTruncated":false,` +
			`"headers":[{"name":"From","value":"receipts@mail.shop.test"},{"name":"To","value":"ann.lee@example.com"},{"name":"Subject","value":"Your order 4711 has shipped"},` +
			`{"name":"MIME-Version","value":"1.0"},{"name":"Content-Type","value":"multipart/alternative; boundary=\"----=_Part_81\""}],` +
			`"commonHeaders":{"from":["receipts@mail.shop.test"],"to":["ann.lee@example.com"],"messageId":"` + id + `","subject":"Your order 4711 has shipped"},` +
			`"tags":{"ses:configuration-set":["transactional"],"ses:from-domain":["mail.shop.test"],` + outgoing + `"ses:source-ip":["203.0.113.17"]}}`
	}
	const ip = `"ses:outgoing-ip":["54.240.8.42"],`
	return [][]byte{
		[]byte(`{"eventType":"Send","mail":` + mail("") + `,"send":{}}`),
		[]byte(`{"eventType":"Delivery","mail":` + mail(ip) + `,"delivery":{"timestamp":"2026-11-20T10:00:01.200Z","processingTimeMillis":1200,` +
			`"recipients":["ann.lee@example.com"],"smtpResponse":"250 2.0.0 OK","remoteMtaIp":"198.51.100.7","reportingMTA":"a8-42.smtp-out.amazonses.com"}}`),
		[]byte(`{"eventType":"Open","mail":` + mail(ip) + `,"open":{"timestamp":"2026-11-20T10:05:00.000Z","userAgent":"Mozilla/5.0","ipAddress":"192.0.2.1"}}`),
		[]byte(`{"eventType":"Click","mail":` + mail(ip) + `,"click":{"timestamp":"2026-11-20T10:06:00.000Z","ipAddress":"192.0.2.1","userAgent":"Mozilla/5.0",` +
			`"link":"https://shop.test/orders/4711","linkTags":{}}}`),
	}
}
