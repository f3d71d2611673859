// Package chart draws the dashboards' charts as SVG on the server: no
// JavaScript is needed to see them, colours are presentation attributes
// (allowed by the strict content security policy, unlike style
// attributes), and each chart carries a title and a description for
// assistive technology.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Series is one line of a chart.
type Series struct {
	Name   string
	Values []float64 // one per point of the chart's Times
	Color  string    // "" picks one from the palette
}

// Time is a line chart over time.
type Time struct {
	ID    string // unique on the page; used for the title's and description's ids
	Title string
	Desc  string // what the chart shows, for screen readers
	Times []time.Time
	Step  time.Duration // time.Hour or 24*time.Hour: how the x axis is labelled
	// Percent shows the values (ratios, 0.05 = 5 %) as percentages.
	Percent bool
	Series  []Series
	// Refs are horizontal reference lines (thresholds), drawn dashed with
	// their label; the y axis reaches the highest.
	Refs   []Ref
	Width  int // default 720
	Height int // default 240
}

// Ref is a horizontal reference line at a value of the y axis.
type Ref struct {
	Value float64
	Label string
	Color string // "" is grey
}

// Palette is the colours series take in order: distinguishable, and
// readable on white.
var Palette = []string{"#1f6feb", "#2da44e", "#cf222e", "#bf8700", "#8250df", "#0a7d8c", "#d1242f", "#57606a", "#e16f24", "#116329"}

const (
	padLeft   = 56
	padRight  = 16
	padTop    = 16
	padBottom = 28
	legendRow = 18
)

// SVG renders the chart.
func (c Time) SVG() template.HTML {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 720
	}
	if h == 0 {
		h = 240
	}
	legendRows := (len(c.Series) + 3) / 4
	plotW, plotH := float64(w-padLeft-padRight), float64(h-padTop-padBottom)
	total := h + legendRows*legendRow + 4

	maxV := 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			if !math.IsNaN(v) && v > maxV {
				maxV = v
			}
		}
	}
	for _, r := range c.Refs {
		if !math.IsNaN(r.Value) && r.Value > maxV {
			maxV = r.Value
		}
	}
	ticks := niceTicks(maxV, c.Percent)
	top := ticks[len(ticks)-1]

	n := len(c.Times)
	x := func(i int) float64 {
		if n <= 1 {
			return padLeft + plotW/2
		}
		return padLeft + plotW*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return padTop + plotH - plotH*v/top }

	var b strings.Builder
	id := template.HTMLEscapeString(c.ID)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="%s-title %s-desc">`, w, total, w, total, id, id)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, template.HTMLEscapeString(c.Title), id, template.HTMLEscapeString(c.describe()))

	// The y axis: grid lines and labels.
	b.WriteString(`<g class="y-axis" font-size="11" fill="#57606a" text-anchor="end">`)
	for _, t := range ticks {
		yy := y(t)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d0d7de" stroke-width="1"/>`, padLeft, w-padRight, yy, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f">%s</text>`, padLeft-6, yy+4, template.HTMLEscapeString(formatValue(t, c.Percent)))
	}
	b.WriteString(`</g>`)

	// The x axis: up to 7 labels, evenly spaced.
	b.WriteString(`<g class="x-axis" font-size="11" fill="#57606a" text-anchor="middle">`)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#8c959f" stroke-width="1"/>`, padLeft, w-padRight, padTop+plotH, padTop+plotH)
	if n > 0 {
		labels := min(n, 7)
		for k := 0; k < labels; k++ {
			i := 0
			if labels > 1 {
				i = k * (n - 1) / (labels - 1)
			}
			// The first and last labels end at the plot's edges.
			anchor := ""
			if labels > 1 && k == 0 {
				anchor = ` text-anchor="start"`
			} else if labels > 1 && k == labels-1 {
				anchor = ` text-anchor="end"`
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d"%s>%s</text>`, x(i), h-padBottom+16, anchor, template.HTMLEscapeString(c.formatTime(c.Times[i])))
		}
	}
	b.WriteString(`</g>`)

	// The reference lines, under the series.
	if len(c.Refs) > 0 {
		b.WriteString(`<g class="refs" font-size="11" text-anchor="end">`)
		for _, r := range c.Refs {
			if math.IsNaN(r.Value) || r.Value < 0 {
				continue
			}
			color := r.Color
			if color == "" {
				color = "#57606a"
			}
			yy := y(r.Value)
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"/>`, padLeft, w-padRight, yy, yy, color)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="%s">%s</text>`, w-padRight-4, yy-4, color, template.HTMLEscapeString(r.Label))
		}
		b.WriteString(`</g>`)
	}

	// The lines.
	for si, s := range c.Series {
		color := s.Color
		if color == "" {
			color = Palette[si%len(Palette)]
		}
		var pts []string
		for i := 0; i < n && i < len(s.Values); i++ {
			v := s.Values[i]
			if math.IsNaN(v) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
		}
		fmt.Fprintf(&b, `<g class="series" data-series="%s">`, template.HTMLEscapeString(s.Name))
		if len(pts) == 1 {
			xy := strings.Split(pts[0], ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, xy[0], xy[1], color)
		} else if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round" points="%s"/>`, color, strings.Join(pts, " "))
		}
		b.WriteString(`</g>`)
	}

	// The legend: four entries a row, under the plot.
	b.WriteString(`<g class="legend" font-size="12" fill="#24292f">`)
	colW := (w - padLeft) / 4
	for si, s := range c.Series {
		color := s.Color
		if color == "" {
			color = Palette[si%len(Palette)]
		}
		lx := padLeft + (si%4)*colW
		ly := h + (si/4)*legendRow + 8
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="4" fill="%s"/><text x="%d" y="%d">%s</text>`,
			lx, ly-4, color, lx+16, ly+1, template.HTMLEscapeString(s.Name))
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String())
}

// describe writes what the chart shows in a sentence: the range, and each
// series' total (or, for rates, its mean).
func (c Time) describe() string {
	var parts []string
	if c.Desc != "" {
		parts = append(parts, c.Desc)
	}
	if len(c.Times) > 0 {
		parts = append(parts, fmt.Sprintf("From %s to %s.", c.formatTime(c.Times[0]), c.formatTime(c.Times[len(c.Times)-1])))
	}
	for _, s := range c.Series {
		sum, cnt := 0.0, 0
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				sum += v
				cnt++
			}
		}
		if c.Percent {
			mean := 0.0
			if cnt > 0 {
				mean = sum / float64(cnt)
			}
			parts = append(parts, fmt.Sprintf("%s: %s on average.", s.Name, formatValue(mean, true)))
		} else {
			parts = append(parts, fmt.Sprintf("%s: %s in total.", s.Name, strconv.FormatFloat(sum, 'f', -1, 64)))
		}
	}
	for _, r := range c.Refs {
		parts = append(parts, fmt.Sprintf("Line at %s: %s.", formatValue(r.Value, c.Percent), r.Label))
	}
	return strings.Join(parts, " ")
}

func (c Time) formatTime(t time.Time) string {
	t = t.UTC()
	if c.Step >= 24*time.Hour {
		return t.Format("Jan 2")
	}
	if len(c.Times) > 0 && c.Times[len(c.Times)-1].Sub(c.Times[0]) > 24*time.Hour {
		return t.Format("Jan 2 15h")
	}
	return t.Format("15:04")
}

// niceTicks returns 0 and up to five evenly spaced round values whose last
// is at least max.
func niceTicks(max float64, percent bool) []float64 {
	if max <= 0 {
		if percent {
			return []float64{0, 0.01}
		}
		return []float64{0, 1}
	}
	raw := max / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if !percent && step < 1 {
		step = 1
	}
	var out []float64
	for i := 0; ; i++ {
		v := float64(i) * step
		out = append(out, v)
		if v >= max {
			break
		}
	}
	return out
}

// formatValue writes a count (1.2k, 3.4M) or a percentage.
func formatValue(v float64, percent bool) string {
	if percent {
		p := v * 100
		switch {
		case p == 0:
			return "0%"
		case p < 1:
			return strconv.FormatFloat(math.Round(p*100)/100, 'f', -1, 64) + "%"
		}
		return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64) + "%"
	}
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(math.Round(v/1e5)/10, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(math.Round(v/1e2)/10, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
