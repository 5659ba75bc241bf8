package webhooks

import (
	"github.com/stripe/stripe-go/v85"

	"dunlin/shared/apperr"
	"dunlin/shared/money"
)

// Stripe writes amounts in its own idea of each currency's smallest unit,
// which is not always the ISO 4217 / CLDR minor unit Dunlin keeps
// (https://docs.stripe.com/currencies, "Zero-decimal currencies",
// "Three-decimal currencies", "Special cases"):
//
//   - zero-decimal currencies: the amount is whole units (JPY 500 is ¥500).
//     MGA is one of them though CLDR gives it two decimals.
//   - three-decimal currencies (BHD, JOD, KWD, OMR, TND): the amount is in
//     thousandths, and its last digit must be 0.
//   - ISK and UGX became zero-decimal, but for backwards compatibility the
//     API writes them with two decimals that are always 00 (ISK 500 is 5 kr).
//   - HUF and TWD are charged with two decimals (they are zero-decimal only
//     for payouts, which Dunlin never sees).
//   - every other currency: two decimals.
//
// stripeAmount converts exactly or not at all: an amount that would leave a
// fraction of Dunlin's minor unit, or breaks Stripe's rule for its
// currency, is refused naming the field, never rounded.

// stripeZeroDecimal is Stripe's zero-decimal list without UGX, whose
// special case says how its amounts are written.
var stripeZeroDecimal = map[string]bool{"BIF": true, "CLP": true, "DJF": true, "GNF": true, "JPY": true, "KMF": true, "KRW": true,
	"MGA": true, "PYG": true, "RWF": true, "VND": true, "VUV": true, "XAF": true, "XOF": true, "XPF": true}

var stripeThreeDecimal = map[string]bool{"BHD": true, "JOD": true, "KWD": true, "OMR": true, "TND": true}

// stripeWholeHundreds are written with two decimals that must be 00.
var stripeWholeHundreds = map[string]bool{"ISK": true, "UGX": true}

// stripeDecimals is how many decimals Stripe's API writes a currency with.
func stripeDecimals(code string) int {
	switch {
	case stripeZeroDecimal[code]:
		return 0
	case stripeThreeDecimal[code]:
		return 3
	}
	return 2
}

// stripeAmount converts a non-negative Stripe amount in currency cur to
// the currency's minor units. Errors: Invalid naming field (or currency).
func stripeAmount(field string, amount int64, cur stripe.Currency) (int64, error) {
	code, err := money.NormalizeCurrency(string(cur))
	if err != nil {
		return 0, apperr.Invalidf("currency", "currency: %v", err)
	}
	if amount < 0 {
		return 0, apperr.Invalidf(field, "%s %d is negative", field, amount)
	}
	switch {
	case stripeThreeDecimal[code] && amount%10 != 0:
		return 0, apperr.Invalidf(field, "%s %d %s breaks Stripe's rule that three-decimal amounts end in 0", field, amount, code)
	case stripeWholeHundreds[code] && amount%100 != 0:
		return 0, apperr.Invalidf(field, "%s %d %s is a fraction of a whole %s, which Stripe does not charge", field, amount, code, code)
	}
	minor := amount
	for d := stripeDecimals(code); d != money.Digits(code); {
		if d < money.Digits(code) {
			if minor > money.MaxMinor/10 {
				return 0, apperr.Invalidf(field, "%s %d %s is too large", field, amount, code)
			}
			minor, d = minor*10, d+1
			continue
		}
		if minor%10 != 0 {
			return 0, apperr.Invalidf(field, "%s %d %s does not convert exactly to %s's minor unit", field, amount, code, code)
		}
		minor, d = minor/10, d-1
	}
	if err := money.CheckAmount(minor, 0); err != nil {
		return 0, apperr.Invalidf(field, "%s %v", field, err)
	}
	return minor, nil
}
