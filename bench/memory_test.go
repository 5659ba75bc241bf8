package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/dunning"
	"dunlin/shared/store"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

// BenchmarkSweepMemory seeds 10,000 customers with an email due, then runs
// `dunlin sweep` over them as its own process, as the sweep Lambda would,
// and reports the process's peak resident memory and what it sent. The
// smallest Lambda has 128 MB.
func BenchmarkSweepMemory(b *testing.B) {
	const customers = 10000
	db, table := testenv.NewTable(b)
	st := store.New(db, table)
	now := time.Now().UTC().Truncate(time.Second)
	bill, err := billing.NewService(st, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return now })
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	testenv.SeedDue(b, bill, customers, func(i int) string { return fmt.Sprintf("m%05d@memory.example", i) }, now)
	pol := dunning.Standard()
	if err := st.PutPolicy(ctx, &pol, now); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(b.TempDir(), "dunlin")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/dunlin").CombinedOutput(); err != nil {
		b.Fatalf("build dunlin: %v\n%s", err, out)
	}
	for b.Loop() {
		cmd := exec.Command(bin, "sweep", "--table", table, "--dynamodb-endpoint", testenv.DynamoDBEndpoint(b),
			"--ses-endpoint", testenv.SESEndpoint(b), "--now", now.Format(time.RFC3339))
		cmd.Env = append(os.Environ(), "DUNLIN_FIRM_TIMEZONE=UTC", "DUNLIN_SENDER=ar@firm.example", "DUNLIN_SEND_HOURS=0-24",
			"DUNLIN_SEND_DAYS=all", "DUNLIN_DIGEST_HOUR=off", "DUNLIN_MAX_EMAILS_PER_RUN=100000", "DUNLIN_SES_MAX_SEND_RATE=0",
			// As the smallest Lambda runs it: the memory limit follows from this.
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("sweep: %v", err)
		}
		var sum sweep.Summary
		if err := json.Unmarshal(out, &sum); err != nil {
			b.Fatal(err)
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		b.ReportMetric(float64(rss)/1024, "peak-RSS-MB")
		b.ReportMetric(float64(sum.Sent), "emails")
		b.ReportMetric(float64(sum.Considered), "invoices")
	}
}
