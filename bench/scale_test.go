package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dbmeter"
	"dunlin/shared/localstack"
	"dunlin/shared/store"
	"dunlin/shared/testenv"
)

// BenchmarkSweepAtScale: N invoices of which K = 1,000 have an action due,
// for N = 20,000 and 200,000 (BENCH_SCALE="20000,200000" by default). It
// reports Dunlin's sweep (its reads, as a dry run), a naive peer's filtered
// Scan on the same data, and the lower bound: the due items' work-queue
// entries plus one eventually consistent read of each due customer.
//
// History is loaded fast: one customer with ten paid invoices is made
// through the billing service, its items are read back, and copies with
// fresh ids are written with BatchWriteItem. The due customers are made
// through the service, as in the other benchmarks.
func BenchmarkSweepAtScale(b *testing.B) {
	const due = 1000
	sizes := []int{20_000, 200_000}
	if v := os.Getenv("BENCH_SCALE"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < due {
				b.Fatalf("BENCH_SCALE=%q: invoice counts of at least %d", v, due)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("invoices=%d/due=%d", n, due), func(b *testing.B) {
			s := seedOn(b, onDisk(b), 0, 0)
			loadHistory(b, s, n-due)
			testenv.SeedDue(b, s.bill, due, func(i int) string { return fmt.Sprintf("due%05d@bench.example", i) }, sweepAt)
			var c dbmeter.Counts
			for b.Loop() {
				c = s.previewCounts(b)
			}
			bound, queued := s.lowerBound(b)
			if queued != due {
				b.Fatalf("%d invoices in the work queue, want %d", queued, due)
			}
			naive, found := s.naiveCounts(b)
			if found != due {
				b.Fatalf("the naive scan found %d due invoices, want %d", found, due)
			}
			b.ReportMetric(float64(c.Total()), "calls/sweep")
			b.ReportMetric(c.ReadUnits, "RCU/sweep")
			b.ReportMetric(bound, "RCU-lower-bound")
			b.ReportMetric(c.ReadUnits/bound, "RCU/bound")
			b.ReportMetric(float64(naive.Total()), "naive-calls")
			b.ReportMetric(naive.ReadUnits, "naive-RCU")
			b.ReportMetric(naive.ReadUnits/c.ReadUnits, "naive/dunlin")
			b.Logf("sweep %v", c.Calls)
		})
	}
}

// lowerBound measures the least any sweep must read: the work-queue
// entries due (one Query per shard, as eventually consistent as an index
// read is) and each due customer's record, read eventually consistently.
// The queue is read through today in UTC+14, where no customer's day is
// later, as the sweep reads it.
func (s *seeded) lowerBound(tb testing.TB) (rcu float64, queued int) {
	tb.Helper()
	ctx := context.Background()
	s.meter.Reset()
	customers := map[string]bool{}
	for shard := range store.QueueShards {
		if err := s.store.DueActions(ctx, shard, civil.Today(sweepAt, time.FixedZone("UTC+14", 14*3600)), func(inv *billing.Invoice) bool {
			customers[inv.CustomerID] = true
			queued++
			return true
		}); err != nil {
			tb.Fatal(err)
		}
	}
	rcu = s.meter.Snapshot().ReadUnits
	m := &dbmeter.Meter{}
	db := localstack.LocalDynamoDB(s.endpoint, m.Option())
	for id := range customers {
		if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.store.Table()),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "CUSTOMER#" + id},
				"SK": &types.AttributeValueMemberS{Value: "CUSTOMER"}}}); err != nil {
			tb.Fatal(err)
		}
	}
	if got := m.Snapshot().Calls["GetItem"]; got != len(customers) {
		tb.Fatalf("read %d customers, want %d", got, len(customers))
	}
	return rcu + m.Snapshot().ReadUnits, queued
}

// onDisk starts a DynamoDB Local of the benchmark's own that keeps its
// data in files: the shared one holds everything in its Java heap, and
// hundreds of thousands of items exhaust it.
func onDisk(b *testing.B) string {
	b.Helper()
	home, err := localstack.Home()
	if err != nil {
		b.Fatal(err)
	}
	port, err := localstack.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	srv, err := localstack.StartDynamoDB(context.Background(), home, localstack.DynamoDBOptions{Port: port, DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if srv.Reused {
		b.Fatalf("port %d was taken by another DynamoDB Local", port)
	}
	b.Cleanup(func() { _ = srv.Stop() })
	return srv.Endpoint
}

// loadHistory adds about n paid invoices (ten per customer).
func loadHistory(tb testing.TB, s *seeded, n int) {
	tb.Helper()
	ctx := context.Background()
	db := localstack.LocalDynamoDB(s.endpoint)
	table := aws.String(s.store.Table())
	before := map[string]bool{}
	for _, it := range scanAll(tb, db, table) {
		before[itemKey(it)] = true
	}
	// The model: a customer and ten invoices, made and paid the real way.
	total := int64(10000)
	c, err := s.bill.CreateCustomer(ctx, billing.CustomerCreate{Name: "Paid Model Ltd", Email: "paid@bench.example"})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range 10 {
		inv, err := s.bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: fmt.Sprintf("PAID-%02d", i), Total: &total, IssuedOn: "2025-01-01", DueOn: "2025-01-31"})
		if err != nil {
			tb.Fatal(err)
		}
		inv.State, inv.Balance, inv.Version = billing.StatePaid, 0, inv.Version+1
		if err := s.store.SaveInvoice(ctx, inv); err != nil {
			tb.Fatal(err)
		}
	}
	// The copies are the customer and its invoices, not the audit records
	// and guards made with them: DynamoDB Local's Java heap does not hold
	// hundreds of thousands of those as well. A real table has them, and
	// a Scan reads them too, so the naive figures here are on the low side.
	var model []map[string]types.AttributeValue
	for _, it := range scanAll(tb, db, table) {
		sk, _ := it["SK"].(*types.AttributeValueMemberS)
		if !before[itemKey(it)] && hasID(it) && sk != nil && (sk.Value == "CUSTOMER" || sk.Value == "INVOICE") {
			model = append(model, it)
		}
	}
	copies := n/10 - 1
	work := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []types.WriteRequest
			flush := func() error {
				for len(batch) > 0 {
					out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{*table: batch}})
					if err != nil {
						return err
					}
					batch = out.UnprocessedItems[*table]
				}
				return nil
			}
			for r := range work {
				fresh := fmt.Sprintf("%08d", r)
				for _, it := range model {
					batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: renewMap(it, func(v string) string { return renewAt(v, fresh) })}})
					if len(batch) == 25 {
						if err := flush(); err != nil {
							errs <- err
							return
						}
					}
				}
			}
			if err := flush(); err != nil {
				errs <- err
			}
		}()
	}
	for r := range copies {
		work <- r
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("load history: %v", err)
	}
	tb.Logf("history: %d copies of %d items", copies+1, len(model))
}

// anID is an id as ids.New makes them: a prefix and 26 base32 characters,
// the first ten of which are the time and the rest random.
var anID = regexp.MustCompile(`\b([a-z]{2,4}_)([0-9A-Z]{10})([0-9A-Z]{8})([0-9A-Z]{8})\b`)

// renewAt replaces characters 10-17 of every id in v with fresh, keeping
// the time (so the order of ids holds) and the low random characters (so
// ids made in the same millisecond stay apart).
func renewAt(v, fresh string) string {
	return anID.ReplaceAllString(v, "${1}${2}"+fresh+"${4}")
}

func hasID(it map[string]types.AttributeValue) bool {
	pk, _ := it["PK"].(*types.AttributeValueMemberS)
	sk, _ := it["SK"].(*types.AttributeValueMemberS)
	return pk != nil && sk != nil && anID.MatchString(pk.Value+" "+sk.Value)
}

func itemKey(it map[string]types.AttributeValue) string {
	pk, _ := it["PK"].(*types.AttributeValueMemberS)
	sk, _ := it["SK"].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return ""
	}
	return pk.Value + "\x00" + sk.Value
}

func scanAll(tb testing.TB, db *dynamodb.Client, table *string) []map[string]types.AttributeValue {
	tb.Helper()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: table})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		items = append(items, page.Items...)
	}
	return items
}
