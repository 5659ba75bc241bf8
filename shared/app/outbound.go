package app

import (
	"context"
	"log/slog"
	"time"

	"dunlin/shared/metrics"
	"dunlin/shared/outbound"
)

// outboundMargin is how long before the Lambda deadline a delivery run
// stops starting attempts: one attempt takes at most
// outbound.RequestTimeout, and its outcome must still be recorded.
const outboundMargin = outbound.RequestTimeout + 5*time.Second

// OutboundHandler adapts a delivery run to a Lambda handler for the
// schedule. What a run leaves (out of time, an endpoint that failed) the
// next run picks up; an error is returned so the Errors alarm sees it.
func OutboundHandler(r *outbound.Runner, log *slog.Logger) func(context.Context) (outbound.Summary, error) {
	return func(ctx context.Context) (outbound.Summary, error) {
		var stop time.Time
		if deadline, ok := ctx.Deadline(); ok {
			stop = deadline.Add(-outboundMargin)
		}
		started := time.Now()
		sum, err := r.RunUntil(ctx, stop)
		if sum == (outbound.Summary{}) && err == nil {
			// Most runs, every minute, find nothing to do; saying so in
			// the log would be most of the function's log bill. Missing
			// counts are zeros to the alarms (TreatMissingData).
			return sum, nil
		}
		if err := metricsOut.Write(OutboundMetrics(sum, started, time.Since(started))); err != nil {
			log.ErrorContext(ctx, "outbound metrics", "error", err.Error())
		}
		log.InfoContext(ctx, "outbound delivery run", "fanned_out", sum.FannedOut, "attempted", sum.Attempted, "delivered", sum.Delivered,
			"retrying", sum.Retrying, "failed", sum.Failed, "cancelled", sum.Cancelled, "postponed", sum.Postponed)
		return sum, err
	}
}

// OutboundMetrics are a delivery run's CloudWatch metrics. A delivery
// given up (OutboundDeliveriesFailed) means a receiver missed an event
// for good: the alarm on it tells the firm to look at the delivery log.
func OutboundMetrics(sum outbound.Summary, at time.Time, took time.Duration) metrics.Record {
	return metrics.Record{Time: at, Dimensions: map[string]string{"Function": "outbound"}, Metrics: []metrics.Metric{
		{Name: "OutboundRunDuration", Unit: metrics.Milliseconds, Value: float64(took.Milliseconds())},
		{Name: "OutboundEventsFannedOut", Unit: metrics.Count, Value: float64(sum.FannedOut)},
		{Name: "OutboundAttempts", Unit: metrics.Count, Value: float64(sum.Attempted)},
		{Name: "OutboundDelivered", Unit: metrics.Count, Value: float64(sum.Delivered)},
		{Name: "OutboundRetrying", Unit: metrics.Count, Value: float64(sum.Retrying)},
		{Name: "OutboundDeliveriesFailed", Unit: metrics.Count, Value: float64(sum.Failed)},
	}}
}
