package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"dunlin/shared/dunning"
	"dunlin/shared/localstack"
	"dunlin/shared/mailer"
	"dunlin/shared/store"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

// BenchmarkSendingAtTheSESLimit: more due customers than one run can email
// at the account's maximum send rate of 14 a second. SES local's account
// reports that rate, and a proxy in front of it throttles any send beyond
// it, as SES does. Runs are repeated, as the hourly schedule would, until
// every customer has had their email. It reports the runs it took, the
// share of the rate each full run used, SES's throttles and any customer
// emailed twice.
//
// Scaled from 20,000 customers and 15-minute Lambda invocations (12,600
// emails each at 14 a second, so two invocations) to 2,000 customers and
// 60-second runs (840 each, so three runs): BENCH_SES_CUSTOMERS and
// BENCH_SES_RUN_SECONDS change them.
func BenchmarkSendingAtTheSESLimit(b *testing.B) {
	const rate = 14
	customers, runFor := envInt(b, "BENCH_SES_CUSTOMERS", 2000), envInt(b, "BENCH_SES_RUN_SECONDS", 60)
	srv, proxy := testenv.SESAccount(b, localstack.SESQuota{MaxSendRate: rate, Max24HourSend: 50000})

	s := seed(b, 0, 0)
	testenv.SeedDue(b, s.bill, customers, func(i int) string { return fmt.Sprintf("ses%05d@bench.example", i) }, sweepAt)
	ses := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(proxy.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	w := dunning.DefaultWindow()
	w.StartHour, w.EndHour, w.Weekdays = 0, 24, []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	// The configured rate is higher than the account's: the account's wins.
	sw := sweep.New(s.store, &mailer.SES{Client: ses, MaxRate: 50}, sweep.Settings{FirmName: "Bench", FirmTimezone: "UTC",
		From: "ar@bench.example", CollectionsEmail: "c@bench.example", Window: w, Shards: store.QueueShards, Books: s.bill,
		Budget: time.Duration(runFor) * time.Second, MaxEmails: 100000}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	for b.Loop() {
		runs, sent, fullRuns := 0, 0, 0
		var fullSent int
		var fullTime time.Duration
		for sent < customers && runs < 20 {
			started := time.Now()
			sum, err := sw.Run(context.Background(), sweepAt)
			if err != nil {
				b.Fatal(err)
			}
			took := time.Since(started)
			runs++
			sent += sum.Sent
			if sum.Stopped { // a run that used its whole budget
				fullRuns++
				fullSent += sum.Sent
				fullTime += took
			}
			b.Logf("run %d: %d sent in %v, skipped %v", runs, sum.Sent, took.Round(time.Millisecond), sum.Skipped)
		}
		got := map[string]int{}
		for _, e := range testenv.SentEmails(b, srv.Endpoint) {
			got[e.Destination.To[0]]++
		}
		twice := 0
		for _, n := range got {
			if n > 1 {
				twice++
			}
		}
		if len(got) != customers || twice != 0 {
			b.Errorf("%d of %d customers emailed, %d twice", len(got), customers, twice)
		}
		b.ReportMetric(float64(runs), "runs")
		if fullRuns > 0 {
			b.ReportMetric(float64(fullSent)/fullTime.Seconds()/rate, "share-of-rate")
		}
		b.ReportMetric(float64(proxy.Throttled.Load()), "SES-throttles")
		b.ReportMetric(float64(twice), "emailed-twice")
	}
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: a positive whole number", name, v)
	}
	return n
}
