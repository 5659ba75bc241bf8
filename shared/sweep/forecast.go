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
}

// Forecast lists the steps due over the next days under the current
// policies: each on its date, moved past pauses and closed days (weekends,
// holidays). It reads the work queue up to the horizon and writes nothing.
// It does not apply the weekly cap or the one-email-a-day grouping, which
// depend on what is actually sent; the preview shows those for one instant.
func (s *Sweeper) Forecast(ctx context.Context, now time.Time, days int) ([]Forecasted, error) {
	through := civil.Today(now, latestZone).AddDays(days)
	out := []Forecasted{}
	customers := map[string]*billing.Customer{}
	rc := newRunCache()
	for shard := 0; shard < s.settings.Shards; shard++ {
		var invs []*billing.Invoice
		if err := s.store.DueActions(ctx, shard, through, func(inv *billing.Invoice) bool { invs = append(invs, inv); return true }); err != nil {
			return nil, fmt.Errorf("read work queue shard %d: %w", shard, err)
		}
		for _, inv := range invs {
			c, ok := customers[inv.CustomerID]
			if !ok {
				var err error
				if c, err = s.store.GetCustomer(ctx, inv.CustomerID); err != nil {
					return nil, err
				}
				customers[c.ID] = c
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
			for _, sc := range pol.Upcoming(inv.DunningDueOn(), pol.Done(inv.Progress()), today, last) {
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
				out = append(out, Forecasted{On: on, CustomerID: c.ID, InvoiceID: inv.ID, Number: inv.Number, Step: st.Name, Tone: st.Tone, Escalation: st.Escalate})
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
