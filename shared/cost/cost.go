// Package cost works out Dunlin's monthly AWS bill for a firm of a given
// size. The bill is built from measured figures (Measured: DynamoDB
// request units, durations and log bytes per operation, from
// bench/cost_test.go), a workload (Firm) and a price list (Prices). It is
// pure arithmetic: no AWS calls, no clock.
package cost

import (
	"fmt"
	"math"
	"time"
)

// DaysPerMonth is an average month: 365.25 / 12.
const DaysPerMonth = 365.25 / 12

// HoursPerMonth is the hours in an average month (730.5).
const HoursPerMonth = 24 * DaysPerMonth

// gib is the gigabyte AWS bills storage and transfer in.
const gib = 1 << 30

// DefaultInvoicesPerCustomer is the invoices a customer gets a month
// unless told otherwise: five a quarter (300 customers, 500 invoices).
const DefaultInvoicesPerCustomer = 5.0 / 3

// DefaultReadsPerCustomer is the API and dashboard reads a month per
// customer unless told otherwise: the books syncing and people looking.
const DefaultReadsPerCustomer = 20

// Firm is the workload: how big the firm is and how it uses Dunlin.
// DefaultFirm fills it from the number of customers and template.yaml's
// defaults; every field can then be changed.
type Firm struct {
	Customers        int     `json:"customers"`
	InvoicesPerMonth float64 `json:"invoices_per_month"`
	PaymentsPerMonth float64 `json:"payments_per_month"`
	// WebhookShare is the share of payments that arrive from a payment
	// provider's webhook (the webhooks function) rather than being
	// recorded through the API.
	WebhookShare     float64 `json:"webhook_share"`
	APIReadsPerMonth float64 `json:"api_reads_per_month"`
	// DunnedShare is the share of invoices that get at least one dunning
	// email; EmailsPerDunnedInvoice how many they get on average. The
	// standard ladder's first email is a friendly note three days before
	// the due date, so every invoice still open then is dunned.
	DunnedShare            float64 `json:"dunned_share"`
	EmailsPerDunnedInvoice float64 `json:"emails_per_dunned_invoice"`
	// DigestEmailsPerMonth are the firm's daily alert digests: one a day
	// at most, only on days with new alerts.
	DigestEmailsPerMonth float64 `json:"digest_emails_per_month"`

	// SweepRunsPerDay is the sweep's schedule (template.yaml: hourly).
	SweepRunsPerDay float64 `json:"sweep_runs_per_day"`
	// OutboundRunsPerDay is the outbound function's schedule
	// (template.yaml: every minute). Endpoints is how many endpoints
	// receive every event: 1 for a firm that uses outbound events, 0 for
	// one that does not (its events are still recorded and fanned out).
	OutboundRunsPerDay float64 `json:"outbound_runs_per_day"`
	Endpoints          float64 `json:"endpoints"`
	// CustomMetrics are the CloudWatch metrics (each name and set of
	// dimension values) the functions publish in a month: DetailedMetrics
	// or EssentialMetrics, as template.yaml's DetailedMetrics is true or
	// false. Alarms are template.yaml's alarms.
	CustomMetrics float64 `json:"custom_metrics"`
	Alarms        float64 `json:"alarms"`
	// DigestHour is the firm-local hour of the digest (DigestHour in
	// template.yaml, 7); -1 when it is off. Each later run that day finds
	// the digest claimed, at the price of one refused conditional write.
	DigestHour int `json:"digest_hour"`
	// AheadHours is how long before a customer's own midnight its date
	// has already come in UTC+14, the zone the work queue is read by:
	// 14 for customers in UTC, 13 in Berlin in winter, 19 in New York.
	// Each run in those hours reads the customers whose action or
	// rescoring falls on that date.
	AheadHours float64 `json:"ahead_hours"`
	// WindowWaitHours is how long, on average, a due email waits from the
	// customer's midnight for its send window (WindowWaitHours of
	// template.yaml's window: 9-18, Monday to Friday). Each run meanwhile
	// reads the customer again.
	WindowWaitHours float64 `json:"window_wait_hours"`
	// OpenInvoices is the number of open invoices on an average day: the
	// daily receivables snapshot reads them all. A month's invoices on
	// 30-day terms.
	OpenInvoices float64 `json:"open_invoices"`

	// HistoryMonths is how many months of books the table holds: the bill
	// is the one for that month. Dunlin deletes nothing but idempotency
	// records.
	HistoryMonths float64 `json:"history_months"`
	// LogRetentionDays is template.yaml's LogRetentionDays (30).
	LogRetentionDays float64 `json:"log_retention_days"`
	// PlatformLogBytes are the log bytes Lambda itself writes for each
	// invocation in the JSON log format (the platform.start and
	// platform.report records, plus CloudWatch's 26 bytes per event).
	// Assumed, not measured.
	PlatformLogBytes float64 `json:"platform_log_bytes"`
	// ColdStartMs is a cold start's billed INIT phase (Lambda bills it
	// for provided.al2023 functions). Assumed, not measured: a round
	// figure for a small Go binary; a function's REPORT lines give the
	// real one. Each sweep run is a cold start (an hour apart), and each
	// other function has one for each hour it is used.
	ColdStartMs float64 `json:"cold_start_ms"`
}

// DefaultFirm is the workload of a firm with the given number of
// customers, with template.yaml's defaults for the schedule, the digest
// hour, the send window and log retention.
func DefaultFirm(customers int) Firm {
	invoices := float64(customers) * DefaultInvoicesPerCustomer
	return Firm{
		Customers:              customers,
		InvoicesPerMonth:       invoices,
		PaymentsPerMonth:       invoices,
		WebhookShare:           0.5,
		APIReadsPerMonth:       float64(customers) * DefaultReadsPerCustomer,
		DunnedShare:            0.6,
		EmailsPerDunnedInvoice: 1.5,
		DigestEmailsPerMonth:   DaysPerMonth,
		SweepRunsPerDay:        24,
		OutboundRunsPerDay:     1440,
		Endpoints:              1,
		CustomMetrics:          DetailedMetrics,
		Alarms:                 TemplateAlarms,
		DigestHour:             7,
		AheadHours:             14,
		WindowWaitHours:        WindowWaitHours(9, []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}),
		OpenInvoices:           invoices,
		HistoryMonths:          12,
		LogRetentionDays:       30,
		PlatformLogBytes:       500,
		ColdStartMs:            100,
	}
}

// WindowWaitHours is the average wait, in hours from the customer's
// midnight, until a send window that opens at startHour on the given
// weekdays, for emails due on each day of the week alike. With the
// default window (9:00, Monday to Friday) it is 19.29 hours: 9 on a
// weekday, 57 on a Saturday, 33 on a Sunday.
func WindowWaitHours(startHour int, open []time.Weekday) float64 {
	if len(open) == 0 {
		return math.Inf(1)
	}
	isOpen := map[time.Weekday]bool{}
	for _, d := range open {
		isOpen[d] = true
	}
	total := 0
	for due := range 7 {
		days := 0
		for !isOpen[time.Weekday((due+days)%7)] {
			days++
		}
		total += 24*days + startHour
	}
	return float64(total) / 7
}

// Validate reports the first field that is not a workload.
func (f Firm) Validate() error {
	if f.Customers <= 0 {
		return fmt.Errorf("customers: %d: a firm has at least one customer", f.Customers)
	}
	for _, c := range []struct {
		name string
		v    float64
	}{
		{"invoices_per_month", f.InvoicesPerMonth}, {"payments_per_month", f.PaymentsPerMonth}, {"api_reads_per_month", f.APIReadsPerMonth},
		{"emails_per_dunned_invoice", f.EmailsPerDunnedInvoice}, {"digest_emails_per_month", f.DigestEmailsPerMonth},
		{"ahead_hours", f.AheadHours}, {"window_wait_hours", f.WindowWaitHours}, {"open_invoices", f.OpenInvoices},
		{"history_months", f.HistoryMonths}, {"log_retention_days", f.LogRetentionDays}, {"platform_log_bytes", f.PlatformLogBytes},
		{"cold_start_ms", f.ColdStartMs}, {"outbound_runs_per_day", f.OutboundRunsPerDay}, {"endpoints", f.Endpoints},
		{"custom_metrics", f.CustomMetrics}, {"alarms", f.Alarms},
	} {
		if c.v < 0 || math.IsNaN(c.v) || math.IsInf(c.v, 0) {
			return fmt.Errorf("%s: %v: a number, zero or more", c.name, c.v)
		}
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"webhook_share", f.WebhookShare}, {"dunned_share", f.DunnedShare}} {
		if !(c.v >= 0 && c.v <= 1) {
			return fmt.Errorf("%s: %v: a share from 0 to 1", c.name, c.v)
		}
	}
	if !(f.SweepRunsPerDay > 0 && f.SweepRunsPerDay <= 1440) {
		return fmt.Errorf("sweep_runs_per_day: %v: from 1 to 1440", f.SweepRunsPerDay)
	}
	if f.DigestHour < -1 || f.DigestHour > 23 {
		return fmt.Errorf("digest_hour: %d: 0 to 23, or -1 for none", f.DigestHour)
	}
	return nil
}

// The CloudWatch metrics a month publishes, counted in shared/app's
// TestMetricsInAMonth from the functions' own metric records for a
// month with the standard ladder, one currency and Stripe payments:
// every metric (DetailedMetrics) or only those the alarms watch. Each is
// billed for the hours it receives data: the sweep's every hour, the rest
// whenever something happens, taken here as all month.
const (
	DetailedMetrics  = 28
	EssentialMetrics = 3
)

// TemplateAlarms is the number of alarms template.yaml makes (its test
// counts them).
const TemplateAlarms = 17

// OutboxWriteUnits is what the outbox record of an event adds to the
// transaction of the change that raises it: 2 write units for a
// transactional write under 1 KB, and 1 for its entry in the outbox
// index. By AWS's pricing rules, not measured: DynamoDB Local reports the
// transaction's units without it.
const OutboxWriteUnits = 3

// Line is one line of the bill: a quantity of a billed unit at a price.
type Line struct {
	Service   string  `json:"service"`
	Item      string  `json:"item"`
	Quantity  float64 `json:"quantity"`
	Unit      string  `json:"unit"`       // what Quantity counts
	UnitPrice float64 `json:"unit_price"` // USD per PriceUnit
	PriceUnit string  `json:"price_unit"` // "per million", "per GB-month"
	Cost      float64 `json:"cost"`       // USD
}

// Usage is the month's workload in the units the bill counts, for
// showing the assumptions behind a bill.
type Usage struct {
	APIRequests     float64 `json:"api_requests"`      // to the API function
	WebhookEvents   float64 `json:"webhook_events"`    // to the webhooks function
	MailEvents      float64 `json:"mail_events"`       // SES events to the mailevents function
	OutboundRuns    float64 `json:"outbound_runs"`     // delivery runs of the outbound function
	OutboundEvents  float64 `json:"outbound_events"`   // events raised, each fanned out and delivered to each endpoint
	SweepRuns       float64 `json:"sweep_runs"`        // sweep invocations
	Emails          float64 `json:"emails"`            // dunning emails and digests
	Rescores        float64 `json:"rescores"`          // credit scores recomputed (upper bound)
	ColdStarts      float64 `json:"cold_starts"`       // all functions
	StoredGB        float64 `json:"stored_gb"`         // table and indexes
	LogGB           float64 `json:"log_gb"`            // CloudWatch Logs ingested
	LambdaGBSeconds float64 `json:"lambda_gb_seconds"` // all functions, INIT included
	WriteUnits      float64 `json:"write_units"`
	ReadUnits       float64 `json:"read_units"`
}

// Bill is an estimate: the lines, their total, the workload and prices
// behind it, and what to read it with.
type Bill struct {
	Firm   Firm    `json:"firm"`
	Usage  Usage   `json:"usage"`
	Prices Prices  `json:"prices"`
	Lines  []Line  `json:"lines"`
	Total  float64 `json:"total"` // USD a month, no free tier
	// TotalAlwaysFree is the total less the always-free allowances
	// (AlwaysFree), for an account that runs nothing else.
	TotalAlwaysFree float64  `json:"total_always_free"`
	Measured        string   `json:"measured"` // where the figures were measured
	Notes           []string `json:"notes"`
}

// use is a number of operations of one kind in a month.
type use struct {
	n  float64
	op Op
}

func total(uses []use, f func(Op) float64) float64 {
	t := 0.0
	for _, u := range uses {
		t += u.n * f(u.op)
	}
	return t
}

// Estimate works out the month's bill. f must be valid (Firm.Validate).
func Estimate(f Firm, m Measured, p Prices) Bill {
	days := DaysPerMonth
	perHour := f.SweepRunsPerDay / 24
	runs := f.SweepRunsPerDay * days
	webhookPayments := f.PaymentsPerMonth * f.WebhookShare
	apiPayments := f.PaymentsPerMonth - webhookPayments
	apiRequests := f.InvoicesPerMonth + apiPayments + f.APIReadsPerMonth
	emails := f.InvoicesPerMonth * f.DunnedShare * f.EmailsPerDunnedInvoice
	// Rescoring beyond what placement and emails already carry: each
	// payment marks its customer, and time moves each invoice's customer
	// twice after payment (out of the 90-day and 12-month windows) and
	// once more when a dunned invoice falls overdue. An upper bound:
	// marks on one customer within a run share one rescoring.
	timeRescores := f.InvoicesPerMonth * (2 + f.DunnedShare)
	rescores := f.PaymentsPerMonth + timeRescores
	digestDays, rechecks := days, days*float64(23-f.DigestHour)*perHour
	if f.DigestHour < 0 {
		digestDays, rechecks = 0, 0
	}

	apiUses := []use{
		{f.InvoicesPerMonth, m.CreateInvoice},
		{apiPayments, m.RecordPayment},
		{f.APIReadsPerMonth, m.APIRead},
	}
	touches := use{math.Min(apiRequests, HoursPerMonth), m.KeyTouch} // one key, at most once an hour
	webhookUses := []use{{webhookPayments, m.WebhookPayment}}
	// Each email SES delivers comes back as a delivery event. A dunning
	// email's is recorded; a digest's names no customer and is dropped,
	// an invocation that reads and writes nothing.
	mailEvents := emails + f.DigestEmailsPerMonth
	mailUses := []use{{emails, m.MailEvent}}
	sweepUses := []use{
		{runs, m.SweepRun},
		{days, m.DailySnapshot},
		{days * f.OpenInvoices, m.SnapshotPerOpenInvoice},
		{digestDays, m.Digest},
		{rechecks, m.DigestRecheck},
		{f.InvoicesPerMonth, m.Placement},
		{emails, m.Email},
		{emails * f.AheadHours * perHour, m.EarlyRead},
		{emails * f.WindowWaitHours * perHour, m.WindowWait},
		{rescores, m.Rescore},
		{timeRescores * f.AheadHours * perHour, m.RescorePeek},
	}
	// Outbound events: payment.applied for each payment, dunning.email_sent
	// for each email, invoice.overdue at most once for each dunned
	// invoice (broken promises and grade changes are few beside them).
	// Each is written with its change (OutboxWriteUnits), fanned out by a
	// delivery run and delivered to each endpoint; most runs find nothing.
	outboundRuns := f.OutboundRunsPerDay * days
	outEvents := f.PaymentsPerMonth + emails + f.InvoicesPerMonth*f.DunnedShare
	outboundUses := []use{
		{outboundRuns, m.OutboundIdleRun},
		{outEvents, m.OutboundFanOut},
		{outEvents * f.Endpoints, m.OutboundDelivery},
	}
	outboxWrites := use{outEvents, Op{WriteUnits: OutboxWriteUnits}}
	all := append(append(append(append(append([]use{touches, outboxWrites}, apiUses...), webhookUses...), sweepUses...), mailUses...), outboundUses...)
	wru := total(all, func(o Op) float64 { return o.WriteUnits })
	rru := total(all, func(o Op) float64 { return o.ReadUnits })

	// Lambda: each request is billed rounded up to the millisecond; a
	// sweep run is a sum of measured parts, rounded up by at most 1 ms.
	ceilMs := func(o Op) float64 { return math.Ceil(o.Ms) }
	ms := func(o Op) float64 { return o.Ms }
	gbs := func(millis float64, memoryMB int) float64 { return millis / 1000 * float64(memoryMB) / 1024 }
	apiGBs := gbs(total(apiUses, ceilMs)+total([]use{touches}, ms), m.MemoryMB.API)
	webhookGBs := gbs(total(webhookUses, ceilMs), m.MemoryMB.Webhooks)
	sweepGBs := gbs(total(sweepUses, ms)+runs, m.MemoryMB.Sweep)
	mailGBs := gbs(total(mailUses, ceilMs)+f.DigestEmailsPerMonth, m.MemoryMB.MailEvents) // a dropped digest event billed 1 ms
	// A run is one invocation: its parts' durations add up, rounded up by
	// at most 1 ms.
	outboundGBs := gbs(total(outboundUses, ms)+outboundRuns, m.MemoryMB.Outbound)
	coldAPI, coldWebhooks, coldMail := math.Min(apiRequests, HoursPerMonth), math.Min(webhookPayments, HoursPerMonth), math.Min(mailEvents, HoursPerMonth)
	// The outbound function runs every minute, so it stays warm: about a
	// cold start an hour, as Lambda recycles environments.
	coldOutbound := math.Min(outboundRuns, HoursPerMonth)
	initGBs := gbs(f.ColdStartMs*coldAPI, m.MemoryMB.API) + gbs(f.ColdStartMs*coldWebhooks, m.MemoryMB.Webhooks) + gbs(f.ColdStartMs*runs, m.MemoryMB.Sweep) +
		gbs(f.ColdStartMs*coldMail, m.MemoryMB.MailEvents) + gbs(f.ColdStartMs*coldOutbound, m.MemoryMB.Outbound)
	invocations := apiRequests + webhookPayments + runs + mailEvents + outboundRuns

	// Storage after HistoryMonths of books.
	tableBytes := float64(f.Customers)*m.CustomerBytes.Table + f.HistoryMonths*(f.InvoicesPerMonth*m.InvoiceBytes.Table+emails*(m.EmailBytes.Table+m.MailEventBytes.Table))
	indexBytes := float64(f.Customers)*m.CustomerBytes.Indexes + f.HistoryMonths*(f.InvoicesPerMonth*m.InvoiceBytes.Indexes+emails*(m.EmailBytes.Indexes+m.MailEventBytes.Indexes))
	storedGB, tableGB := (tableBytes+indexBytes)/gib, tableBytes/gib

	logGB := (invocations*f.PlatformLogBytes + total(all, func(o Op) float64 { return o.LogBytes })) / gib
	logStoredGB := logGB * f.LogRetentionDays / days
	outGB := total(append(append([]use{touches}, apiUses...), webhookUses...), func(o Op) float64 { return o.ResponseBytes }) / gib
	// SecureString reads: one per cold start of the API and the sweep
	// (the link secrets), two per cold start of the webhooks (Stripe's
	// and the generic secrets).
	kmsRequests := coldAPI + runs + 2*coldWebhooks // mailevents reads no secret: it signs no link
	sesEmails := emails + f.DigestEmailsPerMonth

	line := func(service, item string, qty float64, unit string, price float64, priceUnit string, per float64) Line {
		return Line{Service: service, Item: item, Quantity: qty, Unit: unit, UnitPrice: price, PriceUnit: priceUnit, Cost: qty / per * price}
	}
	lines := []Line{
		line("DynamoDB", "write request units", wru, "WRU", p.DynamoDBWritePerMillion, "per million", 1e6),
		line("DynamoDB", "read request units", rru, "RRU", p.DynamoDBReadPerMillion, "per million", 1e6),
		line("DynamoDB", fmt.Sprintf("storage, table and indexes, after %g months", f.HistoryMonths), storedGB, "GB-month", p.DynamoDBStoragePerGBMonth, "per GB-month", 1),
		line("DynamoDB", "point-in-time recovery (table size)", tableGB, "GB-month", p.DynamoDBPITRPerGBMonth, "per GB-month", 1),
		line("Lambda", "requests", invocations, "requests", p.LambdaRequestsPerMillion, "per million", 1e6),
		line("Lambda", fmt.Sprintf("api function, arm64 %d MB", m.MemoryMB.API), apiGBs, "GB-s", p.LambdaArmPerGBSecond, "per GB-s", 1),
		line("Lambda", fmt.Sprintf("webhooks function, arm64 %d MB", m.MemoryMB.Webhooks), webhookGBs, "GB-s", p.LambdaArmPerGBSecond, "per GB-s", 1),
		line("Lambda", fmt.Sprintf("sweep function, arm64 %d MB", m.MemoryMB.Sweep), sweepGBs, "GB-s", p.LambdaArmPerGBSecond, "per GB-s", 1),
		line("Lambda", fmt.Sprintf("mailevents function, arm64 %d MB", m.MemoryMB.MailEvents), mailGBs, "GB-s", p.LambdaArmPerGBSecond, "per GB-s", 1),
		line("Lambda", fmt.Sprintf("outbound function, arm64 %d MB", m.MemoryMB.Outbound), outboundGBs, "GB-s", p.LambdaArmPerGBSecond, "per GB-s", 1),
		line("Lambda", "INIT phase of cold starts", initGBs, "GB-s", p.LambdaArmPerGBSecond, "per GB-s", 1),
		line("API Gateway", "HTTP API requests", apiRequests+webhookPayments, "requests", p.HTTPAPIPerMillion, "per million", 1e6),
		line("SES", "emails (dunning and digests)", sesEmails, "emails", p.SESPerThousand, "per 1,000", 1e3),
		line("EventBridge Scheduler", fmt.Sprintf("sweep and outbound invocations (first %g million free)", p.SchedulerFreeInvocations/1e6), runs+outboundRuns, "invocations", p.SchedulerPerMillion, "per million", 1e6),
		line("SSM Parameter Store", "standard parameters", 3, "parameters", p.SSMStandardParameter, "each", 1),
		line("KMS", "SecureString decrypts", kmsRequests, "requests", p.KMSPerTenThousand, "per 10,000", 1e4),
		line("CloudWatch Logs", "ingestion", logGB, "GB", p.LogsIngestionPerGB, "per GB", 1),
		line("CloudWatch Logs", fmt.Sprintf("storage, %g days kept", f.LogRetentionDays), logStoredGB, "GB-month", p.LogsStoragePerGBMonth, "per GB-month", 1),
		line("CloudWatch", "custom metrics", f.CustomMetrics, "metrics", p.MetricPerMonth, "per metric-month", 1),
		line("CloudWatch", "alarms", f.Alarms, "alarms", p.AlarmPerMonth, "per alarm-month", 1),
		line("Data transfer", "API responses out to the internet", outGB, "GB", p.DataTransferOutPerGB, "per GB", 1),
	}
	// The scheduler's free invocations are part of its price, not a
	// free tier.
	for i := range lines {
		if lines[i].Service == "EventBridge Scheduler" {
			lines[i].Cost = math.Max(0, lines[i].Quantity-p.SchedulerFreeInvocations) / 1e6 * p.SchedulerPerMillion
		}
	}

	bill := Bill{Firm: f, Prices: p, Lines: lines, Measured: m.Where}
	for _, l := range lines {
		bill.Total += l.Cost
	}
	free := DefaultAlwaysFree()
	lambdaGBs := apiGBs + webhookGBs + sweepGBs + mailGBs + outboundGBs + initGBs
	saved := math.Min(invocations, free.LambdaRequests)/1e6*p.LambdaRequestsPerMillion +
		math.Min(lambdaGBs, free.LambdaGBSeconds)*p.LambdaArmPerGBSecond +
		math.Min(storedGB, free.DynamoDBStorageGB)*p.DynamoDBStoragePerGBMonth +
		math.Min(logGB, free.LogsGB)*p.LogsIngestionPerGB + math.Min(logStoredGB, math.Max(0, free.LogsGB-logGB))*p.LogsStoragePerGBMonth +
		math.Min(kmsRequests, free.KMSRequests)/1e4*p.KMSPerTenThousand +
		math.Min(outGB, free.DataTransferOutGB)*p.DataTransferOutPerGB +
		math.Min(f.CustomMetrics, free.Metrics)*p.MetricPerMonth + math.Min(f.Alarms, free.Alarms)*p.AlarmPerMonth
	bill.TotalAlwaysFree = math.Max(0, bill.Total-saved)
	bill.Usage = Usage{APIRequests: apiRequests, WebhookEvents: webhookPayments, MailEvents: mailEvents, SweepRuns: runs, Emails: sesEmails, Rescores: rescores + f.InvoicesPerMonth + emails,
		OutboundRuns: outboundRuns, OutboundEvents: outEvents,
		ColdStarts: coldAPI + coldWebhooks + coldMail + runs + coldOutbound, StoredGB: storedGB, LogGB: logGB, LambdaGBSeconds: lambdaGBs, WriteUnits: wru, ReadUnits: rru}
	bill.Notes = []string{
		"No AWS Free Tier is counted. With only the always-free allowances (Lambda 1M requests and 400,000 GB-s, DynamoDB 25 GB, CloudWatch Logs 5 GB, 10 custom metrics and 10 alarms, KMS 20,000 requests, 100 GB out), in an account running nothing else: " + fmt.Sprintf("USD %.4f.", bill.TotalAlwaysFree),
		"DynamoDB request units and durations were measured (" + m.Where + "). AWS round trips are typically a few ms, so the Lambda lines are likely high.",
		"Each email's duration includes waiting for the SES send rate (14 a second by default).",
		fmt.Sprintf("Storage is the table after %g months of books: nothing is deleted but idempotency records.", f.HistoryMonths),
		"Not counted: SQS (the sweep's dead-letter queue, empty), SES attachments (none), tax.",
	}
	return bill
}
