package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/rawjson"
)

// EventRow is one SES event for one recipient, ready to store. The ingest
// package builds them from parsed events.
type EventRow struct {
	Key          []byte // 16 bytes: organisation, event identity, recipient
	OrgID        string
	ConnectionID string
	MessageID    string
	Type         string
	At           time.Time
	Recipient    string // lower-case; "" when the event names none
	BounceType   string
	BounceSub    string
	Diagnostic   string
	ReportingMTA string
	Complaint    string
	Link         string
	UserAgent    string
	IP           string
	Raw          []byte // compressed raw event (rawjson); on the first row of an event only
	// Split is instead of Raw for an event whose mail object the message
	// keeps (rawjson.Encode): InsertEvents sets Raw from it.
	Split *rawjson.Split

	// Of the message.
	Sender, SendingDomain, Subject, ConfigSet, Template, Tags string
	MailTime                                                  time.Time

	// RecipientHash is the HMAC of Recipient under the organisation's key.
	RecipientHash []byte
}

// dialect helpers.
func (tx *Tx) least() string {
	if tx.engine == Postgres {
		return "LEAST"
	}
	return "min"
}

func (tx *Tx) greatest() string {
	if tx.engine == Postgres {
		return "GREATEST"
	}
	return "max"
}

// chunk is how many rows one multi-row statement carries at most.
const chunk = 250

// chunks yields s in parts of chunk elements for a multi-row statement on
// engine e. On SQLite the rest comes in parts whose sizes are powers of
// two: each statement then has a few texts only, which SQLite's writer
// keeps prepared (stmtCache), instead of a new text for almost every
// batch. On PostgreSQL each part is a round trip, so the rest is one part.
func chunks[S ~[]E, E any](e Engine, s S) iter.Seq[S] {
	return func(yield func(S) bool) {
		for len(s) > 0 {
			n := min(chunk, len(s))
			if e == SQLite && n < chunk {
				n = 1 << (bits.Len(uint(n)) - 1)
			}
			if !yield(s[:n:n]) {
				return
			}
			s = s[n:]
		}
	}
}

// values returns "(?, ?, …), (…)" for n rows of width columns.
func values(n, width int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// msgKey names a message: organisation and SES message id.
type msgKey struct{ org, id string }

func (a msgKey) less(b msgKey) bool { return a.org < b.org || a.org == b.org && a.id < b.id }

// InsertEvents stores rows once each: a row whose key is stored already (or
// repeats an earlier row of the same call) is a duplicate and adds nothing
// to the events, the recipient index, the rollups or the per-recipient
// analytics. For the new rows it updates, in the same transaction, the
// messages, the recipient index, the hourly rollups and the per-recipient
// analytics. It returns, per row, whether it was new. A message's subject
// words and tags are indexed (subject_words, message_tags) when the message
// is first stored with them.
//
// Locks are taken in one order by every call, so that concurrent
// transactions (several writers on PostgreSQL) cannot deadlock: messages in
// key order, then events in the order of each event's first row key, then
// recipients, subject words and tags, rollups (hourly; totals; by tag,
// after PostgreSQL advisory locks of the organisations' hours; of bounces
// and complaints; daily) and analytics, each in key order.
func InsertEvents(ctx context.Context, tx *Tx, rows []EventRow) ([]bool, error) {
	inserted := make([]bool, len(rows))
	seen := make(map[string]bool, len(rows))
	var fresh []int
	for i := range rows {
		k := string(rows[i].Key)
		if !seen[k] {
			seen[k] = true
			fresh = append(fresh, i)
		}
	}
	if len(fresh) == 0 {
		return inserted, nil
	}
	// The messages come first: an event row refers to its message's id. A
	// message upsert from an event stored already changes nothing (its
	// times, subject and tags were taken when the event was stored first).
	refs, sent, mails, indexed, err := upsertMessages(ctx, tx, rows, fresh)
	if err != nil {
		return nil, err
	}
	splitRaws(rows, fresh, mails)
	// In the order of each event's first row key, the rows of one event
	// together and in their own order (the row with the raw JSON first, as
	// Message reads them back).
	group := make([]int, len(rows)) // index of the first row of each row's event
	for i := range rows {
		if i > 0 && rows[i].Raw == nil && rows[i].Split == nil {
			group[i] = group[i-1]
		} else {
			group[i] = i
		}
	}
	sort.SliceStable(fresh, func(a, b int) bool {
		ga, gb := group[fresh[a]], group[fresh[b]]
		if ga != gb {
			return string(rows[ga].Key) < string(rows[gb].Key)
		}
		return fresh[a] < fresh[b]
	})
	if err := insertEventRows(ctx, tx, rows, fresh, refs, inserted); err != nil {
		return nil, err
	}
	var news []*EventRow
	var newRefs []int64
	for i := range rows {
		if inserted[i] {
			news = append(news, &rows[i])
			newRefs = append(newRefs, refs[msgKey{rows[i].OrgID, rows[i].MessageID}])
		}
	}
	if len(news) == 0 {
		return inserted, nil
	}
	if err := upsertRecipients(ctx, tx, news, newRefs, sent); err != nil {
		return nil, err
	}
	if err := insertMessageIndex(ctx, tx, indexed); err != nil {
		return nil, err
	}
	if err := upsertRollups(ctx, tx, news); err != nil {
		return nil, err
	}
	if err := upsertTotalRollups(ctx, tx, news); err != nil {
		return nil, err
	}
	tagCounts, err := upsertTagRollups(ctx, tx, news)
	if err != nil {
		return nil, err
	}
	if err := upsertFeedbackRollups(ctx, tx, news); err != nil {
		return nil, err
	}
	if err := upsertDailyRollups(ctx, tx, news, tagCounts); err != nil {
		return nil, err
	}
	if err := upsertStats(ctx, tx, news); err != nil {
		return nil, err
	}
	return inserted, nil
}

// splitRaws sets the stored raw JSON of the split rows of rows[fresh…]
// against their messages' mail objects (mails: as JSON, by message).
func splitRaws(rows []EventRow, fresh []int, mails map[msgKey][]byte) {
	for _, i := range fresh {
		if r := &rows[i]; r.Split != nil {
			r.Raw = r.Split.Delta(mails[msgKey{r.OrgID, r.MessageID}])
		}
	}
}

// insertEventRows inserts rows[fresh…] (in that order) unless their key is
// stored, and marks the ones it inserted.
func insertEventRows(ctx context.Context, tx *Tx, rows []EventRow, fresh []int, refs map[msgKey]int64, inserted []bool) error {
	const cols = `row_key, message_ref, type, at, recipient, bounce_type, bounce_subtype, diagnostic, reporting_mta, complaint_type, link, user_agent, ip, raw`
	byKey := make(map[string]int, len(fresh))
	if tx.engine == Postgres {
		// One statement with an array per column, whatever the batch size:
		// planned once, and no parameter limit.
		var (
			keys, raws                                   [][]byte
			msgs                                         []int64
			types, rcpts, bts, bss, diags, mtas, cts, ls []string
			uas, ips                                     []string
			ats                                          []time.Time
		)
		for _, i := range fresh {
			r := &rows[i]
			byKey[string(r.Key)] = i
			keys, raws, msgs = append(keys, r.Key), append(raws, r.Raw), append(msgs, refs[msgKey{r.OrgID, r.MessageID}])
			types, ats, rcpts = append(types, r.Type), append(ats, r.At.Truncate(time.Millisecond)), append(rcpts, r.Recipient)
			bts, bss, diags, mtas = append(bts, r.BounceType), append(bss, r.BounceSub), append(diags, r.Diagnostic), append(mtas, r.ReportingMTA)
			cts, ls, uas, ips = append(cts, r.Complaint), append(ls, r.Link), append(uas, r.UserAgent), append(ips, r.IP)
		}
		// row_key is a uuid on PostgreSQL: 16 bytes without a length
		// header, which makes its index entries 24 bytes instead of 32.
		res, err := tx.Query(ctx, `INSERT INTO events (`+cols+`) SELECT encode(k, 'hex')::uuid, m, t, a, r, bt, bs, d, mta, ct, l, ua, ip, raw
			FROM unnest(?::bytea[], ?::bigint[], ?::text[], ?::timestamptz[], ?::text[],
			?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[]) AS u(k, m, t, a, r, bt, bs, d, mta, ct, l, ua, ip, raw)
			ON CONFLICT (row_key) DO NOTHING RETURNING uuid_send(row_key)`,
			keys, msgs, types, ats, rcpts, bts, bss, diags, mtas, cts, ls, uas, ips, raws)
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		return markInserted(res, byKey, inserted)
	}
	for part := range chunks(tx.engine, fresh) {
		args := make([]any, 0, len(part)*14)
		for _, i := range part {
			r := &rows[i]
			byKey[string(r.Key)] = i
			var raw any
			if r.Raw != nil {
				raw = r.Raw
			}
			args = append(args, r.Key, refs[msgKey{r.OrgID, r.MessageID}], r.Type, msTime(r.At), r.Recipient, r.BounceType, r.BounceSub,
				r.Diagnostic, r.ReportingMTA, r.Complaint, r.Link, r.UserAgent, r.IP, raw)
		}
		res, err := tx.Query(ctx, `INSERT INTO events (`+cols+`) VALUES `+values(len(part), 14)+` ON CONFLICT (row_key) DO NOTHING RETURNING row_key`, args...)
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		if err := markInserted(res, byKey, inserted); err != nil {
			return err
		}
	}
	return nil
}

// markInserted reads the keys an insert returned and marks their rows new.
func markInserted(res *sql.Rows, byKey map[string]int, inserted []bool) error {
	defer res.Close()
	for res.Next() {
		var k []byte
		if err := res.Scan(&k); err != nil {
			return err
		}
		inserted[byKey[string(k)]] = true
	}
	return res.Err()
}

type msgAgg struct {
	r           *EventRow
	first, last time.Time
	split       *rawjson.Split // of the first split row, if any
	mailZ       []byte         // its mail object as this call stores it with the message
}

// indexedMessage is a message whose subject or tags this transaction
// stored first: they go into subject_words and message_tags.
type indexedMessage struct {
	org           string
	ref           int64
	sent          time.Time
	subject, tags string // "" when stored before
}

// upsertMessages stores or updates the messages of rows[fresh…] and returns
// their ids, their stored send times (by id), their mail objects (JSON;
// nil for a message without one), and the messages whose subject or tags
// were not stored before. A message's send time and mail object are set
// once, by the first event stored (SES's mail.timestamp, or the event's own
// time when it has none): the message search orders on it.
func upsertMessages(ctx context.Context, tx *Tx, rows []EventRow, fresh []int) (map[msgKey]int64, map[int64]time.Time, map[msgKey][]byte, []indexedMessage, error) {
	agg := map[msgKey]*msgAgg{}
	var order []msgKey
	for _, i := range fresh {
		r := &rows[i]
		k := msgKey{r.OrgID, r.MessageID}
		a, ok := agg[k]
		if !ok {
			a = &msgAgg{r: r, first: r.At, last: r.At}
			agg[k] = a
			order = append(order, k)
		}
		if a.split == nil && r.Split != nil {
			a.split = r.Split
		}
		a.first = minTime(a.first, r.At)
		a.last = maxTime(a.last, r.At)
		if a.r.Subject == "" && r.Subject != "" {
			a.r = r
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].less(order[j]) })
	l, g := tx.least(), tx.greatest()
	keep := func(col string) string {
		return col + ` = CASE WHEN ses_messages.` + col + ` = '' THEN excluded.` + col + ` ELSE ses_messages.` + col + ` END`
	}
	refs := make(map[msgKey]int64, len(order))
	sent := make(map[int64]time.Time, len(order))
	mails := make(map[msgKey][]byte, len(order))
	var indexed []indexedMessage
	nums := orgNums{}
	for part := range chunks(tx.engine, order) {
		// What the stored messages hold already: a subject or tags stored
		// now for the first time are indexed.
		had, err := storedMessages(ctx, tx, nums, part)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		// On SQLite an UPDATE rewrites every index on a column it assigns,
		// whether the value changes or not, and each of ses_messages'
		// search indexes ends in sent_at. A message stored before with
		// every column this call could fill in is updated by a statement
		// that assigns only its event times and mail object. PostgreSQL
		// compares the values (an unchanged row is a HOT update), and its
		// seed runs several writers, which must lock messages in one
		// order: one statement there.
		times := `first_event_at = ` + l + `(ses_messages.first_event_at, excluded.first_event_at),
			last_event_at = ` + g + `(ses_messages.last_event_at, excluded.last_event_at),
			mail = COALESCE(ses_messages.mail, excluded.mail)`
		fill := keep("sender") + `, ` + keep("sending_domain") + `, ` + keep("subject") + `, ` + keep("config_set") + `, ` +
			keep("template") + `, ` + keep("tags") + `, sent_at = COALESCE(ses_messages.sent_at, excluded.sent_at), ` + times
		type group struct {
			keys []msgKey
			set  string // the DO UPDATE assignments
		}
		groups := []group{{part, fill}}
		if tx.engine == SQLite {
			var narrow, wide []msgKey
			for _, k := range part {
				if h, ok := had[k]; ok && !h.fills(agg[k].r) {
					narrow = append(narrow, k)
				} else {
					wide = append(wide, k)
				}
			}
			groups = []group{{narrow, times}, {wide, fill}}
		}
		for _, gr := range groups {
			if len(gr.keys) == 0 {
				continue
			}
			if err := upsertMessageGroup(ctx, tx, nums, gr.keys, gr.set, agg, had, refs, sent, mails, &indexed); err != nil {
				return nil, nil, nil, nil, err
			}
		}
	}
	if len(refs) != len(order) {
		return nil, nil, nil, nil, fmt.Errorf("upsert messages: %d ids returned for %d messages", len(refs), len(order))
	}
	return refs, sent, mails, indexed, nil
}

// upsertMessageGroup stores or updates the messages keys (one statement,
// set: its DO UPDATE assignments) and records what RETURNING names.
func upsertMessageGroup(ctx context.Context, tx *Tx, nums orgNums, keys []msgKey, set string, agg map[msgKey]*msgAgg, had map[msgKey]storedFields,
	refs map[msgKey]int64, sent map[int64]time.Time, mails map[msgKey][]byte, indexed *[]indexedMessage) error {
	args := make([]any, 0, len(keys)*13)
	for _, k := range keys {
		num, err := nums.of(ctx, tx, k.org)
		if err != nil {
			return err
		}
		a := agg[k]
		r := a.r
		sentAt := r.MailTime
		if sentAt.IsZero() {
			sentAt = a.first
		}
		var mail any
		if a.split != nil && !had[k].mail {
			// The message's copy, unless it has one: compressed here,
			// once per message, rather than by every event.
			a.mailZ = rawjson.Compress(a.split.Mail)
			mail = a.mailZ
		}
		args = append(args, num, r.MessageID, r.ConnectionID, r.Sender, r.SendingDomain, r.Subject, r.ConfigSet, r.Template, r.Tags,
			msTime(sentAt), msTime(a.first), msTime(a.last), mail)
	}
	// DO UPDATE (never DO NOTHING) so that RETURNING names every message,
	// stored before or not, with the mail object its events are stored
	// against (the first one stored, whichever transaction that was).
	res, err := tx.Query(ctx, `INSERT INTO ses_messages (org_num, message_id, connection_id, sender, sending_domain, subject, config_set, template, tags, sent_at, first_event_at, last_event_at, mail)
		VALUES `+values(len(keys), 13)+` ON CONFLICT (org_num, message_id) DO UPDATE SET `+set+`
		RETURNING org_num, message_id, id, sent_at, subject, tags, mail`, args...)
	if err != nil {
		return fmt.Errorf("upsert messages: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var k msgKey
		var num, id int64
		var sentAt time.Time
		var subject, tags string
		var mail []byte
		if err := res.Scan(&num, &k.id, &id, utcTime{&sentAt}, &subject, &tags, &mail); err != nil {
			return fmt.Errorf("upsert messages: %w", err)
		}
		k.org = nums.org(num)
		refs[k] = id
		sent[id] = sentAt
		switch a := agg[k]; {
		case a.mailZ != nil && bytes.Equal(mail, a.mailZ):
			mails[k] = a.split.Mail // this call's copy: no need to read it back
		case mail != nil && a.split != nil: // only a split row needs it
			mails[k], _ = rawjson.MailOf(mail) // unreadable: the events keep their own
		}
		h := had[k]
		if h.has(colSubject) {
			subject = ""
		}
		if h.has(colTags) {
			tags = ""
		}
		if subject != "" || tags != "" {
			*indexed = append(*indexed, indexedMessage{org: k.org, ref: id, sent: sentAt, subject: subject, tags: tags})
		}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("upsert messages: %w", err)
	}
	return nil
}

// The columns of a stored message that the first event naming them fills
// in, each a bit of storedFields.set (colSentAt: not NULL).
const (
	colSender = iota
	colSendingDomain
	colSubject
	colConfigSet
	colTemplate
	colTags
	colSentAt
)

// storedCols names the text columns colSender…colTags.
var storedCols = [...]string{colSender: "sender", colSendingDomain: "sending_domain", colSubject: "subject",
	colConfigSet: "config_set", colTemplate: "template", colTags: "tags"}

// storedFields says which of a stored message's columns are set (a bit
// per column above) and whether it has its mail object.
type storedFields struct {
	set  int
	mail bool
}

func (h storedFields) has(col int) bool { return h.set&(1<<col) != 0 }

// fills reports whether storing r's message would fill in a column of the
// stored one: one empty there that r has, or a send time it lacks.
func (h storedFields) fills(r *EventRow) bool {
	for col, v := range [...]string{colSender: r.Sender, colSendingDomain: r.SendingDomain, colSubject: r.Subject,
		colConfigSet: r.ConfigSet, colTemplate: r.Template, colTags: r.Tags} {
		if v != "" && !h.has(col) {
			return true
		}
	}
	return !h.has(colSentAt)
}

// storedMessages reads which of the messages keys are stored, with a
// subject or tags.
func storedMessages(ctx context.Context, tx *Tx, nums orgNums, keys []msgKey) (map[msgKey]storedFields, error) {
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		num, err := nums.of(ctx, tx, k.org)
		if err != nil {
			return nil, err
		}
		args = append(args, num, k.id)
	}
	var set strings.Builder
	for i, c := range storedCols {
		fmt.Fprintf(&set, "CASE WHEN %s <> '' THEN %d ELSE 0 END + ", c, 1<<i)
	}
	fmt.Fprintf(&set, "CASE WHEN sent_at IS NOT NULL THEN %d ELSE 0 END", 1<<colSentAt)
	res, err := tx.Query(ctx, `SELECT org_num, message_id, CASE WHEN mail IS NOT NULL THEN 1 ELSE 0 END, `+set.String()+`
		FROM ses_messages WHERE (org_num, message_id) IN (VALUES `+strings.TrimSuffix(strings.Repeat("(CAST(? AS INTEGER), ?), ", len(keys)), ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	defer res.Close()
	out := map[msgKey]storedFields{}
	for res.Next() {
		var k msgKey
		var num int64
		var mail, set int
		if err := res.Scan(&num, &k.id, &mail, &set); err != nil {
			return nil, fmt.Errorf("read messages: %w", err)
		}
		k.org = nums.org(num)
		out[k] = storedFields{set: set, mail: mail == 1}
	}
	return out, res.Err()
}

// insertMessageIndex stores the subject words and the tags of messages (in
// key order, once each).
func insertMessageIndex(ctx context.Context, tx *Tx, msgs []indexedMessage) error {
	type wordRow struct {
		org  int64
		word string
		sent time.Time
		ref  int64
	}
	type tagRow struct {
		org        int64
		key, value string
		sent       time.Time
		ref        int64
	}
	nums := orgNums{}
	var words []wordRow
	var tags []tagRow
	for _, m := range msgs {
		num, err := nums.of(ctx, tx, m.org)
		if err != nil {
			return err
		}
		for _, w := range IndexWords(m.subject) {
			words = append(words, wordRow{num, w, m.sent, m.ref})
		}
		for _, p := range indexedTags(m.tags) {
			tags = append(tags, tagRow{num, p.Key, p.Value, m.sent, m.ref})
		}
	}
	cmpSentRef := func(s1, s2 time.Time, r1, r2 int64) int {
		if c := s1.Compare(s2); c != 0 {
			return c
		}
		return cmp.Compare(r1, r2)
	}
	slices.SortFunc(words, func(a, b wordRow) int {
		if c := cmp.Or(cmp.Compare(a.org, b.org), strings.Compare(a.word, b.word)); c != 0 {
			return c
		}
		return cmpSentRef(a.sent, b.sent, a.ref, b.ref)
	})
	slices.SortFunc(tags, func(a, b tagRow) int {
		if c := cmp.Or(cmp.Compare(a.org, b.org), strings.Compare(a.key, b.key), strings.Compare(a.value, b.value)); c != 0 {
			return c
		}
		return cmpSentRef(a.sent, b.sent, a.ref, b.ref)
	})
	for part := range chunks(tx.engine, words) {
		args := make([]any, 0, len(part)*4)
		for _, w := range part {
			args = append(args, w.org, w.word, msTime(w.sent), w.ref)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO subject_words (org_num, word, sent_at, message_ref) VALUES `+values(len(part), 4)+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return fmt.Errorf("index subject words: %w", err)
		}
	}
	for part := range chunks(tx.engine, tags) {
		args := make([]any, 0, len(part)*5)
		for _, t := range part {
			args = append(args, t.org, t.key, t.value, msTime(t.sent), t.ref)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO message_tags (org_num, tag_key, tag_value, sent_at, message_ref) VALUES `+values(len(part), 5)+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return fmt.Errorf("index message tags: %w", err)
		}
	}
	return nil
}

type rcptKey struct {
	org       string
	ref       int64
	recipient string
}

type rcptAgg struct {
	r              *EventRow
	status         string
	rank           int
	statusAt, last time.Time
}

// upsertRecipients updates the recipient index for new rows; refs[i] is the
// id of rows[i]'s message, sent its send time by id (copied into each
// recipient row, never changed: the search's order and indexes use it).
func upsertRecipients(ctx context.Context, tx *Tx, rows []*EventRow, refs []int64, sent map[int64]time.Time) error {
	agg := map[rcptKey]*rcptAgg{}
	var order []rcptKey
	for i, r := range rows {
		if r.Recipient == "" {
			continue
		}
		status, rank := domain.RecipientStatus(r.Type, r.BounceType)
		k := rcptKey{r.OrgID, refs[i], r.Recipient}
		a, ok := agg[k]
		if !ok {
			a = &rcptAgg{r: r, status: status, rank: rank, statusAt: r.At, last: r.At}
			agg[k] = a
			order = append(order, k)
			continue
		}
		if rank > a.rank || (rank == a.rank && r.At.After(a.statusAt)) {
			a.status, a.rank, a.statusAt = status, rank, r.At
		}
		a.last = maxTime(a.last, r.At)
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		return a.org < b.org || a.org == b.org && (a.ref < b.ref || a.ref == b.ref && a.recipient < b.recipient)
	})
	g := tx.greatest()
	nums := orgNums{}
	wins := `(excluded.status_rank > message_recipients.status_rank OR (excluded.status_rank = message_recipients.status_rank AND excluded.status_at > message_recipients.status_at))`
	for part := range chunks(tx.engine, order) {
		args := make([]any, 0, len(part)*9)
		for _, k := range part {
			a := agg[k]
			num, err := nums.of(ctx, tx, k.org)
			if err != nil {
				return err
			}
			args = append(args, num, k.ref, k.recipient, domainOf(k.recipient), a.status, a.rank, msTime(a.statusAt), msTime(a.last), msTime(sent[k.ref]))
		}
		_, err := tx.Exec(ctx, `INSERT INTO message_recipients (org_num, message_ref, recipient, domain, status, status_rank, status_at, last_event_at, sent_at)
			VALUES `+values(len(part), 9)+` ON CONFLICT (org_num, message_ref, recipient) DO UPDATE SET
			status = CASE WHEN `+wins+` THEN excluded.status ELSE message_recipients.status END,
			status_at = CASE WHEN `+wins+` THEN excluded.status_at ELSE message_recipients.status_at END,
			status_rank = `+g+`(message_recipients.status_rank, excluded.status_rank),
			last_event_at = `+g+`(message_recipients.last_event_at, excluded.last_event_at)`, args...)
		if err != nil {
			return fmt.Errorf("upsert recipients: %w", err)
		}
	}
	return nil
}

// rollupKey is one hourly rollup cell.
type rollupKey struct {
	org, conn, cfg, sendDomain, template, rcptDomain, typ, bounce string
	hour                                                          time.Time
}

func (a rollupKey) less(b rollupKey) bool {
	if !a.hour.Equal(b.hour) {
		return a.hour.Before(b.hour)
	}
	x := [...]string{a.org, a.conn, a.cfg, a.sendDomain, a.template, a.rcptDomain, a.typ, a.bounce}
	y := [...]string{b.org, b.conn, b.cfg, b.sendDomain, b.template, b.rcptDomain, b.typ, b.bounce}
	for i := range x {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

func upsertRollups(ctx context.Context, tx *Tx, rows []*EventRow) error {
	counts := map[rollupKey]int{}
	for _, r := range rows {
		counts[rollupKey{r.OrgID, r.ConnectionID, r.ConfigSet, r.SendingDomain, r.Template, domainOf(r.Recipient), r.Type, r.BounceType, r.At.UTC().Truncate(time.Hour)}]++
	}
	return addCounts(ctx, tx, "rollups_hourly", []string{"org_id", "hour", "connection_id", "config_set", "sending_domain", "template",
		"recipient_domain", "event_type", "bounce_type"}, counts, byLess[rollupKey],
		func(k rollupKey) ([]any, error) {
			return []any{k.org, k.hour, k.conn, k.cfg, k.sendDomain, k.template, k.rcptDomain, k.typ, k.bounce}, nil
		})
}

// statCols maps event types to the per-recipient counter they add to.
var statCols = map[string]int{"Send": 0, "Delivery": 1, "Bounce": 2, "Complaint": 3, "Open": 4, "Click": 5}

type statAgg struct {
	org  string
	hash []byte
	n    [6]int
	last time.Time
}

func upsertStats(ctx context.Context, tx *Tx, rows []*EventRow) error {
	agg := map[string]*statAgg{}
	var order []string
	for _, r := range rows {
		col, ok := statCols[r.Type]
		if !ok || r.RecipientHash == nil {
			continue
		}
		k := r.OrgID + "\x00" + string(r.RecipientHash)
		a, ok := agg[k]
		if !ok {
			a = &statAgg{org: r.OrgID, hash: r.RecipientHash, last: r.At}
			agg[k] = a
			order = append(order, k)
		}
		a.n[col]++
		a.last = maxTime(a.last, r.At)
	}
	sort.Strings(order)
	g := tx.greatest()
	nums := orgNums{}
	for part := range chunks(tx.engine, order) {
		args := make([]any, 0, len(part)*9)
		for _, k := range part {
			a := agg[k]
			num, err := nums.of(ctx, tx, a.org)
			if err != nil {
				return err
			}
			args = append(args, num, a.hash, a.n[0], a.n[1], a.n[2], a.n[3], a.n[4], a.n[5], msTime(a.last))
		}
		_, err := tx.Exec(ctx, `INSERT INTO recipient_stats (org_num, recipient_hash, sent, delivered, bounced, complained, opened, clicked, last_event_at)
			VALUES `+values(len(part), 9)+` ON CONFLICT (org_num, recipient_hash) DO UPDATE SET
			sent = recipient_stats.sent + excluded.sent, delivered = recipient_stats.delivered + excluded.delivered,
			bounced = recipient_stats.bounced + excluded.bounced, complained = recipient_stats.complained + excluded.complained,
			opened = recipient_stats.opened + excluded.opened, clicked = recipient_stats.clicked + excluded.clicked,
			last_event_at = `+g+`(recipient_stats.last_event_at, excluded.last_event_at)`, args...)
		if err != nil {
			return fmt.Errorf("upsert recipient stats: %w", err)
		}
	}
	return nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// orgNum returns an organisation's number (orgs.num, migration 0014): the
// key of the tables derived from its messages (subject_words,
// message_tags, rollups_daily, rollups_feedback_daily) in place of its
// 26-character id. It is 0, which no organisation has, when there is no
// such organisation: a query with it finds nothing. A number never
// changes and organisations are not deleted, so the DB keeps those it
// has read (not a missing one: the organisation may be stored later).
func orgNum(ctx context.Context, tx *Tx, orgID string) (int64, error) {
	if tx.orgNums != nil {
		if n, ok := tx.orgNums.Load(orgID); ok {
			return n.(int64), nil
		}
	}
	var n int64
	err := tx.QueryRow(ctx, `SELECT num FROM orgs WHERE id = ?`, orgID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read organisation number: %w", err)
	}
	if tx.orgNums != nil {
		tx.orgNums.Store(orgID, n)
	}
	return n, nil
}

// orgNums are the numbers of the organisations of one ingest batch, each
// read once (a number never changes).
type orgNums map[string]int64

// of returns an organisation's number; an organisation without one is an
// error (rows are written only for stored organisations).
func (m orgNums) of(ctx context.Context, tx *Tx, orgID string) (int64, error) {
	if n, ok := m[orgID]; ok {
		return n, nil
	}
	n, err := orgNum(ctx, tx, orgID)
	if err == nil && n == 0 {
		err = fmt.Errorf("organisation %q has no number", orgID)
	}
	if err != nil {
		return 0, err
	}
	m[orgID] = n
	return n, nil
}

// org returns the organisation of a number that of has returned ("" if
// none): the rows a statement returns name it by number.
func (m orgNums) org(num int64) string {
	for id, n := range m {
		if n == num {
			return id
		}
	}
	return ""
}
