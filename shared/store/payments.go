package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

// paymentItem is a payment as stored. GSI1 lists a customer's payments
// (or, under UNMATCHED, those with no customer yet) by date received; GSI2
// lists every payment by id.
type paymentItem struct {
	PK          string           `dynamodbav:"PK"`
	SK          string           `dynamodbav:"SK"`
	GSI1PK      string           `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK      string           `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK      string           `dynamodbav:"GSI2PK"`
	GSI2SK      string           `dynamodbav:"GSI2SK"`
	ID          string           `dynamodbav:"id"`
	CustomerID  string           `dynamodbav:"customer_id,omitempty"`
	ExternalID  string           `dynamodbav:"external_id,omitempty"`
	Provider    string           `dynamodbav:"provider,omitempty"`
	ProviderRef string           `dynamodbav:"provider_ref,omitempty"`
	AltRefs     []string         `dynamodbav:"alt_refs,omitempty"`
	Currency    string           `dynamodbav:"currency,omitempty"`
	Amount      int64            `dynamodbav:"amount"`
	ReceivedOn  string           `dynamodbav:"received_on,omitempty"`
	Method      string           `dynamodbav:"method,omitempty"`
	Reference   string           `dynamodbav:"reference,omitempty"`
	Allocations []allocationItem `dynamodbav:"allocations,omitempty"`
	Unapplied   int64            `dynamodbav:"unapplied"`
	Refunded    int64            `dynamodbav:"refunded"`
	ChargedBack int64            `dynamodbav:"charged_back"`
	Reversals   []reversalItem   `dynamodbav:"reversals,omitempty"`
	Applied     bool             `dynamodbav:"applied"`
	ProvRefund  int64            `dynamodbav:"provider_refunded,omitempty"`
	SyncRefund  int64            `dynamodbav:"synced_refund,omitempty"`
	SyncCharge  int64            `dynamodbav:"synced_chargeback,omitempty"`
	Disputes    []disputeItem    `dynamodbav:"disputes,omitempty"`
	Hint        billing.Match    `dynamodbav:"hint"`
	PlacedFor   string           `dynamodbav:"placed_for,omitempty"`
	ByHand      bool             `dynamodbav:"allocated_by_hand,omitempty"`
	CreatedAt   time.Time        `dynamodbav:"created_at"`
	UpdatedAt   time.Time        `dynamodbav:"updated_at"`
	Version     int64            `dynamodbav:"version"`
}

type allocationItem struct {
	InvoiceID string `dynamodbav:"invoice_id"`
	Amount    int64  `dynamodbav:"amount"`
	Discount  int64  `dynamodbav:"discount,omitempty"`
}

type reversalItem struct {
	Kind      string    `dynamodbav:"kind"`
	Amount    int64     `dynamodbav:"amount"`
	Reason    string    `dynamodbav:"reason,omitempty"`
	Reference string    `dynamodbav:"reference,omitempty"`
	At        time.Time `dynamodbav:"at"`
}

type disputeItem struct {
	ID     string `dynamodbav:"id"`
	Status string `dynamodbav:"status"`
	Amount int64  `dynamodbav:"amount"`
	Reason string `dynamodbav:"reason,omitempty"`
}

func toPaymentItem(p *billing.Payment) paymentItem {
	k := paymentKey(p.ID)
	g1pk, g1sk := paymentGSI1(p)
	it := paymentItem{
		PK: k.PK, SK: k.SK, GSI1PK: g1pk, GSI1SK: g1sk, GSI2PK: kindPayment, GSI2SK: p.ID,
		ID: p.ID, CustomerID: p.CustomerID, ExternalID: p.ExternalID, Provider: p.Provider, ProviderRef: p.ProviderRef, AltRefs: p.AltRefs,
		Currency: p.Currency, Amount: p.Amount, ReceivedOn: p.ReceivedOn.String(), Method: p.Method, Reference: p.Reference,
		Unapplied: p.Unapplied, Refunded: p.Refunded, ChargedBack: p.ChargedBack, Applied: p.Applied,
		ProvRefund: p.ProviderRefunded, SyncRefund: p.SyncedRefund, SyncCharge: p.SyncedChargeback, Hint: p.Hint, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version,
		PlacedFor: p.PlacedFor, ByHand: p.AllocatedByHand,
	}
	for _, a := range p.Allocations {
		it.Allocations = append(it.Allocations, allocationItem(a))
	}
	for _, r := range p.Reversals {
		it.Reversals = append(it.Reversals, reversalItem(r))
	}
	for _, d := range p.Disputes {
		it.Disputes = append(it.Disputes, disputeItem(d))
	}
	return it
}

func (it *paymentItem) payment() *billing.Payment {
	received, _ := civil.Parse(it.ReceivedOn) // "" (not yet known) leaves the zero date
	p := &billing.Payment{
		ID: it.ID, CustomerID: it.CustomerID, ExternalID: it.ExternalID, Provider: it.Provider, ProviderRef: it.ProviderRef, AltRefs: it.AltRefs,
		Currency: it.Currency, Amount: it.Amount, ReceivedOn: received, Method: it.Method, Reference: it.Reference,
		Unapplied: it.Unapplied, Refunded: it.Refunded, ChargedBack: it.ChargedBack, Applied: it.Applied,
		ProviderRefunded: it.ProvRefund, SyncedRefund: it.SyncRefund, SyncedChargeback: it.SyncCharge, Hint: it.Hint, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, Version: it.Version,
		PlacedFor: it.PlacedFor, AllocatedByHand: it.ByHand,
	}
	for _, a := range it.Allocations {
		p.Allocations = append(p.Allocations, billing.Allocation(a))
	}
	for _, r := range it.Reversals {
		p.Reversals = append(p.Reversals, billing.Reversal(r))
	}
	for _, d := range it.Disputes {
		p.Disputes = append(p.Disputes, billing.Dispute(d))
	}
	return p
}

// GetPayment reads one payment by id.
func (s *Store) GetPayment(ctx context.Context, id string) (*billing.Payment, error) {
	return getOne(ctx, s, paymentKey(id), "payment", id, (*paymentItem).payment)
}

// GetPaymentByRef follows the provider-reference guard to the payment.
func (s *Store) GetPaymentByRef(ctx context.Context, provider, ref string) (*billing.Payment, error) {
	var g guardItem
	found, err := s.getItem(ctx, paymentRefKey(provider, ref), &g)
	if err != nil {
		return nil, fmt.Errorf("find %s payment %s: %w", provider, ref, err)
	}
	if !found {
		return nil, apperr.NotFoundf("no %s payment %q", provider, ref)
	}
	return s.GetPayment(ctx, g.Owner)
}

// ListPayments reads one customer's payments or the unmatched ones (GSI1)
// by date received, or every payment (GSI2) by id.
func (s *Store) ListPayments(ctx context.Context, r billing.PaymentRange, fn func(*billing.Payment, string) bool) error {
	var q indexQuery
	switch {
	case r.CustomerID != "" && !r.ReceivedFrom.IsZero():
		q = newIndexQuery(indexByCustomer, prefixCustomer+r.CustomerID, r.PageSize)
		q.sk, q.hasSK = expression.Key(attrGSI1SK).Between(expression.Value(prefixPayment+r.ReceivedFrom.String()), expression.Value(prefixPayment+"~")), true
	case r.CustomerID != "":
		q = newIndexQuery(indexByCustomer, prefixCustomer+r.CustomerID, r.PageSize)
		q.sk, q.hasSK = expression.Key(attrGSI1SK).BeginsWith(prefixPayment), true
	case r.Unmatched:
		q = newIndexQuery(indexByCustomer, partUnmatched, r.PageSize)
	default:
		q = newIndexQuery(indexByKind, kindPayment, r.PageSize)
	}
	return runTyped(ctx, s, q, r.Cursor, (*paymentItem).payment, fn)
}

// creditNoteItem is a credit note as stored, listed under its customer in GSI1.
type creditNoteItem struct {
	PK         string    `dynamodbav:"PK"`
	SK         string    `dynamodbav:"SK"`
	GSI1PK     string    `dynamodbav:"GSI1PK"`
	GSI1SK     string    `dynamodbav:"GSI1SK"`
	ID         string    `dynamodbav:"id"`
	CustomerID string    `dynamodbav:"customer_id"`
	InvoiceID  string    `dynamodbav:"invoice_id"`
	Number     string    `dynamodbav:"number,omitempty"`
	Currency   string    `dynamodbav:"currency"`
	Amount     int64     `dynamodbav:"amount"`
	Reason     string    `dynamodbav:"reason"`
	IssuedOn   string    `dynamodbav:"issued_on"`
	CreatedAt  time.Time `dynamodbav:"created_at"`
}

// GetCreditNote reads one credit note by id.
func (s *Store) GetCreditNote(ctx context.Context, id string) (*billing.CreditNote, error) {
	return getOne(ctx, s, creditNoteKey(id), "credit note", id, (*creditNoteItem).creditNote)
}

func (it *creditNoteItem) creditNote() *billing.CreditNote {
	issued, _ := civil.Parse(it.IssuedOn)
	return &billing.CreditNote{ID: it.ID, CustomerID: it.CustomerID, InvoiceID: it.InvoiceID, Number: it.Number,
		Currency: it.Currency, Amount: it.Amount, Reason: it.Reason, IssuedOn: issued, CreatedAt: it.CreatedAt}
}

// The account item holds a customer's credit on account: one number
// attribute per currency, so concurrent postings ADD to it without reading
// it, and the set of payments that hold credit.
const (
	attrCreditPrefix   = "credit_"
	attrCreditPayments = "credit_payments"
)

// GetAccount reads a customer's account; a customer without one has no credit.
func (s *Store) GetAccount(ctx context.Context, customerID string) (*billing.Account, error) {
	return s.account(ctx, customerID, true)
}

// PeekAccount is GetAccount with an eventually consistent read, at half
// the cost, for the sweep's check of every due customer; the writes that
// follow read again, consistently.
func (s *Store) PeekAccount(ctx context.Context, customerID string) (*billing.Account, error) {
	return s.account(ctx, customerID, false)
}

func (s *Store) account(ctx context.Context, customerID string, consistent bool) (*billing.Account, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: accountKey(customerID).av(), ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		return nil, fmt.Errorf("get account of %s: %w", customerID, wrap(err))
	}
	acct := &billing.Account{CustomerID: customerID, Credit: map[string]int64{}}
	for name, av := range res.Item {
		switch {
		case name == attrCreditPayments:
			if err := attributevalue.Unmarshal(av, &acct.CreditPayments); err != nil {
				return nil, fmt.Errorf("account of %s: %w", customerID, err)
			}
		case strings.HasPrefix(name, attrCreditPrefix):
			var n int64
			if err := attributevalue.Unmarshal(av, &n); err != nil {
				return nil, fmt.Errorf("account of %s: %w", customerID, err)
			}
			acct.Credit[strings.TrimPrefix(name, attrCreditPrefix)] = n
		}
	}
	sort.Strings(acct.CreditPayments)
	return acct, nil
}

// EventSeen reports whether a provider event was processed (and not yet expired).
func (s *Store) EventSeen(ctx context.Context, provider, id string) (bool, error) {
	var it struct {
		ExpiresAt int64 `dynamodbav:"expires_at"`
	}
	found, err := s.getItem(ctx, eventKey(provider, id), &it)
	if err != nil {
		return false, fmt.Errorf("look up %s event %s: %w", provider, id, err)
	}
	// DynamoDB deletes expired items lazily; an expired one counts as gone.
	return found && it.ExpiresAt > time.Now().Unix(), nil
}

type eventItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	Type      string    `dynamodbav:"type"`
	At        time.Time `dynamodbav:"at"`
	ExpiresAt int64     `dynamodbav:"expires_at"`
}

// errDuplicateEvent is the conflict reported when the event item exists.
var errDuplicateEvent = &apperr.Error{Code: apperr.Conflict, Message: "event already processed", Err: billing.ErrDuplicateEvent}

// Post writes a posting as one transaction. Each item is conditional: a
// new record must not exist, a changed record must still be at the version
// read, money applied to an invoice needs the balance that was read (or, for
// a part payment, more than the part). A failed condition on those is a
// lost race (apperr.ErrLostRace: re-read and try again); a duplicate event
// is billing.ErrDuplicateEvent; a taken external id or number is a Conflict
// naming the field.
func (s *Store) Post(ctx context.Context, pt *billing.Posting) error {
	var (
		items     []types.TransactWriteItem
		conflicts []*apperr.Error
		notes     = map[int]auditNote{}
	)
	add := func(it types.TransactWriteItem, c *apperr.Error) {
		items = append(items, it)
		conflicts = append(conflicts, c)
	}
	noted := func(it types.TransactWriteItem, c *apperr.Error, changes ...audit.Change) {
		notes[len(items)] = auditNote{changes}
		add(it, c)
	}
	if ev := pt.Event; ev != nil {
		k := eventKey(ev.Provider, ev.ID)
		// An expired record (not yet deleted by TTL) may be overwritten.
		c := expression.AttributeNotExists(expression.Name(attrPK)).Or(expression.Name(attrTTL).LessThan(expression.Value(ev.At.Unix())))
		p, err := s.put(eventItem{PK: k.PK, SK: k.SK, Type: ev.Type, At: ev.At, ExpiresAt: ev.At.Add(billing.EventRetention).Unix()}, &c)
		if err != nil {
			return err
		}
		add(types.TransactWriteItem{Put: p}, errDuplicateEvent)
	}
	if p := pt.Payment; p != nil {
		if err := s.addPaymentItems(p, add); err != nil {
			return err
		}
	}
	for _, sh := range pt.Absorbed {
		e := conditional(expression.Name("version").Equal(expression.Value(sh.Version)))
		add(types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: paymentKey(sh.ID).av(),
			ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}},
			apperr.Race("pending payment %s changed while it was merged", sh.ID))
	}
	for _, rp := range pt.Repoints {
		k := paymentRefKey(pt.Payment.Provider, rp.Ref)
		c := expression.Name("owner").Equal(expression.Value(rp.From))
		put, err := s.put(guardItem{PK: k.PK, SK: k.SK, Owner: pt.Payment.ID}, &c)
		if err != nil {
			return err
		}
		add(types.TransactWriteItem{Put: put}, apperr.Race("%s payment id %s moved concurrently", pt.Payment.Provider, rp.Ref))
	}
	for _, ref := range pt.NewRefs {
		add(s.putGuard(paymentRefKey(pt.Payment.Provider, ref), pt.Payment.ID), apperr.Race("%s payment %s was recorded concurrently", pt.Payment.Provider, ref))
	}
	for _, p := range pt.OtherPayment {
		if err := s.addPaymentItems(p, add); err != nil {
			return err
		}
	}
	if inv := pt.NewInvoice; inv != nil {
		its, cs, err := s.createInvoiceItems(inv)
		if err != nil {
			return err
		}
		for i := range its {
			add(its[i], cs[i])
		}
	}
	for _, a := range pt.Applies {
		u, err := s.applyUpdate(a)
		if err != nil {
			return err
		}
		noted(types.TransactWriteItem{Update: u}, apperr.Race("invoice %s changed while money was applied", a.Invoice.ID), applyChanges(a)...)
	}
	for _, inv := range pt.Rewritten {
		p, err := s.put(toInvoiceItem(inv), versionIs(inv.Version-1))
		if err != nil {
			return err
		}
		add(types.TransactWriteItem{Put: p}, apperr.Race("invoice %s changed while a payment was reversed", inv.ID))
	}
	if cn := pt.CreditNote; cn != nil {
		k := creditNoteKey(cn.ID)
		p, err := s.put(creditNoteItem{PK: k.PK, SK: k.SK, GSI1PK: prefixCustomer + cn.CustomerID, GSI1SK: prefixCreditNote + cn.IssuedOn.String() + "#" + cn.ID,
			ID: cn.ID, CustomerID: cn.CustomerID, InvoiceID: cn.InvoiceID, Number: cn.Number, Currency: cn.Currency,
			Amount: cn.Amount, Reason: cn.Reason, IssuedOn: cn.IssuedOn.String(), CreatedAt: cn.CreatedAt}, notExists())
		if err != nil {
			return err
		}
		add(types.TransactWriteItem{Put: p}, apperr.New(apperr.Conflict, "credit note %s already exists", cn.ID))
	}
	if err := s.promiseItems(pt, add); err != nil {
		return err
	}
	if u, err := s.accountUpdate(pt); err != nil {
		return err
	} else if u != nil {
		noted(types.TransactWriteItem{Update: u}, nil, accountChanges(pt)...)
	}
	switch {
	case pt.Customer != nil:
		p, err := s.put(toCustomerItem(pt.Customer), versionIs(pt.Customer.Version-1))
		if err != nil {
			return err
		}
		add(types.TransactWriteItem{Put: p}, apperr.Race("customer %s changed concurrently", pt.Customer.ID))
	case pt.RespondedAt != nil && pt.CustomerID != "":
		// No version condition: setting the time and bumping the version
		// commutes with other postings, and makes any writer holding an
		// older copy of the customer re-read it.
		e, err := expression.NewBuilder().
			WithUpdate(expression.Set(expression.Name("last_response_at"), expression.Value(pt.RespondedAt.UTC().Format(time.RFC3339Nano))).
				Add(expression.Name("version"), expression.Value(1))).
			WithCondition(expression.AttributeExists(expression.Name(attrPK))).Build()
		if err != nil {
			return fmt.Errorf("build customer update: %w", err)
		}
		noted(types.TransactWriteItem{Update: txUpdate(s.table, customerKey(pt.CustomerID), e)}, apperr.New(apperr.NotFound, "no customer %q", pt.CustomerID),
			audit.Change{Field: "last_response_at", After: jsonValue(pt.RespondedAt.UTC().Format(time.RFC3339Nano))})
	}
	if cs := pt.Score; cs != nil {
		if err := s.scoreItems(cs, add, noted); err != nil {
			return err
		}
	}
	for _, cid := range rescored(pt) {
		add(s.rescoreMark(cid), nil)
	}
	evs, err := s.outEventPuts(pt.Events)
	if err != nil {
		return err
	}
	for _, it := range evs {
		add(it, nil)
	}
	if len(items) == 0 {
		return nil
	}
	if len(items) > 99 { // one more for the audit trail
		return apperr.New(apperr.Invalid, "this change touches %d records; at most 99 fit in one transaction", len(items))
	}
	err = s.writeNoted(ctx, items, conflicts, notes)
	if errors.Is(err, billing.ErrDuplicateEvent) {
		return billing.ErrDuplicateEvent
	}
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	return nil
}

func (s *Store) addPaymentItems(p *billing.Payment, add func(types.TransactWriteItem, *apperr.Error)) error {
	if p.Version > 1 {
		put, err := s.put(toPaymentItem(p), versionIs(p.Version-1))
		if err != nil {
			return err
		}
		add(types.TransactWriteItem{Put: put}, apperr.Race("payment %s changed concurrently", p.ID))
		return nil
	}
	put, err := s.put(toPaymentItem(p), notExists())
	if err != nil {
		return err
	}
	add(types.TransactWriteItem{Put: put}, apperr.New(apperr.Conflict, "payment %s already exists", p.ID))
	if p.ExternalID != "" {
		add(s.putGuard(paymentExtIDKey(p.ExternalID), p.ID), externalIDTaken(p.ExternalID))
	}
	if p.ProviderRef != "" {
		// Two deliveries creating the same provider payment: the loser
		// re-reads and finds the winner's.
		for _, ref := range append([]string{p.ProviderRef}, p.AltRefs...) {
			add(s.putGuard(paymentRefKey(p.Provider, ref), p.ID), apperr.Race("%s payment %s was created concurrently", p.Provider, ref))
		}
	}
	return nil
}

// applyUpdate puts money on an open invoice without reading it again:
// conditional on the balance that was read when it settles the invoice,
// and on a balance larger than the part otherwise. Concurrent part payments
// thus all land, and none can take a balance below zero.
func (s *Store) applyUpdate(a billing.Apply) (*types.Update, error) {
	inv := a.Invoice
	counter := "paid"
	if a.Credited {
		counter = "credited"
	}
	open := expression.Name("state").Equal(expression.Value(string(billing.StateOpen)))
	plus := func(name string, v int64) expression.SetValueBuilder {
		return expression.Plus(expression.Name(name).IfNotExists(expression.Value(0)), expression.Value(v))
	}
	// The movement is appended, not rewritten: concurrent applies each add theirs.
	moves := expression.ListAppend(expression.Name("movements").IfNotExists(expression.Value([]movement{})),
		expression.Value(toMovements([]billing.Movement{a.Movement()})))
	upd := expression.Set(expression.Name(counter), plus(counter, a.Amount)).
		Set(expression.Name("movements"), moves).
		Set(expression.Name("updated_at"), expression.Value(time.Now().UTC().Format(time.RFC3339Nano))).
		Add(expression.Name("version"), expression.Value(1))
	var cond expression.ConditionBuilder
	if a.Settles() {
		paid := *inv
		paid.State = billing.StatePaid
		g1pk, g1sk := invoiceGSI1(&paid)
		_, g2sk := invoiceGSI2(&paid)
		upd = upd.Set(expression.Name("balance"), expression.Value(0)).
			Set(expression.Name("state"), expression.Value(string(billing.StatePaid))).
			Set(expression.Name(attrGSI1PK), expression.Value(g1pk)).
			Set(expression.Name(attrGSI1SK), expression.Value(g1sk)).
			Set(expression.Name(attrGSI2SK), expression.Value(g2sk)).
			Set(expression.Name("paid_on"), expression.Value(a.On.String())).
			Remove(expression.Name("promise_id")). // nothing left to hold
			Remove(expression.Name(attrGSI3PK)).Remove(expression.Name(attrGSI3SK)).Remove(expression.Name("next_action_on"))
		if a.Discount > 0 {
			upd = upd.Set(expression.Name("discount_taken"), plus("discount_taken", a.Discount))
		}
		cond = open.And(expression.Name("balance").Equal(expression.Value(inv.Balance)))
	} else {
		upd = upd.Set(expression.Name("balance"), expression.Name("balance").Minus(expression.Value(a.Amount)))
		cond = open.And(expression.Name("balance").GreaterThan(expression.Value(a.Amount)))
		if inv.PromiseID == "" && !inv.Disputed && inv.InstallmentChangedBy(a.Amount) {
			// An installment paid off: the ladder starts again from the
			// next one's date, so the sweep looks at the invoice now.
			woken := *inv
			woken.NextActionOn = a.On
			g3pk, g3sk := invoiceGSI3(&woken)
			upd = upd.Set(expression.Name("next_action_on"), expression.Value(a.On.String())).
				Set(expression.Name(attrGSI3PK), expression.Value(g3pk)).
				Set(expression.Name(attrGSI3SK), expression.Value(g3sk))
		}
	}
	e, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build apply to %s: %w", inv.ID, err)
	}
	return txUpdate(s.table, invoiceKey(inv.ID), e), nil
}

// rescored lists the customers whose credit score a posting can change:
// it creates, pays, credits, reopens or promises their invoices.
func rescored(pt *billing.Posting) []string {
	if pt.Score != nil {
		return nil
	}
	var out []string
	add := func(id string) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if pt.NewInvoice != nil {
		add(pt.NewInvoice.CustomerID)
	}
	for _, a := range pt.Applies {
		add(a.Invoice.CustomerID)
	}
	for _, inv := range pt.Rewritten {
		add(inv.CustomerID)
	}
	if pt.CreditNote != nil {
		add(pt.CreditNote.CustomerID)
	}
	for _, p := range []*billing.Promise{pt.Promise, pt.PromiseUpdate} {
		if p != nil {
			add(p.CustomerID)
		}
	}
	return out
}

// applyChanges is the audit trail's account of an apply: exact when it
// settles the invoice (the balance read is its condition), the amounts
// moved when it is a part (other parts may land alongside).
func applyChanges(a billing.Apply) []audit.Change {
	counter := "paid"
	if a.Credited {
		counter = "credited"
	}
	cs := []audit.Change{{Field: counter, By: jsonValue(a.Amount)}}
	if !a.Settles() {
		return append(cs, audit.Change{Field: "balance", By: jsonValue(-a.Amount)})
	}
	cs = append(cs,
		audit.Change{Field: "balance", Before: jsonValue(a.Invoice.Balance), After: jsonValue(0)},
		audit.Change{Field: "state", Before: jsonValue(billing.StateOpen), After: jsonValue(billing.StatePaid)},
		audit.Change{Field: "paid_on", After: jsonValue(a.On.String())})
	if a.Discount > 0 {
		cs = append(cs, audit.Change{Field: "discount_taken", By: jsonValue(a.Discount)})
	}
	return cs
}

// accountChanges is the audit trail's account of a credit update.
func accountChanges(pt *billing.Posting) []audit.Change {
	var cs []audit.Change
	for _, cur := range slices.Sorted(maps.Keys(pt.Credit)) {
		if d := pt.Credit[cur]; d != 0 {
			cs = append(cs, audit.Change{Field: attrCreditPrefix + cur, By: jsonValue(d)})
		}
	}
	if len(pt.CreditHolders) > 0 {
		cs = append(cs, audit.Change{Field: attrCreditPayments, By: jsonValue(map[string][]string{"added": pt.CreditHolders})})
	}
	if len(pt.CreditCleared) > 0 {
		cs = append(cs, audit.Change{Field: attrCreditPayments, By: jsonValue(map[string][]string{"removed": pt.CreditCleared})})
	}
	return cs
}

// accountUpdate adds the posting's credit changes to the customer's account.
func (s *Store) accountUpdate(pt *billing.Posting) (*types.Update, error) {
	if pt.CustomerID == "" || (len(pt.Credit) == 0 && len(pt.CreditHolders) == 0 && len(pt.CreditCleared) == 0) {
		return nil, nil
	}
	var upd expression.UpdateBuilder
	n := 0
	curs := make([]string, 0, len(pt.Credit))
	for cur := range pt.Credit {
		curs = append(curs, cur)
	}
	sort.Strings(curs)
	for _, cur := range curs {
		if d := pt.Credit[cur]; d != 0 {
			upd = upd.Add(expression.Name(attrCreditPrefix+cur), expression.Value(d))
			n++
		}
	}
	// One expression may not touch an attribute twice; a posting that both
	// adds and clears holders (never built today) would need two writes.
	switch {
	case len(pt.CreditHolders) > 0 && len(pt.CreditCleared) > 0:
		return nil, fmt.Errorf("posting both adds and clears credit holders")
	case len(pt.CreditHolders) > 0:
		upd = upd.Add(expression.Name(attrCreditPayments), expression.Value(&types.AttributeValueMemberSS{Value: pt.CreditHolders}))
		n++
	case len(pt.CreditCleared) > 0:
		upd = upd.Delete(expression.Name(attrCreditPayments), expression.Value(&types.AttributeValueMemberSS{Value: pt.CreditCleared}))
		n++
	}
	if n == 0 {
		return nil, nil
	}
	e, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return nil, fmt.Errorf("build account update: %w", err)
	}
	return txUpdate(s.table, accountKey(pt.CustomerID), e), nil
}

func txUpdate(table string, k key, e expression.Expression) *types.Update {
	return &types.Update{
		TableName: &table, Key: k.av(), UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	}
}

// ListCreditNotes reads a customer's credit notes in order of issue.
func (s *Store) ListCreditNotes(ctx context.Context, customerID string) ([]*billing.CreditNote, error) {
	q := newIndexQuery(indexByCustomer, prefixCustomer+customerID, 100)
	q.sk, q.hasSK = expression.Key(attrGSI1SK).BeginsWith(prefixCreditNote), true
	var out []*billing.CreditNote
	err := runTyped(ctx, s, q, "", (*creditNoteItem).creditNote, func(cn *billing.CreditNote, _ string) bool {
		out = append(out, cn)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("credit notes of %s: %w", customerID, err)
	}
	return out, nil
}
