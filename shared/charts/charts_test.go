package charts

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
)

// svg is the part of an SVG document the tests read.
type svg struct {
	Groups []struct {
		Title string `xml:"title"`
		Rect  *struct {
			Height string `xml:"height,attr"`
		} `xml:"rect"`
		Circle *struct {
			Cy string `xml:"cy,attr"`
		} `xml:"circle"`
	} `xml:"g"`
	Lines []struct {
		Points string `xml:"points,attr"`
	} `xml:"polyline"`
}

func parse(t *testing.T, doc string) svg {
	t.Helper()
	var s svg
	if err := xml.Unmarshal([]byte(doc), &s); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, doc)
	}
	return s
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return v
}

func TestBarsAreScaledToTheLargest(t *testing.T) {
	doc := string(Bars("Aging", []Datum{
		{Label: "current", Value: 400, Text: "€4.00"},
		{Label: "1-30", Value: 100, Text: "€1.00"},
		{Label: "31-60", Value: 0, Text: "€0.00"},
	}))
	s := parse(t, doc)
	if len(s.Groups) != 3 {
		t.Fatalf("%d bars, want 3", len(s.Groups))
	}
	h := []float64{num(t, s.Groups[0].Rect.Height), num(t, s.Groups[1].Rect.Height), num(t, s.Groups[2].Rect.Height)}
	if h[0] != plotH || h[1] != plotH/4 || h[2] != 0 {
		t.Errorf("bar heights %v, want %d, %d, 0", h, plotH, plotH/4)
	}
	if s.Groups[1].Title != "1-30: €1.00" {
		t.Errorf("bar title %q", s.Groups[1].Title)
	}
}

func TestLabelsAreEscaped(t *testing.T) {
	evil := `</title><script>alert(1)</script>`
	for name, doc := range map[string]string{
		"bars": string(Bars(evil, []Datum{{Label: evil, Value: 1, Text: evil}})),
		"line": string(Line(evil, []Datum{{Label: evil, Value: 1, Text: evil}})),
	} {
		if strings.Contains(doc, "<script") {
			t.Errorf("%s: markup in a label reached the SVG: %s", name, doc)
		}
		parse(t, doc)
	}
}

func TestAMissingPointBreaksTheLine(t *testing.T) {
	s := parse(t, string(Line("DSO", []Datum{
		{Label: "Jul", Value: 40, Text: "40"},
		{Label: "Aug", Value: 20, Text: "20"},
		{Label: "Sep", Missing: true},
		{Label: "Oct", Value: 30, Text: "30"},
		{Label: "Nov", Value: 10, Text: "10"},
	})))
	if len(s.Lines) != 2 {
		t.Fatalf("%d line segments, want 2 around the gap", len(s.Lines))
	}
	var ys []float64
	for _, g := range s.Groups {
		ys = append(ys, num(t, g.Circle.Cy))
	}
	if len(ys) != 4 {
		t.Fatalf("%d points, want 4", len(ys))
	}
	// Higher values sit higher (smaller y); the largest touches the top.
	if !(ys[0] < ys[2] && ys[2] < ys[1] && ys[1] < ys[3]) {
		t.Errorf("point heights %v do not follow the values 40, 20, 30, 10", ys)
	}
	if ys[0] != top {
		t.Errorf("largest point at y=%v, want the top of the plot (%d)", ys[0], top)
	}
}

func TestNoDataIsAnEmptyChart(t *testing.T) {
	s := parse(t, string(Bars("empty", nil)))
	if len(s.Groups) != 0 {
		t.Errorf("bars drawn with no data")
	}
	s = parse(t, string(Bars("zeros", []Datum{{Label: "a"}, {Label: "b"}})))
	for _, g := range s.Groups {
		if num(t, g.Rect.Height) != 0 {
			t.Errorf("a zero drew a bar of height %s", g.Rect.Height)
		}
	}
}
