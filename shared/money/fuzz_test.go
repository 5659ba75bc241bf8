package money

import "testing"

// FuzzParseAndFormat: an amount people type either fails plainly or reads
// as minor units that write back as the same number; formatting never
// panics in either language.
func FuzzParseAndFormat(f *testing.F) {
	for _, s := range []string{"0", "1234.56", "0.01", "1.005", "1e3", "+5", "-5", "NaN", "99999999999999999999", "１２３", "1_000", " 7 "} {
		f.Add(s, "EUR")
	}
	f.Add("1200", "JPY")
	f.Add("1.005", "KWD")
	f.Add("1", "XXX")
	f.Fuzz(func(t *testing.T, s, code string) {
		minor, err := Parse(s, code)
		if err != nil {
			return
		}
		if minor < 0 {
			t.Fatalf("Parse(%q, %q) = %d: negative", s, code, minor)
		}
		back, err := Parse(Decimal(minor, code), code)
		if err != nil || back != minor {
			t.Fatalf("Parse(%q, %q) = %d, written %q, read back %d (%v)", s, code, minor, Decimal(minor, code), back, err)
		}
		_ = Format(minor, code, "en")
		_ = Format(minor, code, "zh-CN")
	})
}
