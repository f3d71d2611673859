package web

import (
	"net/http"
	"net/url"

	"sendops/internal/service"
	"sendops/internal/store"
)

// breakdownLabels names the dimensions on the page.
var breakdownLabels = map[string]string{
	service.ByConnection: "Connection", service.ByConfigSet: "Configuration set", service.BySendingDomain: "Sending domain",
	service.ByTemplate: "Template", service.ByTag: "Tag", service.ByProvider: "Mailbox provider",
}

type pageLink struct {
	Label, URL string
	Current    bool
}

// breakdownCol is a column header; Sort is empty for one that does not
// sort.
type breakdownCol struct {
	Label, Sort, URL string
	// AriaSort is "ascending" or "descending" on the sorted column.
	AriaSort string
}

type breakdownRowView struct {
	Label, Link string
	Domains     []pageLink
	Cells       []string
}

func (s *Server) breakdownsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	name, sq, ranges, err := statsPreset(r, c.org, "7d", s.Service.DB.Now())
	if err != nil {
		return err
	}
	q := r.URL.Query()
	b, err := s.Service.Breakdown(r.Context(), c.actor, service.BreakdownQuery{StatsQuery: sq, By: q.Get("by"), Sort: q.Get("sort"), Order: q.Get("order")})
	if err != nil {
		return err
	}
	link := func(set map[string]string) string {
		v := url.Values{"range": {name}, "by": {b.By}, "sort": {b.Sort}, "order": {b.Order}}
		for k, x := range set {
			if x == "" {
				v.Del(k)
			} else {
				v.Set(k, x)
			}
		}
		return "/breakdowns?" + v.Encode()
	}
	var tabs []pageLink
	for _, d := range service.BreakdownDims {
		tabs = append(tabs, pageLink{Label: breakdownLabels[d], URL: link(map[string]string{"by": d}), Current: d == b.By})
	}
	var cols []breakdownCol
	for _, col := range []struct{ label, sort string }{
		{breakdownLabels[b.By], "name"}, {"Sent", "sent"}, {"Delivery rate", "delivery_rate"}, {"Hard bounces", ""}, {"Bounce rate", "bounce_rate"},
		{"Complaints", ""}, {"Complaint rate", "complaint_rate"}, {"Open rate", "open_rate"}, {"Click rate", "click_rate"},
	} {
		h := breakdownCol{Label: col.label, Sort: col.sort}
		if col.sort != "" {
			order := ""
			if col.sort == b.Sort {
				h.AriaSort = map[string]string{"asc": "ascending", "desc": "descending"}[b.Order]
				order = map[string]string{"asc": "desc", "desc": "asc"}[b.Order]
			}
			h.URL = link(map[string]string{"sort": col.sort, "order": order})
		}
		cols = append(cols, h)
	}
	var rows []breakdownRowView
	for _, row := range b.Rows {
		v := breakdownRowView{Label: row.Label, Cells: []string{fmtCount(row.Send), fmtRate(row.Rates.Delivery), fmtCount(row.BounceHard),
			fmtRate(row.Rates.Bounce), fmtCount(row.Complaint), fmtRate(row.Rates.Complaint), fmtRate(row.Rates.Open), fmtRate(row.Rates.Click)}}
		if row.Filter != nil {
			v.Link = messagesLink(row.Filter, b.Range)
		}
		for _, d := range row.Domains {
			v.Domains = append(v.Domains, pageLink{Label: d.Domain, URL: messagesLink(map[string]string{"recipient": "@" + d.Domain}, b.Range)})
		}
		rows = append(rows, v)
	}
	return s.page(w, r, c, "breakdowns", map[string]any{"Title": "Breakdowns", "Section": "breakdowns", "Ranges": ranges, "RangeText": rangeText(b.Range),
		"By": b.By, "ByLabel": breakdownLabels[b.By], "Tabs": tabs, "Cols": cols, "Rows": rows, "Shown": len(b.Rows), "TotalRows": b.TotalRows,
		"Empty": b.Totals.Empty(), "TagsPerMessage": store.MaxTagsPerMessage, "TagLength": store.MaxTagLength,
		"TagKeys": store.MaxTagKeysPerHour, "TagValues": store.MaxTagValuesPerHour})
}
