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
	"dunlin/shared/dunning"
	"dunlin/shared/ids"
	"dunlin/shared/outbound"
)

// sendItem is a dunning email's record, under its customer:
// PK CUSTOMER#<id>, SK SEND#<local day>#<kind>.
type sendItem struct {
	PK         string             `dynamodbav:"PK"`
	SK         string             `dynamodbav:"SK"`
	GSI2PK     string             `dynamodbav:"GSI2PK,omitempty"` // DRAFT while awaiting approval
	GSI2SK     string             `dynamodbav:"GSI2SK,omitempty"`
	CustomerID string             `dynamodbav:"customer_id"`
	Day        string             `dynamodbav:"day"`
	Kind       string             `dynamodbav:"kind"`
	Status     string             `dynamodbav:"status"`
	Tone       string             `dynamodbav:"tone"`
	Steps      []dunning.SentStep `dynamodbav:"steps"`
	To         []string           `dynamodbav:"to,omitempty"`
	Subject    string             `dynamodbav:"subject,omitempty"`
	MessageID  string             `dynamodbav:"message_id,omitempty"`
	Error      string             `dynamodbav:"error,omitempty"`
	ClaimedAt  time.Time          `dynamodbav:"claimed_at"`
	SentAt     *time.Time         `dynamodbav:"sent_at,omitempty"`
	Escalated  bool               `dynamodbav:"escalated,omitempty"`
	Language   string             `dynamodbav:"language,omitempty"`
	Claimant   string             `dynamodbav:"claimant,omitempty"`
}

func sendKey(customerID string, day civil.Date, kind dunning.SendKind) key {
	return key{prefixCustomer + customerID, prefixSend + day.String() + "#" + string(kind)}
}

func toSendItem(s *dunning.Send) sendItem {
	k := sendKey(s.CustomerID, s.Day, s.Kind)
	var g2pk, g2sk string
	switch s.Status {
	case dunning.Draft:
		g2pk, g2sk = kindDraft, s.Day.String()+"#"+s.CustomerID+"#"+string(s.Kind)
	case dunning.Sent: // by day, for the dunning-effectiveness report
		g2pk, g2sk = kindSent, s.Day.String()+"#"+s.CustomerID+"#"+string(s.Kind)
	}
	return sendItem{PK: k.PK, SK: k.SK, GSI2PK: g2pk, GSI2SK: g2sk, CustomerID: s.CustomerID, Day: s.Day.String(), Kind: string(s.Kind),
		Status: string(s.Status), Tone: string(s.Tone), Steps: s.Steps, To: s.To, Subject: s.Subject,
		MessageID: s.MessageID, Error: s.Error, ClaimedAt: s.ClaimedAt, SentAt: s.SentAt, Escalated: s.Escalated, Language: s.Language, Claimant: s.Claimant}
}

func (it *sendItem) send() *dunning.Send {
	day, _ := civil.Parse(it.Day)
	return &dunning.Send{CustomerID: it.CustomerID, Day: day, Kind: dunning.SendKind(it.Kind), Status: dunning.SendStatus(it.Status),
		Tone: dunning.Tone(it.Tone), Steps: it.Steps, To: it.To, Subject: it.Subject, MessageID: it.MessageID,
		Error: it.Error, ClaimedAt: it.ClaimedAt, SentAt: it.SentAt, Escalated: it.Escalated, Language: it.Language, Claimant: it.Claimant}
}

// ClaimSend reserves the send for its customer, day and kind. When the send
// already exists it returns the existing record and claimed=false.
func (s *Store) ClaimSend(ctx context.Context, snd *dunning.Send) (*dunning.Send, bool, error) {
	p, err := s.put(toSendItem(snd), notExists())
	if err != nil {
		return nil, false, err
	}
	_, err = s.db.PutItem(ctx, putInput(p))
	if err == nil {
		return nil, true, nil
	}
	if !apperr.Is(wrap(err), apperr.Conflict) {
		return nil, false, fmt.Errorf("claim send: %w", wrap(err))
	}
	var it sendItem
	found, err := s.getItem(ctx, sendKey(snd.CustomerID, snd.Day, snd.Kind), &it)
	if err != nil || !found {
		return nil, false, fmt.Errorf("read existing send: %v (found=%v)", err, found)
	}
	if snd.Claimant != "" && it.Claimant == snd.Claimant && it.Status == string(dunning.Claimed) {
		return nil, true, nil // ours: the SDK retried a put whose answer was lost
	}
	return it.send(), false, nil
}

// ReleaseSend deletes a claim on which nothing was sent, so the day stays free.
func (s *Store) ReleaseSend(ctx context.Context, snd *dunning.Send) error {
	e := conditional(expression.Name("status").Equal(expression.Value(string(dunning.Claimed))))
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.table, Key: sendKey(snd.CustomerID, snd.Day, snd.Kind).av(),
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	})
	if err != nil {
		return fmt.Errorf("release send: %w", wrap(err))
	}
	return nil
}

// GetSend reads one send record. Errors: NotFound.
func (s *Store) GetSend(ctx context.Context, customerID string, day civil.Date, kind dunning.SendKind) (*dunning.Send, error) {
	var it sendItem
	found, err := s.getItem(ctx, sendKey(customerID, day, kind), &it)
	if err != nil {
		return nil, fmt.Errorf("get send: %w", err)
	}
	if !found {
		return nil, apperr.NotFoundf("no send for %s on %s (%s)", customerID, day, kind)
	}
	return it.send(), nil
}

// ListDrafts returns the drafts awaiting approval, oldest first.
func (s *Store) ListDrafts(ctx context.Context) ([]*dunning.Send, error) {
	var out []*dunning.Send
	err := runTyped(ctx, s, newIndexQuery(indexByKind, kindDraft, 100), "", (*sendItem).send, func(snd *dunning.Send, _ string) bool {
		out = append(out, snd)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	return out, nil
}

// SendsSince lists a customer's sends on or after a local day, oldest first.
func (s *Store) SendsSince(ctx context.Context, customerID string, from civil.Date) ([]*dunning.Send, error) {
	return s.sendsSince(ctx, customerID, from, true)
}

// PeekSendsSince is SendsSince read eventually consistently, at half the
// cost, for the sweep's planning: a send recorded in the last second or
// so may be missing, which the sweep's claim on each send covers (a
// second send of the same kind on the same day cannot be claimed).
func (s *Store) PeekSendsSince(ctx context.Context, customerID string, from civil.Date) ([]*dunning.Send, error) {
	return s.sendsSince(ctx, customerID, from, false)
}

func (s *Store) sendsSince(ctx context.Context, customerID string, from civil.Date, consistent bool) ([]*dunning.Send, error) {
	e, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(attrPK).Equal(expression.Value(prefixCustomer + customerID)).
			And(expression.Key(attrSK).Between(expression.Value(prefixSend+from.String()), expression.Value(prefixSend+"~")))).Build()
	if err != nil {
		return nil, err
	}
	var out []*dunning.Send
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: e.KeyCondition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ConsistentRead: boolPtr(consistent),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("sends of %s: %w", customerID, wrap(err))
		}
		for _, av := range page.Items {
			var it sendItem
			if err := unmarshal(av, &it); err != nil {
				return nil, err
			}
			out = append(out, it.send())
		}
	}
	return out, nil
}

func boolPtr(b bool) *bool { return &b }

// UpdateSend overwrites a send record that is still in status from (a
// claim that failed or is in doubt; a draft approved or expired).
// Errors: Conflict when the status moved.
func (s *Store) UpdateSend(ctx context.Context, snd *dunning.Send, from dunning.SendStatus) error {
	c := expression.Name("status").Equal(expression.Value(string(from)))
	p, err := s.put(toSendItem(snd), &c)
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, putInput(p)); err != nil {
		return fmt.Errorf("update send: %w", wrap(err))
	}
	return nil
}

// contactItem is one entry of a customer's contact log:
// PK CUSTOMER#<id>, SK CONTACT#<time>#<kind>.
type contactItem struct {
	PK         string    `dynamodbav:"PK"`
	SK         string    `dynamodbav:"SK"`
	CustomerID string    `dynamodbav:"customer_id"`
	At         time.Time `dynamodbav:"at"`
	Channel    string    `dynamodbav:"channel"`
	Summary    string    `dynamodbav:"summary"`
	Ref        string    `dynamodbav:"ref,omitempty"` // e.g. SES message id
	Direction  string    `dynamodbav:"direction,omitempty"`
	Outcome    string    `dynamodbav:"outcome,omitempty"`
	Reason     string    `dynamodbav:"reason,omitempty"`
	FollowUpOn string    `dynamodbav:"follow_up_on,omitempty"`
}

// RecordSend completes a send in one transaction: the send becomes Sent
// with its message id, each invoice moves to its step, its next queue date
// and any fee, the customer goes on credit hold if asked, and the contact
// log gets an entry. Each invoice and the customer are written only if
// their version is still the one the sweep read; if another writer got there
// first, nothing is written and a *dunning.RecordConflict says what to
// re-read. A payment or dispute is never overwritten.
func (s *Store) RecordSend(ctx context.Context, snd *dunning.Send, advanced []*billing.Invoice, hold *billing.Customer, events []*outbound.Event) error {
	items, err := s.recordSendItems(snd, advanced, hold)
	if err != nil {
		return err
	}
	items = append(items, s.rescoreMark(snd.CustomerID)) // fees change the balance
	// The outbox records go last, so the cancellation indexes below stay right.
	evs, err := s.outEventPuts(events)
	if err != nil {
		return err
	}
	items = append(items, evs...)
	all, err := s.withAudit(ctx, items, nil) // audit records last: the indexes below stay right
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: all})
	if err == nil {
		rememberWritten(ctx, items)
		return nil
	}
	var tce *types.TransactionCanceledException
	if !asErr(err, &tce) {
		return fmt.Errorf("record send: %w", wrap(err))
	}
	rc := &dunning.RecordConflict{}
	for i, r := range tce.CancellationReasons {
		if r.Code == nil || *r.Code != "ConditionalCheckFailed" {
			continue
		}
		switch {
		case i == 0:
			rc.Claim = true
		case i <= len(advanced):
			rc.InvoiceIDs = append(rc.InvoiceIDs, advanced[i-1].ID)
		case hold != nil && i == len(advanced)+2:
			rc.Hold = true
		}
	}
	if !rc.Claim && len(rc.InvoiceIDs) == 0 && !rc.Hold {
		return fmt.Errorf("record send: %w", wrap(err)) // not a lost race
	}
	return rc
}

func (s *Store) recordSendItems(snd *dunning.Send, advanced []*billing.Invoice, hold *billing.Customer) ([]types.TransactWriteItem, error) {
	claimed := expression.Name("status").Equal(expression.Value(string(dunning.Claimed)))
	p, err := s.put(toSendItem(snd), &claimed)
	if err != nil {
		return nil, err
	}
	items := []types.TransactWriteItem{{Put: p}}
	for _, inv := range advanced {
		c := versionIs(inv.Version - 1).
			And(expression.Name("state").Equal(expression.Value(string(billing.StateOpen))))
		p, err := s.put(toInvoiceItem(inv), &c)
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: p})
	}
	summary := fmt.Sprintf("%s email %q (%s) about %d invoice(s)", snd.Tone, snd.Subject, snd.Kind, len(snd.Steps))
	at := snd.ClaimedAt
	if snd.SentAt != nil {
		at = *snd.SentAt
	}
	cp, err := s.put(contactItem{
		PK: prefixCustomer + snd.CustomerID, SK: prefixContact + at.UTC().Format(time.RFC3339Nano) + "#" + string(snd.Kind),
		CustomerID: snd.CustomerID, At: at, Channel: "email", Summary: summary, Ref: snd.MessageID,
	}, nil)
	if err != nil {
		return nil, err
	}
	items = append(items, types.TransactWriteItem{Put: cp})
	if hold != nil {
		hp, err := s.put(toCustomerItem(hold), versionIs(hold.Version-1))
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: hp})
	}
	if snd.Escalated {
		// The escalation step reached: the firm's alerts say so too (the
		// collections inbox is not the only place anyone looks).
		a := &billing.Alert{ID: ids.New("alr_", at), CustomerID: snd.CustomerID, Kind: billing.AlertEscalation, State: billing.AlertOpen,
			Message: fmt.Sprintf("%d invoice(s) reached the escalation step: %s", len(snd.Steps), snd.Subject),
			Ref:     snd.Day.String() + "#" + string(snd.Kind), CreatedAt: at, UpdatedAt: at}
		ap, err := s.put(toAlertItem(a), notExists())
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: ap})
	}
	return items, nil
}

// SaveInvoice writes a changed invoice (dunning step, next action date,
// dispute) if the stored copy is still at version inv.Version-1. The
// index keys, the work-queue entry among them, follow the fields.
// Errors: Conflict.
func (s *Store) SaveInvoice(ctx context.Context, inv *billing.Invoice) error {
	p, err := s.put(toInvoiceItem(inv), versionIs(inv.Version-1))
	if err != nil {
		return err
	}
	// Any change to an invoice may change its customer's credit score.
	items := []types.TransactWriteItem{{Put: p}, s.rescoreMark(inv.CustomerID)}
	if err := s.writeTx(ctx, items, []*apperr.Error{apperr.Race("invoice %s changed concurrently", inv.ID)}); err != nil {
		return fmt.Errorf("save invoice %s: %w", inv.ID, err)
	}
	return nil
}

// DueActions reads one shard of the work queue: invoices whose next action
// is due on or before through, oldest first.
func (s *Store) DueActions(ctx context.Context, shard int, through civil.Date, fn func(*billing.Invoice) bool) error {
	q := newIndexQuery(indexWorkQueue, fmt.Sprintf("QUEUE#%d", shard), 100)
	// Keys are "<date>#<invoice id>"; "<date>#~" sorts after every id of that date.
	q.sk, q.hasSK = expression.Key(attrGSI3SK).LessThanEqual(expression.Value(through.String()+"#~")), true
	return runTyped(ctx, s, q, "", (*invoiceItem).invoice, func(inv *billing.Invoice, _ string) bool { return fn(inv) })
}

// ListSent calls fn with every email sent on a customer-local day from
// from to to (inclusive), by day, until fn returns false. A key range of
// the sent emails' index: its cost follows the emails in the period.
func (s *Store) ListSent(ctx context.Context, from, to civil.Date, fn func(*dunning.Send) bool) error {
	q := newIndexQuery(indexByKind, kindSent, 1000)
	q.sk, q.hasSK = expression.Key(attrGSI2SK).Between(expression.Value(from.String()), expression.Value(to.String()+"#~")), true
	return runTyped(ctx, s, q, "", (*sendItem).send, func(snd *dunning.Send, _ string) bool { return fn(snd) })
}
