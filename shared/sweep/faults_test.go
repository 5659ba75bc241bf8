package sweep_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
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

// TestTheSweepUnderFaults runs sweeps while DynamoDB and SES, each behind a
// fault-injecting proxy, throttle, drop connections before and after doing
// the work, and delay. Then the faults stop and a rerun finishes the work.
// Every due email goes out at most once; one that did not go out is a send
// the sweep reported in doubt, never a silent loss; and every email SES
// took while its answer was lost is reported in doubt, never sent again.
func TestTheSweepUnderFaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	const n = 40
	for i := range n {
		c := h.customer(fmt.Sprintf("F%02d", i), "UTC", []string{"en", "zh-CN"}[i%2])
		h.invoice(c, fmt.Sprintf("F-%02d", i), "2026-11-01", "2026-12-01")
	}
	// The same table and SES local, reached through the proxies.
	ddb := testenv.NewFaultProxy(t, testenv.DynamoDBEndpoint(t), 3)
	ses := testenv.NewFaultProxy(t, h.ses, 4)
	faulty := store.New(localstack.LocalDynamoDB(ddb.URL), h.store.Table())
	client := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(ses.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	settings := h.settings
	settings.Books = h.bill
	sw := sweep.New(faulty, &mailer.SES{Client: client}, settings, slog.New(slog.NewTextHandler(io.Discard, nil)))

	now := at("2026-12-02", "UTC")
	h.now = now
	ddb.Set(testenv.Faults{Throttle: 0.1, Reset: 0.04, ResetAfter: 0.04, Latency: time.Millisecond})
	ses.Set(testenv.Faults{Throttle: 0.15, Reset: 0.08, ResetAfter: 0.08})
	var inDoubt int
	for range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		sum, err := sw.Run(ctx, now)
		cancel()
		inDoubt += sum.InDoubt
		t.Logf("under faults: sent %d, in doubt %d, skipped %v, stopped %v, err %v", sum.Sent, sum.InDoubt, sum.Skipped, sum.Stopped, err)
	}
	ddb.Set(testenv.Faults{})
	ses.Set(testenv.Faults{})
	// A rerun finishes; one after the stale-claim time settles any claim a
	// failed write left behind.
	for _, at := range []time.Time{now, now.Add(dunning.StaleClaim + time.Minute)} {
		h.now = at
		sum, err := sw.Run(context.Background(), at)
		if err != nil {
			t.Fatalf("rerun without faults: %v", err)
		}
		inDoubt += sum.InDoubt
	}
	t.Logf("DynamoDB: %d throttled, %d reset, %d reset after; SES: %d throttled, %d reset, %d reset after the send",
		ddb.Throttled.Load(), ddb.Reset.Load(), ddb.ResetAfter.Load(), ses.Throttled.Load(), ses.Reset.Load(), ses.ResetAfter.Load())
	if ses.ResetAfter.Load() == 0 || ses.Throttled.Load() == 0 || ddb.Throttled.Load() == 0 {
		t.Fatalf("too few faults injected to prove anything")
	}

	got := map[string]int{}
	for _, e := range h.mail() {
		got[e.Destination.To[0]]++
	}
	missing := 0
	for i := range n {
		to := strings.ToLower(fmt.Sprintf("F%02d", i)) + "@" + h.domain
		switch got[to] {
		case 1:
		case 0:
			missing++
		default:
			t.Errorf("%s got %d emails", to, got[to])
		}
	}
	// An email SES took while its answer was lost must be in doubt (not
	// resent); so may one whose connection dropped before SES saw it.
	if int64(inDoubt) < ses.ResetAfter.Load() {
		t.Errorf("%d sends reported in doubt, but SES took %d emails whose answer was lost", inDoubt, ses.ResetAfter.Load())
	}
	if missing > inDoubt {
		t.Errorf("%d customers got no email but only %d sends are in doubt: a due email was lost silently", missing, inDoubt)
	}
	t.Logf("%d of %d customers emailed once, %d not emailed, %d sends in doubt", n-missing, n, missing, inDoubt)
}

// TestARunSendsAtMostItsCap: a flood of due invoices (a bug, a hostile
// client posting thousands) goes out at most MaxEmails a run; the next
// runs go on, and nobody gets more than their one email.
func TestARunSendsAtMostItsCap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	for i := range 12 {
		c := h.customer(fmt.Sprintf("Cap%02d", i), "UTC", "en")
		h.invoice(c, fmt.Sprintf("CAP-%02d", i), "2026-11-01", "2026-12-01")
	}
	h.settings.MaxEmails = 5
	h.sweeper = sweep.New(h.store, h.mailer, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := at("2026-12-02", "UTC")
	var sent []int
	for range 4 {
		sum := h.sweepAt(now)
		sent = append(sent, sum.Sent)
		if sum.Sent == 5 && (!sum.Stopped || sum.Skipped["run_email_cap"] == 0) {
			t.Errorf("a capped run does not say it stopped at the cap: %+v", sum)
		}
	}
	if fmt.Sprint(sent) != "[5 5 2 0]" {
		t.Errorf("emails per run %v, want [5 5 2 0]", sent)
	}
	got := map[string]int{}
	for _, e := range h.mail() {
		got[e.Destination.To[0]]++
	}
	if len(got) != 12 {
		t.Errorf("%d customers emailed, want 12", len(got))
	}
	for to, n := range got {
		if n != 1 {
			t.Errorf("%s got %d emails", to, n)
		}
	}
}
