package app

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	"dunlin/shared/metrics"
	"dunlin/shared/money"
	"dunlin/shared/sweep"
)

// metricsOut is where the functions write their metrics: standard output,
// which Lambda sends to CloudWatch Logs, which extracts them.
var metricsOut = metrics.NewWriter(os.Stdout)

// SweepEvent is what the schedule sends: the instant the run is for.
type SweepEvent struct {
	Time string `json:"time"` // RFC 3339; empty means now
}

// budgetMargin is how long before the Lambda deadline the sweep stops
// starting new customers, leaving time to finish the email in hand.
const budgetMargin = 45 * time.Second

// SweepHandler adapts the sweep to a Lambda handler. The run stops cleanly
// before the function's deadline; the next run continues where it stopped.
func SweepHandler(s *sweep.Sweeper, log *slog.Logger) func(context.Context, SweepEvent) (sweep.Summary, error) {
	return func(ctx context.Context, ev SweepEvent) (sweep.Summary, error) {
		now := time.Now()
		if ev.Time != "" {
			t, err := time.Parse(time.RFC3339, ev.Time)
			if err != nil {
				return sweep.Summary{}, fmt.Errorf("event time %q is not RFC 3339: %w", ev.Time, err)
			}
			now = t
		}
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-budgetMargin))
			defer cancel()
		}
		started := time.Now()
		sum, err := s.Run(ctx, now)
		if err != nil {
			return sum, err
		}
		if err := metricsOut.Write(SweepMetrics(sum, time.Since(started))...); err != nil {
			log.ErrorContext(ctx, "sweep metrics", "error", err.Error())
		}
		log.InfoContext(ctx, "sweep finished", "now", now.Format(time.RFC3339), "considered", sum.Considered, "sent", sum.Sent,
			"requeued", sum.Requeued, "in_doubt", sum.InDoubt, "failed", sum.Failed, "skipped", sum.Skipped, "stopped", sum.Stopped)
		return sum, nil
	}
}

// SweepMetrics are a run's CloudWatch metrics: one record for the run
// (SweepRuns is 1, so an alarm can tell a run that did nothing from one
// that did not happen), one per ladder step and tone emailed, and, from
// the one run a day that takes the receivables snapshot, one per
// currency with what is overdue: AmountOverdue in major units (a float
// is fine for a graph; the books stay in integer minor units) and
// InvoicesOverdue.
func SweepMetrics(sum sweep.Summary, took time.Duration) []metrics.Record {
	stopped := 0.0
	if sum.Stopped {
		stopped = 1
	}
	skipped := 0
	for _, n := range sum.Skipped {
		skipped += n
	}
	out := []metrics.Record{{Time: sum.Now, Dimensions: map[string]string{"Function": "sweep"}, Metrics: []metrics.Metric{
		{Name: "SweepRuns", Unit: metrics.Count, Value: 1},
		{Name: "SweepDuration", Unit: metrics.Milliseconds, Value: float64(took.Milliseconds())},
		{Name: "InvoicesConsidered", Unit: metrics.Count, Value: float64(sum.Considered)},
		{Name: "EmailsSent", Unit: metrics.Count, Value: float64(sum.Sent)},
		{Name: "SendsInDoubt", Unit: metrics.Count, Value: float64(sum.InDoubt)},
		{Name: "EmailsFailed", Unit: metrics.Count, Value: float64(sum.Failed)},
		{Name: "EmailsDrafted", Unit: metrics.Count, Value: float64(sum.Drafted)},
		{Name: "InvoicesSkipped", Unit: metrics.Count, Value: float64(skipped)},
		{Name: "SweepStopped", Unit: metrics.Count, Value: stopped},
	}}}
	for _, c := range sum.SentBy {
		out = append(out, metrics.Record{Time: sum.Now,
			Dimensions: map[string]string{"Function": "sweep", "Step": c.Step, "Tone": string(c.Tone)},
			Metrics:    []metrics.Metric{{Name: "EmailsSent", Unit: metrics.Count, Value: float64(c.Emails)}}})
	}
	for _, o := range sum.Overdue {
		out = append(out, metrics.Record{Time: sum.Now,
			Dimensions: map[string]string{"Function": "sweep", "Currency": o.Currency},
			Metrics: []metrics.Metric{
				{Name: "AmountOverdue", Unit: metrics.None, Value: float64(o.Amount) / math.Pow10(money.Digits(o.Currency))},
				{Name: "InvoicesOverdue", Unit: metrics.Count, Value: float64(o.Invoices)},
			}})
	}
	return out
}
