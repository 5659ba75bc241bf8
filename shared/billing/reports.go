package billing

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
)

// DefaultAgingEdges are the aging buckets' upper edges in days overdue:
// current, 1-30, 31-60, 61-90, over 90.
var DefaultAgingEdges = []int{30, 60, 90}

// Aging is the aged open receivables as at a day.
type Aging struct {
	AsOf      civil.Date
	Buckets   []string           // labels, "current" first
	Customers []*CustomerAging   // by name
	Totals    map[string][]int64 // currency -> amount per bucket
	Invoices  int
}

// CustomerAging is one customer's line of the aging report.
type CustomerAging struct {
	CustomerID string
	Name       string
	Amounts    map[string][]int64 // currency -> amount per bucket
}

// AgingBuckets labels buckets for edges: current, 1-30, 31-60, ..., 90+.
func AgingBuckets(edges []int) []string {
	out := []string{"current"}
	lo := 1
	for _, e := range edges {
		out = append(out, fmt.Sprintf("%d-%d", lo, e))
		lo = e + 1
	}
	return append(out, fmt.Sprintf("%d+", lo-1))
}

// bucketOf is the bucket index for days overdue.
func bucketOf(days int, edges []int) int {
	if days <= 0 {
		return 0
	}
	for i, e := range edges {
		if days <= e {
			return i + 1
		}
	}
	return len(edges) + 1
}

// CheckAgingEdges validates bucket edges: 1 to 8 increasing whole days.
func CheckAgingEdges(edges []int) error {
	if len(edges) == 0 || len(edges) > 8 {
		return apperr.Field(apperr.BadRequest, "buckets", "buckets are 1 to 8 increasing numbers of days, e.g. 30,60,90")
	}
	for i, e := range edges {
		if e < 1 || e > 3650 || (i > 0 && e <= edges[i-1]) {
			return apperr.Field(apperr.BadRequest, "buckets", "buckets are 1 to 8 increasing numbers of days, e.g. 30,60,90")
		}
	}
	return nil
}

// AgingReport ages the open receivables as at asOf (today in the firm's
// zone when zero): each open invoice's balance goes in the bucket of its
// days past due at asOf, per customer and currency, with totals. It reads
// the open invoices (one key range of an index: its cost follows what is
// open, never the history) and each customer with something open once.
func (s *Service) AgingReport(ctx context.Context, asOf civil.Date, edges []int) (*Aging, error) {
	if asOf.IsZero() {
		asOf = civil.Today(s.now(), Location(s.firm.Timezone))
	}
	if err := CheckAgingEdges(edges); err != nil {
		return nil, err
	}
	a := &Aging{AsOf: asOf, Buckets: AgingBuckets(edges), Totals: map[string][]int64{}}
	byID := map[string]*CustomerAging{}
	add := func(m map[string][]int64, cur string, b int, v int64) {
		if m[cur] == nil {
			m[cur] = make([]int64, len(a.Buckets))
		}
		m[cur][b] += v
	}
	err := s.store.ListInvoices(ctx, InvoiceRange{State: StateOpen, PageSize: 1000}, func(inv *Invoice, _ string) bool {
		if inv.Balance == 0 {
			return true
		}
		b := bucketOf(asOf.DaysSince(inv.DueOn), edges)
		ca := byID[inv.CustomerID]
		if ca == nil {
			ca = &CustomerAging{CustomerID: inv.CustomerID, Amounts: map[string][]int64{}}
			byID[inv.CustomerID] = ca
		}
		add(ca.Amounts, inv.Currency, b, inv.Balance)
		add(a.Totals, inv.Currency, b, inv.Balance)
		a.Invoices++
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("aging: %w", err)
	}
	for _, ca := range byID {
		c, err := s.store.GetCustomer(ctx, ca.CustomerID)
		if err != nil {
			return nil, fmt.Errorf("aging: customer %s: %w", ca.CustomerID, err)
		}
		ca.Name = c.Name
		a.Customers = append(a.Customers, ca)
	}
	slices.SortFunc(a.Customers, func(x, y *CustomerAging) int {
		return strings.Compare(strings.ToLower(x.Name)+x.CustomerID, strings.ToLower(y.Name)+y.CustomerID)
	})
	return a, nil
}

// Statement is a customer's statement of account in one currency: the
// balance at the start, every movement in the period with the running
// balance, and the balance at the end. Debits raise what the customer
// owes (invoices, late fees, refunds and chargebacks of its payments);
// credits lower it (payments, credit notes, discounts, voids).
type Statement struct {
	Customer *Customer
	Currency string
	From, To civil.Date
	Opening  int64
	Lines    []StatementLine
	Debits   int64
	Credits  int64
	Closing  int64
}

// StatementLine is one movement on a statement.
type StatementLine struct {
	On          civil.Date
	Kind        string // invoice, late_fee, payment, refund, chargeback, credit_note, discount, void
	Reference   string // the invoice number, payment reference or id, credit note number
	Description string
	Debit       int64
	Credit      int64
	Balance     int64 // running, after this line
}

// maxStatementDays bounds a statement's period.
const maxStatementDays = 3660

// CustomerStatement builds a customer's statement of account from from to
// to (inclusive; to defaults to today in the customer's zone, from to the
// first of to's month) in currency (the customer's when empty). Its reads
// follow the customer's own records. Errors: NotFound; BadRequest naming
// from, to or currency.
func (s *Service) CustomerStatement(ctx context.Context, customerID string, from, to civil.Date, currency string) (*Statement, error) {
	c, err := s.GetCustomer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	if to.IsZero() {
		to = civil.Today(s.now(), Location(s.CustomerZone(c)))
	}
	if from.IsZero() {
		from = civil.Date{Year: to.Year, Month: to.Month, Day: 1}
	}
	switch {
	case from.After(to):
		return nil, apperr.Field(apperr.BadRequest, "from", "from %s is after to %s", from, to)
	case to.DaysSince(from) > maxStatementDays:
		return nil, apperr.Field(apperr.BadRequest, "from", "a statement covers at most %d days", maxStatementDays)
	}
	if currency == "" {
		currency = c.Currency
	} else if currency, err = checkCurrency("currency", currency); err != nil {
		return nil, apperr.Field(apperr.BadRequest, "currency", "currency must be an ISO 4217 code")
	}
	var all []StatementLine
	err = s.store.ListInvoices(ctx, InvoiceRange{CustomerID: c.ID, PageSize: 1000}, func(inv *Invoice, _ string) bool {
		if inv.Currency != currency {
			return true
		}
		all = append(all, StatementLine{On: inv.IssuedOn, Kind: "invoice", Reference: inv.Number, Description: inv.Description, Debit: inv.Total})
		fees := int64(0)
		for _, f := range inv.Fees {
			if !f.Waived { // a waived fee is as if never charged
				fees += f.Amount
				all = append(all, StatementLine{On: f.ChargedOn, Kind: "late_fee", Reference: inv.Number, Description: "late fee, step " + f.StepName, Debit: f.Amount})
			}
		}
		if inv.DiscountTaken > 0 {
			on := inv.PaidOn
			if on.IsZero() {
				on = inv.IssuedOn
			}
			all = append(all, StatementLine{On: on, Kind: "discount", Reference: inv.Number, Description: "early-payment discount", Credit: inv.DiscountTaken})
		}
		if inv.State == StateVoid && inv.VoidedAt != nil {
			if left := inv.Total + fees - inv.Paid - inv.Credited - inv.DiscountTaken; left > 0 {
				all = append(all, StatementLine{On: civil.Today(*inv.VoidedAt, Location(inv.Timezone)), Kind: "void", Reference: inv.Number, Description: inv.VoidReason, Credit: left})
			}
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("statement: invoices: %w", err)
	}
	err = s.store.ListPayments(ctx, PaymentRange{CustomerID: c.ID, PageSize: 1000}, func(p *Payment, _ string) bool {
		if p.Currency != currency || !p.Applied {
			return true
		}
		ref := p.Reference
		if ref == "" {
			ref = p.ID
		}
		all = append(all, StatementLine{On: p.ReceivedOn, Kind: "payment", Reference: ref, Description: "payment, " + p.Method, Credit: p.Amount})
		for _, r := range p.Reversals {
			all = append(all, StatementLine{On: civil.Today(r.At, Location(s.CustomerZone(c))), Kind: r.Kind, Reference: ref, Description: r.Reason, Debit: r.Amount})
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("statement: payments: %w", err)
	}
	notes, err := s.store.ListCreditNotes(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, cn := range notes {
		if cn.Currency == currency {
			ref := cn.Number
			if ref == "" {
				ref = cn.ID
			}
			all = append(all, StatementLine{On: cn.IssuedOn, Kind: "credit_note", Reference: ref, Description: cn.Reason, Credit: cn.Amount})
		}
	}
	// Date order; on one day, what was owed, then what paid it, then what
	// undid a payment.
	order := map[string]int{"invoice": 0, "late_fee": 1, "payment": 2, "discount": 3, "credit_note": 4, "refund": 5, "chargeback": 5, "void": 6}
	slices.SortStableFunc(all, func(a, b StatementLine) int {
		if d := a.On.Compare(b.On); d != 0 {
			return d
		}
		return order[a.Kind] - order[b.Kind]
	})
	st := &Statement{Customer: c, Currency: currency, From: from, To: to, Lines: []StatementLine{}}
	bal := int64(0)
	for _, l := range all {
		switch {
		case l.On.Before(from):
			st.Opening += l.Debit - l.Credit
			bal = st.Opening
		case !l.On.After(to):
			bal += l.Debit - l.Credit
			l.Balance = bal
			st.Debits += l.Debit
			st.Credits += l.Credit
			st.Lines = append(st.Lines, l)
		}
	}
	st.Closing = st.Opening + st.Debits - st.Credits
	return st, nil
}

// Effectiveness is how one ladder step, in one template (tone and
// language), worked over a period: how many emails took it, for how many
// invoices, and how many of those were paid off, and how much money came
// in on them, within 7 and 14 days of the email.
type Effectiveness struct {
	Step, Tone, Language, Kind string
	Emails, Invoices           int
	Paid7, Paid14              int              // invoices paid off within 7 / 14 days
	Collected7, Collected14    map[string]int64 // currency -> payments and credit notes received within 7 / 14 days
}

// maxReportDays bounds a report's period.
const maxReportDays = 366

// DunningEffectiveness reports, for the emails sent on days from to to
// (customer-local), each ladder step and template's results. Its reads
// follow the emails of the period: one Query, then each invoice they
// spoke for once. Errors: BadRequest naming from or to.
func (s *Service) DunningEffectiveness(ctx context.Context, from, to civil.Date) (*EffectivenessReport, error) {
	from, to, err := s.period(from, to)
	if err != nil {
		return nil, err
	}
	var sends []*dunning.Send
	if err := s.store.ListSent(ctx, from, to, func(snd *dunning.Send) bool { sends = append(sends, snd); return true }); err != nil {
		return nil, fmt.Errorf("dunning effectiveness: %w", err)
	}
	invoices := map[string]*Invoice{}
	rows := map[string]*Effectiveness{}
	var order []string
	for _, snd := range sends {
		counted := map[string]bool{}
		for _, st := range snd.Steps {
			k := st.StepName + "|" + string(snd.Tone) + "|" + snd.Language + "|" + string(snd.Kind)
			row := rows[k]
			if row == nil {
				row = &Effectiveness{Step: st.StepName, Tone: string(snd.Tone), Language: snd.Language, Kind: string(snd.Kind),
					Collected7: map[string]int64{}, Collected14: map[string]int64{}}
				rows[k] = row
				order = append(order, k)
			}
			if !counted[k] {
				row.Emails++
				counted[k] = true
			}
			row.Invoices++
			inv, ok := invoices[st.InvoiceID]
			if !ok {
				got, err := s.store.GetInvoice(ctx, st.InvoiceID)
				if err != nil && !apperr.Is(err, apperr.NotFound) {
					return nil, err
				}
				inv, invoices[st.InvoiceID] = got, got
			}
			if inv == nil {
				continue
			}
			if !inv.PaidOn.IsZero() && !inv.PaidOn.Before(snd.Day) {
				if d := inv.PaidOn.DaysSince(snd.Day); d <= 7 {
					row.Paid7++
				}
				if d := inv.PaidOn.DaysSince(snd.Day); d <= 14 {
					row.Paid14++
				}
			}
			for _, m := range inv.Movements {
				if m.Amount >= 0 || m.On.Before(snd.Day) {
					continue
				}
				if d := m.On.DaysSince(snd.Day); d <= 7 {
					row.Collected7[inv.Currency] -= m.Amount
				}
				if d := m.On.DaysSince(snd.Day); d <= 14 {
					row.Collected14[inv.Currency] -= m.Amount
				}
			}
		}
	}
	out := &EffectivenessReport{From: from, To: to}
	for _, k := range order {
		out.Rows = append(out.Rows, rows[k])
	}
	slices.SortStableFunc(out.Rows, func(a, b *Effectiveness) int {
		return strings.Compare(a.Kind+"|"+a.Step+"|"+a.Tone+"|"+a.Language, b.Kind+"|"+b.Step+"|"+b.Tone+"|"+b.Language)
	})
	return out, nil
}

// EffectivenessReport is DunningEffectiveness's answer for a period.
type EffectivenessReport struct {
	From, To civil.Date
	Rows     []*Effectiveness
}

// PromiseTally counts promises to pay and their amounts, in one currency.
type PromiseTally struct {
	Made, Kept, Broken, Open             int
	AmountMade, AmountKept, AmountBroken int64
}

// PromiseReport is promises kept against broken, for the promises made in
// a period, per currency.
type PromiseReport struct {
	From, To   civil.Date
	ByCurrency map[string]*PromiseTally
}

// Promises reports the promises to pay made on days from from to to
// (customer-local; the last 90 days by default), per currency: how many
// and how much were kept, broken, or are still open. Its cost follows the
// promises of the period. Errors: BadRequest naming from.
func (s *Service) Promises(ctx context.Context, from, to civil.Date) (*PromiseReport, error) {
	from, to, err := s.period(from, to)
	if err != nil {
		return nil, err
	}
	rep := &PromiseReport{From: from, To: to, ByCurrency: map[string]*PromiseTally{}}
	err = s.store.ListPromisesMade(ctx, from, to, func(p *Promise) bool {
		t := rep.ByCurrency[p.Currency]
		if t == nil {
			t = &PromiseTally{}
			rep.ByCurrency[p.Currency] = t
		}
		t.Made++
		t.AmountMade += p.Amount
		switch p.State {
		case PromiseKept:
			t.Kept++
			t.AmountKept += p.Amount
		case PromiseBroken:
			t.Broken++
			t.AmountBroken += p.Amount
		default:
			t.Open++
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("promises report: %w", err)
	}
	return rep, nil
}

// period resolves a report's period: to defaults to today in the firm's
// zone, from to 89 days before it; at most maxReportDays long.
func (s *Service) period(from, to civil.Date) (civil.Date, civil.Date, error) {
	if to.IsZero() {
		to = civil.Today(s.now(), Location(s.firm.Timezone))
	}
	if from.IsZero() {
		from = to.AddDays(-89)
	}
	switch {
	case from.After(to):
		return from, to, apperr.Field(apperr.BadRequest, "from", "from %s is after to %s", from, to)
	case to.DaysSince(from) >= maxReportDays:
		return from, to, apperr.Field(apperr.BadRequest, "from", "a report covers at most %d days", maxReportDays)
	}
	return from, to, nil
}

// ReasonRow is the overdue money that one reason explains, in one currency.
type ReasonRow struct {
	Reason    string
	Currency  string
	Amount    int64
	Customers int
}

// contactsForReason is how far back in a customer's contact log the
// overdue reason is looked for.
const contactsForReason = 20

// OverdueByReason splits what is overdue today by why: the reason code of
// the customer's latest contact that gave one (cash_flow, dispute,
// missing_paperwork, wrong_contact, forgot, other), "dispute" for invoices
// under dispute whatever was logged, "unknown" when no contact gave one.
// Its reads follow the open invoices and the customers with something
// overdue.
func (s *Service) OverdueByReason(ctx context.Context) ([]ReasonRow, error) {
	now := s.now()
	type owed struct{ disputed, other map[string]int64 }
	byCustomer := map[string]*owed{}
	var order []string
	err := s.store.ListInvoices(ctx, InvoiceRange{State: StateOpen, PageSize: 1000}, func(inv *Invoice, _ string) bool {
		if inv.Balance <= 0 || inv.Status(now) != StatusOverdue {
			return true
		}
		o := byCustomer[inv.CustomerID]
		if o == nil {
			o = &owed{map[string]int64{}, map[string]int64{}}
			byCustomer[inv.CustomerID] = o
			order = append(order, inv.CustomerID)
		}
		if inv.Disputed {
			o.disputed[inv.Currency] += inv.Balance
		} else {
			o.other[inv.Currency] += inv.Balance
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("overdue by reason: %w", err)
	}
	rows := map[string]*ReasonRow{}
	counted := map[string]bool{}
	add := func(cid, reason, cur string, amount int64) {
		k := reason + "|" + cur
		r := rows[k]
		if r == nil {
			r = &ReasonRow{Reason: reason, Currency: cur}
			rows[k] = r
		}
		r.Amount += amount
		if !counted[cid+"|"+k] {
			counted[cid+"|"+k] = true
			r.Customers++
		}
	}
	for _, cid := range order {
		o := byCustomer[cid]
		for cur, v := range o.disputed {
			add(cid, "dispute", cur, v)
		}
		if len(o.other) == 0 {
			continue
		}
		contacts, err := s.store.ListContacts(ctx, cid, contactsForReason)
		if err != nil {
			return nil, err
		}
		reason := "unknown"
		for _, c := range contacts { // newest first
			if c.Reason != "" {
				reason = c.Reason
				break
			}
		}
		for cur, v := range o.other {
			add(cid, reason, cur, v)
		}
	}
	out := make([]ReasonRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b ReasonRow) int {
		if a.Currency != b.Currency {
			return strings.Compare(a.Currency, b.Currency)
		}
		return cmp.Compare(b.Amount, a.Amount)
	})
	return out, nil
}
