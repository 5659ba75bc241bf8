package dunning

import (
	"fmt"
	"math/big"
	"strings"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
	"dunlin/shared/money"
)

// FeeKind is how a late fee is worked out.
type FeeKind string

const (
	// FeeFixed: a fixed amount per currency (Amounts).
	FeeFixed FeeKind = "fixed"
	// FeePercent: a percentage of the overdue balance (RateBP, basis points).
	FeePercent FeeKind = "percent"
	// FeeInterest: simple annual interest on the overdue balance for the
	// days overdue (RateBP per year).
	FeeInterest FeeKind = "interest"
	// FeeStatutory: statutory late-payment interest, a reference rate plus a
	// margin per year (EU directive: ECB rate + 8 points; UK: Bank of
	// England base rate + 8%), accruing daily on the balance actually
	// outstanding between payments.
	FeeStatutory FeeKind = "statutory"
	// FeeCompensation: fixed compensation by invoice size (e.g. GBP 40, 70
	// or 100; EUR 40), from Tiers in the fee's Currency.
	FeeCompensation FeeKind = "compensation"
)

// Fee is a late fee a step adds to an invoice.
type Fee struct {
	Kind FeeKind `json:"kind"`
	// Amounts for FeeFixed, by currency in minor units: {"EUR": 1500}.
	// Invoices in other currencies get no fee.
	Amounts map[string]int64 `json:"amounts,omitempty"`
	// RateBP for FeePercent and FeeInterest, in basis points (850 = 8.5%).
	RateBP int64 `json:"rate_bp,omitempty"`
	// ReferenceBP and MarginBP for FeeStatutory, in basis points a year.
	ReferenceBP int64 `json:"reference_bp,omitempty"`
	MarginBP    int64 `json:"margin_bp,omitempty"`
	// Currency and Tiers for FeeCompensation: the first tier whose UpTo
	// (minor units; 0 = no limit) covers the invoice total applies.
	Currency string `json:"currency,omitempty"`
	Tiers    []Tier `json:"tiers,omitempty"`
}

// Tier is one band of fixed compensation.
type Tier struct {
	UpTo   int64 `json:"up_to"`
	Amount int64 `json:"amount"`
}

// Validate checks a fee; field is the JSON path of the fee in its policy.
func (f *Fee) Validate(field string) error {
	bad := func(sub, format string, args ...any) error {
		return apperr.Invalidf(field+sub, format, args...)
	}
	switch f.Kind {
	case FeeFixed:
		if len(f.Amounts) == 0 {
			return bad(".amounts", "a fixed fee needs amounts by currency, e.g. {\"EUR\": 1500}")
		}
		for code, a := range f.Amounts {
			if _, err := money.NormalizeCurrency(code); err != nil || code != strings.ToUpper(code) {
				return bad(".amounts", "%q is not an upper-case ISO 4217 code", code)
			}
			if a <= 0 || a > money.MaxMinor {
				return bad(".amounts", "amounts must be positive minor units")
			}
		}
	case FeePercent, FeeInterest:
		if f.RateBP <= 0 || f.RateBP > 10000 {
			return bad(".rate_bp", "rate_bp must be 1 to 10000 basis points (0.01%% to 100%%)")
		}
	case FeeStatutory:
		if f.ReferenceBP < 0 || f.MarginBP < 0 || f.ReferenceBP+f.MarginBP <= 0 || f.ReferenceBP+f.MarginBP > 10000 {
			return bad(".margin_bp", "reference_bp + margin_bp must be 1 to 10000 basis points a year")
		}
	case FeeCompensation:
		if _, err := money.NormalizeCurrency(f.Currency); err != nil {
			return bad(".currency", "compensation needs the currency its tiers are in")
		}
		if len(f.Tiers) == 0 {
			return bad(".tiers", "compensation needs at least one tier")
		}
		for i, t := range f.Tiers {
			last := i == len(f.Tiers)-1
			ok := t.Amount > 0 && (t.UpTo > 0 || last)
			if ok && i > 0 && t.UpTo > 0 {
				ok = t.UpTo > f.Tiers[i-1].UpTo
			}
			if !ok {
				return bad(fmt.Sprintf(".tiers[%d]", i), "tiers need positive amounts and increasing up_to; only the last may be 0 (no limit)")
			}
		}
	default:
		return bad(".kind", "kind must be fixed, percent, interest, statutory or compensation")
	}
	return nil
}

// Segment is a stretch of days with one outstanding balance.
type Segment struct {
	From    civil.Date // first day
	Balance int64      // minor units outstanding from From on
}

// FeeBasis is what a fee is worked out from.
type FeeBasis struct {
	Currency string
	Total    int64      // the invoice total, minor units
	Balance  int64      // outstanding now, minor units
	DueOn    civil.Date // interest runs from the day after
	AsOf     civil.Date // the day the fee is charged
	// History is the outstanding balance over time, oldest first (from
	// payments). Empty means Balance has been outstanding since DueOn.
	History []Segment
}

// Compute works out the fee, rounded half up to the currency's minor unit.
// It returns 0 when the fee does not apply: another currency, nothing
// outstanding, or not yet overdue (a late fee is for lateness).
func (f Fee) Compute(b FeeBasis) int64 {
	days := int64(b.AsOf.DaysSince(b.DueOn))
	if b.Balance <= 0 || days <= 0 {
		return 0
	}
	switch f.Kind {
	case FeeFixed:
		return f.Amounts[b.Currency]
	case FeePercent:
		return mulDiv(b.Balance, f.RateBP, 1, 10000)
	case FeeInterest:
		return mulDiv(b.Balance, f.RateBP, days, 10000*365)
	case FeeStatutory:
		return statutory(b, f.ReferenceBP+f.MarginBP)
	case FeeCompensation:
		if b.Currency != f.Currency {
			return 0
		}
		for _, t := range f.Tiers {
			if t.UpTo == 0 || b.Total <= t.UpTo {
				return t.Amount
			}
		}
	}
	return 0
}

// statutory accrues simple interest day by day on the balance outstanding
// on each day from the day after the due date up to AsOf, summed exactly
// (in minor units times basis points times days) before one rounding.
func statutory(b FeeBasis, rateBP int64) int64 {
	hist := b.History
	if len(hist) == 0 {
		hist = []Segment{{From: b.DueOn, Balance: b.Balance}}
	}
	acc := new(big.Int) // sum of balance × days; big: balances reach 2^53
	start := b.DueOn.AddDays(1)
	for i, seg := range hist {
		from := seg.From
		if from.Before(start) {
			from = start
		}
		end := b.AsOf.AddDays(1) // exclusive
		if i+1 < len(hist) && hist[i+1].From.Before(end) {
			end = hist[i+1].From
		}
		if d := int64(end.DaysSince(from)); d > 0 && seg.Balance > 0 {
			acc.Add(acc, new(big.Int).Mul(big.NewInt(seg.Balance), big.NewInt(d)))
		}
	}
	return roundDiv(acc.Mul(acc, big.NewInt(rateBP)), 10000*365)
}

// mulDiv is a×b×c/d rounded half up, for non-negative a, b, c and positive
// d, computed exactly: a balance of 2^53 minor units times a rate times a
// year of days does not fit in 64 bits.
func mulDiv(a, b, c, d int64) int64 {
	n := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	return roundDiv(n.Mul(n, big.NewInt(c)), d)
}

func roundDiv(n *big.Int, d int64) int64 {
	n.Add(n, big.NewInt(d/2))
	n.Quo(n, big.NewInt(d))
	if !n.IsInt64() || n.Int64() > money.MaxMinor {
		return money.MaxMinor
	}
	return n.Int64()
}
