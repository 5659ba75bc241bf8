package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"dunlin/shared/civil"
	"dunlin/shared/dunning"
)

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseWindow reads the send window from DUNLIN_SEND_HOURS ("9-18"),
// DUNLIN_SEND_DAYS ("Mon-Fri", "Mon,Wed,Fri" or "all"), DUNLIN_HOLIDAYS
// (a country code) and DUNLIN_CLOSED_DAYS (comma-separated dates).
func parseWindow(lookup func(string) (string, bool)) (dunning.Window, error) {
	w := dunning.DefaultWindow()
	if v, _ := lookup("DUNLIN_SEND_HOURS"); v != "" {
		a, b, ok := strings.Cut(v, "-")
		start, err1 := strconv.Atoi(strings.TrimSpace(a))
		end, err2 := strconv.Atoi(strings.TrimSpace(b))
		if !ok || err1 != nil || err2 != nil {
			return w, fmt.Errorf("DUNLIN_SEND_HOURS=%q: want START-END hours, e.g. 9-18", v)
		}
		w.StartHour, w.EndHour = start, end
	}
	if v, _ := lookup("DUNLIN_SEND_DAYS"); v != "" {
		days, err := parseDays(v)
		if err != nil {
			return w, fmt.Errorf("DUNLIN_SEND_DAYS=%q: %w", v, err)
		}
		w.Weekdays = days
	}
	if v, _ := lookup("DUNLIN_HOLIDAYS"); v != "" {
		w.Country = v
	}
	if v, _ := lookup("DUNLIN_CLOSED_DAYS"); v != "" {
		for _, s := range strings.Split(v, ",") {
			d, err := civil.Parse(strings.TrimSpace(s))
			if err != nil {
				return w, fmt.Errorf("DUNLIN_CLOSED_DAYS: %w", err)
			}
			w.ClosedDays = append(w.ClosedDays, d)
		}
	}
	if err := w.Validate(); err != nil {
		return w, fmt.Errorf("send window: %w", err)
	}
	return w, nil
}

func parseDays(v string) ([]time.Weekday, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "all" {
		return []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}, nil
	}
	if a, b, ok := strings.Cut(v, "-"); ok {
		from, ok1 := weekdays[strings.TrimSpace(a)]
		to, ok2 := weekdays[strings.TrimSpace(b)]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("unknown day in range")
		}
		var out []time.Weekday
		for d := from; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == to {
				return out, nil
			}
		}
	}
	var out []time.Weekday
	for _, s := range strings.Split(v, ",") {
		d, ok := weekdays[strings.TrimSpace(s)]
		if !ok {
			return nil, fmt.Errorf("unknown day %q", s)
		}
		out = append(out, d)
	}
	return out, nil
}
