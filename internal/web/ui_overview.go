package web

import (
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sendops/internal/chart"
	"sendops/internal/domain"
	"sendops/internal/service"
)

// The dashboards (overview, breakdowns, reputation) choose their range with
// links to a few presets (?range=7d), no JavaScript. Their numbers are
// written here, in Go, and their charts drawn by package chart.

// statsRangeLink is one preset of a page's range switcher.
type statsRangeLink struct {
	Label, URL string
	Current    bool
	// Disabled: the preset reaches before the retention window.
	Disabled bool
	Title    string
}

// statsPreset returns the preset a page asks for (?range=), or def, its
// query at now, and the range switcher's links (which keep the page's
// other parameters). An unknown name is an EInvalid error.
func statsPreset(r *http.Request, org *domain.Org, def string, now time.Time) (string, service.StatsQuery, []statsRangeLink, error) {
	name := r.URL.Query().Get("range")
	retention := 0
	if org != nil {
		retention = org.RetentionDays
	}
	allowed := func(p service.StatsPreset) bool { return p.Days <= retention }
	if name == "" {
		name = def
		if presetDays(def) > retention {
			// The longest shorter preset the retention allows.
			name = "24h"
			for _, p := range service.StatsPresets {
				if allowed(p) && p.Days < presetDays(def) {
					name = p.Name
				}
			}
		}
	}
	q, ok := service.PresetQuery(name, now)
	if !ok {
		return "", q, nil, domain.FieldError("range", "Unknown range %q: choose one of the links.", name)
	}
	var links []statsRangeLink
	for _, p := range service.StatsPresets {
		v := r.URL.Query()
		v.Set("range", p.Name)
		l := statsRangeLink{Label: p.Label, URL: r.URL.Path + "?" + v.Encode(), Current: p.Name == name}
		if !allowed(p) {
			l.Disabled = true
			l.Title = "Beyond this organisation's retention of " + strconv.Itoa(retention) + " days"
		}
		links = append(links, l)
	}
	return name, q, links, nil
}

func presetDays(name string) int {
	for _, p := range service.StatsPresets {
		if p.Name == name {
			return p.Days
		}
	}
	return 0
}

// fmtCount writes a count with thousands separators: 12,345.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtRate writes a ratio as a percentage ("—" when there is none): two
// decimals under 1 %, where the complaint thresholds are, one above.
func fmtRate(r *float64) string {
	if r == nil {
		return "—"
	}
	p := *r * 100
	switch {
	case p == 0:
		return "0%"
	case p < 1:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// rateValue is a rate for a chart: NaN (a gap) when there is none.
func rateValue(r *float64) float64 {
	if r == nil {
		return math.NaN()
	}
	return *r
}

// messagesLink is the message search of a filter over a range.
func messagesLink(filter map[string]string, rng service.StatsRange) string {
	v := url.Values{}
	for k, x := range filter {
		v.Set(k, x)
	}
	v.Set("from", rng.From.Format(time.RFC3339))
	v.Set("to", rng.To.Format(time.RFC3339))
	return "/messages?" + v.Encode()
}

// rangeText names a range for people: "Mar 3–Mar 9, 2026 (UTC)".
func rangeText(rng service.StatsRange) string {
	last := rng.To.Add(-rng.Step())
	if rng.Interval == service.IntervalHour {
		return rng.From.Format("Jan 2 15:04") + " – " + rng.To.Format("Jan 2 15:04, 2006") + " UTC"
	}
	if last.Equal(rng.From) {
		return rng.From.Format("Jan 2, 2006") + " (UTC)"
	}
	return rng.From.Format("Jan 2") + " – " + last.Format("Jan 2, 2006") + " (UTC)"
}

type statsTile struct{ Label, Value, Note string }

// statsChart is a chart with its title, shown above it.
type statsChart struct {
	Title string
	SVG   template.HTML
}

func drawCharts(charts []chart.Time) []statsChart {
	out := make([]statsChart, len(charts))
	for i, c := range charts {
		out[i] = statsChart{Title: c.Title, SVG: c.SVG()}
	}
	return out
}

// overviewCharts draws the overview's charts: volume, problems, and rates.
func overviewCharts(st *service.Stats) []statsChart {
	n := len(st.Series)
	times := st.Range.Starts()
	per := "hour"
	if st.Range.Interval == service.IntervalDay {
		per = "day"
	}
	series := func(name string, color string, f func(b *service.StatsBucket) float64) chart.Series {
		s := chart.Series{Name: name, Color: color, Values: make([]float64, n)}
		for i := range st.Series {
			s.Values[i] = f(&st.Series[i])
		}
		return s
	}
	count := func(f func(c *service.Counts) int64) func(b *service.StatsBucket) float64 {
		return func(b *service.StatsBucket) float64 { return float64(f(&b.Counts)) }
	}
	rate := func(f func(r service.Rates) *float64) func(b *service.StatsBucket) float64 {
		return func(b *service.StatsBucket) float64 { return rateValue(f(b.Counts.Rates())) }
	}
	charts := []chart.Time{
		{ID: "chart-volume", Title: "Messages sent, delivered, opened and clicked per " + per, Desc: "Events per " + per + ", one per recipient.",
			Series: []chart.Series{
				series("Sent", "#1f6feb", count(func(c *service.Counts) int64 { return c.Send })),
				series("Delivered", "#2da44e", count(func(c *service.Counts) int64 { return c.Delivery })),
				series("Opens", "#8250df", count(func(c *service.Counts) int64 { return c.Open })),
				series("Clicks", "#0a7d8c", count(func(c *service.Counts) int64 { return c.Click })),
			}},
		{ID: "chart-problems", Title: "Bounces, complaints, rejects and delays per " + per, Desc: "Events per " + per + ", one per recipient.",
			Series: []chart.Series{
				series("Hard bounces", "#cf222e", count(func(c *service.Counts) int64 { return c.BounceHard })),
				series("Soft bounces", "#e16f24", count(func(c *service.Counts) int64 { return c.BounceSoft })),
				series("Complaints", "#bf8700", count(func(c *service.Counts) int64 { return c.Complaint })),
				series("Rejects", "#57606a", count(func(c *service.Counts) int64 { return c.Reject })),
				series("Delays", "#8250df", count(func(c *service.Counts) int64 { return c.DeliveryDelay })),
			}},
		{ID: "chart-rates", Title: "Delivery, open and click rates per " + per, Percent: true,
			Desc: "Delivery rate: deliveries per message sent. Open and click rates: opens and clicks per delivery.",
			Series: []chart.Series{
				series("Delivery rate", "#2da44e", rate(func(r service.Rates) *float64 { return r.Delivery })),
				series("Open rate", "#8250df", rate(func(r service.Rates) *float64 { return r.Open })),
				series("Click rate", "#0a7d8c", rate(func(r service.Rates) *float64 { return r.Click })),
			}},
		{ID: "chart-problem-rates", Title: "Bounce and complaint rates per " + per, Percent: true,
			Desc: "Bounce rate: hard bounces per message sent. Complaint rate: complaints per delivery.",
			Series: []chart.Series{
				series("Bounce rate", "#cf222e", rate(func(r service.Rates) *float64 { return r.Bounce })),
				series("Complaint rate", "#bf8700", rate(func(r service.Rates) *float64 { return r.Complaint })),
			}},
	}
	for i := range charts {
		charts[i].Times, charts[i].Step = times, st.Range.Step()
	}
	return drawCharts(charts)
}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	name, q, links, err := statsPreset(r, c.org, "7d", s.Service.DB.Now())
	if err != nil {
		return err
	}
	st, err := s.Service.Stats(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	t, rt := st.Totals, st.Rates
	tiles := []statsTile{
		{"Sent", fmtCount(t.Send), ""},
		{"Delivered", fmtCount(t.Delivery), fmtRate(rt.Delivery) + " of sent"},
		{"Hard bounces", fmtCount(t.BounceHard), fmtRate(rt.Bounce) + " of sent"},
		{"Soft bounces", fmtCount(t.BounceSoft), ""},
		{"Complaints", fmtCount(t.Complaint), fmtRate(rt.Complaint) + " of delivered"},
		{"Rejects", fmtCount(t.Reject), ""},
		{"Delays", fmtCount(t.DeliveryDelay), ""},
		{"Opens", fmtCount(t.Open), fmtRate(rt.Open) + " of delivered"},
		{"Clicks", fmtCount(t.Click), fmtRate(rt.Click) + " of delivered"},
	}
	if t.RenderingFailure > 0 {
		tiles = append(tiles, statsTile{"Rendering failures", fmtCount(t.RenderingFailure), ""})
	}
	// The numbers of the charts, as a table.
	layout := "Jan 2, 2006"
	if st.Range.Interval == service.IntervalHour {
		layout = "Jan 2 15:04"
	}
	var table [][]string
	for _, b := range st.Series {
		table = append(table, []string{b.Start.Format(layout), fmtCount(b.Send), fmtCount(b.Delivery), fmtCount(b.BounceHard), fmtCount(b.BounceSoft),
			fmtCount(b.Complaint), fmtCount(b.Reject), fmtCount(b.DeliveryDelay), fmtCount(b.Open), fmtCount(b.Click)})
	}
	data := map[string]any{"Title": "Overview", "Section": "overview", "Ranges": links, "Range": name, "RangeText": rangeText(st.Range),
		"Empty": t.Empty(), "Tiles": tiles, "Table": table, "Per": map[bool]string{true: "hour", false: "day"}[st.Range.Interval == service.IntervalHour]}
	if !t.Empty() {
		data["Charts"] = overviewCharts(st)
	}
	return s.page(w, r, c, "overview", data)
}
