package service

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/insight"
	"sendops/internal/store"
)

// Analytics: the overview, the breakdowns, reputation and the bounce
// summary. They read the hourly rollups that ingest keeps, never the
// events, and show counts and rates only: no address, so that no method
// here needs the recipients:read scope. Every method may be called by any
// member (viewer and up) and by API keys with the read scope
// (domain.ActMessagesView).

// Intervals of a stats series.
const (
	IntervalHour = "hour"
	IntervalDay  = "day"
)

const (
	// StatsMaxDays is the longest range, in days.
	StatsMaxDays = 366
	// StatsMaxHourDays is the longest range shown per hour, in days.
	StatsMaxHourDays = 31
	// statsDefaultRange is the range when none is given.
	statsDefaultRange = 7 * 24 * time.Hour
)

// StatsRange is a range of whole intervals in UTC: [From, To).
type StatsRange struct {
	From, To time.Time
	Interval string
	// RetentionDays is the organisation's retention, which bounds ranges.
	RetentionDays int
}

// Step is the length of one interval.
func (r StatsRange) Step() time.Duration {
	if r.Interval == IntervalHour {
		return time.Hour
	}
	return 24 * time.Hour
}

// Starts returns the start of every interval of the range.
func (r StatsRange) Starts() []time.Time {
	var out []time.Time
	for t := r.From; t.Before(r.To); t = t.Add(r.Step()) {
		out = append(out, t)
	}
	return out
}

// StatsQuery asks for a range: zero times take the defaults (the last 7
// days up to now), an empty interval is hour for ranges of two days or
// less and day otherwise.
type StatsQuery struct {
	From, To time.Time
	Interval string
}

// statsRange checks a query against the limits and the retention window
// and widens it to whole intervals. Errors: EInvalid naming from, to or
// interval; ERetentionExceeded (from before the retention window).
func statsRange(now time.Time, retentionDays int, q StatsQuery) (StatsRange, error) {
	now = now.UTC()
	to, from := q.To.UTC(), q.From.UTC()
	if q.To.IsZero() {
		to = now
	}
	if q.From.IsZero() {
		from = to.Add(-statsDefaultRange)
	}
	if !from.Before(to) {
		return StatsRange{}, domain.FieldError("from", "The start of the range must be before its end.")
	}
	span := to.Sub(from)
	if span > StatsMaxDays*24*time.Hour {
		return StatsRange{}, domain.FieldError("from", "A range is at most %d days long.", StatsMaxDays)
	}
	interval := q.Interval
	switch interval {
	case "":
		interval = IntervalDay
		if span <= 48*time.Hour {
			interval = IntervalHour
		}
	case IntervalHour:
		if span > StatsMaxHourDays*24*time.Hour {
			return StatsRange{}, domain.FieldError("interval", "Per hour, a range is at most %d days long: ask for interval=day.", StatsMaxHourDays)
		}
	case IntervalDay:
	default:
		return StatsRange{}, domain.FieldError("interval", "Unknown interval %q: use hour or day.", q.Interval)
	}
	if start := domain.RetentionStart(now, retentionDays); from.Before(start) {
		return StatsRange{}, &domain.Error{Code: domain.ERetentionExceeded, Field: "from",
			Message: fmt.Sprintf("This organisation keeps event data for %s: choose a start on or after %s.", statsDaysText(retentionDays), start.Format("2006-01-02"))}
	}
	r := StatsRange{Interval: interval, RetentionDays: retentionDays}
	step := r.Step()
	r.From = from.Truncate(step) // whole hours and UTC days: the zero time is a UTC midnight
	r.To = to.Truncate(step)
	if r.To.Before(to) {
		r.To = r.To.Add(step)
	}
	return r, nil
}

func statsDaysText(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// StatsPreset is a range the dashboards offer.
type StatsPreset struct {
	Name  string // 24h, 7d, 30d, 90d, 365d
	Label string
	Days  int
}

// StatsPresets are the ranges of the dashboards' range switchers.
var StatsPresets = []StatsPreset{{"24h", "24 hours", 1}, {"7d", "7 days", 7}, {"30d", "30 days", 30}, {"90d", "90 days", 90}, {"365d", "365 days", 365}}

// PresetQuery returns the query of a preset at now: the last 24 whole hours
// (the current one included) per hour, or the last n UTC days (today
// included) per day. ok is false for an unknown name.
func PresetQuery(name string, now time.Time) (q StatsQuery, ok bool) {
	now = now.UTC()
	for _, p := range StatsPresets {
		if p.Name != name {
			continue
		}
		if p.Name == "24h" {
			to := now.Truncate(time.Hour).Add(time.Hour)
			return StatsQuery{From: to.Add(-24 * time.Hour), To: to, Interval: IntervalHour}, true
		}
		to := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
		return StatsQuery{From: to.AddDate(0, 0, -p.Days), To: to, Interval: IntervalDay}, true
	}
	return StatsQuery{}, false
}

// Counts are events of each kind, one per SES event and recipient.
type Counts struct {
	Send             int64 `json:"send"`
	Delivery         int64 `json:"delivery"`
	BounceHard       int64 `json:"bounce_hard"` // Permanent and Undetermined bounces
	BounceSoft       int64 `json:"bounce_soft"` // Transient bounces SES stopped retrying
	Complaint        int64 `json:"complaint"`
	Reject           int64 `json:"reject"`
	DeliveryDelay    int64 `json:"delivery_delay"`
	Open             int64 `json:"open"`
	Click            int64 `json:"click"`
	RenderingFailure int64 `json:"rendering_failure"`
}

func (c *Counts) add(typ, bounceType string, n int64) {
	switch typ {
	case "Send":
		c.Send += n
	case "Delivery":
		c.Delivery += n
	case "Bounce":
		if bounceType == "Transient" {
			c.BounceSoft += n
		} else {
			c.BounceHard += n
		}
	case "Complaint":
		c.Complaint += n
	case "Reject":
		c.Reject += n
	case "DeliveryDelay":
		c.DeliveryDelay += n
	case "Open":
		c.Open += n
	case "Click":
		c.Click += n
	case "RenderingFailure", "Rendering Failure":
		c.RenderingFailure += n
	}
}

func (c *Counts) plus(o Counts) {
	c.Send += o.Send
	c.Delivery += o.Delivery
	c.BounceHard += o.BounceHard
	c.BounceSoft += o.BounceSoft
	c.Complaint += o.Complaint
	c.Reject += o.Reject
	c.DeliveryDelay += o.DeliveryDelay
	c.Open += o.Open
	c.Click += o.Click
	c.RenderingFailure += o.RenderingFailure
}

// Empty reports whether no event was counted.
func (c Counts) Empty() bool { return c == Counts{} }

// Rates are ratios (0.05 is 5 %); nil where the denominator is 0.
//
//   - Delivery: deliveries ÷ sends.
//   - Bounce: hard bounces ÷ sends (every Permanent bounce: the reputation
//     page counts them the way SES does).
//   - Complaint: complaints ÷ deliveries.
//   - Open, Click: open and click events ÷ deliveries. Every open and click
//     counts, so a rate may pass 100 %.
type Rates struct {
	Delivery  *float64 `json:"delivery"`
	Bounce    *float64 `json:"bounce"`
	Complaint *float64 `json:"complaint"`
	Open      *float64 `json:"open"`
	Click     *float64 `json:"click"`
}

func ratio(n, d int64) *float64 {
	if d <= 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// Rates computes the rates of the counts.
func (c Counts) Rates() Rates {
	return Rates{Delivery: ratio(c.Delivery, c.Send), Bounce: ratio(c.BounceHard, c.Send), Complaint: ratio(c.Complaint, c.Delivery),
		Open: ratio(c.Open, c.Delivery), Click: ratio(c.Click, c.Delivery)}
}

// StatsBucket is one interval of a series.
type StatsBucket struct {
	Start time.Time
	Counts
}

// Stats is an organisation's events per interval of a range.
type Stats struct {
	Range  StatsRange
	Series []StatsBucket
	Totals Counts
	Rates  Rates
}

// statsView runs fn in a read of the organisation's data with its range
// resolved. Errors: EForbidden, those of statsRange.
func (s *Service) statsView(ctx context.Context, a *domain.Actor, q StatsQuery, fn func(tx *store.Tx, r StatsRange) error) error {
	if err := a.Require(domain.ActMessagesView); err != nil {
		return err
	}
	return s.DB.View(ctx, func(tx *store.Tx) error {
		org, err := store.OrgByID(ctx, tx, a.OrgID)
		if err != nil {
			return err
		}
		r, err := statsRange(tx.Now(), org.RetentionDays, q)
		if err != nil {
			return err
		}
		return fn(tx, r)
	})
}

// bucketKey parses a store.ByHour or store.ByDay group key.
func bucketKey(key string) (time.Time, bool) {
	layout := "2006-01-02"
	if len(key) == len("2006-01-02T15") {
		layout = "2006-01-02T15"
	}
	t, err := time.Parse(layout, key)
	return t, err == nil
}

// Stats returns the organisation's events per interval of a range, their
// totals and rates. Errors: EForbidden, EInvalid (from, interval),
// ERetentionExceeded.
func (s *Service) Stats(ctx context.Context, a *domain.Actor, q StatsQuery) (*Stats, error) {
	out := &Stats{}
	err := s.statsView(ctx, a, q, func(tx *store.Tx, r StatsRange) error {
		by := store.ByDay
		if r.Interval == IntervalHour {
			by = store.ByHour
		}
		rows, err := store.RollupCounts(ctx, tx, a.OrgID, r.From, r.To, by)
		if err != nil {
			return err
		}
		out.Range = r
		index := map[time.Time]int{}
		for i, t := range r.Starts() {
			index[t] = i
			out.Series = append(out.Series, StatsBucket{Start: t})
		}
		for _, c := range rows {
			t, ok := bucketKey(c.Key)
			if i, in := index[t]; ok && in {
				out.Series[i].add(c.Type, c.BounceType, c.N)
			}
		}
		for _, b := range out.Series {
			out.Totals.plus(b.Counts)
		}
		out.Rates = out.Totals.Rates()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Breakdown dimensions.
const (
	ByConnection     = "connection"
	ByConfigSet      = "configuration_set"
	BySendingDomain  = "sending_domain"
	ByTemplate       = "template"
	ByTag            = "tag"
	ByProvider       = "provider"
	breakdownDefault = ByConfigSet
)

// BreakdownDims lists the dimensions in the order the page shows them.
var BreakdownDims = []string{ByConnection, ByConfigSet, BySendingDomain, ByTemplate, ByTag, ByProvider}

// BreakdownSorts lists what a breakdown may be sorted by.
var BreakdownSorts = []string{"name", "sent", "delivery_rate", "bounce_rate", "complaint_rate", "open_rate", "click_rate"}

const (
	// BreakdownMaxRows bounds the rows of a breakdown answer.
	BreakdownMaxRows = 1000
	breakdownRows    = 100
	// providerDomains is how many of a provider's domains a row names.
	providerDomains = 5
)

// BreakdownQuery asks for a breakdown.
type BreakdownQuery struct {
	StatsQuery
	By    string // one of BreakdownDims; "" is configuration_set
	Sort  string // one of BreakdownSorts; "" is sent
	Order string // asc or desc; "" is asc for name and desc otherwise
	Limit int    // rows, 1 to BreakdownMaxRows; 0 is 100
}

// DomainCount is a recipient domain and a number of its events.
type DomainCount struct {
	Domain string
	N      int64
}

// BreakdownRow is one value of the dimension.
type BreakdownRow struct {
	// Key is the value: a connection id, configuration set, sending
	// domain, template, tag "key:value", or provider slug.
	Key   string
	Label string
	Counts
	Rates Rates
	// Filter is the message search (the filters of /messages and
	// /api/v1/messages) that finds the row's messages; nil when none
	// does (no value, a tag's other values, a provider: see Domains).
	Filter map[string]string
	// Domains are a provider's recipient domains, most sent first.
	Domains []DomainCount
}

// Breakdown is an organisation's events of a range by one dimension.
type Breakdown struct {
	Range StatsRange
	By    string
	Sort  string
	Order string
	Rows  []BreakdownRow
	// TotalRows is the number of rows before the limit.
	TotalRows int
	// Totals are the range's events (a message with two tags is in two
	// rows of the tag breakdown, once here).
	Totals Counts
}

// Breakdown returns the volume and rates of each value of a dimension in a
// range. Tags are counted within the tag rollup's bounds (store.MaxTag…).
// Errors: EForbidden, EInvalid (by, sort, order, limit, from, interval),
// ERetentionExceeded.
func (s *Service) Breakdown(ctx context.Context, a *domain.Actor, q BreakdownQuery) (*Breakdown, error) {
	if q.By == "" {
		q.By = breakdownDefault
	}
	if !slices.Contains(BreakdownDims, q.By) {
		return nil, domain.FieldError("by", "Unknown breakdown %q: use %s.", q.By, strings.Join(BreakdownDims, ", "))
	}
	if q.Sort == "" {
		q.Sort = "sent"
	}
	if !slices.Contains(BreakdownSorts, q.Sort) {
		return nil, domain.FieldError("sort", "Unknown sort %q: use %s.", q.Sort, strings.Join(BreakdownSorts, ", "))
	}
	switch q.Order {
	case "":
		q.Order = "desc"
		if q.Sort == "name" {
			q.Order = "asc"
		}
	case "asc", "desc":
	default:
		return nil, domain.FieldError("order", "Unknown order %q: use asc or desc.", q.Order)
	}
	if q.Limit == 0 {
		q.Limit = breakdownRows
	}
	if q.Limit < 1 || q.Limit > BreakdownMaxRows {
		return nil, domain.FieldError("limit", "limit must be a whole number from 1 to %d.", BreakdownMaxRows)
	}
	out := &Breakdown{By: q.By, Sort: q.Sort, Order: q.Order}
	err := s.statsView(ctx, a, q.StatsQuery, func(tx *store.Tx, r StatsRange) error {
		out.Range = r
		by := map[string]store.Dim{ByConnection: store.ByConnection, ByConfigSet: store.ByConfigSet, BySendingDomain: store.BySendingDomain,
			ByTemplate: store.ByTemplate, ByTag: store.ByTag, ByProvider: store.ByRecipientDomain}[q.By]
		rows, err := store.RollupCounts(ctx, tx, a.OrgID, r.From, r.To, by)
		if err != nil {
			return err
		}
		names := map[string]string{}
		if q.By == ByConnection {
			conns, err := store.Connections(ctx, tx, a.OrgID)
			if err != nil {
				return err
			}
			for _, c := range conns {
				names[c.ID] = c.Name
			}
		}
		out.Rows = groupBreakdown(q.By, rows, names)
		// The range's totals, whatever the dimension: a message with two
		// tags is in two tag rows.
		totals, err := store.RollupCounts(ctx, tx, a.OrgID, r.From, r.To, store.ByNone)
		for _, c := range totals {
			out.Totals.add(c.Type, c.BounceType, c.N)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sortBreakdown(out.Rows, q.Sort, q.Order)
	out.TotalRows = len(out.Rows)
	if len(out.Rows) > q.Limit {
		out.Rows = out.Rows[:q.Limit]
	}
	return out, nil
}

// groupBreakdown groups rollup counts into the rows of a dimension.
func groupBreakdown(by string, counts []store.RollupCount, names map[string]string) []BreakdownRow {
	rows := map[string]*BreakdownRow{}
	var order []string
	domains := map[string]map[string]int64{} // provider slug → domain → sends
	for _, c := range counts {
		key := c.Key
		if by == ByTag {
			key = c.Key + ":" + c.Value
		}
		if by == ByProvider {
			p := insight.ProviderOf(c.Key)
			key = p.Slug()
			if c.Type == "Send" && c.Key != "" {
				if domains[key] == nil {
					domains[key] = map[string]int64{}
				}
				domains[key][c.Key] += c.N
			}
		}
		row, ok := rows[key]
		if !ok {
			row = &BreakdownRow{Key: key}
			rows[key] = row
			order = append(order, key)
			switch by {
			case ByTag:
				row.Label = store.TagLabel(c.Key, c.Value)
				if c.Key != "" && c.Value != "" {
					row.Filter = map[string]string{"tag": key}
				}
			case ByProvider:
				p, _ := insight.ProviderBySlug(key)
				row.Label = string(p)
			case ByConnection:
				row.Label = names[key]
				if row.Label == "" {
					row.Label = key + " (removed)"
				}
				row.Filter = map[string]string{"connection": key}
			default:
				row.Label = key
				if key == "" {
					row.Label = "(none)"
				} else {
					filter := map[string]string{ByConfigSet: "configuration_set", ByTemplate: "template", BySendingDomain: "sender"}[by]
					value := key
					if by == BySendingDomain {
						value = "@" + key
					}
					row.Filter = map[string]string{filter: value}
				}
			}
		}
		row.add(c.Type, c.BounceType, c.N)
	}
	out := make([]BreakdownRow, 0, len(order))
	for _, k := range order {
		row := rows[k]
		row.Rates = row.Counts.Rates()
		for d, n := range domains[k] {
			row.Domains = append(row.Domains, DomainCount{d, n})
		}
		sort.Slice(row.Domains, func(i, j int) bool {
			a, b := row.Domains[i], row.Domains[j]
			return a.N > b.N || a.N == b.N && a.Domain < b.Domain
		})
		if len(row.Domains) > providerDomains {
			row.Domains = row.Domains[:providerDomains]
		}
		out = append(out, *row)
	}
	return out
}

// sortBreakdown sorts rows by a column; rows without a rate come last
// either way, ties go to the larger volume, then the key.
func sortBreakdown(rows []BreakdownRow, by, order string) {
	rate := func(r *BreakdownRow) *float64 {
		switch by {
		case "delivery_rate":
			return r.Rates.Delivery
		case "bounce_rate":
			return r.Rates.Bounce
		case "complaint_rate":
			return r.Rates.Complaint
		case "open_rate":
			return r.Rates.Open
		case "click_rate":
			return r.Rates.Click
		}
		return nil
	}
	desc := order == "desc"
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		var c int
		switch by {
		case "name":
			c = strings.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label))
		case "sent":
			c = cmpInt(a.Send, b.Send)
		default:
			ra, rb := rate(a), rate(b)
			switch {
			case ra == nil && rb == nil:
			case ra == nil:
				return false
			case rb == nil:
				return true
			case *ra < *rb:
				c = -1
			case *ra > *rb:
				c = 1
			}
		}
		if c != 0 {
			return (c < 0) != desc
		}
		if a.Send != b.Send {
			return a.Send > b.Send
		}
		return a.Key < b.Key
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SES's reputation thresholds (ses-events/FACTS.md §7): an account whose
// bounce rate reaches 5 % is placed under review, and at 10 % its sending
// may be paused; for complaints 0.1 % and 0.5 %.
const (
	BounceReview    = 0.05
	BouncePause     = 0.10
	ComplaintReview = 0.001
	ComplaintPause  = 0.005
)

// Reputation statuses, of one rate or of both (the worse).
const (
	RepNoData      = "no_data"
	RepHealthy     = "healthy"
	RepUnderReview = "under_review_risk"
	RepPause       = "pause_risk"
)

var repRank = map[string]int{RepNoData: 0, RepHealthy: 1, RepUnderReview: 2, RepPause: 3}

// RepStatus is the status of a rate against SES's two thresholds: at or
// above pause, pause risk; at or above review, under review risk.
func RepStatus(rate *float64, review, pause float64) string {
	switch {
	case rate == nil:
		return RepNoData
	case *rate >= pause:
		return RepPause
	case *rate >= review:
		return RepUnderReview
	}
	return RepHealthy
}

// RepMinVolume is the volume under which a contributor's rate is not shown
// (one bounce in ten messages says little), and under which the page says
// that a rate is not yet representative: SES judges rates over a
// representative volume of mail, not a fixed time window.
const RepMinVolume = 100

// repTop is how many contributors of each kind are shown.
const repTop = 10

// RepCounts are the numbers SES's rates are made of.
type RepCounts struct {
	// Sent is the Send events (one per recipient) less the bounces of
	// addresses on the account's suppression list, which SES did not try
	// to deliver: the bounce rate's denominator.
	Sent int64
	// Delivered is the Delivery events: the complaint rate's denominator
	// (complaints can only come from delivered mail).
	Delivered int64
	// Bounces are the hard bounces SES counts: Permanent, except
	// OnAccountSuppressionList (global-suppression bounces count).
	// Transient bounces, auto-replies among them, do not count.
	Bounces int64
	// Complaints are the complaints SES counts: all but those of
	// addresses on the account's suppression list.
	Complaints int64
}

func (c *RepCounts) addRollup(typ string, n int64) {
	switch typ {
	case "Send":
		c.Sent += n
	case "Delivery":
		c.Delivered += n
	}
}

func (c *RepCounts) addFeedback(f store.FeedbackCount) {
	switch {
	case f.Type == "Bounce" && f.SubType == "OnAccountSuppressionList":
		c.Sent -= f.N
	case f.Type == "Bounce" && f.BounceType == "Permanent":
		c.Bounces += f.N
	case f.Type == "Complaint" && f.SubType != "OnAccountSuppressionList":
		c.Complaints += f.N
	}
}

// RepMetrics are SES's two rates with their statuses.
type RepMetrics struct {
	RepCounts
	BounceRate, ComplaintRate     *float64
	BounceStatus, ComplaintStatus string
	// Status is the worse of the two.
	Status string
	// LowVolume: fewer than RepMinVolume sent; the rates say little yet.
	LowVolume bool
}

func repMetrics(c RepCounts) RepMetrics {
	m := RepMetrics{RepCounts: c, BounceRate: ratio(c.Bounces, max(c.Sent, 0)), ComplaintRate: ratio(c.Complaints, c.Delivered)}
	m.BounceStatus = RepStatus(m.BounceRate, BounceReview, BouncePause)
	m.ComplaintStatus = RepStatus(m.ComplaintRate, ComplaintReview, ComplaintPause)
	m.Status = m.BounceStatus
	if repRank[m.ComplaintStatus] > repRank[m.Status] {
		m.Status = m.ComplaintStatus
	}
	m.LowVolume = c.Sent < RepMinVolume
	return m
}

// RepConnection is the reputation of one connection: SES judges each
// account and region, which is what a connection is.
type RepConnection struct {
	ConnectionID, Name string
	RepMetrics
}

// RepDay is one day of the trend.
type RepDay struct {
	Day time.Time
	RepMetrics
}

// Contributor is a template, sending domain or provider and its share of
// the counted bounces or complaints.
type Contributor struct {
	Key, Label string
	// Volume is the rate's denominator: sent for bounces, delivered for
	// complaints.
	Volume int64
	Count  int64
	// Rate is Count ÷ Volume; nil under RepMinVolume.
	Rate *float64
	// Share is Count ÷ the range's counted total.
	Share float64
	// Filter is the message search of the contributor, as in BreakdownRow.
	Filter  map[string]string
	Domains []DomainCount
}

// Contributors are the top contributors by dimension.
type Contributors struct {
	Template, SendingDomain, Provider []Contributor
}

// Reputation is an organisation's bounce and complaint rates as SES counts
// them, over a range and per day, and what drives them.
type Reputation struct {
	Range       StatsRange
	Overall     RepMetrics
	Connections []RepConnection
	Trend       []RepDay
	Bounces     Contributors
	Complaints  Contributors
}

// Reputation returns the bounce and complaint rates of a range the way SES
// evaluates them (see RepCounts), per connection, per day, and the
// templates, sending domains and providers with the most counted bounces
// and complaints. The range is per day whatever the query's interval.
// Errors: EForbidden, EInvalid (from), ERetentionExceeded.
func (s *Service) Reputation(ctx context.Context, a *domain.Actor, q StatsQuery) (*Reputation, error) {
	q.Interval = IntervalDay
	out := &Reputation{}
	err := s.statsView(ctx, a, q, func(tx *store.Tx, r StatsRange) error {
		out.Range = r
		get := func(m map[string]*RepCounts, k string) *RepCounts {
			if m[k] == nil {
				m[k] = &RepCounts{}
			}
			return m[k]
		}

		// Per day, from the organisation's totals and the feedback rollup.
		days := map[string]*RepCounts{}
		rows, err := store.RollupCounts(ctx, tx, a.OrgID, r.From, r.To, store.ByDay)
		if err != nil {
			return err
		}
		for _, c := range rows {
			if c.Type == "Send" || c.Type == "Delivery" {
				get(days, c.Key).addRollup(c.Type, c.N)
			}
		}
		fb, err := store.FeedbackCounts(ctx, tx, a.OrgID, r.From, r.To, store.ByDay)
		if err != nil {
			return err
		}
		for _, f := range fb {
			get(days, f.Key).addFeedback(f)
		}
		var total RepCounts
		for _, t := range r.Starts() {
			c := days[t.Format("2006-01-02")]
			if c == nil {
				c = &RepCounts{}
			}
			out.Trend = append(out.Trend, RepDay{Day: t, RepMetrics: repMetrics(*c)})
			total.Sent += c.Sent
			total.Delivered += c.Delivered
			total.Bounces += c.Bounces
			total.Complaints += c.Complaints
		}
		out.Overall = repMetrics(total)

		// By connection, template, sending domain and recipient domain: each
		// from its own daily rollup rows (365 a year per value and type).
		dims := []store.Dim{store.ByConnection, store.ByTemplate, store.BySendingDomain, store.ByRecipientDomain}
		groups := make([]map[string]*RepCounts, len(dims))
		for i, by := range dims {
			groups[i] = map[string]*RepCounts{}
			counts, err := store.RollupCounts(ctx, tx, a.OrgID, r.From, r.To, by, "Send", "Delivery")
			if err != nil {
				return err
			}
			for _, c := range counts {
				get(groups[i], c.Key).addRollup(c.Type, c.N)
			}
			fb, err := store.FeedbackCounts(ctx, tx, a.OrgID, r.From, r.To, by)
			if err != nil {
				return err
			}
			for _, f := range fb {
				get(groups[i], f.Key).addFeedback(f)
			}
		}

		list, err := store.Connections(ctx, tx, a.OrgID)
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, c := range list {
			names[c.ID] = c.Name
		}
		var keys []string
		for k := range groups[0] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := names[k]
			if name == "" {
				name = k + " (removed)"
			}
			out.Connections = append(out.Connections, RepConnection{ConnectionID: k, Name: name, RepMetrics: repMetrics(*groups[0][k])})
		}
		out.Bounces.Template, out.Complaints.Template = contributors(store.ByTemplate, groups[1], total)
		out.Bounces.SendingDomain, out.Complaints.SendingDomain = contributors(store.BySendingDomain, groups[2], total)
		out.Bounces.Provider, out.Complaints.Provider = contributors(store.ByRecipientDomain, groups[3], total)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// contributors ranks a dimension's values by counted bounces and by
// counted complaints; recipient domains are grouped into providers.
func contributors(by store.Dim, m map[string]*RepCounts, total RepCounts) (bounces, complaints []Contributor) {
	// A provider's domains with the most bounces, and with the most
	// complaints.
	var bounceDomains, complaintDomains map[string][]DomainCount
	if by == store.ByRecipientDomain {
		bounceDomains, complaintDomains = map[string][]DomainCount{}, map[string][]DomainCount{}
		grouped := map[string]*RepCounts{}
		for d, c := range m {
			slug := insight.ProviderOf(d).Slug()
			if grouped[slug] == nil {
				grouped[slug] = &RepCounts{}
			}
			g := grouped[slug]
			g.Sent, g.Delivered, g.Bounces, g.Complaints = g.Sent+c.Sent, g.Delivered+c.Delivered, g.Bounces+c.Bounces, g.Complaints+c.Complaints
			if d != "" && c.Bounces > 0 {
				bounceDomains[slug] = append(bounceDomains[slug], DomainCount{d, c.Bounces})
			}
			if d != "" && c.Complaints > 0 {
				complaintDomains[slug] = append(complaintDomains[slug], DomainCount{d, c.Complaints})
			}
		}
		m = grouped
	}
	contributor := func(key string, volume, count, all int64, domains map[string][]DomainCount) Contributor {
		c := Contributor{Key: key, Label: key, Volume: volume, Count: count}
		if volume >= RepMinVolume {
			c.Rate = ratio(count, volume)
		}
		if all > 0 {
			c.Share = float64(count) / float64(all)
		}
		switch by {
		case store.ByRecipientDomain:
			p, _ := insight.ProviderBySlug(key)
			c.Label = string(p)
			ds := domains[key]
			sort.Slice(ds, func(i, j int) bool { return ds[i].N > ds[j].N || ds[i].N == ds[j].N && ds[i].Domain < ds[j].Domain })
			if len(ds) > providerDomains {
				ds = ds[:providerDomains]
			}
			c.Domains = ds
		case store.ByTemplate:
			if key != "" {
				c.Filter = map[string]string{"template": key}
			}
		case store.BySendingDomain:
			if key != "" {
				c.Filter = map[string]string{"sender": "@" + key}
			}
		}
		if key == "" && by != store.ByRecipientDomain {
			c.Label = "(none)"
		}
		return c
	}
	for k, c := range m {
		if c.Bounces > 0 {
			bounces = append(bounces, contributor(k, max(c.Sent, 0), c.Bounces, total.Bounces, bounceDomains))
		}
		if c.Complaints > 0 {
			complaints = append(complaints, contributor(k, c.Delivered, c.Complaints, total.Complaints, complaintDomains))
		}
	}
	rank := func(cs []Contributor) []Contributor {
		sort.Slice(cs, func(i, j int) bool {
			a, b := cs[i], cs[j]
			if a.Count != b.Count {
				return a.Count > b.Count
			}
			if a.Volume != b.Volume {
				return a.Volume < b.Volume
			}
			return a.Key < b.Key
		})
		if len(cs) > repTop {
			cs = cs[:repTop]
		}
		return cs
	}
	return rank(bounces), rank(complaints)
}

// BounceGroup is the bounces of one mailbox provider with one status code
// (or, without a code, one SES explanation), explained.
type BounceGroup struct {
	Provider insight.Provider
	// StatusCode is the SMTP enhanced status code of the diagnostics, ""
	// when they had none.
	StatusCode string
	// Key is what the explanation is of: the code, a class (5.7.x) or an
	// SES sub-type (OnAccountSuppressionList).
	Key, Title, Explanation, Action string
	// Hard are Permanent and Undetermined bounces, Soft Transient ones.
	Hard, Soft int64
	// Counted are the bounces SES counts toward the bounce rate.
	Counted int64
	// Domains are the recipient domains with most of the group's bounces.
	Domains []DomainCount
}

// Total is the group's number of bounces.
func (g BounceGroup) Total() int64 { return g.Hard + g.Soft }

// BounceSummary is a range's bounces by provider and status code.
type BounceSummary struct {
	Range          StatsRange
	Total, Counted int64
	Groups         []BounceGroup
}

// BounceSummary groups the bounces of a range by mailbox provider and SMTP
// enhanced status code, each group with insight.ExplainBounce's plain
// explanation and what to do. Bounces stored before schema 0010 carry no
// status code and are explained by their SES sub-type. Errors: EForbidden,
// EInvalid (from), ERetentionExceeded.
func (s *Service) BounceSummary(ctx context.Context, a *domain.Actor, q StatsQuery) (*BounceSummary, error) {
	q.Interval = IntervalDay
	out := &BounceSummary{}
	err := s.statsView(ctx, a, q, func(tx *store.Tx, r StatsRange) error {
		out.Range = r
		fb, err := store.FeedbackCounts(ctx, tx, a.OrgID, r.From, r.To, store.ByRecipientDomain)
		if err != nil {
			return err
		}
		type gk struct {
			p         insight.Provider
			code, key string
		}
		groups := map[gk]*BounceGroup{}
		domains := map[gk]map[string]int64{}
		for _, f := range fb {
			if f.Type != "Bounce" {
				continue
			}
			adv := insight.ExplainBounce(f.BounceType, f.SubType, f.StatusCode)
			k := gk{insight.ProviderOf(f.Key), f.StatusCode, adv.Key}
			g := groups[k]
			if g == nil {
				g = &BounceGroup{Provider: k.p, StatusCode: f.StatusCode, Key: adv.Key, Title: adv.Title, Explanation: adv.Explanation, Action: adv.Action}
				groups[k] = g
				domains[k] = map[string]int64{}
			}
			if f.BounceType == "Transient" {
				g.Soft += f.N
			} else {
				g.Hard += f.N
			}
			if f.BounceType == "Permanent" && f.SubType != "OnAccountSuppressionList" {
				g.Counted += f.N
				out.Counted += f.N
			}
			out.Total += f.N
			if f.Key != "" {
				domains[k][f.Key] += f.N
			}
		}
		for k, g := range groups {
			for d, n := range domains[k] {
				g.Domains = append(g.Domains, DomainCount{d, n})
			}
			sort.Slice(g.Domains, func(i, j int) bool {
				a, b := g.Domains[i], g.Domains[j]
				return a.N > b.N || a.N == b.N && a.Domain < b.Domain
			})
			if len(g.Domains) > 3 {
				g.Domains = g.Domains[:3]
			}
			out.Groups = append(out.Groups, *g)
		}
		sort.Slice(out.Groups, func(i, j int) bool {
			a, b := out.Groups[i], out.Groups[j]
			if a.Total() != b.Total() {
				return a.Total() > b.Total()
			}
			if pa, pb := slices.Index(insight.Providers, a.Provider), slices.Index(insight.Providers, b.Provider); pa != pb {
				return pa < pb
			}
			return a.StatusCode+a.Key < b.StatusCode+b.Key
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
