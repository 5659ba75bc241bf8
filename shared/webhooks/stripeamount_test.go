package webhooks

import (
	"testing"

	"github.com/stripe/stripe-go/v85"

	"dunlin/shared/apperr"
)

// Every currency Stripe documents as other than two-decimal
// (https://docs.stripe.com/currencies: zero-decimal, three-decimal and
// special cases), and a few ordinary ones, with what a Stripe amount in it
// is in the currency's minor unit as Dunlin keeps it (ISO 4217 / CLDR).
func TestStripeAmountsConvertByStripesCurrencyRules(t *testing.T) {
	for _, tc := range []struct {
		currency string
		stripe   int64
		want     int64 // Dunlin minor units; -1: refused
		why      string
	}{
		// Zero-decimal in Stripe and in CLDR: as they are.
		{"jpy", 5000, 5000, "¥5,000"},
		{"krw", 10000, 10000, "₩10,000"},
		{"bif", 500, 500, ""}, {"clp", 500, 500, ""}, {"djf", 500, 500, ""}, {"gnf", 500, 500, ""}, {"kmf", 500, 500, ""},
		{"pyg", 500, 500, ""}, {"rwf", 500, 500, ""}, {"vnd", 500, 500, ""}, {"vuv", 500, 500, ""}, {"xaf", 500, 500, ""},
		{"xof", 500, 500, ""}, {"xpf", 500, 500, ""},
		// Zero-decimal in Stripe, two decimals in CLDR.
		{"mga", 5000, 500000, "5,000 Ar is 500000 hundredths"},
		// Three-decimal, the last digit always 0.
		{"kwd", 5120, 5120, "5.120 KD"},
		{"bhd", 1000, 1000, ""}, {"jod", 1000, 1000, ""}, {"omr", 1000, 1000, ""}, {"tnd", 1000, 1000, ""},
		{"kwd", 5125, -1, "Stripe never writes a last digit other than 0"},
		// Special cases: ISK and UGX written with two decimals that are 00.
		{"isk", 1000000, 10000, "10,000 kr"},
		{"isk", 1050, -1, "10.50 kr is a fraction Stripe does not charge"},
		{"ugx", 50000, 500, "500 USh"},
		{"ugx", 50001, -1, "a fraction of a shilling"},
		// HUF and TWD: two decimals in charges (zero-decimal only for payouts).
		{"huf", 123456, 123456, "1,234.56 Ft"},
		{"twd", 80045, 80045, "NT$800.45"},
		// Two decimals in Stripe and CLDR.
		{"eur", 1999, 1999, ""}, {"usd", 1, 1, ""}, {"cny", 100000, 100000, ""},
		// Two decimals in Stripe, three in CLDR: ×10.
		{"iqd", 12345, 123450, ""},
		// Not money.
		{"eur", -1, -1, "negative"},
		{"xyz", 100, -1, "not a currency"},
	} {
		got, err := stripeAmount("amount", tc.stripe, stripe.Currency(tc.currency))
		switch {
		case tc.want < 0 && err == nil:
			t.Errorf("%d %s = %d, want it refused (%s)", tc.stripe, tc.currency, got, tc.why)
		case tc.want < 0:
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || (e.Field != "amount" && e.Field != "currency") {
				t.Errorf("%d %s: %v, want Invalid naming amount or currency", tc.stripe, tc.currency, err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%d %s = %d, %v; want %d (%s)", tc.stripe, tc.currency, got, err, tc.want, tc.why)
		}
	}
}

// The lists above are Stripe's, not CLDR's: every currency they name is
// one CLDR knows, and the three lists do not overlap.
func TestStripeCurrencyListsAreConsistent(t *testing.T) {
	for code := range stripeZeroDecimal {
		if stripeThreeDecimal[code] || stripeWholeHundreds[code] {
			t.Errorf("%s is in two lists", code)
		}
	}
	for code := range stripeThreeDecimal {
		if stripeWholeHundreds[code] {
			t.Errorf("%s is in two lists", code)
		}
	}
	for _, list := range []map[string]bool{stripeZeroDecimal, stripeThreeDecimal, stripeWholeHundreds} {
		for code := range list {
			if _, err := stripeAmount("amount", 0, stripe.Currency(code)); err != nil {
				t.Errorf("%s: %v", code, err)
			}
		}
	}
}
