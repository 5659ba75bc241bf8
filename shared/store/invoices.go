package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

// invoiceItem is an invoice as stored. GSI1 lists a customer's invoices and
// GSI2 everyone's, both sorted by state, due date and id.
type invoiceItem struct {
	PK          string      `dynamodbav:"PK"`
	SK          string      `dynamodbav:"SK"`
	GSI1PK      string      `dynamodbav:"GSI1PK"`
	GSI1SK      string      `dynamodbav:"GSI1SK"`
	GSI2PK      string      `dynamodbav:"GSI2PK"`
	GSI2SK      string      `dynamodbav:"GSI2SK"`
	GSI3PK      string      `dynamodbav:"GSI3PK,omitempty"`
	GSI3SK      string      `dynamodbav:"GSI3SK,omitempty"`
	ID          string      `dynamodbav:"id"`
	CustomerID  string      `dynamodbav:"customer_id"`
	Number      string      `dynamodbav:"number"`
	ExternalID  string      `dynamodbav:"external_id,omitempty"`
	Currency    string      `dynamodbav:"currency"`
	Total       int64       `dynamodbav:"total"`
	Balance     int64       `dynamodbav:"balance"`
	IssuedOn    string      `dynamodbav:"issued_on"`
	DueOn       string      `dynamodbav:"due_on"`
	Timezone    string      `dynamodbav:"timezone"`
	PaymentURL  string      `dynamodbav:"payment_url,omitempty"`
	Description string      `dynamodbav:"description,omitempty"`
	State       string      `dynamodbav:"state"`
	DunningStep int         `dynamodbav:"dunning_step"`
	DunningOff  int         `dynamodbav:"dunning_offset"`
	NextAction  string      `dynamodbav:"next_action_on,omitempty"`
	DunningFor  string      `dynamodbav:"dunning_for,omitempty"`
	Plan        *planItem   `dynamodbav:"plan,omitempty"`
	Disputed    bool        `dynamodbav:"disputed,omitempty"`
	Fees        []feeItem   `dynamodbav:"fees,omitempty"`
	Paid        int64       `dynamodbav:"paid"`
	Credited    int64       `dynamodbav:"credited"`
	DiscRateBP  int64       `dynamodbav:"discount_rate_bp,omitempty"`
	DiscDays    int         `dynamodbav:"discount_days,omitempty"`
	DiscTaken   int64       `dynamodbav:"discount_taken"`
	Movements   []movement  `dynamodbav:"movements,omitempty"`
	PromiseID   string      `dynamodbav:"promise_id,omitempty"`
	PaidOn      string      `dynamodbav:"paid_on,omitempty"`
	Broken      *brokenNote `dynamodbav:"broken_promise,omitempty"`
	DisputeWhy  string      `dynamodbav:"dispute_reason,omitempty"`
	VoidedAt    *time.Time  `dynamodbav:"voided_at,omitempty"`
	VoidReason  string      `dynamodbav:"void_reason,omitempty"`
	CreatedAt   time.Time   `dynamodbav:"created_at"`
	UpdatedAt   time.Time   `dynamodbav:"updated_at"`
	Version     int64       `dynamodbav:"version"`
}

func toInvoiceItem(inv *billing.Invoice) invoiceItem {
	k := invoiceKey(inv.ID)
	g1pk, g1sk := invoiceGSI1(inv)
	g2pk, g2sk := invoiceGSI2(inv)
	g3pk, g3sk := invoiceGSI3(inv)
	it := invoiceItem{
		PK: k.PK, SK: k.SK, GSI1PK: g1pk, GSI1SK: g1sk, GSI2PK: g2pk, GSI2SK: g2sk, GSI3PK: g3pk, GSI3SK: g3sk,
		DunningStep: inv.DunningStep, DunningOff: inv.DunningOffset, NextAction: inv.NextActionOn.String(), Disputed: inv.Disputed, DisputeWhy: inv.DisputeReason,
		Fees: toFeeItems(inv.Fees), Paid: inv.Paid, Credited: inv.Credited, DiscTaken: inv.DiscountTaken, Movements: toMovements(inv.Movements), PromiseID: inv.PromiseID, Broken: toBrokenNote(inv.BrokenPromise), PaidOn: inv.PaidOn.String(),
		ID: inv.ID, CustomerID: inv.CustomerID, Number: inv.Number, ExternalID: inv.ExternalID,
		Currency: inv.Currency, Total: inv.Total, Balance: inv.Balance,
		IssuedOn: inv.IssuedOn.String(), DueOn: inv.DueOn.String(), Timezone: inv.Timezone,
		PaymentURL: inv.PaymentURL, Description: inv.Description, State: string(inv.State),
		VoidedAt: inv.VoidedAt, VoidReason: inv.VoidReason,
		CreatedAt: inv.CreatedAt, UpdatedAt: inv.UpdatedAt, Version: inv.Version,
	}
	if d := inv.Discount; d != nil {
		it.DiscRateBP, it.DiscDays = d.RateBP, d.Days
	}
	it.DunningFor = inv.DunningFor.String()
	if p := inv.Plan; p != nil {
		it.Plan = &planItem{Base: p.Base, CreatedAt: p.CreatedAt}
		for _, in := range p.Installments {
			it.Plan.Installments = append(it.Plan.Installments, installmentItem{DueOn: in.DueOn.String(), Amount: in.Amount})
		}
	}
	return it
}

// planItem is an installment plan as stored, inside its invoice.
type planItem struct {
	Installments []installmentItem `dynamodbav:"installments"`
	Base         int64             `dynamodbav:"base"`
	CreatedAt    time.Time         `dynamodbav:"created_at"`
}

type installmentItem struct {
	DueOn  string `dynamodbav:"due_on"`
	Amount int64  `dynamodbav:"amount"`
}

func (p *planItem) plan() *billing.Plan {
	if p == nil {
		return nil
	}
	out := &billing.Plan{Base: p.Base, CreatedAt: p.CreatedAt}
	for _, in := range p.Installments {
		on, _ := civil.Parse(in.DueOn)
		out.Installments = append(out.Installments, billing.Installment{DueOn: on, Amount: in.Amount})
	}
	return out
}

func (it *invoiceItem) invoice() *billing.Invoice {
	issued, _ := civil.Parse(it.IssuedOn) // written by toInvoiceItem, always valid
	due, _ := civil.Parse(it.DueOn)
	next, _ := civil.Parse(it.NextAction) // "" parses to an error and leaves the zero date
	paidOn, _ := civil.Parse(it.PaidOn)
	dunningFor, _ := civil.Parse(it.DunningFor)
	var disc *billing.DiscountTerms
	if it.DiscRateBP > 0 {
		disc = &billing.DiscountTerms{RateBP: it.DiscRateBP, Days: it.DiscDays}
	}
	return &billing.Invoice{
		Paid: it.Paid, Credited: it.Credited, Discount: disc, DiscountTaken: it.DiscTaken, Movements: fromMovements(it.Movements), PromiseID: it.PromiseID, BrokenPromise: it.Broken.note(), PaidOn: paidOn,
		DunningStep: it.DunningStep, DunningOffset: it.DunningOff, DunningFor: dunningFor, Plan: it.Plan.plan(), NextActionOn: next, Disputed: it.Disputed, DisputeReason: it.DisputeWhy,
		Fees: fromFeeItems(it.Fees),
		ID:   it.ID, CustomerID: it.CustomerID, Number: it.Number, ExternalID: it.ExternalID,
		Currency: it.Currency, Total: it.Total, Balance: it.Balance,
		IssuedOn: issued, DueOn: due, Timezone: it.Timezone,
		PaymentURL: it.PaymentURL, Description: it.Description, State: billing.InvoiceState(it.State),
		VoidedAt: it.VoidedAt, VoidReason: it.VoidReason,
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, Version: it.Version,
	}
}

// NextInvoiceNumber increments the firm's invoice counter atomically.
func (s *Store) NextInvoiceNumber(ctx context.Context) (int64, error) {
	k := counterKey("invoice_number")
	e, err := expression.NewBuilder().WithUpdate(expression.Add(expression.Name("value"), expression.Value(1))).Build()
	if err != nil {
		return 0, fmt.Errorf("build counter update: %w", err)
	}
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       k.av(),
		UpdateExpression:          e.Update(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("next invoice number: %w", wrap(err))
	}
	var out struct {
		Value int64 `dynamodbav:"value"`
	}
	if err := unmarshal(res.Attributes, &out); err != nil {
		return 0, err
	}
	return out.Value, nil
}

// CreateInvoice writes a new invoice and claims its number and external id
// in one transaction: of two concurrent creates with one number, exactly one
// succeeds.
func (s *Store) CreateInvoice(ctx context.Context, inv *billing.Invoice) error {
	items, conflicts, err := s.createInvoiceItems(inv)
	if err != nil {
		return err
	}
	items, conflicts = append(items, s.rescoreMark(inv.CustomerID)), append(conflicts, nil)
	if err := s.writeTx(ctx, items, conflicts); err != nil {
		return fmt.Errorf("create invoice: %w", err)
	}
	return nil
}

// createInvoiceItems are the writes that create an invoice: the invoice
// and the guards of its number and external id, each with the conflict to
// report if its condition fails.
func (s *Store) createInvoiceItems(inv *billing.Invoice) ([]types.TransactWriteItem, []*apperr.Error, error) {
	p, err := s.put(toInvoiceItem(inv), notExists())
	if err != nil {
		return nil, nil, err
	}
	items := []types.TransactWriteItem{{Put: p}, s.putGuard(invoiceNumberKey(inv.Number), inv.ID)}
	conflicts := []*apperr.Error{
		apperr.New(apperr.Conflict, "invoice %s already exists", inv.ID),
		apperr.Field(apperr.Conflict, "number", "invoice number %q is already used", inv.Number),
	}
	if inv.ExternalID != "" {
		items = append(items, s.putGuard(invoiceExtIDKey(inv.ExternalID), inv.ID))
		conflicts = append(conflicts, externalIDTaken(inv.ExternalID))
	}
	return items, conflicts, nil
}

// GetInvoiceByNumber follows the number guard to the invoice.
func (s *Store) GetInvoiceByNumber(ctx context.Context, number string) (*billing.Invoice, error) {
	id, err := s.guardOwner(ctx, invoiceNumberKey(number), "invoice", number)
	if err != nil {
		return nil, err
	}
	return s.GetInvoice(ctx, id)
}

// GetInvoice reads one invoice by id.
func (s *Store) GetInvoice(ctx context.Context, id string) (*billing.Invoice, error) {
	return getOne(ctx, s, invoiceKey(id), "invoice", id, (*invoiceItem).invoice)
}

// GetInvoiceByExternalID follows the external-id guard to the invoice.
func (s *Store) GetInvoiceByExternalID(ctx context.Context, ext string) (*billing.Invoice, error) {
	id, err := s.guardOwner(ctx, invoiceExtIDKey(ext), "invoice", ext)
	if err != nil {
		return nil, err
	}
	return s.GetInvoice(ctx, id)
}

// ListInvoices reads one customer's invoices (GSI1) or everyone's (GSI2)
// within a state and due-date range.
func (s *Store) ListInvoices(ctx context.Context, r billing.InvoiceRange, fn func(*billing.Invoice, string) bool) error {
	var q indexQuery
	prefix := ""
	if r.CustomerID != "" {
		q = newIndexQuery(indexByCustomer, prefixCustomer+r.CustomerID, r.PageSize)
		prefix = prefixInvoice
	} else {
		q = newIndexQuery(indexByKind, kindInvoice, r.PageSize)
	}
	// Sort keys are "<state>#<due>#<id>"; "~" sorts after every digit and '#',
	// so "<state>#~" bounds the whole state from above. DynamoDB refuses empty
	// key values, so "every state of everyone" has no sort-key condition.
	lo, hi := prefix, prefix+"~"
	if r.State == "" && prefix == "" {
		return runTyped(ctx, s, q, r.Cursor, (*invoiceItem).invoice, fn)
	}
	if r.State != "" {
		lo, hi = prefix+string(r.State)+"#", prefix+string(r.State)+"#~"
		if !r.DueFrom.IsZero() {
			lo += r.DueFrom.String()
		}
		if !r.DueBefore.IsZero() {
			hi = prefix + string(r.State) + "#" + r.DueBefore.String() // excludes that date's keys
		}
	}
	// The bounds move with the clock ("open" starts at the earliest today on
	// Earth), so a cursor handed out yesterday may now sit below lo. DynamoDB
	// refuses a start key outside the range; widening lo to the cursor keeps
	// the cursor valid, and the service's per-invoice check still filters.
	if r.Cursor != "" {
		if sk := q.cursorSK(r.Cursor); sk != "" && sk < lo {
			lo = sk
		}
	}
	q.sk, q.hasSK = expression.Key(q.skAttr).Between(expression.Value(lo), expression.Value(hi)), true
	return runTyped(ctx, s, q, r.Cursor, (*invoiceItem).invoice, fn)
}

type feeItem struct {
	Step        int    `dynamodbav:"step"`
	StepName    string `dynamodbav:"step_name"`
	Kind        string `dynamodbav:"kind"`
	Amount      int64  `dynamodbav:"amount"`
	ChargedOn   string `dynamodbav:"charged_on"`
	Waived      bool   `dynamodbav:"waived,omitempty"`
	WaiveReason string `dynamodbav:"waive_reason,omitempty"`
}

func toFeeItems(fs []billing.FeeCharge) []feeItem {
	out := make([]feeItem, 0, len(fs))
	for _, f := range fs {
		out = append(out, feeItem{f.Step, f.StepName, f.Kind, f.Amount, f.ChargedOn.String(), f.Waived, f.WaiveReason})
	}
	return out
}

func fromFeeItems(fs []feeItem) []billing.FeeCharge {
	var out []billing.FeeCharge
	for _, f := range fs {
		on, _ := civil.Parse(f.ChargedOn)
		out = append(out, billing.FeeCharge{Step: f.Step, StepName: f.StepName, Kind: f.Kind, Amount: f.Amount, ChargedOn: on, Waived: f.Waived, WaiveReason: f.WaiveReason})
	}
	return out
}

// movement is a change to an invoice's principal, as stored.
type movement struct {
	On     string `dynamodbav:"on"`
	Amount int64  `dynamodbav:"amount"`
}

func toMovements(ms []billing.Movement) []movement {
	var out []movement
	for _, m := range ms {
		out = append(out, movement{m.On.String(), m.Amount})
	}
	return out
}

func fromMovements(ms []movement) []billing.Movement {
	var out []billing.Movement
	for _, m := range ms {
		on, _ := civil.Parse(m.On)
		out = append(out, billing.Movement{On: on, Amount: m.Amount})
	}
	return out
}

// brokenNote is a broken promise an invoice's next email mentions.
type brokenNote struct {
	PromisedOn string `dynamodbav:"promised_on"`
	Amount     int64  `dynamodbav:"amount"`
	Currency   string `dynamodbav:"currency"`
}

func toBrokenNote(n *billing.PromiseNote) *brokenNote {
	if n == nil {
		return nil
	}
	return &brokenNote{n.PromisedOn.String(), n.Amount, n.Currency}
}

func (b *brokenNote) note() *billing.PromiseNote {
	if b == nil {
		return nil
	}
	on, _ := civil.Parse(b.PromisedOn)
	return &billing.PromiseNote{PromisedOn: on, Amount: b.Amount, Currency: b.Currency}
}
