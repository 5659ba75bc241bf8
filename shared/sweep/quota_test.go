package sweep_test

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
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"dunlin/shared/billing"
	"dunlin/shared/localstack"
	"dunlin/shared/mailer"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

// sesAccount starts an SES local of the test's own whose account reports
// the quota q, behind a proxy that throttles sends beyond q's rate as SES
// does. It returns the mailer the sweep uses and a recorder of the times
// emails were handed to SES.
func sesAccount(t *testing.T, h *harness, q localstack.SESQuota) (*timedMailer, *testenv.FaultProxy) {
	t.Helper()
	srv, proxy := testenv.SESAccount(t, q)
	client := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(proxy.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	m := &timedMailer{SES: &mailer.SES{Client: client}}
	h.ses, h.mailer = srv.Endpoint, m
	h.sweeper = sweep.New(h.store, m, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return m, proxy
}

// timedMailer is mailer.SES noting when each accepted email went.
type timedMailer struct {
	*mailer.SES
	mu   sync.Mutex
	sent []time.Time
}

func (m *timedMailer) Send(ctx context.Context, msg mailer.Message) (string, error) {
	id, err := m.SES.Send(ctx, msg)
	if err == nil {
		m.mu.Lock()
		m.sent = append(m.sent, time.Now())
		m.mu.Unlock()
	}
	return id, err
}

func (m *timedMailer) times() []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Time(nil), m.sent...)
}

// TestARunKeepsWithinTheDailyQuota: an account that may send 40 emails a
// day and has sent 25 gets 15 from a run with 25 due, the rest skipped
// as over the quota; they are spaced to the account's send rate (4 a
// second), and SES (the proxy holding it to that rate) throttles none.
func TestARunKeepsWithinTheDailyQuota(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	// A rate well below what this machine can send, so that pacing, not
	// the machine, is what spaces the emails.
	const rate = 4
	m, proxy := sesAccount(t, h, localstack.SESQuota{MaxSendRate: rate, Max24HourSend: 40, SentLast24Hours: 25})
	for i := range 25 {
		c := h.customer(fmt.Sprintf("Quota%02d", i), "UTC", "en")
		h.invoice(c, fmt.Sprintf("Q-%02d", i), "2026-11-01", "2026-12-01")
	}
	sum := h.sweepAt(at("2026-12-02", "UTC"))
	if sum.Sent != 15 || !sum.Stopped || sum.Skipped["ses_daily_quota"] == 0 {
		t.Fatalf("run = %+v; want 15 sent, stopped at the daily quota", sum)
	}
	if got := len(h.mail()); got != 15 {
		t.Errorf("SES has %d emails, want 15", got)
	}
	if n := proxy.Throttled.Load(); n != 0 || sum.Skipped["ses_throttled"] != 0 {
		t.Errorf("%d sends throttled by SES, %d skipped as throttled; want none", n, sum.Skipped["ses_throttled"])
	}
	// Spacing is a floor, not a speed: a slow machine only spaces them more.
	sent := m.times()
	if span, least := sent[len(sent)-1].Sub(sent[0]), time.Duration(float64(len(sent)-1)/rate*0.9*float64(time.Second)); span < least {
		t.Errorf("%d emails went in %v; at %d a second they take at least %v", len(sent), span, rate, least)
	}
}

// TestWorkBeyondOneRunFinishesAcrossRuns: more due customers than one
// run's time allows at the account's send rate go out over several runs
// (as hourly Lambda invocations would), each customer's email exactly
// once, none throttled. The rate is scaled up and the run's budget down
// from 14 a second and 15 minutes, so it takes seconds; bench/ runs 2,000
// customers at 14 a second.
func TestWorkBeyondOneRunFinishesAcrossRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	const rate, due = 8, 40
	_, proxy := sesAccount(t, h, localstack.SESQuota{MaxSendRate: rate, Max24HourSend: 1_000_000})
	for i := range due {
		c := h.customer(fmt.Sprintf("Many%03d", i), "UTC", "en")
		h.invoice(c, fmt.Sprintf("M-%03d", i), "2026-11-01", "2026-12-01")
	}
	h.settings.Budget = 1500 * time.Millisecond
	h.sweeper = sweep.New(h.store, h.mailer, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := at("2026-12-02", "UTC")
	runs, total := 0, 0
	for total < due && runs < 40 {
		started := time.Now()
		sum := h.sweepAt(now)
		took := time.Since(started)
		runs++
		total += sum.Sent
		// Logged, not asserted: the share of the account's rate a run used.
		t.Logf("run %d: %d sent in %v (%.0f%% of %d a second), stopped %v, skipped %v", runs, sum.Sent,
			took.Round(time.Millisecond), 100*float64(sum.Sent)/took.Seconds()/rate, rate, sum.Stopped, sum.Skipped)
		if sum.InDoubt != 0 || sum.Failed != 0 || sum.Skipped["ses_throttled"] > 1 {
			t.Fatalf("run %d: %+v", runs, sum)
		}
	}
	if runs < 2 {
		t.Errorf("%d emails at %d a second went in %d run of 1.5 s; the test needs more than one", due, rate, runs)
	}
	got := map[string]int{}
	for _, e := range h.mail() {
		got[e.Destination.To[0]]++
	}
	if len(got) != due {
		t.Errorf("%d customers emailed after %d runs, want %d", len(got), runs, due)
	}
	for to, n := range got {
		if n != 1 {
			t.Errorf("%s got %d emails", to, n)
		}
	}
	if n := proxy.Throttled.Load(); n != 0 {
		t.Errorf("SES throttled %d sends; the sweep should keep to the rate", n)
	}
}

// TestAnInvalidAddressGetsNoDunning: once SES reported a hard bounce or a
// complaint from a customer's address, the sweep sends it nothing and
// says why; a new address resumes it.
func TestAnInvalidAddressGetsNoDunning(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	c := h.customer("Bounced", "UTC", "en")
	h.invoice(c, "B-1", "2026-11-01", "2026-12-01")
	ctx := context.Background()
	fresh, err := h.store.GetCustomer(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	marked := *fresh
	marked.EmailInvalid, marked.EmailError, marked.Version = true, "hard bounce", fresh.Version+1
	if err := h.store.UpdateCustomer(ctx, &marked, fresh.ExternalID); err != nil {
		t.Fatal(err)
	}
	sum := h.sweepAt(at("2026-12-02", "UTC"))
	if sum.Sent != 0 || sum.Skipped["email_invalid"] != 1 || len(h.mail()) != 0 {
		t.Fatalf("run = %+v, %d emails; want the invoice skipped as email_invalid, nothing sent", sum, len(h.mail()))
	}
	email := "new-address@" + h.domain
	if _, err := h.bill.UpdateCustomer(ctx, c.ID, billing.CustomerPatch{Email: &email}); err != nil {
		t.Fatal(err)
	}
	if sum := h.sweepAt(at("2026-12-03", "UTC")); sum.Sent != 1 {
		t.Errorf("after a new address: %+v, want the reminder sent", sum)
	}
}
