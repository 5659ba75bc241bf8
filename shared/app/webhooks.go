package app

import (
	"context"
	"log/slog"

	"dunlin/shared/metrics"
	"dunlin/shared/webhooks"
)

// WebhooksHandler is the webhooks function's handler: h, writing one
// metrics record per delivery it answers. The local stack serves h
// without it, so its terminal is not filled with EMF lines.
func WebhooksHandler(h *webhooks.Handler, log *slog.Logger) *webhooks.Handler {
	return h.OnDelivery(func(ctx context.Context, d webhooks.Delivery) {
		if err := metricsOut.Write(WebhookMetrics(d)); err != nil {
			log.ErrorContext(ctx, "webhook metrics", "error", err.Error())
		}
	})
}

// WebhookMetrics is one delivery's record: WebhookEvents 1, by provider,
// event type and outcome, and rolled up by outcome alone, which is what
// the alarms watch (rejected signatures, failures) whatever the type.
// The webhooks handler bounds every dimension's values, so a sender
// cannot create metrics (each billed) by inventing event types.
func WebhookMetrics(d webhooks.Delivery) metrics.Record {
	return metrics.Record{Time: d.At,
		Dimensions: map[string]string{"Function": "webhooks", "Provider": d.Provider, "EventType": d.EventType, "Outcome": d.Outcome},
		Rollups:    [][]string{{"Function", "Outcome"}},
		Metrics:    []metrics.Metric{{Name: "WebhookEvents", Unit: metrics.Count, Value: 1}}}
}
