// Package bench measures Dunlin against DynamoDB Local in units that do not
// depend on how busy the machine is: DynamoDB calls and consumed capacity.
// Run the benchmarks with `make bench`; results are in README.md here.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"dunlin/shared/billing"
	"dunlin/shared/dbmeter"
	"dunlin/shared/dunning"
	"dunlin/shared/localstack"
	"dunlin/shared/mailer"
	"dunlin/shared/store"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

var sweepAt = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// seeded is a table with paid invoices (history) and due ones (work).
type seeded struct {
	endpoint string // of the DynamoDB Local holding the table
	store    *store.Store
	meter    *dbmeter.Meter
	sweeper  *sweep.Sweeper
	bill     *billing.Service
	due      []*billing.Customer
}

// seed creates `due` customers with one invoice each whose reminder is due
// at sweepAt, and `paid` paid invoices spread over other customers.
func seed(tb testing.TB, paid, due int) *seeded {
	tb.Helper()
	return seedOn(tb, testenv.DynamoDBEndpoint(tb), paid, due)
}

// seedOn is seed on the DynamoDB Local at endpoint.
func seedOn(tb testing.TB, endpoint string, paid, due int) *seeded {
	tb.Helper()
	st, meter := testenv.NewMeteredStoreOn(tb, endpoint)
	ctx := context.Background()
	now := func() time.Time { return sweepAt }
	bill, err := billing.NewService(st, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, now)
	if err != nil {
		tb.Fatal(err)
	}
	bill.SetIndexLag(0) // DynamoDB Local's indexes are never behind
	total := int64(10000)
	var dueCustomers []*billing.Customer
	for i := range due {
		c, err := bill.CreateCustomer(ctx, billing.CustomerCreate{Name: fmt.Sprintf("Due %04d", i), Email: fmt.Sprintf("due%04d@bench.example", i)})
		if err != nil {
			tb.Fatal(err)
		}
		dueCustomers = append(dueCustomers, c)
		// Already past its friendly step, so exactly one reminder is due.
		inv, err := bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: fmt.Sprintf("DUE-%05d", i), Total: &total, IssuedOn: "2026-11-01", DueOn: "2026-12-01"})
		if err != nil {
			tb.Fatal(err)
		}
		inv.DunningStep, inv.NextActionOn, inv.Version = 0, inv.DueOn.AddDays(1), inv.Version+1
		if err := st.SaveInvoice(ctx, inv); err != nil {
			tb.Fatal(err)
		}
	}
	// History: paid invoices, 10 per customer, created concurrently.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *billing.Customer
			for i := range work {
				if i%10 == 0 || c == nil {
					var err error
					if c, err = bill.CreateCustomer(ctx, billing.CustomerCreate{Name: fmt.Sprintf("Paid %06d", i), Email: "paid@bench.example"}); err != nil {
						errs <- err
						return
					}
				}
				inv, err := bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: fmt.Sprintf("PAID-%06d", i), Total: &total, IssuedOn: "2025-01-01", DueOn: "2025-01-31"})
				if err != nil {
					errs <- err
					return
				}
				inv.State, inv.Balance, inv.Version = billing.StatePaid, 0, inv.Version+1
				if err := st.SaveInvoice(ctx, inv); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range paid {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	ses := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(testenv.SESEndpoint(tb)),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	w := dunning.DefaultWindow()
	w.StartHour, w.EndHour, w.Weekdays = 0, 24, []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	sw := sweep.New(st, &mailer.SES{Client: ses}, sweep.Settings{FirmName: "Bench", FirmTimezone: "UTC", From: "ar@bench.example",
		CollectionsEmail: "c@bench.example", Window: w, Shards: store.QueueShards, Books: bill}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	meter.Reset()
	return &seeded{endpoint: endpoint, store: st, meter: meter, sweeper: sw, bill: bill, due: dueCustomers}
}

// previewCounts measures one dry-run sweep (the same reads as a real one,
// without the sends, so it can be repeated on the same data).
func (s *seeded) previewCounts(tb testing.TB) dbmeter.Counts {
	tb.Helper()
	s.meter.Reset()
	planned, _, err := s.sweeper.Preview(context.Background(), sweepAt)
	if err != nil {
		tb.Fatal(err)
	}
	_ = planned
	return s.meter.Snapshot()
}

// TestSweepReadsTrackDueWorkNotHistory: ten times more paid invoices leave
// the sweep's reads exactly where they were. Counts, not time.
func TestSweepReadsTrackDueWorkNotHistory(t *testing.T) {
	t.Parallel()
	const due = 10
	small, large := seed(t, 0, due), seed(t, 300, due)
	a, b := small.previewCounts(t), large.previewCounts(t)
	// Calls are exact. Read units can differ only by rounding: a work-queue
	// Query (eventually consistent) is billed 0.5 RCU per 4 KB, rounded up
	// per shard, and which shard a due customer lands in depends on its
	// random id. Spreading the same items differently over the shards moves
	// the total by at most 0.5 RCU per shard; history would add far more.
	if d := b.ReadUnits - a.ReadUnits; a.Total() != b.Total() || d > 0.5*store.QueueShards || d < -0.5*store.QueueShards {
		t.Errorf("with no history: %d calls, %.1f RCU; with 300 paid invoices: %d calls, %.1f RCU", a.Total(), a.ReadUnits, b.Total(), b.ReadUnits)
	}
	// One Query per shard, then per due customer: the customer, its credit
	// on account and its recent sends; once per run: the policy and the
	// firm's wording for the one language these customers use.
	if want := store.QueueShards + 3*due + 2; a.Total() != want {
		t.Errorf("%d calls for %d due customers, want %d: %v", a.Total(), due, want, a.Calls)
	}
	empty := seed(t, 50, 0).previewCounts(t)
	if empty.Total() != store.QueueShards || empty.Calls["Query"] != store.QueueShards {
		t.Errorf("an empty night made %v, want %d Queries (one per shard)", empty.Calls, store.QueueShards)
	}
}

// naiveCounts measures what a peer's nightly job reads to find the same
// work: a Scan of the whole table, filtered to open invoices whose next
// action has come. A filter does not reduce what is read (or billed).
func (s *seeded) naiveCounts(tb testing.TB) (dbmeter.Counts, int) {
	tb.Helper()
	m := &dbmeter.Meter{}
	db := localstack.LocalDynamoDB(s.endpoint, m.Option())
	filter := expression.Name("state").Equal(expression.Value(string(billing.StateOpen))).
		And(expression.Name("next_action_on").LessThanEqual(expression.Value(sweepAt.Format(time.DateOnly))))
	e, err := expression.NewBuilder().WithFilter(filter).Build()
	if err != nil {
		tb.Fatal(err)
	}
	found := 0
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(s.store.Table()), FilterExpression: e.Filter(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		found += len(page.Items)
	}
	return m.Snapshot(), found
}

// BenchmarkSweepReads reports the sweep's DynamoDB calls and read units for
// a fixed amount of due work (50 customers) over growing history, and the
// same for a naive filtered Scan that finds the same due invoices.
func BenchmarkSweepReads(b *testing.B) {
	for _, paid := range []int{0, 2000, 20000} {
		b.Run(fmt.Sprintf("paid=%d/due=50", paid), func(b *testing.B) {
			s := seed(b, paid, 50)
			var c dbmeter.Counts
			for b.Loop() {
				c = s.previewCounts(b)
			}
			naive, found := s.naiveCounts(b)
			if found != 50 {
				b.Fatalf("the naive scan found %d due invoices, want 50", found)
			}
			b.ReportMetric(float64(c.Total()), "calls/sweep")
			b.ReportMetric(c.ReadUnits, "RCU/sweep")
			b.ReportMetric(float64(naive.Total()), "naive-calls/sweep")
			b.ReportMetric(naive.ReadUnits, "naive-RCU/sweep")
			b.ReportMetric(naive.ReadUnits/c.ReadUnits, "naive/dunlin-RCU")
		})
	}
}
