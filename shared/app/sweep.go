package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"dunlin/shared/sweep"
)

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
		sum, err := s.Run(ctx, now)
		if err != nil {
			return sum, err
		}
		log.InfoContext(ctx, "sweep finished", "now", now.Format(time.RFC3339), "considered", sum.Considered, "sent", sum.Sent,
			"requeued", sum.Requeued, "in_doubt", sum.InDoubt, "failed", sum.Failed, "skipped", sum.Skipped, "stopped", sum.Stopped)
		return sum, nil
	}
}
