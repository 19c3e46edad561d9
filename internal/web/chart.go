package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Charts are drawn on the server as inline SVG: no script, nothing to load,
// and they print. Every text in them is escaped.

// barChart draws values per day, the last on today: a bar each, its value
// and date in a tooltip, the largest value on the axis, the first and last
// dates below.
func barChart(id string, values []int64, today time.Time, unit string) template.HTML {
	const w, h, left, bottom = 1160.0, 160.0, 40.0, 20.0
	top := 10.0
	var peak int64
	for _, v := range values {
		peak = max(peak, v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="%s" viewBox="0 0 %g %g" role="img" aria-label="%s per day, last %d days">`,
		template.HTMLEscapeString(id), w, h, template.HTMLEscapeString(unit), len(values))
	fmt.Fprintf(&b, `<line class="axis" x1="%g" y1="%g" x2="%g" y2="%g"/>`, left, h-bottom, w, h-bottom)
	fmt.Fprintf(&b, `<text class="label" x="%g" y="%g" text-anchor="end">%d</text>`, left-4, top+8, peak)
	fmt.Fprintf(&b, `<text class="label" x="%g" y="%g" text-anchor="end">0</text>`, left-4, h-bottom)
	if n := len(values); n > 0 {
		slot := (w - left) / float64(n)
		for i, v := range values {
			day := today.AddDate(0, 0, i-n+1)
			bh := 0.0
			if peak > 0 {
				bh = float64(v) / float64(peak) * (h - bottom - top)
			}
			fmt.Fprintf(&b, `<rect class="bar" data-day="%s" data-value="%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d %s</title></rect>`,
				day.Format("2006-01-02"), v, left+float64(i)*slot+1, h-bottom-bh, max(slot-2, 1), bh, day.Format("Mon 2 Jan"), v, template.HTMLEscapeString(unit))
		}
		fmt.Fprintf(&b, `<text class="label" x="%g" y="%g">%s</text>`, left, h-4, today.AddDate(0, 0, 1-n).Format("2 Jan"))
		fmt.Fprintf(&b, `<text class="label" x="%g" y="%g" text-anchor="end">%s</text>`, w, h-4, today.Format("2 Jan"))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// sparkline draws values as a small line, for a table cell.
func sparkline(values []int64) template.HTML {
	const w, h = 90.0, 18.0
	var peak int64
	for _, v := range values {
		peak = max(peak, v)
	}
	var pts strings.Builder
	for i, v := range values {
		x := 0.0
		if len(values) > 1 {
			x = float64(i) * w / float64(len(values)-1)
		}
		y := h - 1
		if peak > 0 {
			y = h - 1 - float64(v)/float64(peak)*(h-2)
		}
		fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
	}
	return template.HTML(fmt.Sprintf(`<svg class="spark" viewBox="0 0 %g %g" width="%g" height="%g" aria-hidden="true"><polyline points="%s"/></svg>`,
		w, h, w, h, strings.TrimSpace(pts.String())))
}

// byteSize writes n bytes for people: 1.5 MB.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// seconds writes a time connected for people: 3h 20m, 4m 5s, 12s.
func seconds(s int64) string {
	d := time.Duration(s) * time.Second
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), s%60)
	}
	return fmt.Sprintf("%ds", s)
}
