package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"modernc.org/sqlite"

	"sendops/internal/domain"
)

// MessageSearch is a checked message search (the service builds it from a
// domain.MessageQuery). Strings are compared exactly; addresses and
// domains are lower-case. Zero fields do not filter.
type MessageSearch struct {
	// The message's send time is in [From, To); a zero To is open.
	From, To time.Time
	// At most one of the three recipient forms.
	Recipient       string // an exact address
	RecipientPrefix string // addresses that start with it
	RecipientDomain string // addresses of this domain (without "@")
	MessageID       string
	Subject         []SubjectTerm // all must be words of the subject
	Sender          string        // exact sender address
	SenderDomain    string        // the sending domain
	ConnectionID    string
	ConfigSet       string
	Template        string
	Tags            []Tag    // the message's tags hold each
	Statuses        []string // stored recipient statuses; any
}

// Tag is a message tag and one of its values.
type Tag struct{ Key, Value string }

// SubjectTerm is a word of a subject search: the word itself, or (Prefix)
// any word that starts with it.
type SubjectTerm struct {
	Word   string
	Prefix bool
}

// SearchKey is a search row's place in the search's order: newest send
// time first, then the message's id, then the recipient, all descending.
// None of them changes once the row is written, so that pages stay where
// they were while events keep arriving.
type SearchKey struct {
	SentAt    time.Time
	Ref       int64 // ses_messages.id
	Recipient string
}

// SearchRow is one row of a message search and its place in the order.
type SearchRow struct {
	Key SearchKey
	domain.MessageHit
}

// searchScanThreshold is how many index entries an address prefix (or, on
// SQLite, a subject) may match for the search to read them all and sort
// them. Beyond it the matches are common enough that reading the
// organisation's messages newest first, testing each, fills a page sooner.
// (A variable so that tests can check both plans agree.)
var searchScanThreshold = 20000

// SearchMessages returns the rows of a search after the row after (nil: from
// the first), at most limit of them, in the search's order.
//
// Plans (see BENCHMARKS.md for their EXPLAIN): an exact address or a domain
// reads the recipient index (org_id, recipient|domain, sent_at, …), which
// is in the search's order: a page costs a page of index entries whatever
// the number of matches. A message id reads that message by its key. An
// address prefix reads the prefix's range of the recipient index and sorts
// it when it holds at most searchScanThreshold entries; otherwise, and for
// the other filters, the organisation's messages are read newest first by
// (org_id, sent_at) and each is tested. Subject words use the subject's
// word index (FTS5 on SQLite, GIN on PostgreSQL): on SQLite while the words
// match at most searchScanThreshold messages, PostgreSQL's planner chooses
// from the index's statistics.
func SearchMessages(ctx context.Context, tx *Tx, orgID string, f *MessageSearch, after *SearchKey, limit int) ([]SearchRow, error) {
	query, args, err := searchQuery(ctx, tx, orgID, f, after, limit)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	rows, err := tx.Query(ctx, query, tx.customPlan(args)...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var out []SearchRow
	for rows.Next() {
		var x SearchRow
		h := &x.MessageHit
		if err := rows.Scan(utcTime{&x.Key.SentAt}, &x.Key.Ref, &h.Recipient, &h.Domain, &h.Status, utcTime{&h.StatusAt}, utcTime{&h.LastEventAt},
			&h.MessageID, &h.Subject, &h.Sender, &h.ConnectionID, &h.ConfigSet, &h.Template, &h.Tags); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		x.Key.Recipient, h.SentAt = h.Recipient, x.Key.SentAt
		out = append(out, x)
	}
	return out, rows.Err()
}

// searchQuery returns the SQL of a search and its arguments.
func searchQuery(ctx context.Context, tx *Tx, orgID string, f *MessageSearch, after *SearchKey, limit int) (string, []any, error) {
	plan, err := SearchPlan(ctx, tx, orgID, f)
	if err != nil {
		return "", nil, err
	}
	byRecipient := plan == "recipient" || plan == "prefix"

	// t is the table whose send time orders the rows: the recipient index
	// r, or the messages m. Both hold the same time.
	t, refCol := "m", "m.id"
	if byRecipient {
		t, refCol = "r", "r.message_ref"
	}
	sentCol := t + ".sent_at"
	order := " ORDER BY " + sentCol + " DESC, " + refCol + " DESC, r.recipient DESC"

	// Conditions on the recipient rows (rc) and on their messages (mc).
	var rc, mc []string
	var rArgs, mArgs []any
	onR := func(cond string, a ...any) { rc, rArgs = append(rc, cond), append(rArgs, a...) }
	onM := func(cond string, a ...any) { mc, mArgs = append(mc, cond), append(mArgs, a...) }
	onT := onM
	if byRecipient {
		onT = onR
	}
	onR("r.org_id = ?", orgID)
	onM("m.org_id = ?", orgID)
	onT(sentCol+" >= ?", msTime(f.From))
	if !f.To.IsZero() {
		onT(sentCol+" < ?", msTime(f.To))
	}
	if after != nil {
		at := msTime(after.SentAt)
		onT(sentCol+" <= ? AND ("+sentCol+" < ? OR "+refCol+" < ? OR ("+refCol+" = ? AND r.recipient < ?))",
			at, at, after.Ref, after.Ref, after.Recipient)
	}
	switch {
	case f.Recipient != "":
		onR("r.recipient = ?", f.Recipient)
	case f.RecipientDomain != "":
		onR("r.domain = ?", f.RecipientDomain)
	case f.RecipientPrefix != "":
		hi := prefixEnd(f.RecipientPrefix)
		onR(tx.prefixRange("r.recipient", hi), append([]any{f.RecipientPrefix}, optional(hi)...)...)
	}
	if len(f.Statuses) > 0 {
		onR("r.status IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Statuses)), ", ")+")", anys(f.Statuses)...)
	}
	messageFilters := len(mc)
	if f.MessageID != "" {
		onM("m.message_id = ?", f.MessageID)
	}
	if len(f.Subject) > 0 {
		switch {
		case tx.engine == Postgres:
			onM(pgSubjectVector("m.subject")+" @@ to_tsquery('simple', ?)", tsQuery(f.Subject))
		case plan == "subject":
			onM("m.id IN (SELECT rowid FROM ses_messages_subject WHERE ses_messages_subject MATCH ?) AND sendops_subject_match(m.subject, ?)",
				ftsQuery(f.Subject), matchQuery(f.Subject))
		default:
			onM("sendops_subject_match(m.subject, ?)", matchQuery(f.Subject))
		}
	}
	if f.Sender != "" {
		onM("m.sender = ?", f.Sender)
	}
	if f.SenderDomain != "" {
		onM("m.sending_domain = ?", f.SenderDomain)
	}
	if f.ConnectionID != "" {
		onM("m.connection_id = ?", f.ConnectionID)
	}
	if f.ConfigSet != "" {
		onM("m.config_set = ?", f.ConfigSet)
	}
	if f.Template != "" {
		onM("m.template = ?", f.Template)
	}
	for _, tag := range f.Tags {
		if tx.engine == Postgres {
			b, _ := json.Marshal(map[string][]string{tag.Key: {tag.Value}})
			onM("NULLIF(m.tags, '')::jsonb @> ?::jsonb", string(b))
		} else {
			onM(`EXISTS (SELECT 1 FROM json_each(CASE WHEN m.tags = '' THEN '{}' ELSE m.tags END) t, json_each(t.value) v WHERE t.key = ? AND v.value = ?)`,
				tag.Key, tag.Value)
		}
	}
	const cols = `SELECT r.sent_at, r.message_ref, r.recipient, r.domain, r.status, r.status_at, r.last_event_at,
		m.message_id, m.subject, m.sender, m.connection_id, m.config_set, m.template, m.tags `
	and := func(cs []string) string { return strings.Join(cs, " AND ") }
	switch {
	case plan == "prefix" && len(mc) == messageFilters:
		// A prefix's rows are sorted; when only the recipient rows are
		// filtered, the page is chosen from the recipient index alone and
		// only its rows join their messages. (An address or a domain needs
		// no sort: the join stops after a page anyway.)
		q := cols + `FROM (SELECT r.sent_at, r.message_ref, r.recipient, r.domain, r.status, r.status_at, r.last_event_at FROM message_recipients r
			WHERE ` + and(rc) + order + ` LIMIT ?) r JOIN ses_messages m ON m.id = r.message_ref WHERE ` + and(mc) + order
		return q, append(append(rArgs, limit), mArgs...), nil
	case byRecipient:
		q := cols + `FROM message_recipients r JOIN ses_messages m ON m.id = r.message_ref WHERE ` + and(rc) + ` AND ` + and(mc) + order + ` LIMIT ?`
		return q, append(append(rArgs, mArgs...), limit), nil
	default:
		q := cols + `FROM ses_messages m JOIN message_recipients r ON r.org_id = m.org_id AND r.message_ref = m.id WHERE ` + and(mc) + ` AND ` + and(rc) + order + ` LIMIT ?`
		return q, append(append(mArgs, rArgs...), limit), nil
	}
}

// SearchPlan names the plan SearchMessages takes for a search (tests and
// benchmarks show it): "recipient" (the recipient index, in order),
// "prefix" (the recipient index's range, sorted), "subject" (SQLite's word
// index, sorted) or "time" (the messages newest first, each tested).
func SearchPlan(ctx context.Context, tx *Tx, orgID string, f *MessageSearch) (string, error) {
	switch {
	case f.Recipient != "" || f.RecipientDomain != "":
		return "recipient", nil
	case f.MessageID != "":
		return "time", nil // (org_id, message_id) finds the message
	case f.RecipientPrefix != "":
		hi := prefixEnd(f.RecipientPrefix)
		n, err := countCapped(ctx, tx, `SELECT 1 FROM message_recipients r WHERE r.org_id = ? AND `+tx.prefixRange("r.recipient", hi),
			append([]any{orgID, f.RecipientPrefix}, optional(hi)...)...)
		if err != nil || n <= searchScanThreshold {
			return "prefix", err
		}
	}
	if len(f.Subject) > 0 && tx.engine == SQLite {
		n, err := countCapped(ctx, tx, `SELECT 1 FROM ses_messages_subject WHERE ses_messages_subject MATCH ?`, ftsQuery(f.Subject))
		if err != nil || n <= searchScanThreshold {
			return "subject", err
		}
	}
	return "time", nil
}

// countCapped counts the rows of a query, up to searchScanThreshold+1.
func countCapped(ctx context.Context, tx *Tx, query string, args ...any) (n int, err error) {
	err = tx.QueryRow(ctx, `SELECT count(*) FROM (`+query+` LIMIT ?) x`, tx.customPlan(append(args, searchScanThreshold+1))...).Scan(&n)
	return n, err
}

// customPlan makes PostgreSQL plan a search for its own arguments every
// time. pgx prepares and caches statements, and after five runs PostgreSQL
// may keep a generic plan, made without the arguments: it cannot tell a
// subject word in most messages from a rare one, and took 177 ms where the
// plan for the word took 0.8 (100,000 messages). An unnamed statement is
// planned with its arguments (at the cost of parsing it each time).
func (tx *Tx) customPlan(args []any) []any {
	if tx.engine != Postgres {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

// prefixRange is the condition that col is in [?, ?) compared byte by byte
// (the upper bound only when hi is not ""). PostgreSQL's pattern operators
// compare bytes whatever the collation and use the recipient index, made
// with text_pattern_ops; SQLite compares text bytes (BINARY) anyway.
func (tx *Tx) prefixRange(col, hi string) string {
	ge, lt := ">=", "<"
	if tx.engine == Postgres {
		ge, lt = "~>=~", "~<~"
	}
	if hi == "" {
		return col + " " + ge + " ?"
	}
	return col + " " + ge + " ? AND " + col + " " + lt + " ?"
}

func optional(s string) []any {
	if s == "" {
		return nil
	}
	return []any{s}
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// prefixEnd returns the least string greater than every string that starts
// with p, in byte order (UTF-8 byte order is code point order): p with its
// last character incremented; "" when there is none.
func prefixEnd(p string) string {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r == utf8.RuneError && size == 1 || r == utf8.MaxRune {
			continue
		}
		r++
		if r >= 0xD800 && r <= 0xDFFF { // surrogates are not characters
			r = 0xE000
		}
		return p + string(r)
	}
	return ""
}

// PostgreSQL's subject words, exactly as migration 0011 indexes them: ASCII
// punctuation becomes spaces, then the "simple" parser splits, lower-cases
// and keeps every word.
func pgSubjectVector(col string) string {
	return `to_tsvector('simple'::regconfig, regexp_replace(` + col + `, '[^0-9A-Za-z\u0080-\U0010FFFF]+', ' ', 'g'))`
}

// SubjectWords splits a text into the words the subject search knows: runs
// of letters and digits (what SQLite's unicode61 tokenizer keeps, and
// PostgreSQL's parser once punctuation is removed), lower-cased.
func SubjectWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Co, r)
	})
}

// ParseSubjectTerms reads the words of a subject search: each word of the
// text, and a word written with a trailing "*" matches words that start
// with it. "password-reset" is two words, as in the index. Repeats are
// dropped.
func ParseSubjectTerms(text string) []SubjectTerm {
	var out []SubjectTerm
	seen := map[SubjectTerm]bool{}
	for _, field := range strings.Fields(text) {
		prefix := strings.HasSuffix(field, "*")
		words := SubjectWords(field)
		for i, w := range words {
			t := SubjectTerm{Word: w, Prefix: prefix && i == len(words)-1}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// ftsQuery writes terms as an FTS5 query: "w1" AND "w2"*.
func ftsQuery(terms []SubjectTerm) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + strings.ReplaceAll(t.Word, `"`, `""`) + `"`
		if t.Prefix {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, " AND ")
}

// tsQuery writes terms as a PostgreSQL tsquery: 'w1' & 'w2':*.
func tsQuery(terms []SubjectTerm) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = "'" + strings.ReplaceAll(t.Word, "'", "''") + "'"
		if t.Prefix {
			parts[i] += ":*"
		}
	}
	return strings.Join(parts, " & ")
}

// matchQuery writes terms for sendops_subject_match: words separated by
// spaces, a prefix with a trailing "*".
func matchQuery(terms []SubjectTerm) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = t.Word
		if t.Prefix {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, " ")
}

// subjectMatches reports whether a subject holds every term of a
// matchQuery.
func subjectMatches(subject, query string) bool {
	words := SubjectWords(subject)
	for _, term := range strings.Fields(query) {
		prefix, ok := strings.CutSuffix(term, "*")
		found := false
		for _, w := range words {
			if (ok && strings.HasPrefix(w, prefix)) || (!ok && w == term) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// sendops_subject_match(subject, query) is SQLite's test of a subject
// against a matchQuery, with the same word rules as the subject index:
// the search uses it on messages it reads in time order, and to confirm
// the word index's matches.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("sendops_subject_match", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		subject, _ := args[0].(string)
		query, _ := args[1].(string)
		if subjectMatches(subject, query) {
			return int64(1), nil
		}
		return int64(0), nil
	})
}

// FeedbackKey is a bounce or complaint row's place in an export: its
// message's send time and id, then the event's time and id, ascending.
type FeedbackKey struct {
	SentAt time.Time
	Ref    int64
	At     time.Time
	ID     int64
}

// FeedbackRow is one bounce or complaint row and its place in the order.
type FeedbackRow struct {
	Key FeedbackKey
	domain.FeedbackEvent
}

// feedbackBatch is how many messages FeedbackEvents reads at a time.
const feedbackBatch = 500

// FeedbackEvents returns the events of one type ("Bounce" or "Complaint")
// of the organisation's messages sent in [from, to) (a zero to is open),
// after the row after (nil: from the first), at most limit of them, oldest
// message first; more is false when there are no further rows.
//
// It reads the organisation's messages by (org_id, sent_at), a batch at a
// time, and the events of each batch by (message_ref, at): events carry no
// org_id and are reached only through the organisation's messages. Every
// message of the range is read (no index says which messages bounced);
// its events are read by index, never scanned.
func FeedbackEvents(ctx context.Context, tx *Tx, orgID, eventType string, from, to time.Time, after *FeedbackKey, limit int) (rows []FeedbackRow, more bool, err error) {
	type msg struct {
		ref    int64
		sentAt time.Time
		e      domain.FeedbackEvent
	}
	first := true
	for {
		q, args := feedbackMessagesQuery(orgID, from, to, after, first)
		first = false
		res, err := tx.Query(ctx, q, args...)
		if err != nil {
			return nil, false, fmt.Errorf("feedback events: %w", err)
		}
		var msgs []msg
		for res.Next() {
			var m msg
			if err := res.Scan(&m.ref, utcTime{&m.sentAt}, &m.e.MessageID, &m.e.Subject, &m.e.Sender, &m.e.ConnectionID, &m.e.ConfigSet, &m.e.Template); err != nil {
				res.Close()
				return nil, false, fmt.Errorf("feedback events: %w", err)
			}
			msgs = append(msgs, m)
		}
		res.Close()
		if err := res.Err(); err != nil {
			return nil, false, fmt.Errorf("feedback events: %w", err)
		}
		if len(msgs) == 0 {
			return rows, false, nil
		}
		refs := make([]int64, len(msgs))
		for i, m := range msgs {
			refs[i] = m.ref
		}
		q, args = tx.feedbackEventsQuery(eventType, refs)
		res, err = tx.Query(ctx, q, args...)
		if err != nil {
			return nil, false, fmt.Errorf("feedback events: %w", err)
		}
		byRef := map[int64][]FeedbackRow{}
		for res.Next() {
			var x FeedbackRow
			e := &x.FeedbackEvent
			if err := res.Scan(&x.Key.Ref, utcTime{&x.Key.At}, &x.Key.ID, &e.Type, &e.Recipient, &e.BounceType, &e.BounceSubtype, &e.Diagnostic,
				&e.ReportingMTA, &e.ComplaintType, &e.UserAgent); err != nil {
				res.Close()
				return nil, false, fmt.Errorf("feedback events: %w", err)
			}
			byRef[x.Key.Ref] = append(byRef[x.Key.Ref], x)
		}
		res.Close()
		if err := res.Err(); err != nil {
			return nil, false, fmt.Errorf("feedback events: %w", err)
		}
		for _, m := range msgs {
			for _, x := range byRef[m.ref] {
				if after != nil && m.ref == after.Ref && !(x.Key.At.After(after.At) || x.Key.At.Equal(after.At) && x.Key.ID > after.ID) {
					continue // returned already
				}
				x.Key.SentAt = m.sentAt
				e := m.e
				e.Type, e.At, e.SentAt, e.Recipient = x.Type, x.Key.At, m.sentAt, x.Recipient
				e.BounceType, e.BounceSubtype, e.Diagnostic = x.BounceType, x.BounceSubtype, x.Diagnostic
				e.ReportingMTA, e.ComplaintType, e.UserAgent = x.ReportingMTA, x.ComplaintType, x.UserAgent
				x.FeedbackEvent = e
				rows = append(rows, x)
				if len(rows) == limit {
					return rows, true, nil
				}
			}
		}
		if len(msgs) < feedbackBatch {
			return rows, false, nil
		}
		last := msgs[len(msgs)-1]
		after = &FeedbackKey{SentAt: last.sentAt, Ref: last.ref, At: time.Unix(1<<40, 0), ID: 1 << 62} // past its last event
	}
}

// feedbackMessagesQuery reads a batch of the organisation's messages sent in
// [from, to), oldest first, from the message of after on (that message
// included the first time: some of its events may not have been returned
// yet).
func feedbackMessagesQuery(orgID string, from, to time.Time, after *FeedbackKey, inclusive bool) (string, []any) {
	q := `SELECT id, sent_at, message_id, subject, sender, connection_id, config_set, template FROM ses_messages WHERE org_id = ? AND sent_at >= ?`
	args := []any{orgID, msTime(from)}
	if !to.IsZero() {
		q += ` AND sent_at < ?`
		args = append(args, msTime(to))
	}
	if after != nil {
		op := ">"
		if inclusive {
			op = ">="
		}
		s := msTime(after.SentAt)
		q += ` AND sent_at >= ? AND (sent_at > ? OR id ` + op + ` ?)`
		args = append(args, s, s, after.Ref)
	}
	return q + ` ORDER BY sent_at, id LIMIT ` + fmt.Sprint(feedbackBatch), args
}

// feedbackEventsQuery reads the events of one type of some messages (ids of
// the organisation's messages) by the index (message_ref, at).
func (tx *Tx) feedbackEventsQuery(eventType string, refs []int64) (string, []any) {
	const cols = `SELECT message_ref, at, id, type, recipient, bounce_type, bounce_subtype, diagnostic, reporting_mta, complaint_type, user_agent FROM events`
	if tx.engine == Postgres {
		return cols + ` WHERE message_ref = ANY(?::bigint[]) AND type = ? ORDER BY message_ref, at, id`, []any{refs, eventType}
	}
	args := make([]any, 0, len(refs)+1)
	for _, r := range refs {
		args = append(args, r)
	}
	return cols + ` WHERE message_ref IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(refs)), ", ") + `) AND type = ? ORDER BY message_ref, at, id`,
		append(args, eventType)
}
