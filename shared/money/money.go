// Package money validates and formats amounts of money.
//
// Dunlin keeps every amount as an int64 count of the currency's minor unit
// (cents, fen, or whole yen for JPY) next to its ISO 4217 code; it never uses
// floating point. Currency facts (which codes exist, how many minor digits
// they have, how they are written in a locale) come from CLDR through
// github.com/bojanz/currency.
package money

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/bojanz/currency"
)

// MaxMinor is the largest amount accepted, in minor units: 2^53-1, the largest
// integer a JavaScript client can hold exactly.
const MaxMinor int64 = 1<<53 - 1

// NormalizeCurrency upper-cases code and checks that it is an ISO 4217
// currency known to CLDR.
func NormalizeCurrency(code string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if c == "" {
		return "", fmt.Errorf("currency is required")
	}
	if !currency.IsValid(c) {
		return "", fmt.Errorf("%q is not an ISO 4217 currency code", code)
	}
	return c, nil
}

// Digits returns how many minor-unit digits the currency has (2 for EUR,
// 0 for JPY, 3 for KWD).
func Digits(code string) int {
	d, ok := currency.GetDigits(code)
	if !ok {
		return 2
	}
	return int(d)
}

// CheckAmount validates a minor-unit amount: it must be within [min, MaxMinor].
func CheckAmount(minor, min int64) error {
	if minor < min {
		if min == 0 {
			return fmt.Errorf("must not be negative")
		}
		return fmt.Errorf("must be at least %d", min)
	}
	if minor > MaxMinor {
		return fmt.Errorf("must be at most %d minor units", MaxMinor)
	}
	return nil
}

// Format writes an amount for people in a locale such as "en" or "zh-CN":
// Format(123456, "EUR", "en") = "€1,234.56".
func Format(minor int64, code, locale string) string {
	a, err := currency.NewAmountFromInt64(minor, code)
	if err != nil {
		return fmt.Sprintf("%d %s", minor, code)
	}
	return currency.NewFormatter(currency.NewLocale(locale)).Format(a)
}

// Decimal writes an amount as a plain decimal in major units, for files
// that programs read (CSV): Decimal(123456, "EUR") = "1234.56",
// Decimal(-5, "JPY") = "-5".
func Decimal(minor int64, code string) string {
	a, err := currency.NewAmountFromInt64(minor, code)
	if err != nil {
		return fmt.Sprint(minor)
	}
	return a.Number()
}

// plainDecimal is what Parse takes: no sign, exponent, separators or words.
var plainDecimal = regexp.MustCompile(`^[0-9]{1,20}(\.[0-9]{1,20})?$`)

// Parse reads a plain decimal in major units, as people type it into a
// form ("1234.56"), as minor units. More decimals than the currency has
// are refused, not rounded away.
func Parse(s, code string) (int64, error) {
	s = strings.TrimSpace(s)
	if !plainDecimal.MatchString(s) {
		return 0, fmt.Errorf("%q is not an amount of %s: write digits, with a point before any decimals", s, code)
	}
	a, err := currency.NewAmount(s, code)
	if err != nil {
		return 0, fmt.Errorf("%q is not an amount of %s", s, code)
	}
	if !a.Round().Equal(a) {
		return 0, fmt.Errorf("%s has %d decimals at most", code, Digits(code))
	}
	minor, err := a.Int64()
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return minor, nil
}
