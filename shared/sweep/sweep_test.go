package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
	"dunlin/shared/links"
	"dunlin/shared/mailer"
	"dunlin/shared/secrets"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

// TestCustomerWalksTheWholeLadderDayByDay: one invoice, a sweep every day at
// 10:00 Berlin time for six weeks; the exact emails arrive on the exact days.
func TestCustomerWalksTheWholeLadderDayByDay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	c := h.customer("Acme", "Europe/Berlin", "en")
	inv := h.invoice(c, "INV-100", "2026-11-01", "2026-12-01")
	var got, sentBy []string
	seen := 0
	for d := civil.MustParse("2026-11-20"); !d.After(civil.MustParse("2027-01-10")); d = d.AddDays(1) {
		sum := h.sweepAt(at(d.String(), "Europe/Berlin"))
		for _, c := range sum.SentBy {
			sentBy = append(sentBy, fmt.Sprintf("%s %s/%s %d", d, c.Step, c.Tone, c.Emails))
		}
		mail := h.mail()
		for _, e := range mail[seen:] {
			got = append(got, fmt.Sprintf("%s %s: %s", d, e.Destination.To[0], e.Subject))
		}
		seen = len(mail)
	}
	want := []string{
		"2026-11-28 acme@" + h.domain + ": Invoice INV-100 is due on 2026-12-01",
		"2026-12-02 acme@" + h.domain + ": Reminder: invoice INV-100 is now overdue",
		"2026-12-08 acme@" + h.domain + ": Payment overdue: invoice INV-100 - please pay now",
		"2026-12-15 acme@" + h.domain + ": Final notice: invoice INV-100 overdue",
		"2026-12-31 collections@" + h.domain + ": Action needed: Acme - 1 invoice(s) for collection follow-up",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("emails:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each run counts its emails by step and tone, for the metrics.
	wantBy := []string{"2026-11-28 upcoming/friendly 1", "2026-12-02 overdue/reminder 1", "2026-12-08 second/firm 1",
		"2026-12-15 final/final 1", "2026-12-31 escalate/escalation 1"}
	if strings.Join(sentBy, "\n") != strings.Join(wantBy, "\n") {
		t.Errorf("sent by step and tone:\n%s\nwant:\n%s", strings.Join(sentBy, "\n"), strings.Join(wantBy, "\n"))
	}
	after, _ := h.store.GetCustomer(context.Background(), c.ID)
	if !after.CreditHold || !strings.Contains(after.HoldReason, "final") {
		t.Errorf("the final step did not put the customer on credit hold: %+v", after)
	}
	done, _ := h.store.GetInvoice(context.Background(), inv.ID)
	if done.DunningStep != 4 || !done.NextActionOn.IsZero() {
		t.Errorf("finished ladder: step %d, next %s", done.DunningStep, done.NextActionOn)
	}
	// Reaching the escalation step raised one alert for the firm; the
	// day the invoice fell overdue, the nightly rescoring took the grade
	// from A (a thin file: 90) to B (all it owes is overdue: 75).
	alerts, _ := h.bill.ListAlerts(context.Background(), billing.AlertOpen, c.ID)
	kinds := map[string][]*billing.Alert{}
	for _, a := range alerts {
		kinds[a.Kind] = append(kinds[a.Kind], a)
	}
	if esc := kinds[billing.AlertEscalation]; len(esc) != 1 || esc[0].Ref != "2026-12-31#escalation" {
		t.Errorf("escalation alerts: %+v", esc)
	}
	if drop := kinds[billing.AlertGradeDropped]; len(drop) != 1 || drop[0].Ref != "2026-12-02" || !strings.HasPrefix(drop[0].Message, "credit grade fell from A (90) to B (75): overdue_now (100%) -15") {
		t.Errorf("grade alerts: %+v", drop)
	}
	if len(alerts) != 2 {
		t.Errorf("alerts: %d", len(alerts))
	}
	if got, _ := h.store.GetCustomer(context.Background(), c.ID); got.Grade != "B" || got.Score == nil || *got.Score != 75 {
		t.Errorf("stored grade %q score %v", got.Grade, got.Score)
	}
	// Every send is in the contact log, with SES's message id.
	sends, _ := h.store.SendsSince(context.Background(), c.ID, civil.MustParse("2026-11-01"))
	for _, snd := range sends {
		if snd.Status != dunning.Sent || snd.MessageID == "" {
			t.Errorf("send %s %s: %s %q", snd.Day, snd.Kind, snd.Status, snd.MessageID)
		}
	}
}

// markPaid settles an invoice the way a payment does: balance zero, state
// paid, version bumped, which takes it out of the work queue.
// markPaid books a payment of the invoice's whole balance through the
// payment path the API and the webhooks use, and returns it.
func markPaid(t *testing.T, h *harness, id string) *billing.Payment {
	t.Helper()
	inv, err := h.store.GetInvoice(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.bill.RecordPayment(context.Background(), billing.PaymentInput{CustomerID: inv.CustomerID, Amount: &inv.Balance,
		Allocations: []billing.AllocationInput{{InvoiceID: id, Amount: &inv.Balance}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := h.store.GetInvoice(context.Background(), id); got.State != billing.StatePaid {
		t.Fatalf("invoice %s is %s after paying its balance", id, got.State)
	}
	return p
}

// A refund reopens a paid invoice; dunning resumes with the step now due,
// once, not with every step it missed.
func TestARefundPutsTheInvoiceBackOnTheLadder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	c := h.customer("Refunded", "UTC", "en")
	inv := h.invoice(c, "R-1", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-12-02", "UTC"))
	p := markPaid(t, h, inv.ID)
	for d := civil.MustParse("2026-12-03"); d.Before(civil.MustParse("2026-12-20")); d = d.AddDays(1) {
		h.sweepAt(at(d.String(), "UTC"))
	}
	if n := len(h.mail()); n != 1 {
		t.Fatalf("%d emails while paid, want the 1 from before", n)
	}
	h.now = at("2026-12-20", "UTC")
	if _, err := h.bill.Reverse(context.Background(), p.ID, billing.ReversalInput{Kind: billing.KindChargeback, Reason: "card dispute lost"}); err != nil {
		t.Fatal(err)
	}
	// Interest would run on the principal day by day: nothing owed while it was paid.
	got, _ := h.store.GetInvoice(context.Background(), inv.ID)
	if hist := fmt.Sprint(got.PrincipalHistory()); hist != "[{2026-12-01 125000} {2026-12-02 0} {2026-12-20 125000}]" {
		t.Errorf("principal history %s", hist)
	}
	for d := civil.MustParse("2026-12-20"); d.Before(civil.MustParse("2026-12-24")); d = d.AddDays(1) {
		h.sweepAt(at(d.String(), "UTC"))
	}
	mail := h.mail()
	if len(mail) != 2 || !strings.HasPrefix(mail[1].Subject, "Final notice") {
		t.Fatalf("%d emails after the chargeback, want 2, the second the final notice: %q", len(mail), subjects(mail))
	}
}

func TestPaymentDisputeOrVoidBetweenStepsStopsTheEmails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	paid, disputed, voided := h.customer("Paid", "UTC", "en"), h.customer("Disputed", "UTC", "en"), h.customer("Voided", "UTC", "zh-CN")
	ip := h.invoice(paid, "S-1", "2026-11-01", "2026-12-01")
	id := h.invoice(disputed, "S-2", "2026-11-01", "2026-12-01")
	iv := h.invoice(voided, "S-3", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-12-02", "UTC"))
	if n := len(h.mail()); n != 3 {
		t.Fatalf("%d reminders, want 3", n)
	}
	markPaid(t, h, ip.ID)
	if _, err := h.bill.DisputeInvoice(ctx, id.ID, "goods arrived damaged"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.bill.VoidInvoice(ctx, iv.ID, "cancelled order"); err != nil {
		// A reminded invoice still has its full balance, so voiding is allowed.
		t.Fatal(err)
	}
	for d := civil.MustParse("2026-12-03"); d.Before(civil.MustParse("2027-01-15")); d = d.AddDays(1) {
		h.sweepAt(at(d.String(), "UTC"))
	}
	if n := len(h.mail()); n != 3 {
		t.Fatalf("%d emails after payment, dispute and void, want still 3", n)
	}
	// Resolving the dispute resumes the ladder from where it was: the next
	// sweep sends the latest step due (final), once.
	h.now = at("2027-01-15", "UTC")
	if _, err := h.bill.ResolveDispute(ctx, id.ID); err != nil {
		t.Fatal(err)
	}
	h.sweepAt(at("2027-01-15", "UTC"))
	mail := h.mail()
	if len(mail) != 4 || !strings.HasPrefix(mail[3].Subject, "Action needed: Disputed") {
		t.Fatalf("after resolving: %d emails, last %q", len(mail), mail[len(mail)-1].Subject)
	}
}

func TestAfterATenDayOutageOneEmailNotFour(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	c := h.customer("Outage", "America/New_York", "en")
	h.invoice(c, "O-1", "2026-10-01", "2026-11-01")
	h.invoice(c, "O-2", "2026-10-05", "2026-11-03")
	h.sweepAt(at("2026-10-29", "America/New_York")) // friendly for O-1 (O-2's comes Oct 31)
	// The sweep does not run from Oct 30 until Nov 16: overdue, second and
	// final have all come due for O-1 by then.
	sum := h.sweepAt(at("2026-11-16", "America/New_York"))
	mail := h.mail()
	if len(mail) != 2 {
		t.Fatalf("%d emails, want 2", len(mail))
	}
	if mail[0].Subject != "Invoice O-1 is due on 2026-11-01" {
		t.Errorf("first email %q", mail[0].Subject)
	}
	// O-1 is at its final step (due +14 = Nov 15), O-2 at second (Nov 10):
	// one email in the most severe tone, listing both.
	if mail[1].Subject != "Final notice: 2 invoices overdue" || !strings.Contains(mail[1].Body.Text, "O-1") || !strings.Contains(mail[1].Body.Text, "O-2") {
		t.Errorf("catch-up email %q", mail[1].Subject)
	}
	if sum.Sent != 1 {
		t.Errorf("catch-up run sent %d", sum.Sent)
	}
}

// Steps come due on civil dates in the customer's own zone: on either side
// of the date line, and across a daylight-saving change.
func TestStepsFollowTheCustomersCalendarAcrossTheDateLineAndDST(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	east := h.customer("East", "Pacific/Kiritimati", "en") // UTC+14
	west := h.customer("West", "Pacific/Pago_Pago", "en")  // UTC-11
	h.invoice(east, "E-1", "2026-11-01", "2026-12-01")
	h.invoice(west, "W-1", "2026-11-01", "2026-12-01")
	h.sweepAt(time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)) // both get the friendly note
	if n := len(h.mail()); n != 2 {
		t.Fatalf("friendly notes: %d", n)
	}
	// 2026-12-01 20:00 UTC: already Dec 2, 10:00 in Kiritimati; Dec 1, 09:00 in Pago Pago.
	h.sweepAt(time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC))
	mail := h.mail()
	if len(mail) != 3 || mail[2].Destination.To[0] != "east@"+h.domain || !strings.HasPrefix(mail[2].Subject, "Reminder") {
		t.Fatalf("at the date line: %d emails, last to %v", len(mail), mail[len(mail)-1].Destination.To)
	}
	// A day later it is Dec 2 in Pago Pago too.
	h.sweepAt(time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC))
	if mail = h.mail(); len(mail) != 4 || mail[3].Destination.To[0] != "west@"+h.domain {
		t.Fatalf("a day later: %d emails", len(mail))
	}

	// New York leaves summer time on 2026-11-01. An invoice due Oct 31 is
	// overdue from Nov 1 local: 00:30 local on Nov 1 is 04:30 UTC, while
	// 03:30 UTC is still Oct 31 local.
	dst := newHarness(t, allDays())
	ny := dst.customer("Ny", "America/New_York", "en")
	dst.invoice(ny, "N-1", "2026-10-01", "2026-10-31")
	dst.invoice(ny, "N-0", "2026-10-01", "2026-11-04")          // not due yet, keeps the friendly step apart
	dst.sweepAt(time.Date(2026, 10, 28, 14, 0, 0, 0, time.UTC)) // friendly for N-1 (Oct 28)
	dst.sweepAt(time.Date(2026, 11, 1, 3, 30, 0, 0, time.UTC))  // still Oct 31 in New York (EDT)
	if n := len(dst.mail()); n != 1 {
		t.Fatalf("before local midnight: %d emails", n)
	}
	dst.sweepAt(time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)) // 00:30 EST on Nov 1
	mail = dst.mail()
	if len(mail) != 2 || !strings.HasPrefix(mail[1].Subject, "Reminder") {
		t.Fatalf("after local midnight: %+v", mail)
	}
}

func TestSendWindowDefersToTheNextBusinessHour(t *testing.T) {
	t.Parallel()
	w := dunning.DefaultWindow()
	w.Country = "GB"
	h := newHarness(t, w)
	c := h.customer("Window", "Europe/London", "en")
	h.invoice(c, "W-1", "2026-11-01", "2026-12-04") // overdue step on Sat Dec 5
	sum := h.sweepAt(at("2026-12-05", "Europe/London"))
	if sum.Skipped["closed_weekday"] != 1 || len(h.mail()) != 0 {
		t.Fatalf("Saturday: %+v, %d emails", sum, len(h.mail()))
	}
	night := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC) // Monday 07:00 London
	if sum = h.sweepAt(night); sum.Skipped["outside_hours"] != 1 {
		t.Fatalf("Monday 07:00: %+v", sum)
	}
	h.sweepAt(at("2026-12-07", "Europe/London"))
	if mail := h.mail(); len(mail) != 1 || !strings.HasPrefix(mail[0].Subject, "Reminder") {
		t.Fatalf("Monday 10:00: %+v", mail)
	}
}

func TestWeeklyCapAndPauseHoldEmailsBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Capped", "UTC", "en")
	// Three invoices whose steps fall on three consecutive days.
	h.invoice(c, "C-1", "2026-11-01", "2026-12-01")
	h.invoice(c, "C-2", "2026-11-01", "2026-12-02")
	h.invoice(c, "C-3", "2026-11-01", "2026-12-03")
	var capped int
	for _, d := range []string{"2026-12-02", "2026-12-03", "2026-12-04"} {
		capped += h.sweepAt(at(d, "UTC")).Skipped["weekly_cap"]
	}
	if n := len(h.mail()); n != 2 || capped != 1 {
		t.Fatalf("%d emails in 3 days (cap 2), %d capped", n, capped)
	}
	p := h.customer("Paused", "UTC", "en")
	h.invoice(p, "P-1", "2026-11-01", "2026-12-01")
	pc, _ := h.store.GetCustomer(ctx, p.ID)
	pc.Paused, pc.PauseReason, pc.PausedUntil, pc.Version = true, "owner on holiday", civil.MustParse("2026-12-10"), pc.Version+1
	if err := h.store.UpdateCustomer(ctx, pc, ""); err != nil {
		t.Fatal(err)
	}
	before := len(h.mail())
	if sum := h.sweepAt(at("2026-12-05", "UTC")); sum.Skipped["customer_paused"] != 1 {
		t.Errorf("paused: %+v", sum)
	}
	h.sweepAt(at("2026-12-11", "UTC"))
	mail := h.mail()
	if len(mail)-before != 2 { // Capped's next step, and Paused's second step after the pause
		t.Fatalf("after the pause: %d new emails", len(mail)-before)
	}
}

// Two sweeps at once send each email once.
func TestConcurrentSweepsSendEachEmailOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	const n = 20
	for i := range n {
		c := h.customer(fmt.Sprintf("C%02d", i), "UTC", []string{"en", "zh-CN"}[i%2])
		h.invoice(c, fmt.Sprintf("K-%02d", i), "2026-11-01", "2026-12-01")
	}
	now := at("2026-12-02", "UTC")
	h.now = now
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.sweeper.Run(context.Background(), now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	perCustomer := map[string]int{}
	for _, e := range h.mail() {
		perCustomer[e.Destination.To[0]]++
	}
	if len(perCustomer) != n {
		t.Errorf("%d customers emailed, want %d", len(perCustomer), n)
	}
	for to, k := range perCustomer {
		if k != 1 {
			t.Errorf("%s got %d emails", to, k)
		}
	}
}

// A sweep cancelled at random points and rerun 50 times sends every due
// email exactly once. Cancellation (a time budget, a shutdown) never leaves a
// send in doubt: only a process that dies mid-send can.
func TestSweepCancelledAtRandomPointsNeverSendsTwice(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	const n = 30
	var customers []*billing.Customer
	for i := range n {
		c := h.customer(fmt.Sprintf("R%02d", i), "UTC", "en")
		customers = append(customers, c)
		h.invoice(c, fmt.Sprintf("R-%02d", i), "2026-11-01", "2026-12-01")
	}
	now := at("2026-12-02", "UTC")
	h.now = now
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(40))*time.Millisecond)
		_, _ = h.sweeper.Run(ctx, now)
		cancel()
	}
	// A last run with time to finish, then one after the stale-claim time to
	// settle anything left in doubt.
	h.sweepAt(now)
	h.sweepAt(now.Add(dunning.StaleClaim + time.Minute))

	perCustomer := map[string]int{}
	for _, e := range h.mail() {
		perCustomer[e.Destination.To[0]]++
	}
	inDoubt := 0
	for _, c := range customers {
		sends, err := h.store.SendsSince(context.Background(), c.ID, civil.MustParse("2026-12-01"))
		if err != nil {
			t.Fatal(err)
		}
		got := perCustomer[c.Email]
		if got > 1 {
			t.Errorf("%s got %d emails", c.Email, got)
		}
		if len(sends) != 1 {
			t.Errorf("%s has %d send records", c.Email, len(sends))
			continue
		}
		switch snd := sends[0]; {
		case snd.Status == dunning.Sent && got == 1:
		case snd.Status == dunning.InDoubt:
			inDoubt++ // SES may or may not have it; reported, not resent
		default:
			t.Errorf("%s: send %s with %d emails", c.Email, snd.Status, got)
		}
	}
	if inDoubt != 0 || len(h.mail()) != n {
		t.Errorf("%d emails and %d in doubt for %d customers; cancellation must not leave doubt", len(h.mail()), inDoubt, n)
	}
	t.Logf("%d customers, %d emails, %d in doubt", n, len(h.mail()), inDoubt)
}

// crashAfterSend delivers through SES, then fails as if the process died
// before the sweep could record the message id.
type crashAfterSend struct {
	mailer.Mailer
	crashes atomic.Int32
}

func (c *crashAfterSend) Send(ctx context.Context, m mailer.Message) (string, error) {
	if _, err := c.Mailer.Send(ctx, m); err != nil {
		return "", err
	}
	c.crashes.Add(1)
	return "", errors.New("connection reset after SES accepted the message")
}

// A send whose outcome is unknown is reported as in doubt and never resent:
// not that day, not the next, and the ladder moves on past it.
func TestASendInDoubtIsReportedNotResent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	crash := &crashAfterSend{Mailer: h.mailer}
	h.sweeper = sweep.New(h.store, crash, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := h.customer("Doubt", "UTC", "en")
	inv := h.invoice(c, "D-1", "2026-11-01", "2026-12-01")
	first := h.sweepAt(at("2026-12-02", "UTC"))
	if first.InDoubt != 1 || first.Sent != 0 || len(h.mail()) != 1 {
		t.Fatalf("first run: %+v, %d emails", first, len(h.mail()))
	}
	// Later the same day, and on the following days, nothing is resent.
	h.sweeper = sweep.New(h.store, h.mailer, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	again := h.sweepAt(at("2026-12-02", "UTC").Add(time.Hour))
	if again.InDoubt != 1 {
		t.Errorf("the abandoned claim was not reported: %+v", again)
	}
	h.sweepAt(at("2026-12-03", "UTC"))
	h.sweepAt(at("2026-12-04", "UTC"))
	if n := len(h.mail()); n != 1 {
		t.Fatalf("%d emails: the reminder in doubt was resent", n)
	}
	got, _ := h.store.GetInvoice(context.Background(), inv.ID)
	if got.DunningStep != 1 || got.NextActionOn.String() != "2026-12-08" {
		t.Errorf("invoice not moved past the step in doubt: step %d next %s", got.DunningStep, got.NextActionOn)
	}
	h.sweepAt(at("2026-12-08", "UTC"))
	if mail := h.mail(); len(mail) != 2 || !strings.HasPrefix(mail[1].Subject, "Payment overdue") {
		t.Fatalf("the ladder did not go on: %d emails", len(mail))
	}
}

// The preview shows exactly what the sweep then sends, and writes nothing.
func TestPreviewShowsWhatTheSweepSendsAndChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	a, b := h.customer("Anna", "Europe/Paris", "en"), h.customer("Bo", "Asia/Shanghai", "zh-CN")
	ia := h.invoice(a, "PV-1", "2026-11-01", "2026-12-01")
	h.invoice(a, "PV-2", "2026-11-01", "2026-11-24")
	h.invoice(b, "PV-3", "2026-11-01", "2026-11-17")
	now := at("2026-12-02", "Europe/Paris")
	h.now = now
	planned, psum, err := h.sweeper.Preview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	// One customer's preview is exactly its part of the whole.
	onlyB, err := h.sweeper.PreviewCustomer(ctx, now, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	var wantB []sweep.Planned
	for _, p := range planned {
		if p.CustomerID == b.ID {
			wantB = append(wantB, p)
		}
	}
	if len(onlyB) != 1 || len(wantB) != 1 || onlyB[0].Subject != wantB[0].Subject || onlyB[0].HTML != wantB[0].HTML {
		t.Errorf("Bo's own preview %+v differs from its part of the whole %+v", onlyB, wantB)
	}
	before, _ := h.store.GetInvoice(ctx, ia.ID)
	if n := len(h.mail()); n != 0 || before.Version != ia.Version {
		t.Fatalf("the preview sent %d emails or wrote the invoice (version %d)", n, before.Version)
	}
	sum := h.sweepAt(now)
	mail := h.mail()
	if len(planned) != len(mail) || psum.Sent != sum.Sent {
		t.Fatalf("preview planned %d (%d), the sweep sent %d (%d)", len(planned), psum.Sent, len(mail), sum.Sent)
	}
	sent := map[string]string{}
	for _, m := range mail {
		sent[m.Destination.To[0]] = m.Subject + "|" + m.Body.Text
	}
	for _, p := range planned {
		if sent[p.To[0]] != p.Subject+"|"+p.Text {
			t.Errorf("preview for %s differs from the email sent:\n%s\n---\n%s", p.To[0], p.Subject+"|"+p.Text, sent[p.To[0]])
		}
	}
}

func TestForecastListsStepsOnTheirOpenDays(t *testing.T) {
	t.Parallel()
	w := dunning.DefaultWindow() // Monday to Friday
	h := newHarness(t, w)
	c := h.customer("Fore", "UTC", "en")
	h.invoice(c, "F-1", "2026-11-01", "2026-12-04") // Friday
	h.now = at("2026-11-30", "UTC")
	got, err := h.sweeper.Forecast(context.Background(), h.now, 14)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range got {
		lines = append(lines, f.On.String()+" "+f.Step)
	}
	// upcoming Tue Dec 1; overdue Sat Dec 5 -> Mon Dec 7; second Fri Dec 11.
	want := "2026-12-01 upcoming|2026-12-07 overdue|2026-12-11 second"
	if strings.Join(lines, "|") != want {
		t.Errorf("forecast %v, want %s", lines, want)
	}
}

// rejecting refuses every message for good, as SES does for a bad sender.
type rejecting struct{}

func (rejecting) Send(context.Context, mailer.Message) (string, error) {
	return "", fmt.Errorf("%w: MessageRejected: Email address is not verified", mailer.ErrRejected)
}

// A permanent SES error is recorded on the send and the customer, and the
// run goes on to the next customer.
func TestAPermanentSESErrorIsRecordedAndTheRunGoesOn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	h.sweeper = sweep.New(h.store, rejecting{}, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, b := h.customer("Rej1", "UTC", "en"), h.customer("Rej2", "UTC", "en")
	h.invoice(a, "X-1", "2026-11-01", "2026-12-01")
	h.invoice(b, "X-2", "2026-11-01", "2026-12-01")
	sum := h.sweepAt(at("2026-12-02", "UTC"))
	if sum.Failed != 2 || sum.Sent != 0 {
		t.Fatalf("summary %+v", sum)
	}
	got, _ := h.store.GetCustomer(context.Background(), a.ID)
	if !strings.Contains(got.EmailError, "not verified") || got.EmailErrorAt == nil {
		t.Errorf("customer error = %q", got.EmailError)
	}
	sends, _ := h.store.SendsSince(context.Background(), a.ID, civil.MustParse("2026-12-01"))
	if len(sends) != 1 || sends[0].Status != dunning.Failed {
		t.Errorf("send records %+v", sends)
	}
	// The firm is alerted once per address, not once per refusal.
	bounced := func() (n int) {
		alerts, _ := h.bill.ListAlerts(context.Background(), "", a.ID)
		for _, al := range alerts {
			if al.Kind == billing.AlertAddressBounced && al.Ref == a.Email && strings.Contains(al.Message, "not verified") {
				n++
			}
		}
		return n
	}
	if n := bounced(); n != 1 {
		t.Errorf("%d address_bounced alerts after the first refusal", n)
	}
	h.sweepAt(at("2026-12-03", "UTC"))
	if n := bounced(); n != 1 {
		t.Errorf("%d address_bounced alerts after the second refusal", n)
	}
	// Once the firm fixes SES, the next day's run sends.
	h.sweeper = sweep.New(h.store, h.mailer, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if sum := h.sweepAt(at("2026-12-04", "UTC")); sum.Sent != 2 {
		t.Errorf("next day: %+v", sum)
	}
}

// A step that needs approval is drafted, not sent; approving sends it
// through the same path as the sweep; a pending draft is not drafted again;
// an expired one cannot be approved and is drafted afresh.
func TestStepsThatNeedApprovalAreDraftedThenSentOnApproval(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	h.standardWith(func(p *dunning.Policy) {
		p.Steps[1].RequiresApproval = true // the first overdue reminder
	})
	c := h.customer("Appr", "UTC", "en")
	inv := h.invoice(c, "A-1", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-11-28", "UTC")) // friendly: no approval needed
	sum := h.sweepAt(at("2026-12-02", "UTC"))
	if sum.Drafted != 1 || sum.Sent != 0 || len(h.mail()) != 1 {
		t.Fatalf("draft run: %+v, %d emails", sum, len(h.mail()))
	}
	drafts, _ := h.sweeper.Drafts(ctx)
	if len(drafts) != 1 || !strings.HasPrefix(drafts[0].Subject, "Reminder") {
		t.Fatalf("drafts = %+v", drafts)
	}
	if s := h.sweepAt(at("2026-12-03", "UTC")); s.Skipped["awaiting_approval"] != 1 {
		t.Errorf("a pending draft was drafted again: %+v", s)
	}
	snd, asum, err := h.sweeper.ApproveDraft(ctx, at("2026-12-03", "UTC"), c.ID, civil.MustParse("2026-12-02"), dunning.ToCustomer)
	if err != nil || snd.Status != dunning.Sent || asum.Sent != 1 {
		t.Fatalf("approve: %+v %+v %v", snd, asum, err)
	}
	if mail := h.mail(); len(mail) != 2 || !strings.HasPrefix(mail[1].Subject, "Reminder") {
		t.Fatalf("after approval: %d emails", len(mail))
	}
	if _, _, err := h.sweeper.ApproveDraft(ctx, at("2026-12-03", "UTC"), c.ID, civil.MustParse("2026-12-02"), dunning.ToCustomer); err == nil {
		t.Error("a draft was approved twice")
	}
	got, _ := h.store.GetInvoice(ctx, inv.ID)
	if got.DunningStep != 1 || got.NextActionOn.String() != "2026-12-08" {
		t.Errorf("approved step did not move the invoice on: %d %s", got.DunningStep, got.NextActionOn)
	}

	// Expiry: a second customer's draft is left alone past its TTL.
	d := h.customer("Late", "UTC", "en")
	h.invoice(d, "A-2", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-11-28", "UTC"))
	h.sweepAt(at("2026-12-02", "UTC"))
	late := at("2026-12-02", "UTC").Add(dunning.DraftTTL + time.Hour)
	if _, _, err := h.sweeper.ApproveDraft(ctx, late, d.ID, civil.MustParse("2026-12-02"), dunning.ToCustomer); err == nil {
		t.Error("an expired draft was approved")
	}
	if s := h.sweepAt(late); s.Drafted != 1 {
		t.Errorf("no fresh draft after expiry: %+v", s)
	}
}

// Late fees are added once per step, shown in the email, and can be waived.
func TestLateFeesAreChargedOnceShownAndWaivable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	h.standardWith(func(p *dunning.Policy) {
		p.Steps[2].Fee = &dunning.Fee{Kind: dunning.FeeFixed, Amounts: map[string]int64{"EUR": 4000}}
		p.Steps[3].Fee = &dunning.Fee{Kind: dunning.FeeStatutory, ReferenceBP: 200, MarginBP: 800}
	})
	c := h.customer("Fee", "UTC", "en")
	inv := h.invoice(c, "FEE-1", "2026-11-01", "2026-12-01") // 1,250.00 EUR
	for _, d := range []string{"2026-11-28", "2026-12-02", "2026-12-08", "2026-12-08", "2026-12-09"} {
		h.sweepAt(at(d, "UTC"))
	}
	got, _ := h.store.GetInvoice(ctx, inv.ID)
	if len(got.Fees) != 1 || got.Fees[0].Amount != 4000 || got.Balance != 125000+4000 {
		t.Fatalf("after the second step: fees %+v, balance %d", got.Fees, got.Balance)
	}
	mail := h.mail()
	if len(mail) != 3 || !strings.Contains(mail[2].Body.Text, "€1,290.00 (incl. late fee €40.00)") {
		t.Fatalf("the firm letter does not show the fee:\n%s", mail[len(mail)-1].Body.Text)
	}
	h.sweepAt(at("2026-12-15", "UTC"))
	got, _ = h.store.GetInvoice(ctx, inv.ID)
	// Statutory 10% a year on the 1,250.00 owed for goods (not on the
	// earlier fee) for the 14 days since due = 4.79
	if len(got.Fees) != 2 || got.Fees[1].Amount != 479 || got.Balance != 129000+479 {
		t.Fatalf("after the final step: fees %+v, balance %d", got.Fees, got.Balance)
	}
	h.now = at("2026-12-16", "UTC")
	waived, err := h.bill.WaiveFee(ctx, inv.ID, "second", "goodwill: long-standing customer")
	if err != nil {
		t.Fatal(err)
	}
	if waived.Balance != 125479 || !waived.Fees[0].Waived || waived.Fees[0].WaiveReason == "" || waived.FeesOutstanding() != 479 {
		t.Errorf("after waiving: balance %d, fees %+v", waived.Balance, waived.Fees)
	}
	if _, err := h.bill.WaiveFee(ctx, inv.ID, "upcoming", "x"); err == nil {
		t.Error("waived a fee that was never charged")
	}
}

// After N emails with no response the customer is handed to a person: no
// more emails to them, an internal note to the firm (at most weekly); a
// logged reply or call resets the count.
func TestNoResponseLimitHandsTheCustomerToAPerson(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	h.standardWith(func(p *dunning.Policy) {
		p.MaxUnanswered = 1
	})
	c := h.customer("Silent", "UTC", "en")
	h.invoice(c, "NR-1", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-11-28", "UTC")) // friendly: the one email allowed
	sum := h.sweepAt(at("2026-12-02", "UTC"))
	mail := h.mail()
	if sum.Skipped["no_response_limit"] != 1 || len(mail) != 2 || mail[1].Destination.To[0] != "collections@"+h.domain {
		t.Fatalf("at the limit: %+v, %d emails", sum, len(mail))
	}
	if s := h.sweepAt(at("2026-12-02", "UTC").Add(2 * time.Hour)); len(h.mail()) != 2 {
		t.Fatalf("emailed again the same day: %+v", s)
	}
	// The customer calls back: the count starts again, and the ladder goes on.
	h.now = at("2026-12-03", "UTC")
	if _, err := h.bill.LogContact(ctx, c.ID, billing.ContactInput{Channel: "phone", Summary: "Will pay by Friday", Response: true}); err != nil {
		t.Fatal(err)
	}
	h.sweepAt(at("2026-12-08", "UTC"))
	mail = h.mail()
	if len(mail) != 3 || mail[2].Destination.To[0] != c.Email || !strings.HasPrefix(mail[2].Subject, "Payment overdue") {
		t.Fatalf("after the response: %d emails", len(mail))
	}
	contacts, _ := h.store.ListContacts(ctx, c.ID, 50)
	var phone bool
	for _, ct := range contacts {
		phone = phone || ct.Channel == "phone"
	}
	if !phone {
		t.Errorf("the call is not in the contact log: %+v", contacts)
	}
	// The hand-over to a person is not the escalation step: no such alert.
	alerts, _ := h.bill.ListAlerts(ctx, "", c.ID)
	for _, a := range alerts {
		if a.Kind == billing.AlertEscalation {
			t.Errorf("the no-response hand-over raised an escalation alert: %+v", a)
		}
	}
}

func subjects(mail []testenv.SentEmail) []string {
	var out []string
	for _, m := range mail {
		out = append(out, m.Subject)
	}
	return out
}

// Credit on account pays a due invoice before anyone is chased for it:
// here a refund reopened an invoice while other money sat on account.
func TestCreditOnAccountPaysBeforeDunning(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Credit", "UTC", "en")
	a := h.invoice(c, "C-1", "2026-11-01", "2026-12-01")
	b := h.invoice(c, "C-2", "2026-11-01", "2026-12-01")
	h.now = at("2026-11-20", "UTC")
	markPaid(t, h, a.ID)
	pb := markPaid(t, h, b.ID)
	extra := int64(125000)
	if p, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: &extra}); err != nil || p.Unapplied != extra {
		t.Fatalf("credit payment: %v %+v", err, p)
	}
	if _, err := h.bill.Reverse(ctx, pb.ID, billing.ReversalInput{Reason: "paid twice by mistake"}); err != nil {
		t.Fatal(err)
	}
	if inv, _ := h.store.GetInvoice(ctx, b.ID); inv.State != billing.StateOpen {
		t.Fatalf("the refund left C-2 %s", inv.State)
	}
	planned, psum, err := h.sweeper.Preview(ctx, at("2026-12-03", "UTC"))
	if err != nil || len(planned) != 0 || psum.Skipped["paid_from_credit"] != 1 {
		t.Errorf("preview plans %d emails (%+v, %v); want none, C-2 paid from credit", len(planned), psum, err)
	}
	sum := h.sweepAt(at("2026-12-03", "UTC"))
	if n := len(h.mail()); n != 0 || sum.Skipped["paid_from_credit"] != 1 {
		t.Errorf("%d emails, summary %+v; want none, C-2 paid from credit", n, sum)
	}
	if inv, _ := h.store.GetInvoice(ctx, b.ID); inv.State != billing.StatePaid {
		t.Errorf("C-2 is %s with %d owing", inv.State, inv.Balance)
	}
	if acct, _ := h.store.GetAccount(ctx, c.ID); acct.Credit["EUR"] != 0 {
		t.Errorf("credit left: %d", acct.Credit["EUR"])
	}
}

// Credit that covers part of the oldest due invoice: the preview shows
// exactly the email the sweep then sends.
func TestPreviewSpendsCreditLikeTheSweep(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Partial", "UTC", "en")
	x := h.invoice(c, "X-1", "2026-10-01", "2026-10-31")
	h.invoice(c, "P-1", "2026-11-01", "2026-11-30")
	small := int64(25000)
	if _, err := h.bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: "P-2", Total: &small, IssuedOn: "2026-11-01", DueOn: "2026-12-01"}); err != nil {
		t.Fatal(err)
	}
	// 100,000 left on account while P-1 and P-2 are open.
	amount, onX := int64(225000), int64(125000)
	h.now = at("2026-11-20", "UTC")
	if _, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: &amount,
		Allocations: []billing.AllocationInput{{InvoiceID: x.ID, Amount: &onX}}}); err != nil {
		t.Fatal(err)
	}
	when := at("2026-12-03", "UTC")
	planned, _, err := h.sweeper.Preview(ctx, when)
	if err != nil || len(planned) != 1 {
		t.Fatalf("preview: %d emails, %v", len(planned), err)
	}
	h.sweepAt(when)
	mail := h.mail()
	if len(mail) != 1 {
		t.Fatalf("%d emails sent", len(mail))
	}
	if planned[0].Subject != mail[0].Subject || planned[0].Text != mail[0].Body.Text {
		t.Errorf("preview:\n%s\n%s\nsent:\n%s\n%s", planned[0].Subject, planned[0].Text, mail[0].Subject, mail[0].Body.Text)
	}
}

// A promise to pay holds dunning until the promised date and its grace;
// broken, it raises an alert and the next email says so, once.
func TestABrokenPromiseResumesDunningWithTheBrokenPromiseEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Promiser", "UTC", "en")
	inv := h.invoice(c, "PR-1", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-12-02", "UTC")) // the overdue reminder
	h.now = at("2026-12-03", "UTC")
	amount := int64(125000)
	p, err := h.bill.MakePromise(ctx, c.ID, billing.PromiseInput{Amount: &amount, PromisedOn: "2026-12-10", TakenBy: "sam@firm.example", Channel: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	if p.CheckOn() != civil.MustParse("2026-12-14") || len(p.InvoiceIDs) != 1 || p.InvoiceIDs[0] != inv.ID {
		t.Fatalf("promise %+v", p)
	}
	for d := civil.MustParse("2026-12-03"); d.Before(civil.MustParse("2026-12-14")); d = d.AddDays(1) {
		h.sweepAt(at(d.String(), "UTC"))
	}
	if n := len(h.mail()); n != 1 {
		t.Fatalf("%d emails while the promise was open, want only the reminder before it", n)
	}
	planned, _, err := h.sweeper.Preview(ctx, at("2026-12-14", "UTC"))
	if err != nil || len(planned) != 1 {
		t.Fatalf("preview on the check day: %d emails, %v", len(planned), err)
	}
	h.sweepAt(at("2026-12-14", "UTC"))
	h.sweepAt(at("2026-12-15", "UTC"))
	mail := h.mail()
	if len(mail) > 1 && planned[0].Text != mail[1].Body.Text {
		t.Errorf("the preview on the check day:\n%s\nbut the sweep sent:\n%s", planned[0].Text, mail[1].Body.Text)
	}
	if len(mail) != 3 {
		t.Fatalf("%d emails, want 3: %q", len(mail), subjects(mail))
	}
	if !strings.Contains(mail[1].Body.Text, "You promised to pay €1,250.00 by 2026-12-10") || !strings.HasPrefix(mail[1].Subject, "Payment overdue") {
		t.Errorf("the email after the broken promise:\n%s\n%s", mail[1].Subject, mail[1].Body.Text)
	}
	if strings.Contains(mail[2].Body.Text, "You promised") {
		t.Error("the broken promise is mentioned again in the next email")
	}
	ps, _ := h.bill.ListPromises(ctx, c.ID)
	all, _ := h.bill.ListAlerts(ctx, billing.AlertOpen, c.ID)
	var alerts []*billing.Alert
	for _, a := range all {
		if a.Kind != billing.AlertGradeDropped { // the broken promise lowers the grade too
			alerts = append(alerts, a)
		}
	}
	if len(ps) != 1 || ps[0].State != billing.PromiseBroken || len(alerts) != 1 || alerts[0].Kind != billing.AlertPromiseBroken || alerts[0].Ref != p.ID {
		t.Fatalf("promises %+v, alerts %+v", ps, alerts)
	}
	if a, err := h.bill.SetAlertState(ctx, alerts[0].ID, billing.AlertResolved); err != nil || a.State != billing.AlertResolved {
		t.Fatalf("resolve: %+v %v", a, err)
	}
	if open, _ := h.bill.ListAlerts(ctx, billing.AlertOpen, ""); len(open) != len(all)-1 {
		t.Errorf("%d open alerts after resolving one of %d", len(open), len(all))
	}
	// The promises report counts it broken.
	rep, err := h.bill.Promises(ctx, civil.MustParse("2026-11-01"), civil.MustParse("2026-12-31"))
	if tally := rep.ByCurrency["EUR"]; err != nil || tally == nil || tally.Made != 1 || tally.Broken != 1 || tally.AmountBroken != p.Amount {
		t.Errorf("promises report: %+v %v", tally, err)
	}
}

// A promise kept (the promised part arrived in time) lets the ladder go
// on for what is left, with no alert and no mention of promises.
func TestAKeptPromiseResumesTheLadderQuietly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Keeper", "UTC", "en")
	inv := h.invoice(c, "PK-1", "2026-11-01", "2026-12-01")
	h.now = at("2026-12-02", "UTC")
	part := int64(50000)
	p, err := h.bill.MakePromise(ctx, c.ID, billing.PromiseInput{Amount: &part, PromisedOn: "2026-12-05", InvoiceIDs: []string{inv.ID}})
	if err != nil {
		t.Fatal(err)
	}
	h.now = at("2026-12-04", "UTC")
	if _, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: &part}); err != nil {
		t.Fatal(err)
	}
	for d := civil.MustParse("2026-12-02"); d.Before(civil.MustParse("2026-12-10")); d = d.AddDays(1) {
		h.sweepAt(at(d.String(), "UTC"))
	}
	mail := h.mail()
	if len(mail) != 1 || strings.Contains(mail[0].Body.Text, "promised") || !strings.Contains(mail[0].Body.Text, "€750.00") {
		t.Fatalf("emails after the kept promise: %q", subjects(mail))
	}
	ps, _ := h.bill.ListPromises(ctx, c.ID)
	alerts, _ := h.bill.ListAlerts(ctx, "", c.ID)
	if len(ps) != 1 || ps[0].ID != p.ID || ps[0].State != billing.PromiseKept || len(alerts) != 0 {
		t.Errorf("promises %+v, alerts %+v", ps, alerts)
	}
}

// A promised invoice paid in full is released from the promise, so a
// chargeback that reopens it can be promised again; the promise counts as
// kept by the money received, not by balances.
func TestAPaidPromisedInvoiceCanBePromisedAgainAfterAChargeback(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Again", "UTC", "en")
	inv := h.invoice(c, "AG-1", "2026-11-01", "2026-12-01")
	h.now = at("2026-12-02", "UTC")
	all := int64(125000)
	if _, err := h.bill.MakePromise(ctx, c.ID, billing.PromiseInput{Amount: &all, PromisedOn: "2026-12-05"}); err != nil {
		t.Fatal(err)
	}
	p := markPaid(t, h, inv.ID)
	if got, _ := h.store.GetInvoice(ctx, inv.ID); got.PromiseID != "" {
		t.Errorf("a paid invoice still carries promise %s", got.PromiseID)
	}
	h.now = at("2026-12-20", "UTC")
	if _, err := h.bill.Reverse(ctx, p.ID, billing.ReversalInput{Kind: billing.KindChargeback}); err != nil {
		t.Fatal(err)
	}
	again := int64(1000)
	if _, err := h.bill.MakePromise(ctx, c.ID, billing.PromiseInput{Amount: &again, PromisedOn: "2026-12-28"}); err != nil {
		t.Errorf("promising the reopened invoice: %v", err)
	}
	ps, _ := h.bill.ListPromises(ctx, c.ID)
	if len(ps) != 2 || ps[0].State != billing.PromiseKept {
		t.Errorf("promises: %+v", ps)
	}
	if alerts, _ := h.bill.ListAlerts(ctx, "", c.ID); len(alerts) != 0 {
		t.Errorf("alerts: %+v", alerts)
	}
}

// A customer that usually pays on time and is now late raises an alert
// with its first overdue reminder; a habitually late one does not.
func TestLateForOnceRaisesAnAlert(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	punctual, habitual := h.customer("Punctual", "UTC", "en"), h.customer("Habitual", "UTC", "en")
	for i, c := range []*billing.Customer{punctual, habitual} {
		for m := 3; m <= 5; m++ {
			due := fmt.Sprintf("2026-%02d-15", m)
			inv := h.invoice(c, fmt.Sprintf("H%d-%d", i, m), fmt.Sprintf("2026-%02d-01", m), due)
			paid := due // on time
			if c == habitual {
				paid = fmt.Sprintf("2026-%02d-25", m) // ten days late
			}
			h.now = at(paid, "UTC")
			markPaid(t, h, inv.ID)
		}
		h.invoice(c, fmt.Sprintf("N%d", i), "2026-11-01", "2026-12-01")
	}
	h.sweepAt(at("2026-12-02", "UTC"))
	alerts, _ := h.bill.ListAlerts(ctx, billing.AlertOpen, "")
	if len(alerts) != 1 || alerts[0].CustomerID != punctual.ID || alerts[0].Kind != billing.AlertUsuallyOnTimeLate {
		t.Errorf("alerts: %+v", alerts)
	}
	h.sweepAt(at("2026-12-08", "UTC")) // the next step: no second alert
	if again, _ := h.bill.ListAlerts(ctx, billing.AlertOpen, ""); len(again) != 1 {
		t.Errorf("%d alerts after the second reminder", len(again))
	}
}

// What the sweep changes is in the audit trail, as the sweep's doing:
// the invoice's step and next action, with the values before and after.
func TestSweepChangesAreAudited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	c := h.customer("Audited", "UTC", "en")
	inv := h.invoice(c, "AUD-1", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-11-28", "UTC")) // the "upcoming" reminder
	if n := len(h.mail()); n != 1 {
		t.Fatalf("%d emails", n)
	}
	var recs []*audit.Record
	if err := h.store.ListAudit(t.Context(), inv.ID, "", 100, func(r *audit.Record, _ string) bool { recs = append(recs, r); return true }); err != nil {
		t.Fatal(err)
	}
	var step *audit.Change
	for _, r := range recs {
		if r.Actor != "system:sweep" {
			continue
		}
		if r.Via != "sweep" || r.Action != "update" || r.CustomerID != c.ID {
			t.Errorf("sweep record %+v", r)
		}
		for i, ch := range r.Changes {
			if ch.Field == "dunning_step" {
				step = &r.Changes[i]
			}
		}
	}
	if step == nil || len(step.Before) == 0 || string(step.Before) == string(step.After) {
		t.Fatalf("no step change by the sweep in %+v", recs)
	}
	var emails []*audit.Record
	if err := h.store.ListAudit(t.Context(), c.ID, "", 100, func(r *audit.Record, _ string) bool {
		if r.Kind == "dunning_email" {
			emails = append(emails, r)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(emails) != 1 || emails[0].Actor != "system:sweep" {
		t.Errorf("the email's record: %+v", emails)
	}
}

// An installment plan: each installment is dunned from its own date, for
// its own amount; a paid installment stops the ladder until the next one's
// date, and money is applied to the installments in order.
func TestInstallmentsAreDunnedOnTheirOwnDates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Planned", "UTC", "en")
	inv := h.invoice(c, "PLAN-1", "2026-11-01", "2026-12-01") // 1,250.00 EUR
	h.now = at("2026-11-20", "UTC")
	amt := func(v int64) *int64 { return &v }
	plan := billing.PlanInput{Installments: []billing.InstallmentInput{
		{DueOn: "2026-12-01", Amount: amt(50000)}, {DueOn: "2027-01-01", Amount: amt(50000)}, {DueOn: "2027-02-01", Amount: amt(25000)}}}
	if _, err := h.bill.MakePlan(ctx, inv.ID, plan); err != nil {
		t.Fatal(err)
	}
	sent := 0
	expect := func(day, want string) {
		t.Helper()
		h.sweepAt(at(day, "UTC"))
		mail := h.mail()
		switch {
		case want == "" && len(mail) != sent:
			t.Fatalf("%s: an email went: %s", day, mail[len(mail)-1].Body.Text)
		case want == "":
		case len(mail) != sent+1:
			t.Fatalf("%s: %d emails, want one more than %d", day, len(mail), sent)
		case !strings.Contains(mail[sent].Body.Text, want):
			t.Fatalf("%s: the email does not say %q:\n%s", day, want, mail[sent].Body.Text)
		default:
			sent++
		}
	}
	expect("2026-11-28", "PLAN-1 (installment 1/3): €500.00, Due 2026-12-01")
	expect("2026-12-02", "PLAN-1 (installment 1/3): €500.00, Due 2026-12-01 (Days overdue: 1)")
	// Part of the first installment, then the rest of it and a little of the second.
	h.now = at("2026-12-03", "UTC")
	for _, p := range []int64{20000, 40000} {
		if _, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: amt(p), ReceivedOn: "2026-12-03"}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := h.store.GetInvoice(ctx, inv.ID)
	if i, left, ok := got.CurrentInstallment(); !ok || i != 1 || left != 40000 || got.Balance != 65000 {
		t.Fatalf("after paying 600.00: installment %d, %d left of it, balance %d", i, left, got.Balance)
	}
	expect("2026-12-08", "") // the first installment's ladder stopped with it
	expect("2026-12-15", "")
	expect("2026-12-29", "PLAN-1 (installment 2/3): €400.00, Due 2027-01-01")
	expect("2027-01-02", "PLAN-1 (installment 2/3): €400.00, Due 2027-01-01 (Days overdue: 1)")
	expect("2027-01-08", "PLAN-1 (installment 2/3): €400.00, Due 2027-01-01 (Days overdue: 7)")
}

// A plan must add up to the balance, in date order, on an open invoice.
func TestInstallmentPlansAreChecked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Checked", "UTC", "en")
	inv := h.invoice(c, "PLAN-2", "2026-11-01", "2026-12-01")
	h.now = at("2026-11-20", "UTC")
	amt := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name  string
		parts []billing.InstallmentInput
		field string
	}{
		{"none", nil, "installments"},
		{"short of the balance", []billing.InstallmentInput{{DueOn: "2026-12-01", Amount: amt(100000)}}, "installments"},
		{"out of order", []billing.InstallmentInput{{DueOn: "2027-01-01", Amount: amt(100000)}, {DueOn: "2026-12-01", Amount: amt(25000)}}, "installments[1].due_on"},
		{"a zero part", []billing.InstallmentInput{{DueOn: "2026-12-01", Amount: amt(0)}, {DueOn: "2027-01-01", Amount: amt(125000)}}, "installments[0].amount"},
		{"a bad date", []billing.InstallmentInput{{DueOn: "2026-13-01", Amount: amt(125000)}}, "installments[0].due_on"},
		{"before the invoice", []billing.InstallmentInput{{DueOn: "2026-10-01", Amount: amt(125000)}}, "installments[0].due_on"},
	} {
		_, err := h.bill.MakePlan(ctx, inv.ID, billing.PlanInput{Installments: tc.parts})
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != tc.field {
			t.Errorf("%s: %v, want invalid %s", tc.name, err, tc.field)
		}
	}
	if got, _ := h.store.GetInvoice(ctx, inv.ID); got.Plan != nil || got.Version != inv.Version {
		t.Errorf("a refused plan was written: %+v", got.Plan)
	}
}

// A score is recomputed by the sweep after a change marks it, and again on
// the day time alone changes it; in between the rescoring pass reads
// nothing of the customer.
func TestScoresAreRecomputedAfterChangesAndOnTheirDays(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Scored", "UTC", "en")
	inv := h.invoice(c, "SC-1", "2026-11-01", "2026-12-01")
	score := func() *billing.CreditScore {
		t.Helper()
		cs, err := h.store.GetScore(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	// Creating the invoice marked the customer: the next sweep scores it.
	if sum := h.sweepAt(at("2026-11-20", "UTC")); sum.Rescored != 1 {
		t.Fatalf("first sweep rescored %d", sum.Rescored)
	}
	cs := score()
	if cs.Score.Grade != "A" || cs.Score.Score != 90 || cs.RescoreOn.String() != "2026-12-02" {
		t.Fatalf("first score: %s %d, next %s", cs.Score.Grade, cs.Score.Score, cs.RescoreOn)
	}
	if sum := h.sweepAt(at("2026-11-21", "UTC")); sum.Rescored != 0 {
		t.Errorf("nothing changed, yet %d rescored", sum.Rescored)
	}
	// Paid on time: the payment marks it again.
	h.now = at("2026-11-25", "UTC")
	total := inv.Total
	if _, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: &total}); err != nil {
		t.Fatal(err)
	}
	if sum := h.sweepAt(at("2026-11-25", "UTC")); sum.Rescored != 1 {
		t.Fatalf("after the payment, %d rescored", sum.Rescored)
	}
	// Settled on 11-25: it leaves the last 90 days on 2027-02-23.
	if cs := score(); cs.RescoreOn.String() != "2027-02-23" || cs.Version < 2 {
		t.Fatalf("after the payment: next %s, version %d", cs.RescoreOn, cs.Version)
	}
	h.now = at("2027-02-22", "UTC").Add(-14 * time.Hour) // the day before, even at UTC+14
	if n, err := h.bill.RescoreDue(ctx, h.now); err != nil || n != 0 {
		t.Errorf("the day before: %d rescored, %v", n, err)
	}
	h.now = at("2027-02-23", "UTC")
	if n, err := h.bill.RescoreDue(ctx, h.now); err != nil || n != 1 {
		t.Errorf("on the day: %d rescored, %v", n, err)
	}
	if cs := score(); cs.RescoreOn.String() != "2027-11-25" {
		t.Errorf("then due when it leaves the 12 months: %s", cs.RescoreOn)
	}
}

// A policy that claims a grade duns the customers of that grade that are
// not assigned a policy by name, from the invoice's next scheduled action
// on (as any change of policy does).
func TestTheGradeChoosesThePolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	strict := dunning.Policy{Name: "strict", WeeklyCap: 3, Grades: []string{"B"}, Steps: []dunning.Step{
		{Name: "demand", OffsetDays: 2, Tone: dunning.Final, Email: true}}}
	if err := h.store.PutPolicy(ctx, &strict, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := h.customer("Graded", "UTC", "en")
	h.invoice(c, "GR-1", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-11-20", "UTC")) // scored A: the standard ladder
	h.sweepAt(at("2026-12-02", "UTC")) // its reminder; then rescored B (all it owes is overdue)
	if got, _ := h.store.GetCustomer(ctx, c.ID); got.Grade != "B" {
		t.Fatalf("grade %q", got.Grade)
	}
	h.sweepAt(at("2026-12-08", "UTC")) // next look: B, so the strict ladder's demand, not the standard's firm letter
	mail := h.mail()
	if len(mail) != 2 || !strings.HasPrefix(mail[0].Subject, "Reminder:") || !strings.HasPrefix(mail[1].Subject, "Final notice:") {
		var subjects []string
		for _, m := range mail {
			subjects = append(subjects, m.Subject)
		}
		t.Fatalf("emails: %q", subjects)
	}
}

// The daily digest: once a firm-local day, from the digest hour, the new
// alerts since the last one go to the collections address; a day without
// new alerts sends nothing; hostile names are escaped.
func TestTheDailyDigestListsNewAlertsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	h.settings.Digest, h.settings.DigestHour = true, 7
	h.settings.CollectionsEmail = "collections@" + h.domain
	h.sweeper = sweep.New(h.store, h.mailer, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	limit := int64(100000)
	c, err := h.bill.CreateCustomer(ctx, billing.CustomerCreate{Name: `<b>Bold</b> & Co`, Email: "bold@" + h.domain, Timezone: "UTC", CreditLimit: &limit})
	if err != nil {
		t.Fatal(err)
	}
	h.now = at("2026-11-23", "UTC").Add(-4 * time.Hour) // 06:00 London
	h.invoice(c, "DG-1", "2026-11-01", "2026-12-01")    // 1,250.00 over a 1,000.00 limit: an alert
	digests := func() []testenv.SentEmail {
		var out []testenv.SentEmail
		for _, m := range h.mail() {
			if strings.HasPrefix(m.Subject, "Dunlin digest") {
				out = append(out, m)
			}
		}
		return out
	}
	if sum := h.sweepAt(h.now); sum.Digest != "" || len(digests()) != 0 {
		t.Fatalf("before the digest hour: %q", sum.Digest)
	}
	if sum := h.sweepAt(at("2026-11-23", "UTC").Add(-3 * time.Hour)); sum.Digest != "sent" { // 07:00 London
		t.Fatalf("at the digest hour: %q", sum.Digest)
	}
	got := digests()
	if len(got) != 1 || got[0].Subject != "Dunlin digest 2026-11-23: 1 new alert(s)" ||
		!strings.Contains(got[0].Body.Text, "[exposure_over_limit] <b>Bold</b> & Co:") ||
		!strings.Contains(got[0].Body.HTML, "&lt;b&gt;Bold&lt;/b&gt; &amp; Co") {
		t.Fatalf("digest: %+v", got)
	}
	if sum := h.sweepAt(at("2026-11-23", "UTC")); sum.Digest != "" || len(digests()) != 1 {
		t.Errorf("a second digest the same day: %q", sum.Digest)
	}
	// The next day: nothing new, nothing sent.
	if sum := h.sweepAt(at("2026-11-24", "UTC")); sum.Digest != "empty" || len(digests()) != 1 {
		t.Errorf("a day without alerts: %q, %d digests: %s", sum.Digest, len(digests()), digests()[len(digests())-1].Body.Text)
	}
}

// The forecast leaves out what credit on account will pay, and shows an
// invoice under a promise only from the promise's check day, as a step
// that comes if the promise is broken.
func TestForecastFollowsCreditAndPromises(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("ForeCredit", "UTC", "en")
	h.now = at("2026-11-20", "UTC")
	paid := h.invoice(c, "FC-1", "2026-11-01", "2026-12-01")
	h.invoice(c, "FC-2", "2026-11-02", "2026-12-02")
	// Paying FC-1 twice over leaves 1,250.00 of credit on account.
	over := 2 * paid.Total
	if _, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: &over, Allocations: []billing.AllocationInput{{InvoiceID: paid.ID, Amount: &paid.Total}}}); err != nil {
		t.Fatal(err)
	}
	promised := h.customer("ForePromise", "UTC", "en")
	held := h.invoice(promised, "FP-1", "2026-11-01", "2026-12-01")
	amount := held.Total
	if _, err := h.bill.MakePromise(ctx, promised.ID, billing.PromiseInput{Amount: &amount, PromisedOn: "2026-12-10", InvoiceIDs: []string{held.ID}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.sweeper.Forecast(ctx, h.now, 30)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range got {
		lines = append(lines, fmt.Sprintf("%s %s %s %v", f.On, f.Number, f.Step, f.IfPromiseBroken))
	}
	// FC-2 is paid by the credit when its first step comes; FP-1 waits
	// for the check day (promised 12-10, 3 days' grace: 12-14), then
	// takes the step due then, and the next on its day.
	want := "2026-12-14 FP-1 second true|2026-12-15 FP-1 final true"
	if strings.Join(lines, "|") != want {
		t.Errorf("forecast:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
}

// Paying an installment off after its ladder has run out puts the invoice
// back in the queue: the next installment is dunned from its own date.
func TestAPaidInstallmentWakesTheNext(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Woken", "UTC", "en")
	inv := h.invoice(c, "PLAN-3", "2026-11-01", "2026-12-01")
	h.now = at("2026-11-20", "UTC")
	amt := func(v int64) *int64 { return &v }
	if _, err := h.bill.MakePlan(ctx, inv.ID, billing.PlanInput{Installments: []billing.InstallmentInput{
		{DueOn: "2026-12-01", Amount: amt(100000)}, {DueOn: "2027-03-01", Amount: amt(25000)}}}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"2026-11-28", "2026-12-02", "2026-12-08", "2026-12-15", "2026-12-31"} {
		h.sweepAt(at(d, "UTC"))
	}
	if got, _ := h.store.GetInvoice(ctx, inv.ID); !got.NextActionOn.IsZero() {
		t.Fatalf("the first installment's ladder is not finished: next %s", got.NextActionOn)
	}
	h.now = at("2027-01-05", "UTC")
	if _, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: amt(100000)}); err != nil {
		t.Fatal(err)
	}
	h.sweepAt(at("2027-01-05", "UTC")) // looks, and waits for the next installment's ladder
	before := len(h.mail())
	h.sweepAt(at("2027-02-26", "UTC"))
	mail := h.mail()
	if len(mail) != before+1 || !strings.Contains(mail[len(mail)-1].Body.Text, "PLAN-3 (installment 2/2): €250.00, Due 2027-03-01") {
		t.Fatalf("no reminder for the second installment: %d emails, last:\n%s", len(mail)-before, mail[len(mail)-1].Body.Text)
	}
}

// A customer whose rescoring day has come somewhere on earth but not yet
// in its own zone is left alone until it has.
func TestRescoringWaitsForTheCustomersOwnDay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("West", "America/Los_Angeles", "en")
	h.invoice(c, "LA-1", "2026-11-01", "2026-12-01")
	h.now = at("2026-11-20", "America/Los_Angeles")
	if n, err := h.bill.RescoreDue(ctx, h.now); err != nil || n != 1 {
		t.Fatalf("first scoring: %d, %v", n, err)
	}
	first, _ := h.store.GetScore(ctx, c.ID)
	if first.RescoreOn.String() != "2026-12-02" {
		t.Fatalf("next rescoring on %s", first.RescoreOn)
	}
	// 2026-12-02 has begun east of Los Angeles, not in it (it is 12-01 there).
	h.now = time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	if n, err := h.bill.RescoreDue(ctx, h.now); err != nil || n != 0 {
		t.Errorf("before its day: %d rescored, %v", n, err)
	}
	if got, _ := h.store.GetScore(ctx, c.ID); got.Version != first.Version {
		t.Errorf("the score was rewritten before its day: version %d, was %d", got.Version, first.Version)
	}
	h.now = at("2026-12-02", "America/Los_Angeles")
	if n, err := h.bill.RescoreDue(ctx, h.now); err != nil || n != 1 {
		t.Errorf("on its day: %d rescored, %v", n, err)
	}
}

// One email speaks for at most MaxInvoicesPerEmail invoices, the oldest;
// its record (with every invoice's audit record) fits one transaction.
func TestOneEmailCoversAtMostTwentyFiveInvoices(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	c := h.customer("Many", "UTC", "en")
	h.now = at("2026-11-20", "UTC")
	for i := range sweep.MaxInvoicesPerEmail + 2 {
		h.invoice(c, fmt.Sprintf("M-%02d", i), "2026-11-01", fmt.Sprintf("2026-12-%02d", 1+i%5))
	}
	sum := h.sweepAt(at("2026-12-09", "UTC"))
	if sum.Sent != 1 || sum.Skipped["over_email_limit"] != 2 {
		t.Fatalf("summary %+v", sum)
	}
	mail := h.mail()
	if len(mail) != 1 || !strings.Contains(mail[0].Subject, fmt.Sprint(sweep.MaxInvoicesPerEmail, " invoices")) {
		t.Fatalf("emails: %d, subject %q", len(mail), mail[0].Subject)
	}
	// Each invoice was newly overdue, so each raised invoice.overdue in
	// the email's transaction; every invoice still has its own audit
	// record of the send, not one folded record for all.
	page, err := h.bill.ListInvoices(t.Context(), billing.InvoiceQuery{CustomerID: c.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, inv := range page.Items {
		if inv.DunningStep < 0 {
			continue // one of the two left for the next email
		}
		var recs []*audit.Record
		if err := h.store.ListAudit(t.Context(), inv.ID, "", 100, func(r *audit.Record, _ string) bool { recs = append(recs, r); return true }); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Actor == "system:sweep" && r.Entity == inv.ID {
				audited++
				break
			}
		}
	}
	if audited != sweep.MaxInvoicesPerEmail {
		t.Errorf("%d of the %d invoices emailed about have their own audit record of it", audited, sweep.MaxInvoicesPerEmail)
	}
}

// Which reminders work: per ladder step and template, the invoices paid
// off and the money received within 7 and 14 days of the email.
func TestDunningEffectivenessPerStep(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	a, b := h.customer("EffA", "UTC", "en"), h.customer("EffB", "UTC", "en")
	h.invoice(a, "EF-A", "2026-11-01", "2026-12-01") // 1,250.00 each
	h.invoice(b, "EF-B", "2026-11-01", "2026-12-01")
	pay := func(c *billing.Customer, day string, amount int64) {
		t.Helper()
		h.now = at(day, "UTC")
		if _, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: &amount}); err != nil {
			t.Fatal(err)
		}
	}
	h.sweepAt(at("2026-11-28", "UTC")) // "upcoming" to both
	pay(a, "2026-12-03", 125000)       // A: 5 days after it
	h.sweepAt(at("2026-12-02", "UTC")) // "overdue" to B only
	pay(b, "2026-12-10", 62500)        // B: half, 12 days after the first email, 8 after the second
	pay(b, "2026-12-20", 62500)        // the rest, 22 and 18 days after
	rep, err := h.bill.DunningEffectiveness(ctx, civil.MustParse("2026-11-01"), civil.MustParse("2026-12-31"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Rows {
		got = append(got, fmt.Sprintf("%s/%s/%s/%s: %d emails, %d invoices, paid %d in 7 days %d in 14, got %v in 7 days %v in 14",
			r.Kind, r.Step, r.Tone, r.Language, r.Emails, r.Invoices, r.Paid7, r.Paid14, r.Collected7, r.Collected14))
	}
	want := []string{
		"customer/overdue/reminder/en: 1 emails, 1 invoices, paid 0 in 7 days 0 in 14, got map[] in 7 days map[EUR:62500] in 14",
		"customer/upcoming/friendly/en: 2 emails, 2 invoices, paid 1 in 7 days 1 in 14, got map[EUR:125000] in 7 days map[EUR:187500] in 14",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("report:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// DSO and CEI over November, worked by hand from the receivables
// snapshots the sweep takes on the first run of each day:
//
//	1 Nov  open 1,000.00 (I-1, due 31 Oct: overdue)
//	10 Nov I-2 issued, 600.00, due 10 Dec     sales 600.00
//	20 Nov 700.00 paid on I-1
//	1 Dec  open 300.00 + 600.00 = 900.00, of which 600.00 not yet due
//
//	DSO = 900 / 600 x 30 days = 45.0
//	CEI = (1000 + 600 - 900) / (1000 + 600 - 600) x 100 = 70.0
func TestDSOAndCEIFromDailySnapshots(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	c := h.customer("Dso", "Europe/London", "en")
	amt := func(v int64) *int64 { return &v }
	h.now = at("2026-10-01", "Europe/London")
	if _, err := h.bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: "I-1", Total: amt(100000), IssuedOn: "2026-10-01", DueOn: "2026-10-31"}); err != nil {
		t.Fatal(err)
	}
	h.sweepAt(at("2026-11-01", "Europe/London"))
	h.sweepAt(at("2026-11-01", "Europe/London").Add(time.Hour)) // a second run takes no second snapshot
	h.now = at("2026-11-10", "Europe/London")
	if _, err := h.bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: "I-2", Total: amt(60000), IssuedOn: "2026-11-10", DueOn: "2026-12-10"}); err != nil {
		t.Fatal(err)
	}
	h.now = at("2026-11-20", "Europe/London")
	if _, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: amt(70000)}); err != nil {
		t.Fatal(err)
	}
	h.sweepAt(at("2026-12-01", "Europe/London"))
	h.now = at("2026-12-01", "Europe/London")
	rep, err := h.bill.DSO(ctx, civil.MustParse("2026-11-01"), civil.MustParse("2026-11-30"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Figures) != 1 || rep.Days != 30 {
		t.Fatalf("report %+v", rep)
	}
	f := rep.Figures[0]
	got := fmt.Sprintf("%s sales %d, open %d -> %d (%d current), DSO %v, CEI %v", f.Currency, f.Sales, f.BeginOpen, f.EndOpen, f.EndCurrent, *f.DSO, *f.CEI)
	if want := "EUR sales 60000, open 100000 -> 90000 (60000 current), DSO 45, CEI 70"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := h.bill.DSO(ctx, civil.MustParse("2026-10-15"), civil.MustParse("2026-11-30")); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a period before the first snapshot: %v", err)
	}
}

// With links configured, each email to a customer carries its signed
// statement-page link; the firm's own emails do not.
func TestEmailsLinkTheCustomersStatementPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	signer := &links.Signer{Secrets: secrets.Static{"s3cret"}, BaseURL: "https://dunlin.test"}
	h.settings.Links = signer
	h.sweeper = sweep.New(h.store, h.mailer, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := h.customer("Linked", "UTC", "zh-CN")
	h.invoice(c, "LK-1", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-11-28", "UTC"))
	mail := h.mail()
	if len(mail) != 1 {
		t.Fatalf("%d emails", len(mail))
	}
	i := strings.Index(mail[0].Body.Text, "https://dunlin.test/s/")
	if i < 0 || !strings.Contains(mail[0].Body.Text, "查看对账单") || !strings.Contains(mail[0].Body.HTML, "https://dunlin.test/s/"+c.ID+".") {
		t.Fatalf("no link:\n%s", mail[0].Body.Text)
	}
	tok := strings.Fields(mail[0].Body.Text[i+len("https://dunlin.test/s/"):])[0]
	if got, err := signer.Check(context.Background(), tok, at("2026-11-28", "UTC")); err != nil || got != c.ID {
		t.Errorf("the link opens %q, %v", got, err)
	}
}

// The run that takes the day's receivables snapshot reports what is
// overdue per currency, from the snapshot's one read of the open
// invoices; later runs that day report nothing. An invoice is overdue
// from the day after its due date; a paid one is not counted.
func TestTheDaysFirstRunReportsWhatIsOverdue(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	eur := h.customer("Owed", "Europe/London", "en")
	usd, err := h.bill.CreateCustomer(ctx, billing.CustomerCreate{Name: "Dollar", Email: "dollar@" + h.domain, Currency: "USD", Timezone: "Europe/London"})
	if err != nil {
		t.Fatal(err)
	}
	amt := func(v int64) *int64 { return &v }
	h.now = at("2026-10-01", "Europe/London")
	for _, in := range []billing.InvoiceCreate{
		{CustomerID: eur.ID, Number: "O-1", Total: amt(100000), IssuedOn: "2026-10-01", DueOn: "2026-10-31"},
		{CustomerID: eur.ID, Number: "O-2", Total: amt(60000), IssuedOn: "2026-10-01", DueOn: "2026-11-01"},
		{CustomerID: usd.ID, Number: "O-3", Total: amt(25000), IssuedOn: "2026-10-01", DueOn: "2026-10-15"},
		{CustomerID: usd.ID, Number: "O-4", Total: amt(5000), IssuedOn: "2026-10-01", DueOn: "2026-10-10"},
	} {
		if _, err := h.bill.CreateInvoice(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// O-4, the oldest dollar invoice, is paid: nothing of it is overdue.
	if _, err := h.bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: usd.ID, Amount: amt(5000)}); err != nil {
		t.Fatal(err)
	}
	show := func(o []billing.Overdue) string { return fmt.Sprint(o) }
	if got, want := show(h.sweepAt(at("2026-11-01", "Europe/London")).Overdue), "[{EUR 100000 1} {USD 25000 1}]"; got != want {
		t.Errorf("1 Nov: %s, want %s (O-2 is due today, not overdue)", got, want)
	}
	if got := h.sweepAt(at("2026-11-01", "Europe/London").Add(time.Hour)).Overdue; got != nil {
		t.Errorf("a second run the same day reported %v", got)
	}
	if got, want := show(h.sweepAt(at("2026-11-02", "Europe/London")).Overdue), "[{EUR 160000 2} {USD 25000 1}]"; got != want {
		t.Errorf("2 Nov: %s, want %s", got, want)
	}
	snap, err := h.store.GetSnapshot(ctx, civil.MustParse("2026-11-02"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := show(snap.Overdue()), "[{EUR 160000 2} {USD 25000 1}]"; got != want {
		t.Errorf("the stored snapshot: %s, want %s", got, want)
	}
}
