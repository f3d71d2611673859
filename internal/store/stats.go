package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sendops/internal/insight"
)

// The analytics of the dashboards read the rollups that ingest keeps, never
// the events: per hour (rollups_hourly, rollups_totals_hourly,
// rollups_tags_hourly, rollups_feedback_hourly) and per UTC day and
// dimension (rollups_daily, rollups_feedback_daily). A year of one
// dimension is at most 365 rows per value and event type, whatever the
// volume of mail.

// Dim is what rollup counts are grouped by.
type Dim string

const (
	ByNone            Dim = ""
	ByHour            Dim = "hour" // Key "2006-01-02T15", UTC
	ByDay             Dim = "day"  // Key "2006-01-02", UTC
	ByConnection      Dim = "connection"
	ByConfigSet       Dim = "configuration_set"
	BySendingDomain   Dim = "sending_domain"
	ByTemplate        Dim = "template"
	ByRecipientDomain Dim = "recipient_domain"
	ByTag             Dim = "tag" // Key the tag's key, Value its value
)

// dimExpr is the SQL of a grouping: "" for ByNone.
func (tx *Tx) dimExpr(by Dim) (string, error) {
	switch by {
	case ByNone:
		return "", nil
	case ByHour:
		if tx.engine == Postgres {
			return `to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24')`, nil
		}
		return `substr(hour, 1, 13)`, nil // hours are text in timeLayout
	case ByDay:
		if tx.engine == Postgres {
			return `to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD')`, nil
		}
		return `substr(hour, 1, 10)`, nil
	case ByConnection:
		return "connection_id", nil
	case ByConfigSet:
		return "config_set", nil
	case BySendingDomain:
		return "sending_domain", nil
	case ByTemplate:
		return "template", nil
	case ByRecipientDomain:
		return "recipient_domain", nil
	}
	return "", fmt.Errorf("rollups cannot be grouped by %q", by)
}

// rollupRead says where the counts of a grouping are: hourly, the table
// and the grouping expressions on it; daily (for the whole UTC days of a
// range), the daily table, its dim and the expressions of the same groups
// on it ("" table: the hourly rows only).
type rollupRead struct {
	hourly   string
	hourCols []string
	daily    string
	dim      Dim
	dayCols  []string
}

// dayArg is a UTC day as the daily rollups' day column takes it: text
// YYYY-MM-DD on SQLite, a date on PostgreSQL.
func (tx *Tx) dayArg(t time.Time) any {
	t = t.UTC().Truncate(24 * time.Hour)
	if tx.engine == Postgres {
		return t
	}
	return t.Format("2006-01-02")
}

// dayCol is the SQL of the daily rollups' day as text YYYY-MM-DD.
func (tx *Tx) dayCol() string {
	if tx.engine == Postgres {
		return `to_char(day, 'YYYY-MM-DD')`
	}
	return `day`
}

// sumCounts sums the count column of an organisation's rollup rows of
// [from, to) per group, and calls fn for each group with its values
// (group columns, then n). The whole UTC days of the range are read from
// the daily table, the hours before and after them from the hourly one: a
// year is at most 365 rows per value and event type, plus 46 hours. The
// rows are summed here: SQLite's GROUP BY sorts every row before it sums.
func sumCounts(ctx context.Context, tx *Tx, rr rollupRead, orgID string, from, to time.Time, types []string, fn func(vals []string, n int64)) error {
	from, to = from.UTC(), to.UTC()
	type part struct {
		table, where string
		cols         []string
		args         []any
	}
	hourly := func(a, b time.Time) part {
		return part{rr.hourly, `org_id = ? AND hour >= ? AND hour < ?`, rr.hourCols, []any{orgID, a, b}}
	}
	var parts []part
	dayFrom := from.Truncate(24 * time.Hour)
	if dayFrom.Before(from) {
		dayFrom = dayFrom.Add(24 * time.Hour)
	}
	dayTo := to.Truncate(24 * time.Hour)
	if rr.daily != "" && dayFrom.Before(dayTo) {
		if from.Before(dayFrom) {
			parts = append(parts, hourly(from, dayFrom))
		}
		num, err := orgNum(ctx, tx, orgID)
		if err != nil {
			return err
		}
		parts = append(parts, part{rr.daily, `org_num = ? AND dim = ? AND day >= ? AND day < ?`, rr.dayCols,
			[]any{num, string(rr.dim), tx.dayArg(dayFrom), tx.dayArg(dayTo)}})
		if dayTo.Before(to) {
			parts = append(parts, hourly(dayTo, to))
		}
	} else {
		parts = append(parts, hourly(from, to))
	}
	type group struct {
		vals []string
		n    int64
	}
	groups := map[string]*group{}
	var order []string
	var key strings.Builder
	for _, p := range parts {
		where, args := p.where, p.args
		if len(types) > 0 {
			where += ` AND event_type IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(types)), ", ") + `)`
			for _, t := range types {
				args = append(args, t)
			}
		}
		// Summed in the database: a year of daily rows by recipient domain
		// is tens of thousands of rows, a few hundred once grouped.
		by := make([]string, len(p.cols))
		for i := range by {
			by[i] = strconv.Itoa(i + 1)
		}
		rows, err := tx.Query(ctx, `SELECT `+strings.Join(p.cols, ", ")+`, CAST(sum(count) AS BIGINT) FROM `+p.table+` WHERE `+where+
			` GROUP BY `+strings.Join(by, ", "), args...)
		if err != nil {
			return fmt.Errorf("read %s: %w", p.table, err)
		}
		vals := make([]string, len(p.cols))
		dest := make([]any, len(p.cols)+1)
		for i := range vals {
			dest[i] = &vals[i]
		}
		var n int64
		dest[len(p.cols)] = &n
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("read %s: %w", p.table, err)
			}
			key.Reset()
			for _, v := range vals {
				key.WriteString(v)
				key.WriteByte(0)
			}
			g, ok := groups[key.String()]
			if !ok {
				g = &group{vals: slices.Clone(vals)}
				groups[key.String()] = g
				order = append(order, key.String())
			}
			g.n += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", p.table, err)
		}
	}
	for _, k := range order {
		fn(groups[k].vals, groups[k].n)
	}
	return nil
}

// RollupCount is a number of events (one per SES event and recipient) of
// one type and bounce type in one group.
type RollupCount struct {
	Key        string // the group (see Dim); "" for ByNone
	Value      string // ByTag: the tag's value
	Type       string // SES event type: Send, Delivery, Bounce…
	BounceType string // Bounce: Permanent, Transient or Undetermined
	N          int64
}

// RollupCounts returns an organisation's event counts of the hours in
// [from, to), grouped by by, of the event types named (all when none is).
// ByHour reads the organisation's totals per hour (rollups_totals_hourly);
// the others read the daily rollups (rollups_daily) for the range's whole
// days and, for its other hours, the totals per hour (ByDay, ByNone), the
// tag rollup (ByTag, whose counts are bounded: see tagCaps) or
// rollups_hourly.
func RollupCounts(ctx context.Context, tx *Tx, orgID string, from, to time.Time, by Dim, types ...string) ([]RollupCount, error) {
	rr := rollupRead{hourly: "rollups_hourly", daily: "rollups_daily", dim: by}
	switch by {
	case ByTag:
		rr.hourly, rr.hourCols, rr.dayCols = "rollups_tags_hourly", []string{"tag_key", "tag_value"}, []string{"key", "value"}
	case ByHour, ByDay, ByNone:
		rr.hourly, rr.dim = "rollups_totals_hourly", ByNone
		expr, _ := tx.dimExpr(by)
		if expr != "" {
			rr.hourCols = []string{expr}
		}
		switch by {
		case ByHour:
			rr.daily = ""
		case ByDay:
			rr.dayCols = []string{tx.dayCol()}
		}
	default:
		expr, err := tx.dimExpr(by)
		if err != nil {
			return nil, err
		}
		rr.hourCols, rr.dayCols = []string{expr}, []string{"key"}
	}
	key, value := -1, -1
	if len(rr.hourCols) > 0 {
		key = 0
	}
	if len(rr.hourCols) > 1 {
		value = 1
	}
	rr.hourCols = append(rr.hourCols, "event_type", "bounce_type")
	rr.dayCols = append(rr.dayCols, "event_type", "bounce_type")
	var out []RollupCount
	err := sumCounts(ctx, tx, rr, orgID, from, to, types, func(vals []string, n int64) {
		c := RollupCount{Type: vals[len(vals)-2], BounceType: vals[len(vals)-1], N: n}
		if key >= 0 {
			c.Key = vals[key]
		}
		if value >= 0 {
			c.Value = vals[value]
		}
		out = append(out, c)
	})
	return out, err
}

// FeedbackCount is a number of bounces or complaints with their SES
// sub-type and status code, in one group.
type FeedbackCount struct {
	Key        string // the group (see Dim); "" for ByNone
	Type       string // Bounce or Complaint
	BounceType string // Permanent, Transient, Undetermined; "" for a complaint
	SubType    string // the bounce's or complaint's SES sub-type
	StatusCode string // the bounce diagnostic's enhanced status code, or ""
	N          int64
}

// FeedbackCounts returns an organisation's bounces and complaints of the
// hours in [from, to), grouped by by (not ByTag), sub-type and status code:
// from rollups_feedback_daily for the range's whole days (not ByHour) and
// rollups_feedback_hourly for its other hours.
func FeedbackCounts(ctx context.Context, tx *Tx, orgID string, from, to time.Time, by Dim) ([]FeedbackCount, error) {
	rr := rollupRead{hourly: "rollups_feedback_hourly", daily: "rollups_feedback_daily", dim: by}
	expr, err := tx.dimExpr(by)
	if err != nil {
		return nil, err
	}
	switch by {
	case ByNone:
	case ByHour:
		rr.daily, rr.hourCols = "", []string{expr}
	case ByDay:
		rr.dim, rr.hourCols, rr.dayCols = ByNone, []string{expr}, []string{tx.dayCol()}
	default:
		rr.hourCols, rr.dayCols = []string{expr}, []string{"key"}
	}
	rest := []string{"event_type", "bounce_type", "bounce_subtype", "status_code"}
	rr.hourCols, rr.dayCols = append(rr.hourCols, rest...), append(rr.dayCols, rest...)
	var out []FeedbackCount
	err = sumCounts(ctx, tx, rr, orgID, from, to, nil, func(vals []string, n int64) {
		c := FeedbackCount{N: n}
		if len(vals) == 5 {
			c.Key, vals = vals[0], vals[1:]
		}
		c.Type, c.BounceType, c.SubType, c.StatusCode = vals[0], vals[1], vals[2], vals[3]
		out = append(out, c)
	})
	return out, err
}

// dailyDims are the dimensions of rollups_daily and rollups_feedback_daily
// besides the totals (the empty dim) and tags, with their value in an
// event row.
var dailyDims = []struct {
	dim Dim
	of  func(r *EventRow) string
}{
	{ByConnection, func(r *EventRow) string { return r.ConnectionID }},
	{ByConfigSet, func(r *EventRow) string { return r.ConfigSet }},
	{BySendingDomain, func(r *EventRow) string { return r.SendingDomain }},
	{ByTemplate, func(r *EventRow) string { return r.Template }},
	{ByRecipientDomain, func(r *EventRow) string { return domainOf(r.Recipient) }},
}

// dailyKey is one cell of rollups_daily.
type dailyKey struct{ org, dim, day, key, value, typ, bounce string }

// feedbackDailyKey is one cell of rollups_feedback_daily.
type feedbackDailyKey struct{ org, dim, day, key, typ, bounce, sub, code string }

// upsertDailyRollups adds new rows to the daily rollups: the same rows the
// hourly rollups counted, and the tag cells upsertTagRollups counted
// (tags), so that a day's rows are the sum of its hours'.
func upsertDailyRollups(ctx context.Context, tx *Tx, rows []*EventRow, tags map[tagKey]int) error {
	counts := map[dailyKey]int{}
	fcounts := map[feedbackDailyKey]int{}
	codes := map[*EventRow]string{}
	for _, r := range rows {
		day := r.At.UTC().Format("2006-01-02")
		counts[dailyKey{r.OrgID, "", day, "", "", r.Type, r.BounceType}]++
		for _, d := range dailyDims {
			counts[dailyKey{r.OrgID, string(d.dim), day, d.of(r), "", r.Type, r.BounceType}]++
		}
		if r.Type != "Bounce" && r.Type != "Complaint" {
			continue
		}
		code, ok := codes[r]
		if !ok && r.Type == "Bounce" {
			code = insight.StatusCode(r.Diagnostic)
			codes[r] = code
		}
		fcounts[feedbackDailyKey{r.OrgID, "", day, "", r.Type, r.BounceType, r.BounceSub, code}]++
		for _, d := range dailyDims {
			fcounts[feedbackDailyKey{r.OrgID, string(d.dim), day, d.of(r), r.Type, r.BounceType, r.BounceSub, code}]++
		}
	}
	for k, n := range tags {
		counts[dailyKey{k.org, string(ByTag), k.hour.UTC().Format("2006-01-02"), k.key, k.value, k.typ, k.bnc}] += n
	}
	day := func(s string) any {
		t, _ := time.Parse("2006-01-02", s)
		return tx.dayArg(t)
	}
	nums := orgNums{}
	err := addCounts(ctx, tx, "rollups_daily", []string{"org_num", "dim", "day", "key", "value", "event_type", "bounce_type"}, counts,
		func(a, b dailyKey) int {
			return cmp.Or(strings.Compare(a.org, b.org), strings.Compare(a.dim, b.dim), strings.Compare(a.day, b.day), strings.Compare(a.key, b.key),
				strings.Compare(a.value, b.value), strings.Compare(a.typ, b.typ), strings.Compare(a.bounce, b.bounce))
		},
		func(k dailyKey) ([]any, error) {
			num, err := nums.of(ctx, tx, k.org)
			return []any{num, k.dim, day(k.day), k.key, k.value, k.typ, k.bounce}, err
		})
	if err != nil {
		return err
	}
	return addCounts(ctx, tx, "rollups_feedback_daily", []string{"org_num", "dim", "day", "key", "event_type", "bounce_type", "bounce_subtype", "status_code"}, fcounts,
		func(a, b feedbackDailyKey) int {
			return cmp.Or(strings.Compare(a.org, b.org), strings.Compare(a.dim, b.dim), strings.Compare(a.day, b.day), strings.Compare(a.key, b.key),
				strings.Compare(a.typ, b.typ), strings.Compare(a.bounce, b.bounce), strings.Compare(a.sub, b.sub), strings.Compare(a.code, b.code))
		},
		func(k feedbackDailyKey) ([]any, error) {
			num, err := nums.of(ctx, tx, k.org)
			return []any{num, k.dim, day(k.day), k.key, k.typ, k.bounce, k.sub, k.code}, err
		})
}

// totalKey is one cell of the organisation's totals per hour.
type totalKey struct {
	hour                 time.Time
	org, typ, bounceType string
}

func (a totalKey) less(b totalKey) bool {
	if !a.hour.Equal(b.hour) {
		return a.hour.Before(b.hour)
	}
	return a.org < b.org || a.org == b.org && (a.typ < b.typ || a.typ == b.typ && a.bounceType < b.bounceType)
}

// upsertTotalRollups counts new rows in the organisations' totals per hour.
func upsertTotalRollups(ctx context.Context, tx *Tx, rows []*EventRow) error {
	counts := map[totalKey]int{}
	for _, r := range rows {
		counts[totalKey{r.At.UTC().Truncate(time.Hour), r.OrgID, r.Type, r.BounceType}]++
	}
	return addCounts(ctx, tx, "rollups_totals_hourly", []string{"org_id", "hour", "event_type", "bounce_type"}, counts, byLess[totalKey],
		func(k totalKey) ([]any, error) { return []any{k.org, k.hour, k.typ, k.bounceType}, nil })
}

// The bounds of the tag rollup. Without them a sender who tags each message
// with a value of its own (a message or user id) would add rows like the
// events do.
const (
	// MaxTagsPerMessage is how many of a message's tags are counted (by
	// key, then value).
	MaxTagsPerMessage = 10
	// MaxTagLength is where longer keys and values are cut, in characters.
	MaxTagLength = 100
	// MaxTagKeysPerHour is how many keys an organisation's hour counts;
	// events of further keys count under the key "" (other tags).
	MaxTagKeysPerHour = 20
	// MaxTagValuesPerHour is how many values of one key an organisation's
	// hour counts; further values count under the value "" (other values).
	MaxTagValuesPerHour = 100
)

// TagPair is one tag of a message.
type TagPair struct{ Key, Value string }

// MessageTags returns the tags of a message (EventRow.Tags, a JSON object
// of tag → values) that the tag rollup counts: at most MaxTagsPerMessage,
// in key and value order, cut at MaxTagLength.
func MessageTags(tags string) []TagPair {
	if tags == "" {
		return nil
	}
	var m map[string][]string
	if json.Unmarshal([]byte(tags), &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []TagPair
	for _, k := range keys {
		vs := append([]string(nil), m[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			p := TagPair{cutTag(k), cutTag(v)}
			if len(out) > 0 && out[len(out)-1] == p {
				continue
			}
			out = append(out, p)
			if len(out) == MaxTagsPerMessage {
				return out
			}
		}
	}
	return out
}

// cutTag cuts a tag's key or value at MaxTagLength characters, without the
// NUL characters PostgreSQL's text cannot hold (JSON can, escaped).
func cutTag(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if utf8.RuneCountInString(s) <= MaxTagLength {
		return s
	}
	r := []rune(s)
	return string(r[:MaxTagLength])
}

// tagKey is one cell of the tag rollup.
type tagKey struct {
	hour                      time.Time
	org, key, value, typ, bnc string
}

func (a tagKey) less(b tagKey) bool {
	if !a.hour.Equal(b.hour) {
		return a.hour.Before(b.hour)
	}
	x := [...]string{a.org, a.key, a.value, a.typ, a.bnc}
	y := [...]string{b.org, b.key, b.value, b.typ, b.bnc}
	for i := range x {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// orgHour is an organisation's hour, the scope of the tag caps.
type orgHour struct {
	org  string
	hour time.Time
}

// tagCaps is what an organisation's hour already counts: its keys and the
// values of each (the overflow buckets "" not included).
type tagCaps map[string]map[string]bool

// admit returns the cell a tag counts in, and records it.
func (c tagCaps) admit(p TagPair) TagPair {
	if p.Key == "" {
		return TagPair{}
	}
	vals, ok := c[p.Key]
	if !ok {
		if len(c) >= MaxTagKeysPerHour {
			return TagPair{}
		}
		vals = map[string]bool{}
		c[p.Key] = vals
	}
	if p.Value == "" || vals[p.Value] {
		return p
	}
	if len(vals) >= MaxTagValuesPerHour {
		return TagPair{Key: p.Key}
	}
	vals[p.Value] = true
	return p
}

// loadTagCaps reads what an organisation's hour counts already: at most
// MaxTagKeysPerHour × (MaxTagValuesPerHour + 1) rows, by the primary key.
func loadTagCaps(ctx context.Context, tx *Tx, oh orgHour) (tagCaps, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT tag_key, tag_value FROM rollups_tags_hourly WHERE org_id = ? AND hour = ?`, oh.org, oh.hour)
	if err != nil {
		return nil, fmt.Errorf("tag rollup caps: %w", err)
	}
	defer rows.Close()
	caps := tagCaps{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("tag rollup caps: %w", err)
		}
		if k == "" {
			continue
		}
		if caps[k] == nil {
			caps[k] = map[string]bool{}
		}
		if v != "" {
			caps[k][v] = true
		}
	}
	return caps, rows.Err()
}

// tagLockClass is the first key of the advisory locks that serialise, on
// PostgreSQL, the writers counting tags of one organisation's hour: each
// reads the keys and values counted so far before it adds to them, and two
// at once would each admit values up to the caps.
const tagLockClass = 7364502

// lockTagHours takes the advisory locks of the organisations' hours, in the
// order of their lock keys, so that writers cannot deadlock on them. They
// come after the rollups_hourly rows and before the tag rows in the lock
// order of InsertEvents, and are released at commit.
func lockTagHours(ctx context.Context, tx *Tx, ohs []orgHour) error {
	if tx.engine != Postgres {
		return nil // one writer
	}
	keys := make([]int32, 0, len(ohs))
	for _, oh := range ohs {
		h := fnv.New32a()
		h.Write([]byte(oh.org))
		h.Write([]byte(oh.hour.UTC().Format(time.RFC3339)))
		keys = append(keys, int32(h.Sum32()))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(?::int4, ?::int4)`, tagLockClass, k); err != nil {
			return fmt.Errorf("lock tag rollup hour: %w", err)
		}
	}
	return nil
}

// upsertTagRollups counts new rows in the tag rollup, within its caps, and
// returns the counts it added (the daily rollup adds the same).
func upsertTagRollups(ctx context.Context, tx *Tx, rows []*EventRow) (map[tagKey]int, error) {
	parsed := map[string][]TagPair{}
	caps := map[orgHour]tagCaps{}
	var hours []orgHour
	for _, r := range rows {
		if r.Tags == "" {
			continue
		}
		pairs, ok := parsed[r.Tags]
		if !ok {
			pairs = MessageTags(r.Tags)
			parsed[r.Tags] = pairs
		}
		if oh := (orgHour{r.OrgID, r.At.UTC().Truncate(time.Hour)}); len(pairs) > 0 && caps[oh] == nil {
			caps[oh] = tagCaps{}
			hours = append(hours, oh)
		}
	}
	if len(hours) == 0 {
		return nil, nil
	}
	if err := lockTagHours(ctx, tx, hours); err != nil {
		return nil, err
	}
	for _, oh := range hours {
		c, err := loadTagCaps(ctx, tx, oh)
		if err != nil {
			return nil, err
		}
		caps[oh] = c
	}
	counts := map[tagKey]int{}
	for _, r := range rows {
		pairs := parsed[r.Tags]
		if len(pairs) == 0 {
			continue
		}
		oh := orgHour{r.OrgID, r.At.UTC().Truncate(time.Hour)}
		c := caps[oh]
		for _, p := range pairs {
			p = c.admit(p)
			counts[tagKey{oh.hour, r.OrgID, p.Key, p.Value, r.Type, r.BounceType}]++
		}
	}
	err := addCounts(ctx, tx, "rollups_tags_hourly", []string{"org_id", "hour", "tag_key", "tag_value", "event_type", "bounce_type"}, counts, byLess[tagKey],
		func(k tagKey) ([]any, error) { return []any{k.org, k.hour, k.key, k.value, k.typ, k.bnc}, nil })
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// feedbackKey is one cell of the bounce and complaint rollup.
type feedbackKey struct {
	rollupKey
	sub, code string
}

func (a feedbackKey) less(b feedbackKey) bool {
	if a.rollupKey != b.rollupKey {
		return a.rollupKey.less(b.rollupKey)
	}
	return a.sub < b.sub || a.sub == b.sub && a.code < b.code
}

// upsertFeedbackRollups counts new bounces and complaints with their
// sub-type and status code.
func upsertFeedbackRollups(ctx context.Context, tx *Tx, rows []*EventRow) error {
	counts := map[feedbackKey]int{}
	for _, r := range rows {
		if r.Type != "Bounce" && r.Type != "Complaint" {
			continue
		}
		code := ""
		if r.Type == "Bounce" {
			code = insight.StatusCode(r.Diagnostic)
		}
		counts[feedbackKey{rollupKey{r.OrgID, r.ConnectionID, r.ConfigSet, r.SendingDomain, r.Template, domainOf(r.Recipient), r.Type, r.BounceType,
			r.At.UTC().Truncate(time.Hour)}, r.BounceSub, code}]++
	}
	return addCounts(ctx, tx, "rollups_feedback_hourly", []string{"org_id", "hour", "connection_id", "config_set", "sending_domain", "template",
		"recipient_domain", "event_type", "bounce_type", "bounce_subtype", "status_code"}, counts, byLess[feedbackKey],
		func(k feedbackKey) ([]any, error) {
			return []any{k.org, k.hour, k.conn, k.cfg, k.sendDomain, k.template, k.rcptDomain, k.typ, k.bounce, k.sub, k.code}, nil
		})
}

// TagLabel writes a tag rollup cell for people: "key: value", with the
// overflow buckets named.
func TagLabel(key, value string) string {
	switch {
	case key == "":
		return "(other tags)"
	case value == "":
		return key + ": (other values)"
	}
	return key + ": " + value
}

// addCounts adds counts to table: one row per key, whose columns cols
// (vals gives a key's values, in their order) are also the conflict
// target, and whose count column grows by the key's count. Keys are
// written in cmp's order, in chunks, so that writers that overlap take row
// locks in one order.
func addCounts[K comparable](ctx context.Context, tx *Tx, table string, cols []string, counts map[K]int, cmp func(a, b K) int, vals func(K) ([]any, error)) error {
	keys := slices.SortedFunc(maps.Keys(counts), cmp)
	list := strings.Join(cols, ", ")
	width := len(cols) + 1
	for part := range chunks(tx.engine, keys) {
		args := make([]any, 0, len(part)*width)
		for _, k := range part {
			v, err := vals(k)
			if err != nil {
				return err
			}
			args = append(append(args, v...), counts[k])
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+table+` (`+list+`, count) VALUES `+values(len(part), width)+`
			ON CONFLICT (`+list+`) DO UPDATE SET count = `+table+`.count + excluded.count`, args...)
		if err != nil {
			return fmt.Errorf("upsert %s: %w", table, err)
		}
	}
	return nil
}

// byLess is the three-way comparison of keys that order themselves with
// less.
func byLess[K interface{ less(K) bool }](a, b K) int {
	switch {
	case a.less(b):
		return -1
	case b.less(a):
		return 1
	}
	return 0
}
