package store

import (
	"context"
	"crypto/md5"
	"database/sql/driver"
	"encoding/hex"
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

// searchScanThreshold is how many index entries an address prefix or a
// subject word prefix may match for the search to read them all and sort
// them. Beyond it the matches are common enough that walking newest first,
// testing each, fills a page sooner: the organisation's messages (a
// subject prefix; an address prefix on SQLite) or, on PostgreSQL, an
// address prefix's recipients by send time (migration 0016). (A variable
// so that tests can check both plans agree.)
var searchScanThreshold = 20000

// wordCountCap is how many of a whole word's rows are counted to choose the
// rarest of a subject's words: reading its rows in order then costs at most
// that many before a page is full. Words more common than that are about
// equally good (a page needs few of their rows), unless they seldom meet.
const wordCountCap = 1000

// searchPlanOverride, when set by a test, makes every search that can take
// it use the named plan ("time").
var searchPlanOverride string

// Word and tag index limits (migration 0013): longer words are stored
// shortened (indexWord); longer tag keys and values are not indexed.
const (
	maxIndexedWord     = 32 // characters kept as they are
	indexedWordPrefix  = 24 // characters a longer word keeps before "…" and its hash
	maxIndexedTagChars = 200
)

// commonStatuses are the recipient statuses that the partial index
// message_recipients_status leaves out (migration 0013).
const commonStatusSQL = `r.status NOT IN ('delivered', 'opened', 'clicked')`

var commonStatuses = map[string]bool{domain.StatusDelivered: true, domain.StatusOpened: true, domain.StatusClicked: true}

// SearchMessages returns the rows of a search after the row after (nil: from
// the first), at most limit of them, in the search's order.
//
// Every plan reads one index range in the search's order (send time, then
// message id, then recipient, newest first) and stops after a page, except
// the sorted ranges of short prefixes (see searchPlan). BENCHMARKS.md has
// their EXPLAIN.
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

// searchPlan is how a search reads its rows.
type searchPlan struct {
	// name: "recipient" (an address's or a domain's index range, in
	// order), "prefix" (an address prefix's index range, sorted; on
	// PostgreSQL, for a common prefix, the recipients by send time), "word"
	// (a subject word's rows of subject_words, in order), "words" (a
	// subject word prefix's rows, sorted), "tag" (a tag's rows of
	// message_tags, in order), "status" (the partial status index, in
	// order) or "time" (the messages newest first by (org_num, sent_at), or
	// by a message filter's index (org_num, column, sent_at), each tested).
	name string
	term int // word, words: the index in Subject of the term read
	tag  int // tag: the index in Tags of the tag read
}

// searchPlan chooses a search's plan. An exact address, a domain and a
// message id are read by their key. Then, in this order, the first filter
// with an index that reads few rows drives the search and the others are
// tested on its rows: an address prefix matching at most
// searchScanThreshold index entries (countCapped; all read and sorted, or
// on PostgreSQL as its planner chooses); the subject's
// rarest whole word (words are counted, up to wordCountCap, when there are
// several); a tag; a status outside the common ones; a subject
// word prefix matching at most searchScanThreshold entries (sorted).
// Otherwise the messages are read newest first, by the index of a
// message filter (connection, configuration set, template, sender or
// sending domain) when there is one. On PostgreSQL an address prefix
// takes the prefix plan's query instead, at once when no other filter
// could drive the search: its planner, seeing the prefix, reads the
// prefix's range and sorts it, or walks the recipients newest first by
// their send time (migration 0016).
//
// num is the organisation's number (orgNum), the key of every table the
// search reads.
func choosePlan(ctx context.Context, tx *Tx, num int64, f *MessageSearch) (searchPlan, error) {
	switch {
	case f.Recipient != "" || f.RecipientDomain != "":
		return searchPlan{name: "recipient"}, nil
	case f.MessageID != "" || searchPlanOverride != "":
		return searchPlan{name: "time"}, nil // (org_num, message_id) finds the message
	}
	if f.RecipientPrefix != "" && tx.engine == Postgres && !otherDriver(f) {
		// Nothing else could drive it: PostgreSQL's planner chooses
		// between the prefix's range and the walk by send time.
		return searchPlan{name: "prefix"}, nil
	}
	if f.RecipientPrefix != "" {
		hi := prefixEnd(f.RecipientPrefix)
		n, err := countCapped(ctx, tx, `SELECT 1 FROM message_recipients r WHERE r.org_num = ? AND `+tx.prefixRange("r.recipient", hi),
			append([]any{num, f.RecipientPrefix}, optional(hi)...)...)
		if err != nil || n <= searchScanThreshold {
			return searchPlan{name: "prefix"}, err
		}
	}
	// The rarest whole word of the subject.
	words := 0
	for _, t := range f.Subject {
		if !t.Prefix {
			words++
		}
	}
	best, bestN := -1, 0
	for i, t := range f.Subject {
		if t.Prefix {
			continue
		}
		if best >= 0 && bestN == 0 {
			break
		}
		n := 0
		if words > 1 {
			q, args := wordRange(num, indexWord(t.Word), "", f)
			err := tx.QueryRow(ctx, `SELECT count(*) FROM (`+q+` LIMIT ?) x`, tx.customPlan(append(args, wordCountCap))...).Scan(&n)
			if err != nil {
				return searchPlan{}, err
			}
		}
		if best < 0 || n < bestN {
			best, bestN = i, n
		}
	}
	if best >= 0 {
		return searchPlan{name: "word", term: best}, nil
	}
	for i, tag := range f.Tags {
		if indexedTag(tag.Key, tag.Value) {
			return searchPlan{name: "tag", tag: i}, nil
		}
	}
	if rareStatuses(f.Statuses) {
		return searchPlan{name: "status"}, nil
	}
	for i, t := range f.Subject {
		lo, hi := wordPrefixRange(t.Word)
		q, args := wordRange(num, lo, hi, nil)
		n, err := countCapped(ctx, tx, q, args...)
		if err != nil {
			return searchPlan{}, err
		}
		if n <= searchScanThreshold {
			return searchPlan{name: "words", term: i}, nil
		}
	}
	if f.RecipientPrefix != "" && tx.engine == Postgres {
		// A common prefix: the recipients newest first (migration
		// 0016's index), each tested in the index.
		return searchPlan{name: "prefix"}, nil
	}
	return searchPlan{name: "time"}, nil
}

// otherDriver reports whether a search has a filter other than an address
// prefix that can drive it: a subject term, an indexed tag or rare
// statuses.
func otherDriver(f *MessageSearch) bool {
	for _, tag := range f.Tags {
		if indexedTag(tag.Key, tag.Value) {
			return true
		}
	}
	return len(f.Subject) > 0 || rareStatuses(f.Statuses)
}

// rareStatuses reports whether statuses are some and none is common.
func rareStatuses(statuses []string) bool {
	for _, s := range statuses {
		if commonStatuses[s] {
			return false
		}
	}
	return len(statuses) > 0
}

// wordRange returns the query of the rows of subject_words of a word (hi
// "") or of the words in [lo, hi), in f's send times when f is not nil.
func wordRange(num int64, lo, hi string, f *MessageSearch) (string, []any) {
	q, args := `SELECT 1 FROM subject_words w WHERE w.org_num = ? AND w.word = ?`, []any{num, lo}
	if hi != "" {
		q, args = `SELECT 1 FROM subject_words w WHERE w.org_num = ? AND w.word >= ? AND w.word < ?`, []any{num, lo, hi}
	}
	if f != nil {
		q += ` AND w.sent_at >= ?`
		args = append(args, msTime(f.From))
		if !f.To.IsZero() {
			q += ` AND w.sent_at < ?`
			args = append(args, msTime(f.To))
		}
	}
	return q, args
}

// wordPrefixRange returns the range of stored words that starts with a
// prefix: [lo, hi). A prefix longer than a shortened word keeps is cut to
// it, and the range holds more than its words (the subject is tested).
func wordPrefixRange(p string) (lo, hi string) {
	if utf8.RuneCountInString(p) > indexedWordPrefix {
		p = string([]rune(p)[:indexedWordPrefix])
	}
	hi = prefixEnd(p)
	if hi == "" {
		hi = "\U0010FFFF\U0010FFFF"
	}
	return p, hi
}

// searchQuery returns the SQL of a search and its arguments.
func searchQuery(ctx context.Context, tx *Tx, orgID string, f *MessageSearch, after *SearchKey, limit int) (string, []any, error) {
	num, err := orgNum(ctx, tx, orgID)
	if err != nil {
		return "", nil, err
	}
	plan, err := choosePlan(ctx, tx, num, f)
	if err != nil {
		return "", nil, err
	}
	// t is the table whose send time and message id order the rows: the
	// recipient rows r, the messages m, or the driving rows d (a word's or
	// a tag's). They hold the same time.
	t, refCol := "m", "m.id"
	switch plan.name {
	case "recipient", "prefix", "status":
		t, refCol = "r", "r.message_ref"
	case "word", "words", "tag":
		t, refCol = "d", "d.message_ref"
	}
	sentCol := t + ".sent_at"
	order := " ORDER BY " + sentCol + " DESC, " + refCol + " DESC, r.recipient DESC"

	// Conditions on the driving rows (dc), the recipient rows (rc) and on
	// their messages (mc).
	var dc, rc, mc []string
	var dArgs, rArgs, mArgs []any
	onD := func(cond string, a ...any) { dc, dArgs = append(dc, cond), append(dArgs, a...) }
	onR := func(cond string, a ...any) { rc, rArgs = append(rc, cond), append(rArgs, a...) }
	onM := func(cond string, a ...any) { mc, mArgs = append(mc, cond), append(mArgs, a...) }
	onT := map[string]func(string, ...any){"m": onM, "r": onR, "d": onD}[t]
	onR("r.org_num = ?", num)
	if tx.engine == SQLite && plan.name == "time" && f.ConnectionID != "" && f.MessageID == "" {
		// Not by (org_num, sent_at), which SQLite cannot tell from the
		// connection's index without statistics: a connection id names
		// one organisation's connection.
		onM("+m.org_num = ?", num)
	} else {
		onM("m.org_num = ?", num)
	}
	if t == "d" {
		onD("d.org_num = ?", num)
	}
	onT(sentCol+" >= ?", msTime(f.From))
	if !f.To.IsZero() {
		onT(sentCol+" < ?", msTime(f.To))
	}
	if after != nil {
		at := msTime(after.SentAt)
		cond := sentCol + " <= ? AND (" + sentCol + " < ? OR " + refCol + " < ? OR (" + refCol + " = ? AND r.recipient < ?))"
		if t == "d" {
			onD(sentCol+" <= ?", at)
			onR(cond, at, at, after.Ref, after.Ref, after.Recipient)
		} else {
			onT(cond, at, at, after.Ref, after.Ref, after.Recipient)
		}
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
		if rareStatuses(f.Statuses) {
			onR(commonStatusSQL) // the partial index's condition, for the planner
		}
	}
	messageFilters := len(mc)
	if f.MessageID != "" {
		onM("m.message_id = ?", f.MessageID)
	}
	// The subject's terms other than the one read: whole words by their
	// row in subject_words (PostgreSQL) or all by sendops_subject_match
	// (SQLite); on PostgreSQL a word prefix by the subject's words as
	// migration 0011 indexed them.
	var rest []SubjectTerm
	for i, term := range f.Subject {
		driver := (plan.name == "word" || plan.name == "words") && i == plan.term
		if driver && !(term.Prefix && utf8.RuneCountInString(term.Word) > indexedWordPrefix) {
			continue
		}
		rest = append(rest, term)
	}
	if len(rest) > 0 {
		if tx.engine == SQLite {
			onM("sendops_subject_match(m.subject, ?)", matchQuery(rest))
		} else {
			var prefixes []SubjectTerm
			for _, term := range rest {
				if term.Prefix {
					prefixes = append(prefixes, term)
					continue
				}
				// OFFSET 0: a probe of the key per row read, never a
				// join with all of the word's rows.
				onM("EXISTS (SELECT 1 FROM subject_words w WHERE w.org_num = ? AND w.word = ? AND w.sent_at = m.sent_at AND w.message_ref = m.id OFFSET 0)", num, indexWord(term.Word))
			}
			if len(prefixes) > 0 {
				onM(pgSubjectVector("m.subject")+" @@ to_tsquery('simple', ?)", tsQuery(prefixes))
			}
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
		onM("m.config_set = ? AND m.config_set <> ''", f.ConfigSet) // the partial index's condition, for the planner
	}
	if f.Template != "" {
		onM("m.template = ? AND m.template <> ''", f.Template)
	}
	for i, tag := range f.Tags {
		if plan.name == "tag" && i == plan.tag {
			continue
		}
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
	// SQLite joins in the order written with CROSS JOIN: the driving rows
	// first. PostgreSQL plans a CROSS JOIN with conditions like a join.
	join := func(driver string) string {
		return `FROM ` + driver + ` CROSS JOIN ses_messages m CROSS JOIN message_recipients r
			WHERE m.id = d.message_ref AND r.org_num = m.org_num AND r.message_ref = m.id AND `
	}
	switch {
	case plan.name == "prefix" && len(mc) == messageFilters:
		// A prefix's page is chosen from an index alone, its entries
		// holding the send time, message and address: the recipient
		// index's range, sorted, or on PostgreSQL, for a common prefix,
		// the recipients by send time (migration 0016), walked until a
		// page is full. Only the page reads its rows and joins their
		// messages.
		p := make([]string, len(rc))
		for i, c := range rc {
			p[i] = strings.ReplaceAll(c, "r.", "p.")
		}
		q := cols + `FROM (SELECT p.sent_at, p.message_ref, p.recipient FROM message_recipients p
			WHERE ` + and(p) + strings.ReplaceAll(order, "r.", "p.") + ` LIMIT ?) p
			CROSS JOIN message_recipients r CROSS JOIN ses_messages m
			WHERE r.org_num = ? AND r.message_ref = p.message_ref AND r.recipient = p.recipient AND m.id = p.message_ref AND ` + and(mc) +
			strings.ReplaceAll(order, "r.", "p.")
		return q, append(append(rArgs, limit, num), mArgs...), nil
	case plan.name == "recipient" || plan.name == "prefix" || plan.name == "status":
		q := cols + `FROM message_recipients r CROSS JOIN ses_messages m WHERE m.id = r.message_ref AND ` + and(rc) + ` AND ` + and(mc) + order + ` LIMIT ?`
		return q, append(append(rArgs, mArgs...), limit), nil
	case plan.name == "word":
		onD("d.word = ?", indexWord(f.Subject[plan.term].Word))
		q := cols + join("subject_words d") + and(dc) + ` AND ` + and(mc) + ` AND ` + and(rc) + order + ` LIMIT ?`
		return q, append(append(append(dArgs, mArgs...), rArgs...), limit), nil
	case plan.name == "tag":
		tag := f.Tags[plan.tag]
		onD("d.tag_key = ? AND d.tag_value = ?", tag.Key, tag.Value)
		q := cols + join("message_tags d") + and(dc) + ` AND ` + and(mc) + ` AND ` + and(rc) + order + ` LIMIT ?`
		return q, append(append(append(dArgs, mArgs...), rArgs...), limit), nil
	case plan.name == "words":
		// The messages with a word of the prefix (at most
		// searchScanThreshold rows), each once, sorted.
		lo, hi := wordPrefixRange(f.Subject[plan.term].Word)
		inner := strings.ReplaceAll(and(dc), "d.", "w.")
		q := cols + join(`(SELECT DISTINCT w.sent_at, w.message_ref FROM subject_words w WHERE `+inner+` AND w.word >= ? AND w.word < ?) d`) +
			and(mc) + ` AND ` + and(rc) + order + ` LIMIT ?`
		return q, append(append(append(append(dArgs, lo, hi), mArgs...), rArgs...), limit), nil
	default:
		q := cols + `FROM ses_messages m CROSS JOIN message_recipients r WHERE r.message_ref = m.id AND ` + and(mc) + ` AND ` + and(rc) + order + ` LIMIT ?`
		return q, append(append(mArgs, rArgs...), limit), nil
	}
}

// SearchPlan names the plan SearchMessages takes for a search (tests and
// benchmarks show it): see searchPlan.
func SearchPlan(ctx context.Context, tx *Tx, orgID string, f *MessageSearch) (string, error) {
	num, err := orgNum(ctx, tx, orgID)
	if err != nil {
		return "", err
	}
	p, err := choosePlan(ctx, tx, num, f)
	return p.name, err
}

// countCapped counts the rows of a query, up to searchScanThreshold+1, to
// choose a plan.
//
// On PostgreSQL, counting a common prefix reads 20,000 index entries, and
// each one's table row too where the visibility map does not yet say the
// page is visible to all (recent rows; every row where autovacuum is off):
// 5 ms after a VACUUM, 18–100 ms before one, for a three-character
// address prefix. So the planner's estimate is asked first, and when it is
// far above the threshold the rows are not counted. An estimate that
// low is not trusted: without statistics, or for a prefix inside one
// bucket of the histogram, PostgreSQL guesses 1 (8,300 rows at 10M
// messages). Either way the choice is between plans that give the same
// rows.
func countCapped(ctx context.Context, tx *Tx, query string, args ...any) (n int, err error) {
	if tx.engine == Postgres {
		est, err := estimateRows(ctx, tx, query, args...)
		if err != nil || est > estimateTrusted*searchScanThreshold {
			return searchScanThreshold + 1, err
		}
	}
	err = tx.QueryRow(ctx, `SELECT count(*) FROM (`+query+` LIMIT ?) x`, tx.customPlan(append(args, searchScanThreshold+1))...).Scan(&n)
	return n, err
}

// estimateTrusted is how many times over searchScanThreshold PostgreSQL's
// estimate must be for countCapped to take it without counting: its
// estimates of address prefixes are within a few per cent when they are
// large (268,214 for 260,063 rows at 10M messages).
const estimateTrusted = 4

// estimateRows returns PostgreSQL's estimate of how many rows a query
// returns (EXPLAIN's "Plan Rows"), planned for its arguments.
func estimateRows(ctx context.Context, tx *Tx, query string, args ...any) (int, error) {
	var out []byte
	if err := tx.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+query, tx.customPlan(args)...).Scan(&out); err != nil {
		return 0, err
	}
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) == 0 {
		return 0, fmt.Errorf("estimate: unexpected EXPLAIN output %.200q", out)
	}
	return int(min(plans[0].Plan.Rows, 1<<40)), nil
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

// indexWord is how subject_words stores a word: as it is up to
// maxIndexedWord characters, longer ones as their first indexedWordPrefix
// characters, "…" (which no word holds) and 16 hex digits of their MD5, so
// that a long word is still found by itself or by a prefix of up to
// indexedWordPrefix characters, and no index entry is long.
func indexWord(w string) string {
	if utf8.RuneCountInString(w) <= maxIndexedWord {
		return w
	}
	sum := md5.Sum([]byte(w))
	return string([]rune(w)[:indexedWordPrefix]) + "…" + hex.EncodeToString(sum[:8])
}

// IndexWords returns the words subject_words stores for a subject, each
// once.
func IndexWords(subject string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range SubjectWords(subject) {
		w = indexWord(w)
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// indexedTag reports whether message_tags holds a tag (migration 0013):
// keys and values of at most maxIndexedTagChars characters, without NUL.
func indexedTag(key, value string) bool {
	return utf8.RuneCountInString(key) <= maxIndexedTagChars && utf8.RuneCountInString(value) <= maxIndexedTagChars &&
		!strings.ContainsRune(key, 0) && !strings.ContainsRune(value, 0)
}

// indexedTags returns the tags of a message (EventRow.Tags) that
// message_tags holds, each once.
func indexedTags(tags string) []TagPair {
	if tags == "" {
		return nil
	}
	var m map[string][]string
	if json.Unmarshal([]byte(tags), &m) != nil {
		return nil
	}
	var out []TagPair
	for k, vs := range m {
		seen := map[string]bool{}
		for _, v := range vs {
			if !seen[v] && indexedTag(k, v) {
				seen[v] = true
				out = append(out, TagPair{k, v})
			}
		}
	}
	return out
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
	// sendops_subject_words(subject) is the JSON array of IndexWords
	// (migration 0013 fills subject_words with it).
	sqlite.MustRegisterDeterministicScalarFunction("sendops_subject_words", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		subject, _ := args[0].(string)
		words := IndexWords(subject)
		if words == nil {
			words = []string{}
		}
		b, err := json.Marshal(words)
		return string(b), err
	})
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
// It reads the organisation's messages by (org_num, sent_at), a batch at a
// time, and the events of each batch by (message_ref, at): events carry no
// organisation and are reached only through the organisation's messages. Every
// message of the range is read (no index says which messages bounced);
// its events are read by index, never scanned.
func FeedbackEvents(ctx context.Context, tx *Tx, orgID, eventType string, from, to time.Time, after *FeedbackKey, limit int) (rows []FeedbackRow, more bool, err error) {
	type msg struct {
		ref    int64
		sentAt time.Time
		e      domain.FeedbackEvent
	}
	num, err := orgNum(ctx, tx, orgID)
	if err != nil {
		return nil, false, err
	}
	first := true
	for {
		q, args := feedbackMessagesQuery(num, from, to, after, first)
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
func feedbackMessagesQuery(num int64, from, to time.Time, after *FeedbackKey, inclusive bool) (string, []any) {
	q := `SELECT id, sent_at, message_id, subject, sender, connection_id, config_set, template FROM ses_messages WHERE org_num = ? AND sent_at >= ?`
	args := []any{num, msTime(from)}
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
