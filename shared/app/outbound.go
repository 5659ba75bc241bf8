package app

import (
	"context"
	"log/slog"
	"time"

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
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-outboundMargin))
			defer cancel()
		}
		sum, err := r.Run(ctx)
		log.InfoContext(ctx, "outbound delivery run", "fanned_out", sum.FannedOut, "attempted", sum.Attempted, "delivered", sum.Delivered,
			"retrying", sum.Retrying, "failed", sum.Failed, "cancelled", sum.Cancelled, "postponed", sum.Postponed)
		return sum, err
	}
}
