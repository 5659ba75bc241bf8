package civil

import (
	"testing"
	"time"
)

func TestParseRejectsImpossibleDates(t *testing.T) {
	for _, s := range []string{"2026-02-30", "2026-13-01", "2026-1-5", "26-01-05", "2026-01-05T00:00:00Z", "", "yesterday"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", s)
		}
	}
	if d := MustParse("2028-02-29"); d.String() != "2028-02-29" {
		t.Errorf("leap day round trip = %s", d)
	}
}

func TestDayArithmeticCrossesMonthsYearsAndDST(t *testing.T) {
	cases := []struct {
		from string
		n    int
		want string
	}{
		{"2026-01-31", 1, "2026-02-01"},
		{"2026-12-31", 1, "2027-01-01"},
		{"2026-03-01", -1, "2026-02-28"},
		{"2026-03-28", 2, "2026-03-30"}, // EU DST change weekend
		{"2026-11-23", 30, "2026-12-23"},
	}
	for _, c := range cases {
		got := MustParse(c.from).AddDays(c.n)
		if got.String() != c.want {
			t.Errorf("%s + %d = %s, want %s", c.from, c.n, got, c.want)
		}
		if back := got.DaysSince(MustParse(c.from)); back != c.n {
			t.Errorf("DaysSince(%s, %s) = %d, want %d", got, c.from, back, c.n)
		}
	}
}

func TestTodayDependsOnTheLocationNotTheMachine(t *testing.T) {
	instant := time.Date(2026, 11, 23, 12, 30, 0, 0, time.UTC)
	kiritimati, _ := time.LoadLocation("Pacific/Kiritimati") // UTC+14
	pagoPago, _ := time.LoadLocation("Pacific/Pago_Pago")    // UTC-11
	if got := Today(instant, kiritimati); got.String() != "2026-11-24" {
		t.Errorf("Kiritimati today = %s", got)
	}
	if got := Today(instant, pagoPago); got.String() != "2026-11-23" {
		t.Errorf("Pago Pago today = %s", got)
	}
}

func TestTextRoundTrip(t *testing.T) {
	var d Date
	if err := d.UnmarshalText([]byte("2026-11-23")); err != nil {
		t.Fatal(err)
	}
	b, _ := d.MarshalText()
	if string(b) != "2026-11-23" {
		t.Errorf("got %s", b)
	}
	if err := d.UnmarshalText([]byte("2026-02-31")); err == nil {
		t.Error("impossible date accepted")
	}
}
