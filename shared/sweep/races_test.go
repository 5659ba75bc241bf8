package sweep_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
	"dunlin/shared/outbound"
	"dunlin/shared/sweep"
)

// hooked runs a function at a chosen moment of a sweep, once: right after
// a send is claimed (before the re-check), or right before it is recorded
// (after SES accepted it).
type hooked struct {
	sweep.Store
	afterClaim, beforeRecord func()
	once1, once2             sync.Once
}

func (h *hooked) ClaimSend(ctx context.Context, snd *dunning.Send) (*dunning.Send, bool, error) {
	prev, ok, err := h.Store.ClaimSend(ctx, snd)
	if ok && h.afterClaim != nil {
		h.once1.Do(h.afterClaim)
	}
	return prev, ok, err
}

func (h *hooked) RecordSend(ctx context.Context, snd *dunning.Send, advanced []*billing.Invoice, hold *billing.Customer, events []*outbound.Event) error {
	if h.beforeRecord != nil {
		h.once2.Do(h.beforeRecord)
	}
	return h.Store.RecordSend(ctx, snd, advanced, hold, events)
}

func (h *harness) hook(hk *hooked) {
	hk.Store = h.store
	h.sweeper = sweep.New(hk, h.mailer, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// A payment that commits after the sweep read the queue (after it claimed
// the send) stops that invoice's email; the email that still goes speaks
// only for the invoices left, in their tone, with no credit hold.
func TestAPaymentAfterTheClaimStopsItsInvoiceAndTheTone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	c := h.customer("Mid", "UTC", "en")
	final := h.invoice(c, "M-1", "2026-10-01", "2026-11-18") // final step due Dec 2
	h.invoice(c, "M-2", "2026-11-01", "2026-12-01")          // reminder due Dec 2
	h.hook(&hooked{afterClaim: func() { markPaid(t, h, final.ID) }})
	sum := h.sweepAt(at("2026-12-02", "UTC"))
	mail := h.mail()
	if sum.Sent != 1 || len(mail) != 1 {
		t.Fatalf("%+v, %d emails", sum, len(mail))
	}
	if !strings.HasPrefix(mail[0].Subject, "Reminder: invoice M-2") || strings.Contains(mail[0].Body.Text, "M-1") {
		t.Errorf("the email still speaks for the paid invoice or in its tone: %q", mail[0].Subject)
	}
	if got, _ := h.store.GetCustomer(context.Background(), c.ID); got.CreditHold {
		t.Error("the paid invoice's final step put the customer on hold")
	}
}

// Another write to an invoice between SES and the record (here a logged
// fee waiver on another fee... any version bump) must not lose the step:
// the step and its fee are recorded once, and nothing is sent twice.
func TestAWriteBetweenSendAndRecordKeepsTheStepAndItsFee(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	h.standardWith(func(p *dunning.Policy) {
		p.Steps[2].Fee = &dunning.Fee{Kind: dunning.FeeFixed, Amounts: map[string]int64{"EUR": 4000}}
	})
	c := h.customer("Race", "UTC", "en")
	inv := h.invoice(c, "R-1", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-11-28", "UTC"))
	h.sweepAt(at("2026-12-02", "UTC"))
	bump := func() { // e.g. a description edited, a payment of another invoice touching it
		cur, _ := h.store.GetInvoice(ctx, inv.ID)
		cur.Description, cur.Version = "edited during the send", cur.Version+1
		if err := h.store.SaveInvoice(ctx, cur); err != nil {
			t.Error(err)
		}
	}
	h.hook(&hooked{beforeRecord: bump})
	h.sweepAt(at("2026-12-08", "UTC")) // the firm letter, with a fee
	h.sweepAt(at("2026-12-09", "UTC"))
	h.sweepAt(at("2026-12-10", "UTC"))
	got, _ := h.store.GetInvoice(ctx, inv.ID)
	if got.DunningStep != 2 || len(got.Fees) != 1 || got.Balance != 125000+4000 || got.Description != "edited during the send" {
		t.Fatalf("step %d, fees %+v, balance %d, description %q", got.DunningStep, got.Fees, got.Balance, got.Description)
	}
	if n := len(h.mail()); n != 3 {
		t.Fatalf("%d emails: the firm letter was sent again", n)
	}
}

// A draft approved the day after it was made is that day's email: a sweep
// later the same day sends nothing more to the customer.
func TestAnApprovedDraftCountsAsTheDaysEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	h.standardWith(func(p *dunning.Policy) {
		p.Steps[1].RequiresApproval = true
	})
	c := h.customer("Apr", "UTC", "en")
	h.invoice(c, "AP-1", "2026-11-01", "2026-12-01") // reminder (needs approval) Dec 2
	h.invoice(c, "AP-2", "2026-11-01", "2026-12-06") // friendly Dec 3
	h.sweepAt(at("2026-12-02", "UTC"))               // draft
	h.now = at("2026-12-03", "UTC")
	if _, _, err := h.sweeper.ApproveDraft(ctx, h.now, c.ID, civil.MustParse("2026-12-02"), dunning.ToCustomer); err != nil {
		t.Fatal(err)
	}
	sum := h.sweepAt(at("2026-12-03", "UTC").Add(time.Hour))
	var dec3 int
	for _, m := range h.mail() {
		if m.Destination.To[0] == c.Email {
			dec3++
		}
	}
	if dec3 != 1 || sum.Sent != 0 {
		t.Fatalf("%d emails to the customer on Dec 3 (sweep %+v), want 1", dec3, sum)
	}
}

// A final notice left in doubt by a crash is settled as if it went: its fee
// is charged and the customer is put on hold, so the email (which may have
// arrived) is never contradicted.
func TestASendInDoubtKeepsItsFeeAndHold(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	h.standardWith(func(p *dunning.Policy) {
		p.Steps[3].Fee = &dunning.Fee{Kind: dunning.FeeFixed, Amounts: map[string]int64{"EUR": 4000}}
	})
	c := h.customer("Doubtfee", "UTC", "en")
	inv := h.invoice(c, "DF-1", "2026-10-01", "2026-11-20") // final step due Dec 4
	crash := &crashAfterSend{Mailer: h.mailer}
	h.sweeper = sweep.New(h.store, crash, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if sum := h.sweepAt(at("2026-12-04", "UTC")); sum.InDoubt != 1 {
		t.Fatalf("%+v", sum)
	}
	h.sweeper = sweep.New(h.store, h.mailer, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.sweepAt(at("2026-12-05", "UTC"))
	got, _ := h.store.GetInvoice(ctx, inv.ID)
	if got.DunningStep != 3 || len(got.Fees) != 1 || got.Fees[0].Amount != 4000 || got.Balance != 125000+4000 {
		t.Errorf("after settling: step %d, fees %+v, balance %d", got.DunningStep, got.Fees, got.Balance)
	}
	if cust, _ := h.store.GetCustomer(ctx, c.ID); !cust.CreditHold {
		t.Error("the final notice in doubt did not put the customer on hold")
	}
	if n := len(h.mail()); n != 1 {
		t.Errorf("%d emails: the notice in doubt was resent", n)
	}
}

// Editing a policy mid-ladder neither re-sends what was sent nor charges a
// fee twice: progress is kept by offset, and fees by step name. (A step
// inserted before the one taken would, read by index, make the reminder
// look untaken.)
func TestEditingThePolicyKeepsEachInvoicesPlaceOnTheLadder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allDays())
	ctx := context.Background()
	pol := h.standardWith(func(p *dunning.Policy) {
		p.Steps[1].Fee = &dunning.Fee{Kind: dunning.FeeFixed, Amounts: map[string]int64{"EUR": 1000}}
		p.WeeklyCap = 7 // so only the ladder decides what goes out
	})
	c := h.customer("Edit", "UTC", "en")
	inv := h.invoice(c, "E-1", "2026-11-01", "2026-12-01")
	h.sweepAt(at("2026-11-28", "UTC"))
	h.sweepAt(at("2026-12-02", "UTC")) // overdue (+1), with its fee
	// The firm inserts a step before the one taken.
	edited := pol
	edited.Steps = append([]dunning.Step{pol.Steps[0], {Name: "duetoday", OffsetDays: 0, Tone: dunning.Friendly, Email: true}}, pol.Steps[1:]...)
	if err := edited.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.store.PutPolicy(ctx, &edited, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A dispute opened and resolved puts the invoice back in today's queue.
	h.now = at("2026-12-03", "UTC")
	if _, err := h.bill.DisputeInvoice(ctx, inv.ID, "checking"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.bill.ResolveDispute(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"2026-12-03", "2026-12-08"} {
		h.sweepAt(at(d, "UTC"))
	}
	var subjects []string
	for _, m := range h.mail() {
		subjects = append(subjects, m.Subject)
	}
	want := []string{"Invoice E-1 is due on 2026-12-01", "Reminder: invoice E-1 is now overdue", "Payment overdue: invoice E-1 - please pay now"}
	if strings.Join(subjects, "|") != strings.Join(want, "|") {
		t.Fatalf("emails after the edit:\n%s", strings.Join(subjects, "\n"))
	}
	got, _ := h.store.GetInvoice(ctx, inv.ID)
	if len(got.Fees) != 1 {
		t.Errorf("the overdue step's fee was charged %d times", len(got.Fees))
	}
}
