package cost

import (
	"math"
	"strings"
	"testing"
	"time"
)

// plainFirm is a workload with round numbers, for checking the bill by
// hand.
func plainFirm() Firm {
	return Firm{
		Customers: 100, InvoicesPerMonth: 100, PaymentsPerMonth: 100, WebhookShare: 0.5, APIReadsPerMonth: 1000,
		DunnedShare: 0.5, EmailsPerDunnedInvoice: 2, DigestEmailsPerMonth: 30,
		SweepRunsPerDay: 24, DigestHour: 7, AheadHours: 10, WindowWaitHours: 20, OpenInvoices: 100,
		HistoryMonths: 10, LogRetentionDays: 30, PlatformLogBytes: 1000, ColdStartMs: 100,
		OutboundRunsPerDay: 48, Endpoints: 2, CustomMetrics: 20, Alarms: 15,
	}
}

// plainMeasured gives each operation its own read units (1 to 16), so a
// count put on the wrong operation shows in the read total; everything
// else is the same for all: 2 write units, 9.5 ms (billed 10 per request),
// 100 log bytes, 1,000 response bytes, 1,024 MB functions (1 GB).
func plainMeasured() Measured {
	op := func(reads float64) Op {
		return Op{ReadUnits: reads, WriteUnits: 2, Ms: 9.5, LogBytes: 100, ResponseBytes: 1000}
	}
	m := Measured{Where: "by hand"}
	m.MemoryMB.API, m.MemoryMB.Webhooks, m.MemoryMB.Sweep, m.MemoryMB.MailEvents, m.MemoryMB.Outbound = 1024, 1024, 1024, 1024, 1024
	m.CreateInvoice, m.RecordPayment, m.APIRead, m.KeyTouch = op(1), op(2), op(3), op(4)
	m.WebhookPayment, m.SweepRun, m.DailySnapshot, m.SnapshotPerOpenInvoice = op(5), op(6), op(7), op(8)
	m.Digest, m.DigestRecheck, m.Placement, m.Rescore = op(9), op(10), op(11), op(12)
	m.RescorePeek, m.EarlyRead, m.WindowWait, m.Email = op(13), op(14), op(15), op(16)
	m.MailEvent = op(17)
	m.OutboundIdleRun, m.OutboundFanOut, m.OutboundDelivery = op(18), op(19), op(20)
	m.CustomerBytes = Bytes{Table: 1000, Indexes: 2000}
	m.InvoiceBytes = Bytes{Table: 4000, Indexes: 6000}
	m.EmailBytes = Bytes{Table: 3000, Indexes: 5000}
	m.MailEventBytes = Bytes{Table: 500, Indexes: 0}
	return m
}

// plainPrices are round prices.
func plainPrices() Prices {
	return Prices{Region: "test-1", AsOf: "2026-12-02",
		DynamoDBWritePerMillion: 1, DynamoDBReadPerMillion: 0.5, DynamoDBStoragePerGBMonth: 0.25, DynamoDBPITRPerGBMonth: 0.2,
		LambdaArmPerGBSecond: 0.00001, LambdaRequestsPerMillion: 0.2, HTTPAPIPerMillion: 1, SESPerThousand: 0.1,
		SchedulerFreeInvocations: 14_000_000, SchedulerPerMillion: 1, SSMStandardParameter: 0, KMSPerTenThousand: 0.03,
		LogsIngestionPerGB: 0.5, LogsStoragePerGBMonth: 0.03, DataTransferOutPerGB: 0.09, MetricPerMonth: 0.3, AlarmPerMonth: 0.1}
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// TestEstimateByHand checks every line of a bill against arithmetic done
// here by hand from plain figures.
func TestEstimateByHand(t *testing.T) {
	t.Parallel()
	b := Estimate(plainFirm(), plainMeasured(), plainPrices())

	// A month is 30.4375 days; hourly runs make 730.5 runs. Counts:
	//   API: 100 invoices, 50 payments (half come by webhook), 1,000 reads
	//        = 1,150 requests; key touches min(1,150, 730.5 hours) = 730.5
	//   webhooks: 50 payments
	//   sweep: 730.5 runs; 30.4375 snapshots, of 100 open invoices each
	//        (3,043.75); 30.4375 digests; 16 rechecks a day (08:00 to
	//        23:00) = 487; 100 placements; 100 emails (100 x 0.5 x 2),
	//        each read early 10 times (1,000) and waiting 20 times (2,000);
	//        rescores 100 payments + 100 x (2 + 0.5) by time = 350, the
	//        250 by time each peeked 10 times (2,500).
	//   mailevents: a delivery event for each of the 100 emails, and 30
	//        for the digests, which do nothing (1 ms billed, no units).
	//   outbound: 1,461 runs (48 a day); 250 events (100 payments, 100
	//        emails, 50 invoices overdue), each fanned out and delivered
	//        to 2 endpoints (500), and each writing its outbox record
	//        (3 write units) with its change.
	const gb = 1 << 30
	apiCount, webhookCount, mailCount := 100.0+50+1000, 50.0, 100.0
	sweepCount := 730.5 + 30.4375 + 3043.75 + 30.4375 + 487 + 100 + 100 + 1000 + 2000 + 350 + 2500 // 10,372.125
	outboundCount := 1461.0 + 250 + 500
	allCount := 730.5 + apiCount + webhookCount + sweepCount + mailCount + outboundCount // 14,613.625
	reads := 730.5*4 + 100*1 + 50*2 + 1000*3 + 50*5 + 730.5*6 + 30.4375*7 + 3043.75*8 + 30.4375*9 + 487*10 +
		100*11 + 100*16 + 1000*14 + 2000*15 + 350*12 + 2500*13 + 100*17 + 1461*18 + 250*19 + 500*20
	writes := 2*allCount + 250*3
	apiGBs := (apiCount*10 + 730.5*9.5) / 1000  // each request billed 10 ms; touches add 9.5 ms
	webhookGBs := webhookCount * 10 / 1000      // 0.5
	sweepGBs := (sweepCount*9.5 + 730.5) / 1000 // plus 1 ms of rounding a run
	mailGBs := (mailCount*10 + 30) / 1000
	outboundGBs := (outboundCount*9.5 + 1461) / 1000           // like the sweep: a run's parts, plus 1 ms
	initGBs := (730.5 + 50 + 730.5 + 130 + 730.5) * 100 / 1000 // cold starts: API, sweep and outbound once an hour, webhooks and mailevents each time
	requests := apiCount + webhookCount + 730.5 + mailCount + 30 + 1461
	tableBytes := 100*1000 + 10*(100*4000+100*(3000+500.0))
	indexBytes := 100*2000 + 10*(100*6000+100*5000.0)
	logBytes := requests*1000 + allCount*100
	outBytes := (730.5 + apiCount + webhookCount) * 1000
	kms := 730.5 + 730.5 + 2*50.0

	want := []struct {
		service       string
		quantity, usd float64
	}{
		{"DynamoDB", writes, writes / 1e6 * 1},
		{"DynamoDB", reads, reads / 1e6 * 0.5},
		{"DynamoDB", (tableBytes + indexBytes) / gb, (tableBytes + indexBytes) / gb * 0.25},
		{"DynamoDB", tableBytes / gb, tableBytes / gb * 0.2},
		{"Lambda", requests, requests / 1e6 * 0.2},
		{"Lambda", apiGBs, apiGBs * 0.00001},
		{"Lambda", webhookGBs, webhookGBs * 0.00001},
		{"Lambda", sweepGBs, sweepGBs * 0.00001},
		{"Lambda", mailGBs, mailGBs * 0.00001},
		{"Lambda", outboundGBs, outboundGBs * 0.00001},
		{"Lambda", initGBs, initGBs * 0.00001},
		{"API Gateway", apiCount + webhookCount, (apiCount + webhookCount) / 1e6 * 1},
		{"SES", 100 + 30, 130.0 / 1000 * 0.1},
		{"EventBridge Scheduler", 730.5 + 1461, 0}, // under the 14 million in the price
		{"SSM Parameter Store", 3, 0},
		{"KMS", kms, kms / 1e4 * 0.03},
		{"CloudWatch Logs", logBytes / gb, logBytes / gb * 0.5},
		{"CloudWatch Logs", logBytes / gb * 30 / 30.4375, logBytes / gb * 30 / 30.4375 * 0.03},
		{"CloudWatch", 20, 20 * 0.3},
		{"CloudWatch", 15, 15 * 0.1},
		{"Data transfer", outBytes / gb, outBytes / gb * 0.09},
	}
	if len(b.Lines) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(b.Lines), len(want), b.Lines)
	}
	sum := 0.0
	for i, w := range want {
		l := b.Lines[i]
		if l.Service != w.service || !near(l.Quantity, w.quantity) || !near(l.Cost, w.usd) {
			t.Errorf("line %d: %s %q: %v %s, $%v; want %s: %v, $%v", i, l.Service, l.Item, l.Quantity, l.Unit, l.Cost, w.service, w.quantity, w.usd)
		}
		sum += w.usd
	}
	if !near(b.Total, sum) {
		t.Errorf("total $%v, want the sum of the lines, $%v", b.Total, sum)
	}
	// Everything here is within the always-free allowances but DynamoDB
	// requests and backups, API Gateway and SES.
	free := writes/1e6*1 + reads/1e6*0.5 + tableBytes/gb*0.2 + (apiCount+webhookCount)/1e6 + 130.0/1000*0.1 +
		(20-10)*0.3 + (15-10)*0.1 // metrics and alarms beyond the free ten
	if !near(b.TotalAlwaysFree, free) {
		t.Errorf("total with the always-free tier $%v, want $%v", b.TotalAlwaysFree, free)
	}
}

func TestEstimateChargesSchedulerBeyondItsFreeInvocations(t *testing.T) {
	t.Parallel()
	p := plainPrices()
	p.SchedulerFreeInvocations = 100
	b := Estimate(plainFirm(), plainMeasured(), p)
	for _, l := range b.Lines {
		// The sweep's 730.5 runs and the outbound function's 1,461.
		if l.Service == "EventBridge Scheduler" && !near(l.Cost, (730.5+1461-100)/1e6*1) {
			t.Errorf("scheduler: $%v for %v invocations, want $%v", l.Cost, l.Quantity, (730.5+1461-100)/1e6)
		}
	}
}

func TestEstimateWithoutDigestHasNoDigestWork(t *testing.T) {
	t.Parallel()
	f := plainFirm()
	with := Estimate(f, plainMeasured(), plainPrices())
	f.DigestHour = -1
	without := Estimate(f, plainMeasured(), plainPrices())
	// No digests (30.4375 x 9 read units) and no rechecks (487 x 10).
	if got, want := with.Usage.ReadUnits-without.Usage.ReadUnits, 30.4375*9+487*10; !near(got, want) {
		t.Errorf("the digest costs %v read units, want %v", got, want)
	}
}

// TestSmallestFirmIsUnderOneDollar works out the bill of a firm with 300
// customers from the figures measured on DynamoDB Local (measured.json)
// and today's list prices, with no free tier.
func TestSmallestFirmIsUnderOneDollar(t *testing.T) {
	t.Parallel()
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	// The measured figures are there: the sweep reads its 8 work-queue
	// shards on every run, and every change to the books writes.
	if m.SweepRun.Calls["Query"] < 8 || m.SweepRun.ReadUnits < 4 {
		t.Errorf("a sweep run with nothing due: %+v, want at least the 8 work-queue Queries", m.SweepRun)
	}
	for name, op := range map[string]Op{"create_invoice": m.CreateInvoice, "record_payment": m.RecordPayment, "webhook_payment": m.WebhookPayment, "email": m.Email, "rescore": m.Rescore} {
		if op.WriteUnits <= 0 || op.Ms <= 0 {
			t.Errorf("%s: %+v: no writes or no duration measured", name, op)
		}
	}
	if m.MemoryMB.API <= 0 || m.MemoryMB.Sweep <= 0 || m.MemoryMB.Webhooks <= 0 || m.InvoiceBytes.Table <= 0 {
		t.Errorf("measured.json lacks memory sizes or item sizes: %+v", m)
	}
	f := DefaultFirm(300)
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	b := Estimate(f, m, DefaultPrices())
	for _, l := range b.Lines {
		t.Logf("%-22s %-45s %14.3f %-12s $%.4f", l.Service, l.Item, l.Quantity, l.Unit, l.Cost)
	}
	t.Logf("total $%.4f", b.Total)
	// What runs the books stays under a dollar for the smallest firm; the
	// monitoring is priced per metric and alarm whatever the firm's size.
	monitoring := 0.0
	for _, l := range b.Lines {
		if l.Service == "CloudWatch" {
			monitoring += l.Cost
		}
	}
	if b.Total-monitoring >= 1 {
		t.Errorf("300 customers cost $%.4f a month before metrics and alarms, want under $1", b.Total-monitoring)
	}
	// With only the alarms' metrics (DetailedMetrics false), in an account
	// with nothing else, the whole bill is under a dollar too.
	f.CustomMetrics = EssentialMetrics
	if lean := Estimate(f, m, DefaultPrices()); lean.TotalAlwaysFree >= 1 {
		t.Errorf("300 customers with DetailedMetrics false cost $%.4f with the always-free tier, want under $1", lean.TotalAlwaysFree)
	}
	f.CustomMetrics = DetailedMetrics
	if b.TotalAlwaysFree > b.Total {
		t.Errorf("the always-free tier raised the bill: $%.4f > $%.4f", b.TotalAlwaysFree, b.Total)
	}
	bigger := Estimate(DefaultFirm(3000), m, DefaultPrices())
	if bigger.Total <= b.Total {
		t.Errorf("3,000 customers cost $%.4f, no more than 300 ($%.4f)", bigger.Total, b.Total)
	}
}

func TestDefaultFirmFollowsItsSize(t *testing.T) {
	t.Parallel()
	f := DefaultFirm(3000)
	if !near(f.InvoicesPerMonth, 5000) || f.PaymentsPerMonth != f.InvoicesPerMonth || f.OpenInvoices != f.InvoicesPerMonth || f.APIReadsPerMonth != 60000 {
		t.Errorf("DefaultFirm(3000) = %+v", f)
	}
}

func TestWindowWaitHours(t *testing.T) {
	t.Parallel()
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	for _, c := range []struct {
		name  string
		start int
		open  []time.Weekday
		want  float64
	}{
		{"weekdays from 9: 9 hours five days, 57 from Saturday, 33 from Sunday", 9, weekdays, (5*9 + 57 + 33) / 7.0},
		{"every day from 8", 8, []time.Weekday{0, 1, 2, 3, 4, 5, 6}, 8},
		{"Sundays only from midnight", 0, []time.Weekday{time.Sunday}, (0 + 6*24 + 5*24 + 4*24 + 3*24 + 2*24 + 24) / 7.0},
	} {
		if got := WindowWaitHours(c.start, c.open); !near(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if got := WindowWaitHours(9, nil); !math.IsInf(got, 1) {
		t.Errorf("a window never open: %v, want forever", got)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	for field, change := range map[string]func(*Firm){
		"customers":          func(f *Firm) { f.Customers = 0 },
		"invoices_per_month": func(f *Firm) { f.InvoicesPerMonth = -1 },
		"dunned_share":       func(f *Firm) { f.DunnedShare = 1.5 },
		"webhook_share":      func(f *Firm) { f.WebhookShare = math.NaN() },
		"sweep_runs_per_day": func(f *Firm) { f.SweepRunsPerDay = 0 },
		"digest_hour":        func(f *Firm) { f.DigestHour = 24 },
		"history_months":     func(f *Firm) { f.HistoryMonths = math.Inf(1) },
	} {
		f := DefaultFirm(300)
		change(&f)
		if err := f.Validate(); err == nil || !strings.HasPrefix(err.Error(), field+":") {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := DefaultFirm(1).Validate(); err != nil {
		t.Errorf("a firm of one customer: %v", err)
	}
}

func TestReadPricesOverridesFieldByField(t *testing.T) {
	t.Parallel()
	p, err := ReadPrices(strings.NewReader(`{"region": "eu-west-1", "ses_per_thousand": 0.16}`))
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultPrices()
	if p.Region != "eu-west-1" || p.SESPerThousand != 0.16 || p.DynamoDBWritePerMillion != d.DynamoDBWritePerMillion || p.AsOf != d.AsOf {
		t.Errorf("read %+v", p)
	}
	for name, in := range map[string]string{
		"an unknown field": `{"dynamodb_writes": 1}`,
		"a negative price": `{"lambda_arm_per_gb_second": -1}`,
		"not JSON":         `ses: 0.1`,
	} {
		if _, err := ReadPrices(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDefaultPricesAreListed(t *testing.T) {
	t.Parallel()
	for _, it := range DefaultPrices().List() {
		if !strings.HasPrefix(it.Source, "https://aws.amazon.com/") || it.Unit == "" {
			t.Errorf("%s %s: no source or unit: %+v", it.Service, it.Item, it)
		}
	}
}
