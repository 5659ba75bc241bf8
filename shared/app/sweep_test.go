package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"dunlin/shared/app"
	"dunlin/shared/billing"
	"dunlin/shared/metrics"
	"dunlin/shared/outbound"
	"dunlin/shared/sweep"
	"dunlin/shared/webhooks"
)

// TestARunsMetricsAreValidEMF: a run's summary becomes one record for the
// run and one per step and tone emailed, each a line CloudWatch accepts,
// with the summary's numbers.
func TestARunsMetricsAreValidEMF(t *testing.T) {
	sum := sweep.Summary{Now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), Considered: 7, Sent: 3, InDoubt: 1, Failed: 1,
		Skipped: map[string]int{"promised": 2}, Stopped: true,
		SentBy: []sweep.SentCount{{Step: "overdue", Tone: "reminder", Emails: 2}, {Step: "final", Tone: "final", Emails: 1}}}
	recs := app.SweepMetrics(sum, 1500*time.Millisecond)
	var buf bytes.Buffer
	if err := metrics.NewWriter(&buf).Write(recs...); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (the run, two steps):\n%s", len(lines), buf.String())
	}
	var run map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &run); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"SweepRuns": 1, "SweepDuration": 1500, "InvoicesConsidered": 7, "EmailsSent": 3,
		"SendsInDoubt": 1, "EmailsFailed": 1, "InvoicesSkipped": 2, "SweepStopped": 1} {
		if run[name] != want {
			t.Errorf("%s = %v, want %v", name, run[name], want)
		}
	}
	var step map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &step); err != nil {
		t.Fatal(err)
	}
	if step["Step"] != "overdue" || step["Tone"] != "reminder" || step["EmailsSent"] != 2.0 || step["Function"] != "sweep" {
		t.Errorf("per-step record = %v", step)
	}
}

// TestADeliveryRunsMetricsAreValidEMF: a delivery run is one record with
// what it did, deliveries given up among it.
func TestADeliveryRunsMetricsAreValidEMF(t *testing.T) {
	rec := app.OutboundMetrics(outbound.Summary{FannedOut: 4, Attempted: 5, Delivered: 3, Retrying: 1, Failed: 1},
		time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), 800*time.Millisecond)
	var buf bytes.Buffer
	if err := metrics.NewWriter(&buf).Write(rec); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]any{"Function": "outbound", "OutboundRunDuration": 800.0, "OutboundEventsFannedOut": 4.0,
		"OutboundAttempts": 5.0, "OutboundDelivered": 3.0, "OutboundRetrying": 1.0, "OutboundDeliveriesFailed": 1.0} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}

// TestAWebhookDeliveryIsOneEMFRecord: a delivery becomes one WebhookEvents
// count under its provider, event type and outcome, and under its outcome
// alone, which the alarms watch.
func TestAWebhookDeliveryIsOneEMFRecord(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	err := metrics.NewWriter(&buf).Write(app.WebhookMetrics(webhooks.Delivery{At: at, Provider: "stripe", EventType: "other", Outcome: "ignored"}))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Function, Provider, EventType, Outcome string
		WebhookEvents                          float64
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if doc.Function != "webhooks" || doc.Provider != "stripe" || doc.EventType != "other" || doc.Outcome != "ignored" || doc.WebhookEvents != 1 {
		t.Errorf("values = %+v", doc)
	}
	d := doc.AWS.CloudWatchMetrics[0]
	if doc.AWS.Timestamp != at.UnixMilli() || len(d.Dimensions) != 2 ||
		strings.Join(d.Dimensions[0], ",") != "EventType,Function,Outcome,Provider" || strings.Join(d.Dimensions[1], ",") != "Function,Outcome" {
		t.Errorf("directive = %+v", doc.AWS)
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Name != "WebhookEvents" || d.Metrics[0].Unit != "Count" {
		t.Errorf("metrics = %+v", d.Metrics)
	}
}

// TestOverdueIsReportedPerCurrencyInMajorUnits: a run that took the day's
// snapshot adds one record per currency, with the amount in the
// currency's major units (JPY has none, KWD three) and the count.
func TestOverdueIsReportedPerCurrencyInMajorUnits(t *testing.T) {
	sum := sweep.Summary{Now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), Overdue: []billing.Overdue{
		{Currency: "EUR", Amount: 123456, Invoices: 2}, {Currency: "JPY", Amount: 5000, Invoices: 1}, {Currency: "KWD", Amount: 1234, Invoices: 1},
		{Currency: "USD", Amount: 0, Invoices: 0}}}
	var buf bytes.Buffer
	if err := metrics.NewWriter(&buf).Write(app.SweepMetrics(sum, time.Second)...); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec struct {
			Function, Currency             string
			AmountOverdue, InvoicesOverdue *float64
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Currency != "" && rec.Function == "sweep" && rec.AmountOverdue != nil && rec.InvoicesOverdue != nil {
			got = append(got, fmt.Sprintf("%s %v %v", rec.Currency, *rec.AmountOverdue, *rec.InvoicesOverdue))
		}
	}
	if want := "EUR 1234.56 2, JPY 5000 1, KWD 1.234 1, USD 0 0"; strings.Join(got, ", ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, ", "), want)
	}
	if recs := app.SweepMetrics(sweep.Summary{}, 0); len(recs) != 1 {
		t.Errorf("a run that took no snapshot wrote %d records, want the run's alone", len(recs))
	}
}
