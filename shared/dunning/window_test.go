package dunning

import (
	"testing"
	"time"

	"dunlin/shared/civil"
)

func TestWindowOpensOnlyInLocalBusinessHours(t *testing.T) {
	w := DefaultWindow()
	w.Country = "GB"
	w.ClosedDays = []civil.Date{civil.MustParse("2026-12-24")}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	london, _ := time.LoadLocation("Europe/London")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	cases := []struct {
		at   string
		loc  *time.Location
		want string
	}{
		{"2026-12-01T09:00:00Z", london, ""},                // Tuesday 09:00 in London
		{"2026-12-01T08:59:00Z", london, "outside_hours"},   // 08:59
		{"2026-12-01T18:00:00Z", london, "outside_hours"},   // 18:00 is closed
		{"2026-12-01T09:00:00Z", tokyo, "outside_hours"},    // 18:00 in Tokyo
		{"2026-12-01T00:30:00Z", tokyo, ""},                 // 09:30 Tuesday in Tokyo
		{"2026-12-05T10:00:00Z", london, "closed_weekday"},  // Saturday
		{"2026-12-25T10:00:00Z", london, "public_holiday"},  // Christmas Day
		{"2026-12-28T10:00:00Z", london, "public_holiday"},  // Boxing Day, observed on Monday
		{"2026-12-24T10:00:00Z", london, "firm_closed_day"}, // the firm's own
		{"2026-04-03T10:00:00Z", london, "public_holiday"},  // Good Friday 2026
	}
	for _, c := range cases {
		now, _ := time.Parse(time.RFC3339, c.at)
		if got := w.Closed(now, c.loc); got != c.want {
			t.Errorf("%s in %s: %q, want %q", c.at, c.loc, got, c.want)
		}
	}
}

func TestWindowValidation(t *testing.T) {
	for _, w := range []Window{
		{StartHour: 18, EndHour: 9, Weekdays: []time.Weekday{time.Monday}},
		{StartHour: 9, EndHour: 18},
		{StartHour: 9, EndHour: 18, Weekdays: []time.Weekday{time.Monday}, Country: "XX"},
	} {
		if err := w.Validate(); err == nil {
			t.Errorf("%v accepted", w)
		}
	}
}

func TestNextOpenDaySkipsWeekendsAndHolidays(t *testing.T) {
	w := DefaultWindow()
	w.Country = "GB"
	for from, want := range map[string]string{
		"2026-12-05": "2026-12-07", // Saturday -> Monday
		"2026-12-25": "2026-12-29", // Christmas, weekend, observed Boxing Day -> Tuesday
		"2026-12-01": "2026-12-01",
	} {
		if got := w.NextOpenDay(civil.MustParse(from)); got.String() != want {
			t.Errorf("NextOpenDay(%s) = %s, want %s", from, got, want)
		}
	}
}
