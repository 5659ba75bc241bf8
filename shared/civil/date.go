// Package civil holds calendar dates as people write them on invoices:
// a year, month and day with no time of day and no time zone.
//
// Due dates, issue dates and promised dates are civil dates. Whether a date
// has passed depends on where the customer is, so "today" is always computed
// from an instant and a location (Today), never from the machine's zone.
package civil

import (
	"fmt"
	"time"
)

// Date is a calendar date. The zero value is "no date".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

const layout = "2006-01-02"

// Parse reads a strict YYYY-MM-DD date and rejects impossible ones
// such as 2026-02-30.
func Parse(s string) (Date, error) {
	t, err := time.Parse(layout, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date of the form YYYY-MM-DD", s)
	}
	return Of(t), nil
}

// MustParse is Parse for literals in tests and fixtures.
func MustParse(s string) Date {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Of returns the date of t in t's own location.
func Of(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// Today returns the date it is at instant now in loc.
func Today(now time.Time, loc *time.Location) Date { return Of(now.In(loc)) }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// midnightUTC anchors d on a fixed instant so day arithmetic is exact
// (no daylight-saving gaps in UTC).
func (d Date) midnightUTC() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// AddDays returns d moved by n days (n may be negative).
func (d Date) AddDays(n int) Date { return Of(d.midnightUTC().AddDate(0, 0, n)) }

// DaysSince returns the number of days from o to d: positive when d is later.
func (d Date) DaysSince(o Date) int {
	return int(d.midnightUTC().Sub(o.midnightUTC()).Hours() / 24)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int { return d.midnightUTC().Compare(o.midnightUTC()) }

// Before reports whether d is strictly before o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is strictly after o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.midnightUTC().Weekday() }

// String formats d as YYYY-MM-DD, and the zero date as "".
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// MarshalText implements encoding.TextMarshaler (JSON strings "YYYY-MM-DD").
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}
