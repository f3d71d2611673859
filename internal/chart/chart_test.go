package chart

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"
	"time"
)

// parse checks the SVG is well-formed XML and returns its elements by name.
func parse(t *testing.T, svg string) map[string][]xml.StartElement {
	t.Helper()
	out := map[string][]xml.StartElement{}
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			out[se.Name.Local] = append(out[se.Name.Local], se)
		}
	}
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func hours(n int) []time.Time {
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * time.Hour)
	}
	return out
}

func TestTimeChart(t *testing.T) {
	c := Time{ID: "volume", Title: "Sent & delivered", Desc: "Messages per hour.", Times: hours(24), Step: time.Hour,
		Series: []Series{{Name: "Sent", Values: make([]float64, 24)}, {Name: "Delivered <b>", Values: make([]float64, 24)}}}
	for i := range 24 {
		c.Series[0].Values[i] = float64(i * 100)
		c.Series[1].Values[i] = float64(i * 90)
	}
	svg := string(c.SVG())
	el := parse(t, svg)
	if len(el["svg"]) != 1 || attr(el["svg"][0], "role") != "img" || attr(el["svg"][0], "aria-labelledby") != "volume-title volume-desc" {
		t.Fatalf("svg element: %v", el["svg"])
	}
	if len(el["title"]) != 1 || !strings.Contains(svg, "Sent &amp; delivered") {
		t.Fatal("the title is missing or not escaped")
	}
	if !strings.Contains(svg, "Sent: 27600 in total.") || !strings.Contains(svg, "From 00:00 to 23:00.") {
		t.Fatalf("the description does not sum the series: %s", svg)
	}
	if len(el["polyline"]) != 2 || len(strings.Fields(attr(el["polyline"][0], "points"))) != 24 {
		t.Fatalf("want two lines of 24 points: %v", el["polyline"])
	}
	if strings.Contains(svg, "<b>") || !strings.Contains(svg, "Delivered &lt;b&gt;") {
		t.Fatal("a series name was not escaped")
	}
	if strings.Contains(svg, "style=") {
		t.Fatal("style attributes are refused by the content security policy")
	}
	// The y axis reaches past the largest value, 2,300, in round steps.
	if !strings.Contains(svg, ">3k<") || !strings.Contains(svg, ">1k<") || !strings.Contains(svg, ">0<") {
		t.Fatalf("y labels: %s", svg)
	}
	// Seven x labels at most.
	var xs int
	for _, tx := range el["text"] {
		if strings.Contains(attr(tx, "x"), ".") {
			xs++
		}
	}
	if xs > 7+len(c.Series) {
		t.Fatalf("%d x labels", xs)
	}
}

func TestTimeChartEdges(t *testing.T) {
	t.Run("no data", func(t *testing.T) {
		svg := string(Time{ID: "e", Title: "Empty"}.SVG())
		parse(t, svg)
		if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
			t.Fatal(svg)
		}
	})
	t.Run("one point", func(t *testing.T) {
		svg := string(Time{ID: "one", Title: "One", Times: hours(1), Series: []Series{{Name: "Sent", Values: []float64{5}}}}.SVG())
		if el := parse(t, svg); len(el["circle"]) != 1 || strings.Contains(svg, "NaN") {
			t.Fatal(svg)
		}
	})
	t.Run("gaps and rates", func(t *testing.T) {
		days := make([]time.Time, 3)
		for i := range days {
			days[i] = time.Date(2026, 11, 20+i, 0, 0, 0, 0, time.UTC)
		}
		c := Time{ID: "r", Title: "Rates", Times: days, Step: 24 * time.Hour, Percent: true,
			Series: []Series{{Name: "Bounce rate", Values: []float64{0.02, math.NaN(), 0.06}}}}
		svg := string(c.SVG())
		el := parse(t, svg)
		if len(strings.Fields(attr(el["polyline"][0], "points"))) != 2 {
			t.Fatal("a missing value was drawn")
		}
		if !strings.Contains(svg, ">Nov 20<") || !strings.Contains(svg, "%<") || !strings.Contains(svg, "Bounce rate: 4% on average.") {
			t.Fatal(svg)
		}
	})
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v       float64
		percent bool
		want    string
	}{{0, false, "0"}, {12, false, "12"}, {1200, false, "1.2k"}, {3_450_000, false, "3.5M"},
		{0, true, "0%"}, {0.001, true, "0.1%"}, {0.0005, true, "0.05%"}, {0.05, true, "5%"}, {0.123, true, "12.3%"}} {
		if got := formatValue(c.v, c.percent); got != c.want {
			t.Errorf("formatValue(%v, %v) = %q, want %q", c.v, c.percent, got, c.want)
		}
	}
}

// Threshold lines are drawn dashed with their label, the y axis reaches the
// highest even when every value is below it, and the description names them.
func TestTimeChartRefs(t *testing.T) {
	c := Time{ID: "bounce", Title: "Bounce rate", Times: hours(3), Step: time.Hour, Percent: true,
		Series: []Series{{Name: "Bounce rate", Values: []float64{0.01, 0.02, 0.015}}},
		Refs:   []Ref{{Value: 0.05, Label: "Under review at 5%"}, {Value: 0.10, Label: "Pause risk <10%>", Color: "#cf222e"}}}
	svg := string(c.SVG())
	el := parse(t, svg)
	var dashed []string
	for _, l := range el["line"] {
		if attr(l, "stroke-dasharray") != "" {
			dashed = append(dashed, attr(l, "y1"))
		}
	}
	if len(dashed) != 2 {
		t.Fatalf("want two dashed reference lines, got %v\n%s", dashed, svg)
	}
	// 10% is the top of the axis (y = padTop), 5% half way down the plot.
	if dashed[1] != "16.0" || dashed[0] != "114.0" {
		t.Fatalf("reference lines at y %v, want 114.0 (5%%) and 16.0 (10%%)", dashed)
	}
	if !strings.Contains(svg, ">10%<") || !strings.Contains(svg, "Pause risk &lt;10%&gt;") {
		t.Fatalf("the axis or a label: %s", svg)
	}
	if !strings.Contains(svg, "Line at 5%: Under review at 5%.") {
		t.Fatalf("the description does not name the lines: %s", svg)
	}
}
