package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
)

// The analytics API: counts and rates from the hourly rollups, never an
// address, so the read scope is enough (recipients:read is not needed).

// statsQueryFrom reads from, to and interval: RFC 3339 times, or dates
// (2006-01-02; to names the first day not included).
func statsQueryFrom(q url.Values) (service.StatsQuery, error) {
	out := service.StatsQuery{Interval: q.Get("interval")}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &out.From}, {"to", &out.To}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			*f.dst = t.UTC()
		} else if t, err := time.Parse("2006-01-02", v); err == nil {
			*f.dst = t
		} else {
			return out, domain.FieldError(f.name, "%s must be an RFC 3339 time (2006-01-02T15:04:05Z) or a date (2006-01-02).", f.name)
		}
	}
	return out, nil
}

type statsBucketJSON struct {
	Start time.Time `json:"start"`
	service.Counts
}

type statsJSON struct {
	Interval      string            `json:"interval"`
	From          time.Time         `json:"from"`
	To            time.Time         `json:"to"`
	RetentionDays int               `json:"retention_days"`
	Series        []statsBucketJSON `json:"series"`
	Totals        service.Counts    `json:"totals"`
	Rates         service.Rates     `json:"rates"`
}

func (s *Server) apiStats(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q, err := statsQueryFrom(r.URL.Query())
	if err != nil {
		return err
	}
	st, err := s.Service.Stats(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	out := statsJSON{Interval: st.Range.Interval, From: st.Range.From, To: st.Range.To, RetentionDays: st.Range.RetentionDays,
		Series: make([]statsBucketJSON, len(st.Series)), Totals: st.Totals, Rates: st.Rates}
	for i, b := range st.Series {
		out.Series[i] = statsBucketJSON{Start: b.Start, Counts: b.Counts}
	}
	return writeJSON(w, http.StatusOK, out)
}

type domainCountJSON struct {
	Domain string `json:"domain"`
	Count  int64  `json:"count"`
}

func toDomainCounts(ds []service.DomainCount) []domainCountJSON {
	out := make([]domainCountJSON, len(ds))
	for i, d := range ds {
		out[i] = domainCountJSON{d.Domain, d.N}
	}
	return out
}

type breakdownRowJSON struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	service.Counts
	Rates   service.Rates     `json:"rates"`
	Filter  map[string]string `json:"filter"`
	Domains []domainCountJSON `json:"domains,omitempty"`
}

type breakdownJSON struct {
	By        string             `json:"by"`
	From      time.Time          `json:"from"`
	To        time.Time          `json:"to"`
	Sort      string             `json:"sort"`
	Order     string             `json:"order"`
	TotalRows int                `json:"total_rows"`
	Rows      []breakdownRowJSON `json:"rows"`
	Totals    service.Counts     `json:"totals"`
}

// breakdownQueryFrom reads a breakdown's query parameters.
func breakdownQueryFrom(q url.Values) (service.BreakdownQuery, error) {
	sq, err := statsQueryFrom(q)
	if err != nil {
		return service.BreakdownQuery{}, err
	}
	out := service.BreakdownQuery{StatsQuery: sq, By: q.Get("by"), Sort: q.Get("sort"), Order: q.Get("order")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > service.BreakdownMaxRows {
			return out, domain.FieldError("limit", "limit must be a whole number from 1 to %d.", service.BreakdownMaxRows)
		}
		out.Limit = n
	}
	return out, nil
}

func (s *Server) apiBreakdowns(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q, err := breakdownQueryFrom(r.URL.Query())
	if err != nil {
		return err
	}
	b, err := s.Service.Breakdown(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	out := breakdownJSON{By: b.By, From: b.Range.From, To: b.Range.To, Sort: b.Sort, Order: b.Order, TotalRows: b.TotalRows,
		Rows: make([]breakdownRowJSON, len(b.Rows)), Totals: b.Totals}
	for i, row := range b.Rows {
		out.Rows[i] = breakdownRowJSON{Key: row.Key, Label: row.Label, Counts: row.Counts, Rates: row.Rates, Filter: row.Filter, Domains: toDomainCounts(row.Domains)}
	}
	return writeJSON(w, http.StatusOK, out)
}

type repMetricsJSON struct {
	Sent            int64    `json:"sent"`
	Delivered       int64    `json:"delivered"`
	Bounces         int64    `json:"bounces"`
	Complaints      int64    `json:"complaints"`
	BounceRate      *float64 `json:"bounce_rate"`
	ComplaintRate   *float64 `json:"complaint_rate"`
	BounceStatus    string   `json:"bounce_status"`
	ComplaintStatus string   `json:"complaint_status"`
	Status          string   `json:"status"`
	LowVolume       bool     `json:"low_volume"`
}

func toRepMetrics(m service.RepMetrics) repMetricsJSON {
	return repMetricsJSON{Sent: m.Sent, Delivered: m.Delivered, Bounces: m.Bounces, Complaints: m.Complaints, BounceRate: m.BounceRate,
		ComplaintRate: m.ComplaintRate, BounceStatus: m.BounceStatus, ComplaintStatus: m.ComplaintStatus, Status: m.Status, LowVolume: m.LowVolume}
}

type repConnectionJSON struct {
	ConnectionID string `json:"connection_id"`
	Name         string `json:"name"`
	repMetricsJSON
}

type repDayJSON struct {
	Day string `json:"day"`
	repMetricsJSON
}

type contributorJSON struct {
	Key     string            `json:"key"`
	Label   string            `json:"label"`
	Volume  int64             `json:"volume"`
	Count   int64             `json:"count"`
	Rate    *float64          `json:"rate"`
	Share   float64           `json:"share"`
	Filter  map[string]string `json:"filter"`
	Domains []domainCountJSON `json:"domains,omitempty"`
}

type contributorsJSON struct {
	Template      []contributorJSON `json:"template"`
	SendingDomain []contributorJSON `json:"sending_domain"`
	Provider      []contributorJSON `json:"provider"`
}

func toContributors(c service.Contributors) contributorsJSON {
	conv := func(cs []service.Contributor) []contributorJSON {
		out := make([]contributorJSON, len(cs))
		for i, x := range cs {
			out[i] = contributorJSON{Key: x.Key, Label: x.Label, Volume: x.Volume, Count: x.Count, Rate: x.Rate, Share: x.Share, Filter: x.Filter, Domains: toDomainCounts(x.Domains)}
		}
		return out
	}
	return contributorsJSON{Template: conv(c.Template), SendingDomain: conv(c.SendingDomain), Provider: conv(c.Provider)}
}

type thresholdJSON struct {
	Review float64 `json:"review"`
	Pause  float64 `json:"pause"`
}

type reputationJSON struct {
	From          time.Time                `json:"from"`
	To            time.Time                `json:"to"`
	RetentionDays int                      `json:"retention_days"`
	Thresholds    map[string]thresholdJSON `json:"thresholds"`
	MinVolume     int                      `json:"min_volume"`
	Overall       repMetricsJSON           `json:"overall"`
	Connections   []repConnectionJSON      `json:"connections"`
	Trend         []repDayJSON             `json:"trend"`
	Bounces       contributorsJSON         `json:"bounces"`
	Complaints    contributorsJSON         `json:"complaints"`
}

func (s *Server) apiReputation(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q, err := statsQueryFrom(r.URL.Query())
	if err != nil {
		return err
	}
	rep, err := s.Service.Reputation(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	out := reputationJSON{From: rep.Range.From, To: rep.Range.To, RetentionDays: rep.Range.RetentionDays,
		Thresholds: map[string]thresholdJSON{
			"bounce":    {service.BounceReview, service.BouncePause},
			"complaint": {service.ComplaintReview, service.ComplaintPause},
		},
		MinVolume: service.RepMinVolume, Overall: toRepMetrics(rep.Overall), Connections: []repConnectionJSON{}, Trend: make([]repDayJSON, len(rep.Trend)),
		Bounces: toContributors(rep.Bounces), Complaints: toContributors(rep.Complaints)}
	for _, c := range rep.Connections {
		out.Connections = append(out.Connections, repConnectionJSON{ConnectionID: c.ConnectionID, Name: c.Name, repMetricsJSON: toRepMetrics(c.RepMetrics)})
	}
	for i, d := range rep.Trend {
		out.Trend[i] = repDayJSON{Day: d.Day.Format("2006-01-02"), repMetricsJSON: toRepMetrics(d.RepMetrics)}
	}
	return writeJSON(w, http.StatusOK, out)
}

type bounceGroupJSON struct {
	Provider     string            `json:"provider"`
	ProviderName string            `json:"provider_name"`
	StatusCode   string            `json:"status_code"`
	Key          string            `json:"key"`
	Title        string            `json:"title"`
	Explanation  string            `json:"explanation"`
	Action       string            `json:"action"`
	Total        int64             `json:"total"`
	Hard         int64             `json:"hard"`
	Soft         int64             `json:"soft"`
	Counted      int64             `json:"counted"`
	Domains      []domainCountJSON `json:"domains"`
}

type bounceSummaryJSON struct {
	From    time.Time         `json:"from"`
	To      time.Time         `json:"to"`
	Total   int64             `json:"total"`
	Counted int64             `json:"counted"`
	Groups  []bounceGroupJSON `json:"groups"`
}

func (s *Server) apiBouncesSummary(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q, err := statsQueryFrom(r.URL.Query())
	if err != nil {
		return err
	}
	sum, err := s.Service.BounceSummary(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	out := bounceSummaryJSON{From: sum.Range.From, To: sum.Range.To, Total: sum.Total, Counted: sum.Counted, Groups: make([]bounceGroupJSON, len(sum.Groups))}
	for i, g := range sum.Groups {
		out.Groups[i] = bounceGroupJSON{Provider: g.Provider.Slug(), ProviderName: string(g.Provider), StatusCode: g.StatusCode, Key: g.Key, Title: g.Title,
			Explanation: g.Explanation, Action: g.Action, Total: g.Total(), Hard: g.Hard, Soft: g.Soft, Counted: g.Counted, Domains: toDomainCounts(g.Domains)}
	}
	return writeJSON(w, http.StatusOK, out)
}
