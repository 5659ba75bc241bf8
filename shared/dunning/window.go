package dunning

import (
	"fmt"
	"strings"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/at"
	"github.com/rickar/cal/v2/ca"
	"github.com/rickar/cal/v2/ch"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/es"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/gb"
	"github.com/rickar/cal/v2/ie"
	"github.com/rickar/cal/v2/it"
	"github.com/rickar/cal/v2/jp"
	"github.com/rickar/cal/v2/nl"
	"github.com/rickar/cal/v2/nz"
	"github.com/rickar/cal/v2/us"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
)

// holidays are the public-holiday sets a firm can choose by country code.
// They come from rickar/cal, which keeps the rules (Easter, observed days).
var holidays = map[string][]*cal.Holiday{
	"AT": at.Holidays, "CA": ca.Holidays, "CH": ch.Holidays,
	"DE": de.Holidays, "ES": es.Holidays, "FR": fr.Holidays, "GB": gb.Holidays,
	"IE": ie.Holidays, "IT": it.Holidays, "JP": jp.Holidays, "NL": nl.Holidays,
	"NZ": nz.Holidays, "US": us.Holidays,
}

// Window is when emails may go out, in the customer's local time: business
// hours on business days, never on the country's public holidays or the
// firm's own closed days. Collections law and courtesy both forbid emails
// at night and at weekends.
type Window struct {
	StartHour  int            `json:"start_hour"` // local, inclusive
	EndHour    int            `json:"end_hour"`   // local, exclusive
	Weekdays   []time.Weekday `json:"weekdays"`
	Country    string         `json:"country"`     // public holidays; "" for none
	ClosedDays []civil.Date   `json:"closed_days"` // the firm's own
}

// DefaultWindow is 09:00-18:00, Monday to Friday.
func DefaultWindow() Window {
	return Window{StartHour: 9, EndHour: 18, Weekdays: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}}
}

// Validate checks the window's settings.
func (w *Window) Validate() error {
	if w.StartHour < 0 || w.EndHour > 24 || w.StartHour >= w.EndHour {
		return apperr.Invalidf("start_hour", "the window needs 0 <= start_hour < end_hour <= 24")
	}
	if len(w.Weekdays) == 0 {
		return apperr.Invalidf("weekdays", "at least one weekday must be open")
	}
	w.Country = strings.ToUpper(w.Country)
	if _, ok := holidays[w.Country]; w.Country != "" && !ok {
		return apperr.Invalidf("country", "no public-holiday calendar for %q; known: AT CA CH DE ES FR GB IE IT JP NL NZ US", w.Country)
	}
	return nil
}

// Closed reports why no email may go out at now in loc, or "" when one may.
func (w Window) Closed(now time.Time, loc *time.Location) string {
	local := now.In(loc)
	day := civil.Of(local)
	open := false
	for _, wd := range w.Weekdays {
		open = open || wd == local.Weekday()
	}
	switch {
	case !open:
		return "closed_weekday"
	case local.Hour() < w.StartHour || local.Hour() >= w.EndHour:
		return "outside_hours"
	}
	for _, d := range w.ClosedDays {
		if d == day {
			return "firm_closed_day"
		}
	}
	if hs, ok := holidays[w.Country]; ok {
		c := cal.NewBusinessCalendar()
		c.AddHoliday(hs...)
		// Ask about the civil day at noon UTC so the library's own zone
		// handling cannot move it to a neighbouring date.
		if actual, observed, _ := c.IsHoliday(time.Date(day.Year, day.Month, day.Day, 12, 0, 0, 0, time.UTC)); actual || observed {
			return "public_holiday"
		}
	}
	return ""
}

// String describes the window for people.
func (w Window) String() string {
	return fmt.Sprintf("%02d:00-%02d:00 %v %s", w.StartHour, w.EndHour, w.Weekdays, w.Country)
}

// NextOpenDay returns day, or the first day after it on which the window
// opens at all (a business day that is not a holiday or closed day).
func (w Window) NextOpenDay(day civil.Date) civil.Date {
	for range 30 { // holidays and weekends never close a month
		noon := time.Date(day.Year, day.Month, day.Day, w.StartHour, 0, 0, 0, time.UTC)
		if w.Closed(noon, time.UTC) == "" {
			return day
		}
		day = day.AddDays(1)
	}
	return day
}
