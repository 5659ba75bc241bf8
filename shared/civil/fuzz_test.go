package civil

import "testing"

// FuzzParseDate: a date that parses writes back as the same text, and a
// day later and earlier round-trips.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-12-01", "2024-02-29", "2025-02-29", "0000-01-01", "9999-12-31", "2026-1-1", "2026-12-01T00:00:00Z", "", "２０２６-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("Parse(%q) writes back as %q", s, d.String())
		}
		if got := d.AddDays(1).AddDays(-1); got != d {
			t.Fatalf("%s +1 -1 day = %s", d, got)
		}
	})
}
