package billing

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
)

// Snapshot is the firm's receivables at the start of a firm-local day,
// per currency: everything open, and the part of it not yet due. The
// first sweep of each day takes one; DSO and CEI over a period read the
// snapshots of its first day and of the day after its last.
type Snapshot struct {
	Day     civil.Date
	Open    map[string]int64
	Current map[string]int64
	// OverdueInvoices counts the open invoices with a balance that were
	// past due on Day, per currency. Snapshots taken before it was kept
	// have none.
	OverdueInvoices map[string]int64
	TakenAt         time.Time
}

// Overdue is what was overdue in one currency at a snapshot: the balances
// due before its day (the firm's day, not each invoice's own zone's), in
// minor units, and how many invoices they are.
type Overdue struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
	Invoices int64  `json:"invoices"`
}

// Overdue lists, for every currency with anything open, what was overdue
// (zero too, so a graph of it falls to zero rather than stopping), in
// currency order.
func (s *Snapshot) Overdue() []Overdue {
	out := make([]Overdue, 0, len(s.Open))
	for _, cur := range slices.Sorted(maps.Keys(s.Open)) {
		out = append(out, Overdue{Currency: cur, Amount: s.Open[cur] - s.Current[cur], Invoices: s.OverdueInvoices[cur]})
	}
	return out
}

// receivables sums the open balances now, and the part not yet due on
// day (the firm's day, not each invoice's own), per currency, and counts
// the invoices past due: one key range of an index, whose cost follows
// what is open, never the history.
func (s *Service) receivables(ctx context.Context, day civil.Date) (*Snapshot, error) {
	snap := &Snapshot{Day: day, Open: map[string]int64{}, Current: map[string]int64{}, OverdueInvoices: map[string]int64{}}
	err := s.store.ListInvoices(ctx, InvoiceRange{State: StateOpen, PageSize: 1000}, func(inv *Invoice, _ string) bool {
		snap.Open[inv.Currency] += inv.Balance
		switch {
		case !day.After(inv.DueOn):
			snap.Current[inv.Currency] += inv.Balance
		case inv.Balance > 0:
			snap.OverdueInvoices[inv.Currency]++
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("receivables: %w", err)
	}
	return snap, nil
}

// TakeSnapshot stores today's snapshot (firm-local) unless today has one,
// and returns it; nil when today already had one, so whoever gets it is
// the one run of the day that took it.
func (s *Service) TakeSnapshot(ctx context.Context, now time.Time) (*Snapshot, error) {
	day := civil.Today(now, Location(s.firm.Timezone))
	if _, err := s.store.GetSnapshot(ctx, day); err == nil {
		return nil, nil // taken: one read, not the open invoices, each later run
	} else if !apperr.Is(err, apperr.NotFound) {
		return nil, err
	}
	snap, err := s.receivables(ctx, day)
	if err != nil {
		return nil, err
	}
	snap.TakenAt = now.UTC()
	took, err := s.store.PutSnapshot(ctx, snap)
	if err != nil || !took {
		return nil, err
	}
	return snap, nil
}

// DSOFigures are days sales outstanding and the collection effectiveness
// index over a period, in one currency, with the figures behind them.
type DSOFigures struct {
	Currency                       string
	Sales                          int64 // invoiced in the period (void invoices left out)
	BeginOpen, EndOpen, EndCurrent int64
	DSO                            *float64 // nil without sales
	CEI                            *float64 // percent; nil when the denominator is zero
}

// DSOReport is the figures for every currency with receivables or sales.
type DSOReport struct {
	From, To civil.Date
	Days     int
	Figures  []DSOFigures
}

// DSO works out, for the period from from to to (firm-local days):
//
//	DSO = receivables at the end / sales in the period x days in the period
//	CEI = (receivables at the start + sales - receivables at the end) /
//	      (receivables at the start + sales - current receivables at the end) x 100
//
// Receivables at the start are the snapshot of from; at the end, the
// snapshot of the day after to, or the books now when to is today. Sales
// are the totals of the invoices issued in the period, read by due date
// (an invoice issued in the period is due within a year of it). Errors:
// BadRequest naming from or to; Invalid naming from or to when a
// snapshot it needs was never taken.
func (s *Service) DSO(ctx context.Context, from, to civil.Date) (*DSOReport, error) {
	from, to, err := s.period(from, to)
	if err != nil {
		return nil, err
	}
	today := civil.Today(s.now(), Location(s.firm.Timezone))
	if to.After(today) {
		return nil, apperr.Field(apperr.BadRequest, "to", "to %s is after today", to)
	}
	begin, err := s.store.GetSnapshot(ctx, from)
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.Invalidf("from", "no receivables snapshot for %s: the sweep takes one each day, from the day Dunlin first ran", from)
	} else if err != nil {
		return nil, err
	}
	var endOpen, endCurrent map[string]int64
	if to == today {
		end, err := s.receivables(ctx, today.AddDays(1))
		if err != nil {
			return nil, err
		}
		endOpen, endCurrent = end.Open, end.Current
	} else {
		end, err := s.store.GetSnapshot(ctx, to.AddDays(1))
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.Invalidf("to", "no receivables snapshot for %s, the day after to", to.AddDays(1))
		} else if err != nil {
			return nil, err
		}
		endOpen, endCurrent = end.Open, end.Current
	}
	sales := map[string]int64{}
	for _, st := range []InvoiceState{StateOpen, StatePaid} {
		err := s.store.ListInvoices(ctx, InvoiceRange{State: st, DueFrom: from, DueBefore: to.AddDays(maxTermsDays + 1), PageSize: 1000}, func(inv *Invoice, _ string) bool {
			if !inv.IssuedOn.Before(from) && !inv.IssuedOn.After(to) {
				sales[inv.Currency] += inv.Total
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("sales: %w", err)
		}
	}
	rep := &DSOReport{From: from, To: to, Days: to.DaysSince(from) + 1}
	currencies := map[string]bool{}
	for _, m := range []map[string]int64{begin.Open, endOpen, sales} {
		for cur := range m {
			currencies[cur] = true
		}
	}
	for _, cur := range slices.Sorted(maps.Keys(currencies)) {
		f := DSOFigures{Currency: cur, Sales: sales[cur], BeginOpen: begin.Open[cur], EndOpen: endOpen[cur], EndCurrent: endCurrent[cur]}
		if f.Sales > 0 {
			v := round1(float64(f.EndOpen) / float64(f.Sales) * float64(rep.Days))
			f.DSO = &v
		}
		if d := f.BeginOpen + f.Sales - f.EndCurrent; d > 0 {
			v := round1(float64(f.BeginOpen+f.Sales-f.EndOpen) / float64(d) * 100)
			f.CEI = &v
		}
		rep.Figures = append(rep.Figures, f)
	}
	return rep, nil
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
