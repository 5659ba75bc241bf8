package cost

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// Op is what one operation costs, as measured: the DynamoDB request units
// it consumed, how long it ran in process and how many bytes of log it
// wrote. Figures measured by difference (a sweep with work less one
// without, divided by the work) are averages and may be fractional.
type Op struct {
	// ReadUnits are read request units: ConsumedCapacity as DynamoDB
	// Local reports it (an eventually consistent read of up to 4 KB is
	// 0.5, a strongly consistent one 1), with a Query that finds nothing
	// counted at AWS's minimum (0.5, or 1 strongly consistent), where
	// DynamoDB Local reports 0.
	ReadUnits float64 `json:"read_units"`
	// WriteUnits are write request units: ConsumedCapacity (1 per KB
	// written, 2 per KB in a transaction, each global secondary index
	// written counted again), plus 1 for each conditional write whose
	// condition failed: AWS bills those, and DynamoDB Local reports no
	// capacity on an error.
	WriteUnits float64 `json:"write_units"`
	// Calls are the DynamoDB calls by operation, e.g. "GetItem": 2.
	Calls map[string]float64 `json:"calls,omitempty"`
	// Ms is the in-process duration in milliseconds, against DynamoDB
	// Local and SES local on one machine: not an AWS duration. For API
	// and webhook requests it is the median of those measured.
	Ms float64 `json:"ms"`
	// LogBytes is the application's own log output (JSON lines).
	LogBytes float64 `json:"log_bytes"`
	// ResponseBytes is the body of the HTTP response, sent out to the
	// internet.
	ResponseBytes float64 `json:"response_bytes,omitempty"`
}

// Bytes is what a record adds to the table: its items in the base table
// and their copies in the global secondary indexes (every index projects
// all attributes), each with DynamoDB's 100 bytes of per-item overhead.
type Bytes struct {
	Table   float64 `json:"table"`
	Indexes float64 `json:"indexes"`
}

// Measured is the cost of each of Dunlin's operations, measured by
// bench/cost_test.go against DynamoDB Local and SES local.
type Measured struct {
	// Where says how and where the figures were measured.
	Where string `json:"where"`
	// MemoryMB is each function's MemorySize in template.yaml.
	MemoryMB struct {
		API        int `json:"api"`
		Webhooks   int `json:"webhooks"`
		Sweep      int `json:"sweep"`
		MailEvents int `json:"mailevents"`
		Outbound   int `json:"outbound"`
	} `json:"memory_mb"`

	// The API function, one request each through the Lambda adapter,
	// its API key read from the table (the key cache had expired).
	CreateInvoice Op `json:"create_invoice"` // POST /v1/invoices with a number and an Idempotency-Key
	RecordPayment Op `json:"record_payment"` // POST /v1/payments with an Idempotency-Key, oldest due first
	APIRead       Op `json:"api_read"`       // a GET: the mean of an invoice, a customer's invoices and its credit file
	// KeyTouch is the extra cost of the first request in an hour on an
	// API key: its last-used time is written.
	KeyTouch Op `json:"key_touch"`

	// The webhooks function: a signed generic payment.succeeded event
	// naming its invoice.
	WebhookPayment Op `json:"webhook_payment"`

	// The outbound function, every minute: a run with nothing to do; each
	// event raised, fanned out (with or without endpoints); and each
	// delivery of an event to an endpoint that answers at once.
	OutboundIdleRun  Op `json:"outbound_idle_run"`
	OutboundFanOut   Op `json:"outbound_fan_out"`
	OutboundDelivery Op `json:"outbound_delivery"`

	// The sweep function.
	SweepRun Op `json:"sweep_run"` // an hourly run with nothing due: one Query per work-queue shard, the day's snapshot found taken, the rescoring queue read
	// Once a day: the first run takes the receivables snapshot (on empty
	// books; SnapshotPerOpenInvoice more for each open invoice) and the
	// first run from the digest hour sends the alert digest (no alerts).
	// Each later run that day finds the digest claimed: DigestRecheck.
	DailySnapshot          Op `json:"daily_snapshot"`
	SnapshotPerOpenInvoice Op `json:"snapshot_per_open_invoice"`
	Digest                 Op `json:"digest"`
	DigestRecheck          Op `json:"digest_recheck"`
	// Placement: a new invoice is first read by the sweep on its issue
	// date and put on its customer's ladder; the change marks the
	// customer, who is rescored in the same run (with the mark its
	// creation left).
	Placement Op `json:"placement"`
	// Rescore is one customer's credit score recomputed, after a change
	// marked it or its day came.
	Rescore Op `json:"rescore"`
	// RescorePeek is a run reading a customer whose rescoring day has
	// come in UTC+14 but not yet in its own zone: read, found not due.
	RescorePeek Op `json:"rescore_peek"`
	// A due invoice's customer is read by each run from the day the
	// action is due anywhere on earth (UTC+14) until its email goes:
	// EarlyRead while the date has not come in the customer's zone,
	// WindowWait while the send window is closed.
	EarlyRead  Op `json:"early_read"`
	WindowWait Op `json:"window_wait"`
	// Email is one dunning email, in a run: its customer's reads, the
	// claim, the re-check, the send through SES (spaced to the default
	// send rate, 14 a second), the transaction that records it and moves
	// the invoice on, and the customer's rescoring the change marks.
	Email Op `json:"email"`

	// The mailevents function: the SES delivery event each dunning email
	// brings back, recorded (the processed-event record and a contact-log
	// entry). Bounces and complaints are rarer and not counted apart.
	MailEvent Op `json:"mail_event"`

	// Storage.
	CustomerBytes Bytes `json:"customer_bytes"` // a customer, created through the API
	InvoiceBytes  Bytes `json:"invoice_bytes"`  // an invoice and its payment, through the API, with their audit records
	EmailBytes    Bytes `json:"email_bytes"`    // what a dunning email adds: its send record, contact log and audit records
	// MailEventBytes is what a delivery event adds: its contact-log entry,
	// and its processed-event record, which expires after 35 days but is
	// counted as kept (a bound from above).
	MailEventBytes Bytes `json:"mail_event_bytes"`
}

//go:embed measured.json
var measuredJSON []byte

// Default returns the figures measured by bench/cost_test.go and kept in
// measured.json.
func Default() (Measured, error) {
	var m Measured
	if err := json.Unmarshal(measuredJSON, &m); err != nil {
		return Measured{}, fmt.Errorf("cost: measured.json: %w", err)
	}
	return m, nil
}
