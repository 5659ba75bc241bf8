// Package charts draws the dashboard's charts as SVG on the server: no
// script and nothing fetched, so they obey the page's Content-Security-
// Policy, print, and carry their numbers as text (each bar and point has a
// <title>, read by screen readers and shown on hover).
package charts

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// Datum is one bar or point: its label on the axis, its value, and the
// value as the reader should see it (a formatted amount).
type Datum struct {
	Label string
	Value float64
	Text  string
	// Missing leaves a gap in a line (no figure for that period).
	Missing bool
}

const (
	width, height = 640, 240
	left, right   = 16, 16
	top, bottom   = 28, 36
	plotW, plotH  = width - left - right, height - top - bottom
)

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

func maxOf(ds []Datum) float64 {
	m := 0.0
	for _, d := range ds {
		if !d.Missing && d.Value > m {
			m = d.Value
		}
	}
	return m
}

func open(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" class="chart">`,
		width, height, html.EscapeString(title))
	fmt.Fprintf(b, `<title>%s</title>`, html.EscapeString(title))
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#a8a29e"/>`, left, top+plotH, left+plotW, top+plotH)
}

// Bars is a bar chart, one bar per datum, scaled to the largest value.
// Negative values are drawn as empty bars.
func Bars(title string, data []Datum) template.HTML {
	var b strings.Builder
	open(&b, title)
	max := maxOf(data)
	n := len(data)
	if n > 0 {
		slot := float64(plotW) / float64(n)
		barW := slot * 0.6
		for i, d := range data {
			h := 0.0
			if max > 0 && d.Value > 0 {
				h = d.Value / max * plotH
			}
			x := float64(left) + slot*float64(i) + (slot-barW)/2
			y := float64(top+plotH) - h
			fill := "#0f766e"
			if i > 0 {
				fill = "#b45309" // overdue buckets
			}
			fmt.Fprintf(&b, `<g><title>%s: %s</title><rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`,
				html.EscapeString(d.Label), html.EscapeString(d.Text), f1(x), f1(y), f1(barW), f1(h), fill)
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="12" fill="#1c1917">%s</text>`,
				f1(x+barW/2), f1(y-6), html.EscapeString(d.Text))
			fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" font-size="12" fill="#57534e">%s</text></g>`,
				f1(x+barW/2), top+plotH+18, html.EscapeString(d.Label))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text above is escaped
}

// Line is a line chart over the data in order, scaled from zero to the
// largest value; missing points break the line.
func Line(title string, data []Datum) template.HTML {
	var b strings.Builder
	open(&b, title)
	max := maxOf(data)
	n := len(data)
	if n > 0 {
		step := 0.0
		if n > 1 {
			step = float64(plotW-40) / float64(n-1)
		}
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#0f766e" stroke-width="2"/>`, strings.Join(seg, " "))
			}
			seg = seg[:0]
		}
		for i, d := range data {
			x := float64(left+20) + step*float64(i)
			fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" font-size="12" fill="#57534e">%s</text>`,
				f1(x), top+plotH+18, html.EscapeString(d.Label))
			if d.Missing {
				flush()
				continue
			}
			y := float64(top + plotH)
			if max > 0 {
				y -= d.Value / max * plotH
			}
			seg = append(seg, f1(x)+","+f1(y))
			fmt.Fprintf(&b, `<g><title>%s: %s</title><circle cx="%s" cy="%s" r="4" fill="#0f766e"/>`,
				html.EscapeString(d.Label), html.EscapeString(d.Text), f1(x), f1(y))
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="12" fill="#1c1917">%s</text></g>`,
				f1(x), f1(y-8), html.EscapeString(d.Text))
		}
		flush()
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
