package web

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"sendops/internal/chart"
	"sendops/internal/domain"
	"sendops/internal/service"
)

type repCardView struct {
	Label, Rate, Status, Detail string
}

type repConnView struct {
	Name, Sent, BounceRate, BounceStatus, Delivered, ComplaintRate, ComplaintStatus string
}

type contributorView struct {
	Label, Link                string
	Domains                    []pageLink
	Count, Share, Volume, Rate string
}

type contributorTable struct {
	Title, Volume string
	Rows          []contributorView
}

type bounceGroupView struct {
	Provider, Code, Title, Explanation, Action string
	Hard, Soft, Counted                        string
	Domains                                    []pageLink
}

func fmtShare(f float64) string {
	return strconv.FormatFloat(math.Round(f*1000)/10, 'f', -1, 64) + "%"
}

// contributorTables writes one kind of contributors (bounces or complaints)
// for the page.
func contributorTables(c service.Contributors, rng service.StatsRange, volume string, status string) []contributorTable {
	conv := func(cs []service.Contributor) []contributorView {
		var out []contributorView
		for _, x := range cs {
			v := contributorView{Label: x.Label, Count: fmtCount(x.Count), Share: fmtShare(x.Share), Volume: fmtCount(x.Volume), Rate: fmtRate(x.Rate)}
			if x.Rate == nil {
				v.Rate = "— (under " + strconv.Itoa(service.RepMinVolume) + ")"
			}
			if x.Filter != nil {
				f := map[string]string{"status": status}
				for k, y := range x.Filter {
					f[k] = y
				}
				v.Link = messagesLink(f, rng)
			}
			for _, d := range x.Domains {
				v.Domains = append(v.Domains, pageLink{Label: d.Domain, URL: messagesLink(map[string]string{"recipient": "@" + d.Domain, "status": status}, rng)})
			}
			out = append(out, v)
		}
		return out
	}
	return []contributorTable{
		{Title: "Templates", Volume: volume, Rows: conv(c.Template)},
		{Title: "Sending domains", Volume: volume, Rows: conv(c.SendingDomain)},
		{Title: "Mailbox providers", Volume: volume, Rows: conv(c.Provider)},
	}
}

// reputationCharts draws the daily trend of both rates with SES's
// thresholds.
func reputationCharts(rep *service.Reputation) []statsChart {
	n := len(rep.Trend)
	times := make([]time.Time, n)
	bounce := chart.Series{Name: "Bounce rate", Color: "#cf222e", Values: make([]float64, n)}
	complaint := chart.Series{Name: "Complaint rate", Color: "#bf8700", Values: make([]float64, n)}
	for i, d := range rep.Trend {
		times[i] = d.Day
		bounce.Values[i] = rateValue(d.BounceRate)
		complaint.Values[i] = rateValue(d.ComplaintRate)
	}
	charts := []chart.Time{
		{ID: "chart-bounce-rate", Title: "Bounce rate per day, as SES counts it", Percent: true,
			Desc:   "Hard bounces per message sent, each day (UTC), against SES's thresholds.",
			Series: []chart.Series{bounce},
			Refs: []chart.Ref{{Value: service.BounceReview, Label: "Review at 5%", Color: "#bf8700"},
				{Value: service.BouncePause, Label: "Pause risk at 10%", Color: "#cf222e"}}},
		{ID: "chart-complaint-rate", Title: "Complaint rate per day, as SES counts it", Percent: true,
			Desc:   "Complaints per delivered message, each day (UTC), against SES's thresholds.",
			Series: []chart.Series{complaint},
			Refs: []chart.Ref{{Value: service.ComplaintReview, Label: "Review at 0.1%", Color: "#bf8700"},
				{Value: service.ComplaintPause, Label: "Pause risk at 0.5%", Color: "#cf222e"}}},
	}
	for i := range charts {
		charts[i].Times, charts[i].Step = times, 24*time.Hour
	}
	return drawCharts(charts)
}

func (s *Server) reputationPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	name, q, ranges, err := statsPreset(r, c.org, "30d", s.Service.DB.Now())
	if err != nil {
		return err
	}
	rep, err := s.Service.Reputation(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	bs, err := s.Service.BounceSummary(r.Context(), c.actor, q)
	if err != nil {
		return err
	}
	o := rep.Overall
	cards := []repCardView{
		{"Bounce rate", fmtRate(o.BounceRate), o.BounceStatus, "Hard bounces: " + fmtCount(o.Bounces) + " of " + fmtCount(o.Sent) + " sent"},
		{"Complaint rate", fmtRate(o.ComplaintRate), o.ComplaintStatus, "Complaints: " + fmtCount(o.Complaints) + " of " + fmtCount(o.Delivered) + " delivered"},
	}
	var conns []repConnView
	for _, x := range rep.Connections {
		conns = append(conns, repConnView{Name: x.Name, Sent: fmtCount(x.Sent), BounceRate: fmtRate(x.BounceRate), BounceStatus: x.BounceStatus,
			Delivered: fmtCount(x.Delivered), ComplaintRate: fmtRate(x.ComplaintRate), ComplaintStatus: x.ComplaintStatus})
	}
	var groups []bounceGroupView
	for _, g := range bs.Groups {
		v := bounceGroupView{Provider: string(g.Provider), Code: g.StatusCode, Title: g.Title, Explanation: g.Explanation, Action: g.Action,
			Hard: fmtCount(g.Hard), Soft: fmtCount(g.Soft), Counted: fmtCount(g.Counted)}
		if v.Code == "" {
			v.Code = "none"
		}
		status := ""
		switch {
		case g.Soft == 0:
			status = domain.StatusBouncedHard
		case g.Hard == 0:
			status = domain.StatusBouncedSoft
		}
		for _, d := range g.Domains {
			f := map[string]string{"recipient": "@" + d.Domain}
			if status != "" {
				f["status"] = status
			}
			v.Domains = append(v.Domains, pageLink{Label: d.Domain + " (" + fmtCount(d.N) + ")", URL: messagesLink(f, bs.Range)})
		}
		groups = append(groups, v)
	}
	data := map[string]any{"Title": "Reputation", "Section": "reputation", "Ranges": ranges, "Range": name, "RangeText": rangeText(rep.Range),
		"Cards": cards, "Status": o.Status, "LowVolume": o.LowVolume, "MinVolume": service.RepMinVolume, "Conns": conns,
		"Empty":           o.Sent == 0 && o.Delivered == 0 && o.Bounces == 0 && o.Complaints == 0 && bs.Total == 0,
		"BounceTables":    contributorTables(rep.Bounces, rep.Range, "Sent", domain.StatusBouncedHard),
		"ComplaintTables": contributorTables(rep.Complaints, rep.Range, "Delivered", domain.StatusComplained),
		"Groups":          groups, "BounceTotal": fmtCount(bs.Total), "BounceCounted": fmtCount(bs.Counted)}
	if !data["Empty"].(bool) {
		data["Charts"] = reputationCharts(rep)
	}
	return s.page(w, r, c, "reputation", data)
}
