package service

import (
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/store"
)

// A rate exactly at a threshold is at that status: SES's "5% or greater".
func TestRepStatusThresholds(t *testing.T) {
	t.Parallel()
	r := func(f float64) *float64 { return &f }
	for _, c := range []struct {
		name         string
		rate         *float64
		review, stop float64
		want         string
	}{
		{"no mail", nil, BounceReview, BouncePause, RepNoData},
		{"no bounces", r(0), BounceReview, BouncePause, RepHealthy},
		{"bounce just under review", r(0.0499), BounceReview, BouncePause, RepHealthy},
		{"bounce at review", r(0.05), BounceReview, BouncePause, RepUnderReview},
		{"bounce just under pause", r(0.0999), BounceReview, BouncePause, RepUnderReview},
		{"bounce at pause", r(0.10), BounceReview, BouncePause, RepPause},
		{"bounce far over", r(0.5), BounceReview, BouncePause, RepPause},
		{"complaint just under review", r(0.000999), ComplaintReview, ComplaintPause, RepHealthy},
		{"complaint at review", r(0.001), ComplaintReview, ComplaintPause, RepUnderReview},
		{"complaint just under pause", r(0.004999), ComplaintReview, ComplaintPause, RepUnderReview},
		{"complaint at pause", r(0.005), ComplaintReview, ComplaintPause, RepPause},
	} {
		if got := RepStatus(c.rate, c.review, c.stop); got != c.want {
			t.Errorf("%s: RepStatus = %s, want %s", c.name, got, c.want)
		}
	}

	// Counted the way SES counts: 1 in 20 sent (the account-suppressed
	// bounce neither in the numerator nor the denominator), 1 in 1000
	// delivered, the worse of the two is the status.
	var c RepCounts
	c.addRollup("Send", 21)
	c.addRollup("Delivery", 1000)
	for _, f := range []store.FeedbackCount{
		{Type: "Bounce", BounceType: "Permanent", SubType: "General", StatusCode: "5.1.1", N: 1},
		{Type: "Bounce", BounceType: "Permanent", SubType: "OnAccountSuppressionList", N: 1},
		{Type: "Bounce", BounceType: "Transient", SubType: "General", N: 3},
		{Type: "Bounce", BounceType: "Undetermined", SubType: "Undetermined", N: 1},
		{Type: "Complaint", SubType: "", N: 1},
		{Type: "Complaint", SubType: "OnAccountSuppressionList", N: 4},
	} {
		c.addFeedback(f)
	}
	m := repMetrics(c)
	if m.Sent != 20 || m.Bounces != 1 || m.Complaints != 1 || *m.BounceRate != 0.05 || *m.ComplaintRate != 0.001 {
		t.Fatalf("metrics: %+v", m)
	}
	if m.BounceStatus != RepUnderReview || m.ComplaintStatus != RepUnderReview || m.Status != RepUnderReview || !m.LowVolume {
		t.Fatalf("statuses: %+v", m)
	}
}

func TestStatsRange(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 14, 25, 0, 0, time.UTC)
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	for _, c := range []struct {
		name      string
		retention int
		q         StatsQuery
		from, to  string
		interval  string
		code      string // an error's code
		field     string
	}{
		{"default: the last 7 days per day", 30, StatsQuery{}, "2026-03-03T00:00:00Z", "2026-03-11T00:00:00Z", "day", "", ""},
		{"two days or less: per hour", 30, StatsQuery{From: at("2026-03-09T14:25:00Z")}, "2026-03-09T14:00:00Z", "2026-03-10T15:00:00Z", "hour", "", ""},
		{"whole hours", 30, StatsQuery{From: at("2026-03-10T09:30:00Z"), To: at("2026-03-10T11:00:00Z"), Interval: "hour"}, "2026-03-10T09:00:00Z", "2026-03-10T11:00:00Z", "hour", "", ""},
		{"whole days", 30, StatsQuery{From: at("2026-03-01T09:30:00+02:00"), To: at("2026-03-05T00:00:01Z"), Interval: "day"}, "2026-03-01T00:00:00Z", "2026-03-06T00:00:00Z", "day", "", ""},
		{"the start of the retention window", 7, StatsQuery{From: at("2026-03-03T00:00:00Z")}, "2026-03-03T00:00:00Z", "2026-03-11T00:00:00Z", "day", "", ""},
		{"before the retention window", 7, StatsQuery{From: at("2026-03-02T23:59:59Z")}, "", "", "", domain.ERetentionExceeded, "from"},
		{"empty range", 30, StatsQuery{From: at("2026-03-05T00:00:00Z"), To: at("2026-03-05T00:00:00Z")}, "", "", "", domain.EInvalid, "from"},
		{"too long", 3650, StatsQuery{From: at("2025-03-08T00:00:00Z")}, "", "", "", domain.EInvalid, "from"},
		{"a year", 3650, StatsQuery{From: at("2025-03-10T00:00:00Z")}, "2025-03-10T00:00:00Z", "2026-03-11T00:00:00Z", "day", "", ""},
		{"too long per hour", 90, StatsQuery{From: at("2026-02-01T00:00:00Z"), Interval: "hour"}, "", "", "", domain.EInvalid, "interval"},
		{"unknown interval", 30, StatsQuery{Interval: "week"}, "", "", "", domain.EInvalid, "interval"},
	} {
		r, err := statsRange(now, c.retention, c.q)
		if c.code != "" {
			var de *domain.Error
			if domain.ErrorCode(err) != c.code || !asDomainError(err, &de) || de.Field != c.field {
				t.Errorf("%s: err %v, want %s on %s", c.name, err, c.code, c.field)
			}
			continue
		}
		if err != nil || r.From.Format(time.RFC3339) != c.from || r.To.Format(time.RFC3339) != c.to || r.Interval != c.interval {
			t.Errorf("%s: %s – %s per %s, %v; want %s – %s per %s", c.name, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Interval, err, c.from, c.to, c.interval)
		}
	}

	// The presets: 24 whole hours up to the current one, n days up to today.
	for name, want := range map[string][2]string{
		"24h":  {"2026-03-09T15:00:00Z", "2026-03-10T15:00:00Z"},
		"7d":   {"2026-03-04T00:00:00Z", "2026-03-11T00:00:00Z"},
		"365d": {"2025-03-11T00:00:00Z", "2026-03-11T00:00:00Z"},
	} {
		q, ok := PresetQuery(name, now)
		r, err := statsRange(now, 365, q)
		if !ok || err != nil || r.From.Format(time.RFC3339) != want[0] || r.To.Format(time.RFC3339) != want[1] || len(r.Starts()) != map[string]int{"24h": 24, "7d": 7, "365d": 365}[name] {
			t.Errorf("preset %s: %v – %v (%d), %v", name, r.From, r.To, len(r.Starts()), err)
		}
	}
	// A preset of n days fits a retention of n days.
	q, _ := PresetQuery("7d", now)
	if _, err := statsRange(now, 7, q); err != nil {
		t.Errorf("7 days with a retention of 7: %v", err)
	}
	q, _ = PresetQuery("30d", now)
	if _, err := statsRange(now, 7, q); domain.ErrorCode(err) != domain.ERetentionExceeded {
		t.Errorf("30 days with a retention of 7: %v", err)
	}
}

func asDomainError(err error, de **domain.Error) bool {
	e, ok := err.(*domain.Error)
	*de = e
	return ok
}
