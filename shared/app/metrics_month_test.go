package app_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"dunlin/shared/app"
	"dunlin/shared/billing"
	"dunlin/shared/cost"
	"dunlin/shared/dunning"
	"dunlin/shared/metrics"
	"dunlin/shared/outbound"
	"dunlin/shared/sweep"
	"dunlin/shared/webhooks"
)

// TestMetricsInAMonth counts the CloudWatch custom metrics (each name and
// set of dimension values) a month publishes, from the functions' own
// records, for the cost model: the standard ladder sending at each of its
// email steps, one currency overdue, Stripe payments applied, some
// delivered twice, and an event type Dunlin ignores; outbound deliveries.
// Every metric, and only those the alarms watch (DetailedMetrics false).
func TestMetricsInAMonth(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	sum := sweep.Summary{Now: now, Overdue: []billing.Overdue{{Currency: "EUR", Amount: 100, Invoices: 1}}}
	for _, s := range dunning.Standard().Steps {
		if s.Email {
			sum.SentBy = append(sum.SentBy, sweep.SentCount{Step: s.Name, Tone: s.Tone, Emails: 1})
		}
	}
	records := app.SweepMetrics(sum, time.Second)
	for _, d := range []webhooks.Delivery{
		{Provider: "stripe", EventType: "payment_intent.succeeded", Outcome: webhooks.OutcomeApplied},
		{Provider: "stripe", EventType: "payment_intent.succeeded", Outcome: webhooks.OutcomeDuplicate},
		{Provider: "stripe", EventType: "invoice.paid", Outcome: webhooks.OutcomeApplied},
		{Provider: "stripe", EventType: webhooks.EventOther, Outcome: webhooks.OutcomeIgnored},
	} {
		d.At = now
		records = append(records, app.WebhookMetrics(d))
	}
	records = append(records, app.OutboundMetrics(outbound.Summary{Delivered: 1}, now, time.Second))

	count := func(keep func(string, map[string]string) bool) int {
		seen := map[string]bool{}
		for _, r := range metrics.Only(records, keep) {
			dims := slices.Sorted(maps.Keys(r.Dimensions))
			var key []string
			for _, k := range dims {
				key = append(key, k+"="+r.Dimensions[k])
			}
			for _, m := range r.Metrics {
				seen[m.Name+" "+strings.Join(key, ",")] = true
			}
		}
		return len(seen)
	}
	all := func(string, map[string]string) bool { return true }
	if got := count(all); got != cost.DetailedMetrics {
		t.Errorf("a month publishes %d metrics; cost.DetailedMetrics says %d", got, cost.DetailedMetrics)
	}
	if got := count(app.Alarmed); got != cost.EssentialMetrics {
		t.Errorf("with DetailedMetrics false, a month publishes %d metrics; cost.EssentialMetrics says %d", got, cost.EssentialMetrics)
	}
}
