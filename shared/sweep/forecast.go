package sweep

import (
	"context"
	"fmt"
	"sort"
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
)

// Forecasted is a step expected to be taken on a customer-local date.
type Forecasted struct {
	On         civil.Date   `json:"on"`
	CustomerID string       `json:"customer_id"`
	InvoiceID  string       `json:"invoice_id"`
	Number     string       `json:"number"`
	Step       string       `json:"step"`
	Tone       dunning.Tone `json:"tone"`
	Escalation bool         `json:"escalation"`
	// IfPromiseBroken: the invoice is held by an open promise to pay; the
	// step comes only if the promise is broken (from its check day on).
	IfPromiseBroken bool `json:"if_promise_broken"`
}

// Forecast lists the steps due over the next days under the current
// policies: each on its date, moved past pauses and closed days (weekends,
// holidays). Invoices the customer's credit on account pays off (oldest
// due first, as the sweep spends it) are left out; invoices held by a
// promise to pay are listed from the promise's check day, marked
// IfPromiseBroken. It reads the work queue up to the horizon and writes
// nothing. It does not apply the weekly cap or the one-email-a-day
// grouping, which depend on what is actually sent; the preview shows those
// for one instant.
func (s *Sweeper) Forecast(ctx context.Context, now time.Time, days int) ([]Forecasted, error) {
	through := civil.Today(now, latestZone).AddDays(days)
	out := []Forecasted{}
	customers := map[string]*billing.Customer{}
	credit := map[string]map[string]int64{} // customer -> currency -> credit left
	rc := newRunCache()
	for shard := 0; shard < s.settings.Shards; shard++ {
		var invs []*billing.Invoice
		if err := s.store.DueActions(ctx, shard, through, func(inv *billing.Invoice) bool { invs = append(invs, inv); return true }); err != nil {
			return nil, fmt.Errorf("read work queue shard %d: %w", shard, err)
		}
		sort.SliceStable(invs, func(i, j int) bool { return invs[i].DueOn.Before(invs[j].DueOn) }) // credit goes oldest due first
		for _, inv := range invs {
			c, ok := customers[inv.CustomerID]
			if !ok {
				var err error
				if c, err = s.store.GetCustomer(ctx, inv.CustomerID); err != nil {
					return nil, err
				}
				customers[c.ID] = c
				if s.settings.Books != nil {
					if credit[c.ID], err = s.settings.Books.CreditOnAccount(ctx, c.ID); err != nil {
						return nil, err
					}
				}
			}
			if left := credit[c.ID][inv.Currency]; left > 0 && !inv.Disputed {
				// The sweep pays what it can from credit before it duns.
				credit[c.ID][inv.Currency] = left - min(left, inv.Balance)
				if left >= inv.Balance {
					continue
				}
			}
			pol, err := s.policyFor(ctx, rc, c)
			if err != nil {
				return nil, err
			}
			zone := c.Timezone
			if zone == "" {
				zone = s.settings.FirmTimezone
			}
			today := civil.Today(now, billing.Location(zone))
			last := today.AddDays(days - 1)
			from, promised := today, inv.PromiseID != ""
			if promised && inv.NextActionOn.After(today) {
				from = inv.NextActionOn // the promise's check day
			}
			if from.After(last) {
				continue
			}
			for _, sc := range pol.Upcoming(inv.DunningDueOn(), pol.Done(inv.Progress()), from, last) {
				on := sc.On
				switch {
				case len(c.DisputeHolds) > 0:
					continue // held by an open card dispute: no date to forecast
				case c.PausedOn(on) && !c.PausedUntil.IsZero():
					on = c.PausedUntil.AddDays(1)
				case c.PausedOn(on):
					continue // paused until resumed
				}
				on = s.settings.Window.NextOpenDay(on)
				if on.After(last) {
					continue
				}
				st := pol.Steps[sc.Step]
				out = append(out, Forecasted{On: on, CustomerID: c.ID, InvoiceID: inv.ID, Number: inv.Number, Step: st.Name, Tone: st.Tone, Escalation: st.Escalate, IfPromiseBroken: promised})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].On != out[j].On {
			return out[i].On.Before(out[j].On)
		}
		return out[i].CustomerID < out[j].CustomerID
	})
	return out, nil
}
