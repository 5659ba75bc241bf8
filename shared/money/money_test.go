package money

import "testing"

func TestNormalizeCurrency(t *testing.T) {
	for in, want := range map[string]string{"eur": "EUR", " JPY ": "JPY", "CNY": "CNY"} {
		got, err := NormalizeCurrency(in)
		if err != nil || got != want {
			t.Errorf("NormalizeCurrency(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "EURO", "ABC", "€"} {
		if _, err := NormalizeCurrency(bad); err == nil {
			t.Errorf("NormalizeCurrency(%q) accepted", bad)
		}
	}
}

func TestDigitsFollowCLDR(t *testing.T) {
	for code, want := range map[string]int{"EUR": 2, "JPY": 0, "KWD": 3, "CNY": 2} {
		if got := Digits(code); got != want {
			t.Errorf("Digits(%s) = %d, want %d", code, got, want)
		}
	}
}

func TestCheckAmountBounds(t *testing.T) {
	if CheckAmount(-1, 0) == nil || CheckAmount(0, 1) == nil || CheckAmount(MaxMinor+1, 0) == nil {
		t.Error("out-of-range amount accepted")
	}
	if CheckAmount(0, 0) != nil || CheckAmount(MaxMinor, 1) != nil {
		t.Error("in-range amount rejected")
	}
}

func TestFormatRespectsMinorUnitsAndLocale(t *testing.T) {
	cases := []struct {
		minor        int64
		code, locale string
		want         string
	}{
		{123456, "EUR", "en", "€1,234.56"},
		{123456, "JPY", "en", "¥123,456"},
		{123456, "CNY", "zh-CN", "¥1,234.56"},
		{1234567, "KWD", "en", "KWD\u00a01,234.567"},
	}
	for _, c := range cases {
		if got := Format(c.minor, c.code, c.locale); got != c.want {
			t.Errorf("Format(%d, %s, %s) = %q, want %q", c.minor, c.code, c.locale, got, c.want)
		}
	}
}

func TestDecimalKeepsTheCurrencysDigits(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		code  string
		want  string
	}{{123456, "EUR", "1234.56"}, {-5, "EUR", "-0.05"}, {1500, "JPY", "1500"}, {1234, "KWD", "1.234"}, {0, "GBP", "0.00"}} {
		if got := Decimal(tc.minor, tc.code); got != tc.want {
			t.Errorf("Decimal(%d, %s) = %s, want %s", tc.minor, tc.code, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, code string
		want     int64
		ok       bool
	}{
		{"1234.56", "EUR", 123456, true},
		{" 12 ", "EUR", 1200, true},
		{"0.5", "EUR", 50, true},
		{"1200", "JPY", 1200, true},
		{"1.005", "KWD", 1005, true},
		{"1.005", "EUR", 0, false},
		{"1.5", "JPY", 0, false},
		{"1,200.00", "EUR", 0, false},
		{"abc", "EUR", 0, false},
		{"", "EUR", 0, false},
		{"99999999999999999999999", "EUR", 0, false},
		{"1e3", "EUR", 0, false},
		{"+5", "EUR", 0, false},
		{"-5", "EUR", 0, false},
		{"NaN", "EUR", 0, false},
		{"Infinity", "EUR", 0, false},
		{".5", "EUR", 0, false},
		{"5.", "EUR", 0, false},
	} {
		got, err := Parse(c.in, c.code)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("Parse(%q, %s) = %d, %v; want %d, ok=%v", c.in, c.code, got, err, c.want, c.ok)
		}
	}
}
