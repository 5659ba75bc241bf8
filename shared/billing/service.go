package billing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
	"dunlin/shared/ids"
	"dunlin/shared/money"
)

// Store persists customers and invoices. Package store implements it on
// DynamoDB. Methods return *apperr.Error with NotFound or Conflict where
// the doc says so, and wrapped internal errors otherwise.
type Store interface {
	// CreateCustomer stores a new customer. Conflict (field external_id)
	// when another customer has the same external id.
	CreateCustomer(ctx context.Context, c *Customer) error
	// GetCustomer returns NotFound when there is no such customer.
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	// GetCustomerByExternalID returns NotFound when no customer has that id.
	GetCustomerByExternalID(ctx context.Context, externalID string) (*Customer, error)
	// UpdateCustomer writes c if the stored version is still c.Version-1.
	// Conflict when the version moved or the new external id is taken.
	UpdateCustomer(ctx context.Context, c *Customer, oldExternalID string) error
	// ListCustomers calls fn with each customer in creation order, starting
	// after cursor, until fn returns false. Each call gets the cursor that
	// resumes after that customer.
	// pageSize hints how many items the caller expects to take.
	ListCustomers(ctx context.Context, cursor string, pageSize int, fn func(c *Customer, next string) bool) error

	// NextInvoiceNumber returns a fresh value of the invoice-number counter.
	NextInvoiceNumber(ctx context.Context) (int64, error)
	// CreateInvoice stores a new invoice. Conflict (field number or
	// external_id) when either is already taken.
	CreateInvoice(ctx context.Context, inv *Invoice) error
	// GetInvoice returns NotFound when there is no such invoice.
	GetInvoice(ctx context.Context, id string) (*Invoice, error)
	// GetInvoiceByExternalID returns NotFound when no invoice has that id.
	GetInvoiceByExternalID(ctx context.Context, externalID string) (*Invoice, error)
	// ListInvoices calls fn with each invoice matching q, in order of state,
	// due date and id, until fn returns false (see ListCustomers).
	ListInvoices(ctx context.Context, q InvoiceRange, fn func(inv *Invoice, next string) bool) error
	// GetPolicy returns a dunning policy by name (NotFound if none).
	GetPolicy(ctx context.Context, name string) (*dunning.Policy, error)
	// AddContact logs a contact and, if the customer responded, writes the
	// customer (conditional on its version) in the same transaction.
	AddContact(ctx context.Context, customerID string, c Contact, responded *Customer) error
	// SaveInvoice writes inv if the stored copy is still at version
	// inv.Version-1; Conflict otherwise.
	SaveInvoice(ctx context.Context, inv *Invoice) error
	// GetInvoiceByNumber returns NotFound when no invoice has that number.
	GetInvoiceByNumber(ctx context.Context, number string) (*Invoice, error)

	// Post writes a change to the books as one transaction. A failed
	// condition is a Conflict marked apperr.ErrLostRace (re-read, retry),
	// ErrDuplicateEvent for an event already processed, or a Conflict
	// naming a taken number or external_id.
	Post(ctx context.Context, pt *Posting) error
	// GetPayment returns NotFound when there is no such payment.
	GetPayment(ctx context.Context, id string) (*Payment, error)
	// GetPaymentByRef finds a provider payment by the provider's id (NotFound if none).
	GetPaymentByRef(ctx context.Context, provider, ref string) (*Payment, error)
	// ListPayments calls fn with each payment in r (see ListCustomers).
	ListPayments(ctx context.Context, r PaymentRange, fn func(p *Payment, next string) bool) error
	// GetAccount returns a customer's credit on account (empty if none).
	GetAccount(ctx context.Context, customerID string) (*Account, error)
	// PeekAccount is GetAccount, possibly a moment stale (cheaper).
	PeekAccount(ctx context.Context, customerID string) (*Account, error)
	// GetCreditNote returns NotFound when there is no such credit note.
	GetCreditNote(ctx context.Context, id string) (*CreditNote, error)
	// EventSeen reports whether a provider event id was processed.
	EventSeen(ctx context.Context, provider, id string) (bool, error)
	// ListContacts returns a customer's latest contacts, newest first.
	ListContacts(ctx context.Context, customerID string, limit int) ([]Contact, error)
	// ListFollowUps calls fn with each customer whose next follow-up is on
	// or before through, earliest first, from cursor on, until fn returns
	// false (see ListCustomers).
	ListFollowUps(ctx context.Context, through civil.Date, cursor string, fn func(c *Customer, next string) bool) error
	// ListCustomersOnHold is ListCustomers for customers on credit hold.
	ListCustomersOnHold(ctx context.Context, cursor string, pageSize int, fn func(c *Customer, next string) bool) error
	// GetPromise returns NotFound when the customer has no such promise.
	GetPromise(ctx context.Context, customerID, id string) (*Promise, error)
	// ListPromises returns a customer's promises in creation order.
	ListPromises(ctx context.Context, customerID string) ([]*Promise, error)
	// ListAlerts returns alerts in creation order, one customer's or all.
	ListAlerts(ctx context.Context, customerID string) ([]*Alert, error)
	// SetAlertState changes an alert's state (NotFound if none).
	SetAlertState(ctx context.Context, id, state string, at time.Time) (*Alert, error)
	// ListSent calls fn with each email sent on a customer-local day from
	// from to to, by day, until fn returns false.
	ListSent(ctx context.Context, from, to civil.Date, fn func(*dunning.Send) bool) error
	// ListPromisesMade calls fn with each promise made on a day from from
	// to to, by day, until fn returns false.
	ListPromisesMade(ctx context.Context, from, to civil.Date, fn func(*Promise) bool) error
	// PutSnapshot stores a day's receivables snapshot unless the day has
	// one (false then); GetSnapshot reads one (NotFound if none).
	PutSnapshot(ctx context.Context, snap *Snapshot) (bool, error)
	GetSnapshot(ctx context.Context, day civil.Date) (*Snapshot, error)
	// SendsSince returns a customer's dunning email records from a day on.
	SendsSince(ctx context.Context, customerID string, from civil.Date) ([]*dunning.Send, error)
	// ListCreditNotes returns a customer's credit notes in order of issue.
	ListCreditNotes(ctx context.Context, customerID string) ([]*CreditNote, error)
	// GetScore returns a customer's stored credit score; one with Version
	// 0 when there is none.
	GetScore(ctx context.Context, customerID string) (*CreditScore, error)
	// DueRescores calls fn with each customer marked for rescoring or due
	// on or before through, earliest first, until fn returns false.
	DueRescores(ctx context.Context, through civil.Date, fn func(customerID string, markedAt time.Time) bool) error
}

// InvoiceRange is a key range over invoices: one customer's or all, one
// state, an optional due-date window [DueFrom, DueBefore).
type InvoiceRange struct {
	CustomerID string       // empty: all customers
	State      InvoiceState // empty: every state
	DueFrom    civil.Date   // zero: unbounded
	DueBefore  civil.Date   // zero: unbounded
	Cursor     string
	PageSize   int // hint: how many items the caller expects to take
}

// Firm holds the firm-wide settings the rules need.
type Firm struct {
	Timezone         string // IANA zone for customers without one
	DefaultCurrency  string
	DefaultTermsDays int
}

// Service applies the rules for customers and invoices on top of a Store.
type Service struct {
	store    Store
	firm     Firm
	now      func() time.Time
	indexLag time.Duration // see SetIndexLag
}

// NewService returns a Service. now is the clock; tests pass a fixed one.
func NewService(store Store, firm Firm, now func() time.Time) (*Service, error) {
	if !validZone(firm.Timezone) {
		return nil, fmt.Errorf("firm time zone %q is not an IANA zone", firm.Timezone)
	}
	cur, err := money.NormalizeCurrency(firm.DefaultCurrency)
	if err != nil {
		return nil, fmt.Errorf("firm default currency: %w", err)
	}
	firm.DefaultCurrency = cur
	if err := checkTerms(firm.DefaultTermsDays); err != nil {
		return nil, fmt.Errorf("firm default terms: %w", err)
	}
	return &Service{store: store, firm: firm, now: now, indexLag: markSettle}, nil
}

// SetIndexLag sets how long the rescoring pass lets the indexes catch up
// with the newest change that marked a customer (default one second).
// DynamoDB Local updates its indexes synchronously: 0 there.
func (s *Service) SetIndexLag(d time.Duration) { s.indexLag = d }

// Now returns the service clock's current instant.
func (s *Service) Now() time.Time { return s.now() }

// Firm returns the firm's settings.
func (s *Service) Firm() Firm { return s.firm }

// CustomerZone is the zone that decides a customer's dates.
func (s *Service) CustomerZone(c *Customer) string {
	if c.Timezone != "" {
		return c.Timezone
	}
	return s.firm.Timezone
}

// CreateCustomer validates in and stores a new customer.
// Errors: Invalid (bad field), Conflict (external_id taken).
func (s *Service) CreateCustomer(ctx context.Context, in CustomerCreate) (*Customer, error) {
	c, err := s.NewCustomer(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateCustomer(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// NewCustomer is CreateCustomer without the write: the customer in would
// create, or why it is refused. An import's dry run checks rows with it.
func (s *Service) NewCustomer(ctx context.Context, in CustomerCreate) (*Customer, error) {
	now := s.now().UTC()
	c := &Customer{
		ID:               ids.New("cus_", now),
		ExternalID:       strings.TrimSpace(in.ExternalID),
		Name:             in.Name,
		Email:            in.Email,
		CC:               in.CC,
		Language:         in.Language,
		Timezone:         in.Timezone,
		Currency:         in.Currency,
		CreditLimit:      in.CreditLimit,
		PaymentTermsDays: s.firm.DefaultTermsDays,
		CreatedAt:        now,
		UpdatedAt:        now,
		Version:          1,
	}
	if c.Language == "" {
		c.Language = "en"
	}
	if c.Currency == "" {
		c.Currency = s.firm.DefaultCurrency
	}
	if in.PaymentTermsDays != nil {
		c.PaymentTermsDays = *in.PaymentTermsDays
	}
	if err := validateCustomer(c); err != nil {
		return nil, err
	}
	c.Owner = strings.TrimSpace(in.Owner)
	if err := checkText("owner", c.Owner, maxName, false); err != nil {
		return nil, err
	}
	policy, err := s.policyNamed(ctx, in.Policy)
	if err != nil {
		return nil, err
	}
	c.Policy = policy
	return c, nil
}

// policyNamed checks that a dunning policy exists and returns the name a
// customer keeps: "" for the default ladder.
func (s *Service) policyNamed(ctx context.Context, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || name == dunning.DefaultPolicyName {
		return "", nil
	}
	if _, err := s.store.GetPolicy(ctx, name); apperr.Is(err, apperr.NotFound) {
		return "", apperr.Invalidf("policy", "no dunning policy named %q", name)
	} else if err != nil {
		return "", err
	}
	return name, nil
}

// FindCustomerByExternalID returns the customer with the firm's id, if any:
// a page of zero or one. Errors: none beyond internal.
func (s *Service) FindCustomerByExternalID(ctx context.Context, externalID string) (Page[Customer], error) {
	c, err := s.store.GetCustomerByExternalID(ctx, strings.TrimSpace(externalID))
	return single(c, err)
}

// FindInvoiceByExternalID is FindCustomerByExternalID for invoices.
func (s *Service) FindInvoiceByExternalID(ctx context.Context, externalID string) (Page[Invoice], error) {
	inv, err := s.store.GetInvoiceByExternalID(ctx, strings.TrimSpace(externalID))
	return single(inv, err)
}

// single turns a lookup into a page of at most one: not found is an empty
// list, as a filter that matches nothing should be.
func single[T any](item *T, err error) (Page[T], error) {
	if apperr.Is(err, apperr.NotFound) {
		return Page[T]{}, nil
	}
	if err != nil {
		return Page[T]{}, err
	}
	return Page[T]{Items: []*T{item}}, nil
}

// GetCustomer returns a customer. Errors: NotFound.
func (s *Service) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	if !ids.Valid("cus_", id) {
		return nil, apperr.NotFoundf("no customer %q", id)
	}
	return s.store.GetCustomer(ctx, id)
}

// maxRetries bounds optimistic-locking retries; past it the caller sees Conflict.
const maxRetries = 10

// retryRaces runs try until it stops losing optimistic-locking races
// (apperr.ErrLostRace), re-reading each time, with jittered backoff; past
// maxRetries the race is reported as a Conflict. Business conflicts are
// returned at once.
func retryRaces[T any](ctx context.Context, try func() (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := try()
		if !errors.Is(err, apperr.ErrLostRace) || attempt >= maxRetries {
			return v, err
		}
		if err := backoff(ctx, attempt); err != nil {
			var zero T
			return zero, err
		}
	}
}

// backoff waits a little before retrying a lost optimistic-locking race:
// random, and growing with the attempt, so racing writers spread out
// instead of colliding again in lockstep.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(5*time.Millisecond) << min(attempt, 5)))
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PauseInput is the body of POST /v1/customers/{id}/pause.
type PauseInput struct {
	Reason string `json:"reason"`
	Until  string `json:"until"` // inclusive, customer-local; empty: until resumed
}

// PauseCustomer stops dunning for a customer, with a reason, until a date
// or until resumed. Errors: NotFound, Invalid.
func (s *Service) PauseCustomer(ctx context.Context, id string, in PauseInput) (*Customer, error) {
	if strings.TrimSpace(in.Reason) == "" {
		return nil, apperr.Invalidf("reason", "reason is required: why is dunning paused?")
	}
	if err := checkText("reason", in.Reason, maxDescription, false); err != nil {
		return nil, err
	}
	var until civil.Date
	if in.Until != "" {
		var err error
		if until, err = checkDate("until", in.Until); err != nil {
			return nil, err
		}
	}
	return s.changeCustomer(ctx, id, func(c *Customer) error {
		if !until.IsZero() && until.Before(civil.Today(s.now(), Location(s.CustomerZone(c)))) {
			return apperr.Invalidf("until", "until %s is in the past", until)
		}
		c.Paused, c.PauseReason, c.PausedUntil = true, strings.TrimSpace(in.Reason), until
		return nil
	})
}

// ResumeCustomer ends a pause. Errors: NotFound.
func (s *Service) ResumeCustomer(ctx context.Context, id string) (*Customer, error) {
	return s.changeCustomer(ctx, id, func(c *Customer) error {
		// Resuming is a person's decision to dun again, open disputes or not.
		c.Paused, c.PauseReason, c.PausedUntil = false, "", civil.Date{}
		c.DisputesReleased, c.DisputeHolds = append(slices.Clone(c.DisputesReleased), c.DisputeHolds...), nil
		return nil
	})
}

// changeCustomer applies a change under optimistic locking, retrying races.
func (s *Service) changeCustomer(ctx context.Context, id string, change func(*Customer) error) (*Customer, error) {
	return retryRaces(ctx, func() (*Customer, error) {
		cur, err := s.GetCustomer(ctx, id)
		if err != nil {
			return nil, err
		}
		c := *cur
		if err := change(&c); errors.Is(err, errUnchanged) {
			return cur, nil
		} else if err != nil {
			return nil, err
		}
		c.UpdatedAt, c.Version = s.now().UTC(), cur.Version+1
		if err := s.store.UpdateCustomer(ctx, &c, cur.ExternalID); err != nil {
			return nil, err
		}
		return &c, nil
	})
}

// UpdateCustomer applies a partial update. Concurrent patches of different
// fields both land: a version clash re-reads and re-applies the patch.
// Errors: NotFound, Invalid, Conflict (external_id taken, or contention
// beyond retries).
func (s *Service) UpdateCustomer(ctx context.Context, id string, p CustomerPatch) (*Customer, error) {
	if p.Policy != nil {
		if _, err := s.policyNamed(ctx, *p.Policy); err != nil {
			return nil, err
		}
	}
	// A version clash re-reads and re-applies the patch, so concurrent
	// patches of different fields both land.
	return s.changeCustomer(ctx, id, func(c *Customer) error {
		c.CC = append([]string(nil), c.CC...)
		return applyPatch(c, p)
	})
}

// PlanCustomerUpdate is UpdateCustomer without the write: the fields p
// would change on cur (none when it changes nothing), or why it is refused.
func (s *Service) PlanCustomerUpdate(ctx context.Context, cur *Customer, p CustomerPatch) ([]string, error) {
	if p.Policy != nil {
		if _, err := s.policyNamed(ctx, *p.Policy); err != nil {
			return nil, err
		}
	}
	c := *cur
	c.CC = append([]string(nil), cur.CC...)
	if err := applyPatch(&c, p); err != nil {
		return nil, err
	}
	return customerChanges(cur, &c), nil
}

// customerChanges names the fields a firm sets that differ between a and b.
func customerChanges(a, b *Customer) []string {
	var changed []string
	add := func(field string, differ bool) {
		if differ {
			changed = append(changed, field)
		}
	}
	add("external_id", a.ExternalID != b.ExternalID)
	add("name", a.Name != b.Name)
	add("email", a.Email != b.Email)
	add("cc", !slices.Equal(a.CC, b.CC))
	add("language", a.Language != b.Language)
	add("timezone", a.Timezone != b.Timezone)
	add("currency", a.Currency != b.Currency)
	add("credit_limit", (a.CreditLimit == nil) != (b.CreditLimit == nil) || a.CreditLimit != nil && *a.CreditLimit != *b.CreditLimit)
	add("payment_terms_days", a.PaymentTermsDays != b.PaymentTermsDays)
	add("owner", a.Owner != b.Owner)
	add("policy", a.Policy != b.Policy)
	return changed
}

func applyPatch(c *Customer, p CustomerPatch) error {
	if p.ExternalID != nil {
		c.ExternalID = strings.TrimSpace(*p.ExternalID)
	}
	if p.Name != nil {
		c.Name = *p.Name
	}
	if p.Email != nil && *p.Email != c.Email {
		c.Email = *p.Email
		c.EmailError, c.EmailErrorAt, c.EmailInvalid = "", nil, false // a new address deserves a fresh start
	}
	if p.CC != nil {
		c.CC = *p.CC
		// An address the firm lists again is its decision to try it again.
		c.BouncedCC = slices.DeleteFunc(slices.Clone(c.BouncedCC), func(b string) bool {
			return slices.ContainsFunc(c.CC, func(a string) bool { return strings.EqualFold(a, b) })
		})
		if len(c.BouncedCC) == 0 {
			c.BouncedCC = nil
		}
	}
	if p.Language != nil {
		c.Language = *p.Language
	}
	if p.Timezone != nil {
		c.Timezone = *p.Timezone
	}
	if p.Currency != nil && strings.ToUpper(strings.TrimSpace(*p.Currency)) != c.Currency && c.CreditLimit != nil && p.CreditLimit == nil && !p.ClearCreditLimit {
		// The limit is a number of minor units of the old currency; carrying
		// it over would silently change what it means (EUR 1,000.00 becoming
		// JPY 100,000). The client must say what the limit is now.
		return apperr.Invalidf("credit_limit", "changing currency needs credit_limit (in the new currency) or clear_credit_limit in the same request")
	}
	if p.Currency != nil {
		c.Currency = *p.Currency
	}
	if p.ClearCreditLimit && p.CreditLimit != nil {
		return apperr.Invalidf("clear_credit_limit", "set either credit_limit or clear_credit_limit, not both")
	}
	if p.CreditLimit != nil {
		v := *p.CreditLimit
		c.CreditLimit = &v
	}
	if p.ClearCreditLimit {
		c.CreditLimit = nil
	}
	if p.PaymentTermsDays != nil {
		c.PaymentTermsDays = *p.PaymentTermsDays
	}
	if p.Owner != nil {
		c.Owner = strings.TrimSpace(*p.Owner)
		if err := checkText("owner", c.Owner, maxName, false); err != nil {
			return err
		}
	}
	if p.Policy != nil {
		c.Policy = strings.TrimSpace(*p.Policy)
		if c.Policy == dunning.DefaultPolicyName {
			c.Policy = ""
		}
	}
	return validateCustomer(c)
}

// Page is one page of a list and the cursor for the next, "" at the end.
type Page[T any] struct {
	Items      []*T
	NextCursor string
}

// collect takes up to limit items from a store listing that accepts or
// rejects each one, and reports a next cursor only if another accepted item
// exists, so clients never get a cursor to an empty page.
func collect[T any](limit int, list func(fn func(item *T, next string) bool) error, accept func(*T) bool) (Page[T], error) {
	var page Page[T]
	var lastNext string
	err := list(func(item *T, next string) bool {
		if !accept(item) {
			return true
		}
		if len(page.Items) == limit {
			page.NextCursor = lastNext // there is one more: resume after the last one kept
			return false
		}
		page.Items = append(page.Items, item)
		lastNext = next
		return true
	})
	return page, err
}

// FollowUps lists the customers to contact on or before a day (today in
// the firm's zone when zero), one collector's when owner is given, earliest
// first, a page of at most limit from cursor on. Its cost follows the
// follow-ups due, not the customers.
func (s *Service) FollowUps(ctx context.Context, owner string, through civil.Date, cursor string, limit int) (Page[Customer], error) {
	if through.IsZero() {
		through = civil.Today(s.now(), Location(s.firm.Timezone))
	}
	page, err := collect(limit, func(fn func(*Customer, string) bool) error {
		return s.store.ListFollowUps(ctx, through, cursor, fn)
	}, func(c *Customer) bool { return owner == "" || strings.EqualFold(c.Owner, owner) })
	if err != nil {
		return page, fmt.Errorf("follow-ups: %w", err)
	}
	return page, nil
}

// HoldInput is the body of POST /v1/customers/{id}/hold.
type HoldInput struct {
	Reason string `json:"reason"`
}

// PutOnHold puts a customer on credit hold, with a reason: no more goods
// or services on credit. Holding again updates the reason.
// Errors: NotFound, Invalid (reason).
func (s *Service) PutOnHold(ctx context.Context, id string, in HoldInput) (*Customer, error) {
	if strings.TrimSpace(in.Reason) == "" {
		return nil, apperr.Invalidf("reason", "reason is required: why is the customer on hold?")
	}
	if err := checkText("reason", in.Reason, maxDescription, false); err != nil {
		return nil, err
	}
	return s.changeCustomer(ctx, id, func(c *Customer) error {
		c.CreditHold, c.HoldReason = true, strings.TrimSpace(in.Reason)
		return nil
	})
}

// HandOffInput is the body of POST /v1/customers/{id}/hand-off.
type HandOffInput struct {
	To string `json:"to"` // who collects now: a lawyer, an agency
}

// HandOff records that a customer's debt is handed to a lawyer or a
// collection agency: from then on Dunlin sends it no dunning email (the
// case file, GET /v1/customers/{id}/case-file, goes with the hand-off).
// Handing off again changes whom to. Errors: NotFound, Invalid (to).
func (s *Service) HandOff(ctx context.Context, id string, in HandOffInput) (*Customer, error) {
	to := strings.TrimSpace(in.To)
	if to == "" {
		return nil, apperr.Invalidf("to", "to is required: who collects the debt now?")
	}
	if err := checkText("to", to, maxName, false); err != nil {
		return nil, err
	}
	return s.changeCustomer(ctx, id, func(c *Customer) error {
		if c.HandedOffTo == to {
			return errUnchanged
		}
		now := s.now().UTC()
		c.HandedOffTo, c.HandedOffAt = to, &now
		return nil
	})
}

// TakeBack ends a hand-off: dunning resumes at each invoice's next
// scheduled action. Errors: NotFound.
func (s *Service) TakeBack(ctx context.Context, id string) (*Customer, error) {
	return s.changeCustomer(ctx, id, func(c *Customer) error {
		if c.HandedOffTo == "" {
			return errUnchanged
		}
		c.HandedOffTo, c.HandedOffAt = "", nil
		return nil
	})
}

// ReleaseHold takes a customer off credit hold. Errors: NotFound.
func (s *Service) ReleaseHold(ctx context.Context, id string) (*Customer, error) {
	return s.changeCustomer(ctx, id, func(c *Customer) error {
		c.CreditHold, c.HoldReason = false, ""
		return nil
	})
}

// ListCustomersOnHold returns a page of the customers on credit hold.
// Errors: BadRequest (malformed cursor).
func (s *Service) ListCustomersOnHold(ctx context.Context, cursor string, limit int) (Page[Customer], error) {
	return collect(limit, func(fn func(*Customer, string) bool) error {
		return s.store.ListCustomersOnHold(ctx, cursor, limit+1, fn)
	}, func(*Customer) bool { return true })
}

// ListCustomers returns a page of customers in creation order.
// Errors: BadRequest (malformed cursor).
func (s *Service) ListCustomers(ctx context.Context, cursor string, limit int) (Page[Customer], error) {
	return collect(limit, func(fn func(*Customer, string) bool) error {
		return s.store.ListCustomers(ctx, cursor, limit+1, fn)
	}, func(*Customer) bool { return true })
}

// CreateInvoice validates in and stores a new invoice for an existing
// customer. Errors: Invalid (bad field, unknown customer), Conflict (number
// or external_id taken).
func (s *Service) CreateInvoice(ctx context.Context, in InvoiceCreate) (*Invoice, error) {
	cust, inv, err := s.newInvoice(ctx, in)
	if err != nil {
		return nil, err
	}
	// A customer's credit on account pays new invoices first.
	limit, err := s.owedBeforeInvoice(ctx, cust)
	if err != nil {
		return nil, err
	}
	create := func(inv *Invoice) error {
		return s.storeNewInvoice(ctx, inv, limit, func(inv *Invoice) error { return s.store.CreateInvoice(ctx, inv) })
	}
	if inv.Number != "" {
		err = create(inv)
	} else {
		err = s.createNumbered(ctx, inv, create)
	}
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// NewInvoice is CreateInvoice without the write: the invoice in would
// create (without a number when in has none, and before any credit on
// account pays it), or why it is refused.
func (s *Service) NewInvoice(ctx context.Context, in InvoiceCreate) (*Invoice, error) {
	_, inv, err := s.newInvoice(ctx, in)
	if err != nil || inv.Number == "" {
		return inv, err
	}
	// The write refuses a number already taken; a check says so too.
	taken, err := s.store.GetInvoiceByNumber(ctx, inv.Number)
	if apperr.Is(err, apperr.NotFound) {
		return inv, nil
	}
	if err != nil {
		return nil, err
	}
	return nil, apperr.Field(apperr.Conflict, "number", "invoice number %q is taken by %s", inv.Number, taken.ID)
}

func (s *Service) newInvoice(ctx context.Context, in InvoiceCreate) (*Customer, *Invoice, error) {
	cust, err := s.invoiceCustomer(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	inv, err := s.buildInvoice(cust, in)
	return cust, inv, err
}

func (s *Service) buildInvoice(cust *Customer, in InvoiceCreate) (_ *Invoice, err error) {
	now := s.now().UTC()
	zone := s.CustomerZone(cust)
	inv := &Invoice{
		ID:          ids.New("inv_", now),
		CustomerID:  cust.ID,
		Number:      strings.TrimSpace(in.Number),
		ExternalID:  strings.TrimSpace(in.ExternalID),
		Currency:    cust.Currency,
		Timezone:    zone,
		PaymentURL:  strings.TrimSpace(in.PaymentURL),
		Description: in.Description,
		State:       StateOpen,
		DunningStep: -1,
		CreatedAt:   now,
		UpdatedAt:   now,
		Version:     1,
	}
	if err := checkText("number", inv.Number, maxNumber, false); err != nil {
		return nil, err
	}
	if err := checkText("external_id", inv.ExternalID, maxExternalID, false); err != nil {
		return nil, err
	}
	if in.Currency != "" {
		if inv.Currency, err = checkCurrency("currency", in.Currency); err != nil {
			return nil, err
		}
	}
	if inv.Total, err = requiredAmount("total", in.Total); err != nil {
		return nil, err
	}
	inv.Balance = inv.Total
	inv.IssuedOn = civil.Today(now, Location(zone))
	if in.IssuedOn != "" {
		if inv.IssuedOn, err = checkDate("issued_on", in.IssuedOn); err != nil {
			return nil, err
		}
	}
	inv.DueOn = inv.IssuedOn.AddDays(cust.PaymentTermsDays)
	if in.DueOn != "" {
		if inv.DueOn, err = checkDate("due_on", in.DueOn); err != nil {
			return nil, err
		}
		if inv.DueOn.Before(inv.IssuedOn) {
			return nil, apperr.Invalidf("due_on", "due_on %s is before issued_on %s", inv.DueOn, inv.IssuedOn)
		}
	}
	// The sweep first looks at the invoice on its issue date and from then
	// on places it on the customer's ladder, so creating an invoice never
	// needs the policy.
	inv.NextActionOn = inv.IssuedOn
	if err := checkPaymentURL(inv.PaymentURL); err != nil {
		return nil, err
	}
	if err := checkText("description", inv.Description, maxDescription, false); err != nil {
		return nil, err
	}
	if d := in.EarlyPaymentDiscount; d != nil {
		if d.RateBP < 1 || d.RateBP > 5000 {
			return nil, apperr.Invalidf("early_payment_discount.rate_bp", "rate_bp must be from 1 to 5000 (0.01%% to 50%%)")
		}
		if d.Days < 0 || d.Days > maxTermsDays {
			return nil, apperr.Invalidf("early_payment_discount.days", "days must be from 0 to %d", maxTermsDays)
		}
		inv.Discount = &DiscountTerms{RateBP: d.RateBP, Days: d.Days}
	}
	return inv, nil
}

// InvoiceDetails are the parts of an issued invoice that can change
// without touching what is owed or when: nil leaves a field as it is.
type InvoiceDetails struct {
	Description *string
	PaymentURL  *string
}

// UpdateInvoiceDetails changes an invoice's description or payment link.
// Errors: NotFound, Invalid.
func (s *Service) UpdateInvoiceDetails(ctx context.Context, id string, d InvoiceDetails) (*Invoice, error) {
	if d.Description != nil {
		if err := checkText("description", *d.Description, maxDescription, false); err != nil {
			return nil, err
		}
	}
	if d.PaymentURL != nil {
		if err := checkPaymentURL(strings.TrimSpace(*d.PaymentURL)); err != nil {
			return nil, err
		}
	}
	return s.changeInvoice(ctx, id, func(inv *Invoice) error {
		changed := false
		if d.Description != nil && *d.Description != inv.Description {
			inv.Description, changed = *d.Description, true
		}
		if u := d.PaymentURL; u != nil && strings.TrimSpace(*u) != inv.PaymentURL {
			inv.PaymentURL, changed = strings.TrimSpace(*u), true
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
}

// createNumbered assigns the next free number from the firm's counter. A
// number the firm already used by hand is skipped rather than failing.
func (s *Service) createNumbered(ctx context.Context, inv *Invoice, create func(*Invoice) error) error {
	// A refused attempt may have moved the invoice (credit on account put
	// on it); each attempt starts from the invoice as it came.
	base := *inv
	for range 20 {
		*inv = base
		n, err := s.store.NextInvoiceNumber(ctx)
		if err != nil {
			return err
		}
		inv.Number = fmt.Sprintf("INV-%06d", n)
		err = create(inv)
		if e, ok := apperr.As(err); ok && e.Code == apperr.Conflict && e.Field == "number" {
			continue
		}
		return err
	}
	return apperr.New(apperr.Conflict, "could not find a free invoice number; send one in number")
}

func (s *Service) invoiceCustomer(ctx context.Context, in InvoiceCreate) (*Customer, error) {
	return s.customerNamed(ctx, in.CustomerID, in.CustomerExternalID)
}

// GetInvoice returns an invoice. Errors: NotFound.
func (s *Service) GetInvoice(ctx context.Context, id string) (*Invoice, error) {
	if !ids.Valid("inv_", id) {
		return nil, apperr.NotFoundf("no invoice %q", id)
	}
	return s.store.GetInvoice(ctx, id)
}

// InvoiceQuery filters GET /v1/invoices.
type InvoiceQuery struct {
	CustomerID string
	Status     Status // empty: all
	Cursor     string
	Limit      int
}

// Time zones span UTC-12 to UTC+14, so at any instant every customer's
// "today" lies between these two dates. Open and overdue invoices are read
// as a key range bounded by them, and only invoices due in the one or two
// dates in between are decided one by one in their own zone.
var (
	earliestZone = time.FixedZone("UTC-12", -12*3600)
	latestZone   = time.FixedZone("UTC+14", 14*3600)
)

// ListInvoices returns a page of invoices, optionally for one customer and
// one status. Overdue is decided per invoice in its own zone at the moment
// of the request. Errors: BadRequest (malformed cursor).
func (s *Service) ListInvoices(ctx context.Context, q InvoiceQuery) (Page[Invoice], error) {
	now := s.now()
	r := InvoiceRange{CustomerID: q.CustomerID, Cursor: q.Cursor, PageSize: q.Limit + 1}
	switch q.Status {
	case StatusOpen:
		r.State, r.DueFrom = StateOpen, civil.Today(now, earliestZone)
	case StatusOverdue:
		r.State, r.DueBefore = StateOpen, civil.Today(now, latestZone)
	case StatusPaid:
		r.State = StatePaid
	case StatusVoid:
		r.State = StateVoid
	}
	return collect(q.Limit, func(fn func(*Invoice, string) bool) error {
		return s.store.ListInvoices(ctx, r, fn)
	}, func(inv *Invoice) bool { return q.Status == "" || inv.Status(now) == q.Status })
}

// VoidInvoice cancels an open invoice on which nothing has been paid.
// Voiding a void invoice again returns it unchanged.
// Errors: NotFound, Invalid (reason too long), Conflict (paid or part-paid).
func (s *Service) VoidInvoice(ctx context.Context, id, reason string) (*Invoice, error) {
	if err := checkText("reason", reason, maxDescription, false); err != nil {
		return nil, err
	}
	return s.changeInvoice(ctx, id, func(inv *Invoice) error {
		switch {
		case inv.State == StateVoid:
			return errUnchanged
		case inv.State == StatePaid || inv.Balance != inv.Total+inv.FeesOutstanding():
			return apperr.New(apperr.Conflict, "invoice %s has payments applied; issue a credit note instead of voiding it", inv.Number)
		}
		now := s.now().UTC()
		inv.State, inv.Balance, inv.NextActionOn, inv.PromiseID = StateVoid, 0, civil.Date{}, ""
		inv.VoidedAt, inv.VoidReason = &now, reason
		return nil
	})
}

// DisputeInvoice records that the customer disputes an open invoice: dunning
// stops for it (it leaves the sweep's work queue) until the dispute is
// resolved. Disputing again updates the reason.
// Errors: NotFound, Invalid (reason), Conflict (not open).
func (s *Service) DisputeInvoice(ctx context.Context, id, reason string) (*Invoice, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, apperr.Invalidf("reason", "reason is required: what does the customer dispute?")
	}
	if err := checkText("reason", reason, maxDescription, false); err != nil {
		return nil, err
	}
	return s.changeInvoice(ctx, id, func(inv *Invoice) error {
		if inv.State != StateOpen {
			return apperr.New(apperr.Conflict, "invoice %s is %s; only open invoices can be disputed", inv.Number, inv.State)
		}
		inv.Disputed, inv.DisputeReason = true, strings.TrimSpace(reason)
		return nil
	})
}

// ResolveDispute ends a dispute: dunning resumes from the invoice's current
// step, and the sweep looks at it again today. Resolving an undisputed
// invoice returns it unchanged. Errors: NotFound.
func (s *Service) ResolveDispute(ctx context.Context, id string) (*Invoice, error) {
	return s.changeInvoice(ctx, id, func(inv *Invoice) error {
		if !inv.Disputed {
			return errUnchanged
		}
		inv.Disputed, inv.DisputeReason = false, ""
		if inv.State == StateOpen {
			// The earliest date anywhere: never later than the customer's
			// today, whatever zone the sweep decides it in.
			inv.NextActionOn = civil.Today(s.now(), earliestZone)
		}
		return nil
	})
}

var errUnchanged = errors.New("unchanged")

// changeInvoice applies change to the current invoice and saves it under
// optimistic locking, retrying when someone else wrote first.
func (s *Service) changeInvoice(ctx context.Context, id string, change func(*Invoice) error) (*Invoice, error) {
	return retryRaces(ctx, func() (*Invoice, error) {
		inv, err := s.GetInvoice(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := change(inv); errors.Is(err, errUnchanged) {
			return inv, nil
		} else if err != nil {
			return nil, err
		}
		inv.UpdatedAt = s.now().UTC()
		inv.Version++
		if err := s.store.SaveInvoice(ctx, inv); err != nil {
			return nil, err
		}
		return inv, nil
	})
}

// WaiveFee waives the late fee a step added to an invoice, keeping the
// reason; the balance drops by the fee. Waiving twice keeps the first reason.
// Errors: NotFound (invoice or fee), Invalid (reason), Conflict (not open).
func (s *Service) WaiveFee(ctx context.Context, id, stepName, reason string) (*Invoice, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, apperr.Invalidf("reason", "reason is required: why is the fee waived?")
	}
	if err := checkText("reason", reason, maxDescription, false); err != nil {
		return nil, err
	}
	return s.changeInvoice(ctx, id, func(inv *Invoice) error {
		for i := range inv.Fees {
			f := &inv.Fees[i]
			if f.StepName != stepName {
				continue
			}
			if f.Waived {
				return errUnchanged
			}
			if inv.State != StateOpen {
				return apperr.New(apperr.Conflict, "invoice %s is %s; fees can be waived on open invoices", inv.Number, inv.State)
			}
			if f.Amount > inv.Balance {
				// The customer has paid part of the fee already; waiving it
				// all would leave money owed back, which is a refund.
				return apperr.New(apperr.Conflict, "invoice %s has only %d left to pay, less than the %d fee: refund the customer instead", inv.Number, inv.Balance, f.Amount)
			}
			f.Waived, f.WaiveReason = true, strings.TrimSpace(reason)
			inv.Balance -= f.Amount
			if inv.Balance == 0 { // the fee was all that was left: settled
				inv.State, inv.NextActionOn, inv.PaidOn, inv.PromiseID = StatePaid, civil.Date{}, civil.Today(s.now(), Location(inv.Timezone)), ""
			}
			return nil
		}
		return apperr.NotFoundf("invoice %s has no fee from step %q", inv.Number, stepName)
	})
}

// ContactInput is the body of POST /v1/customers/{id}/contacts.
type ContactInput struct {
	Channel string `json:"channel"`
	Summary string `json:"summary"`
	// Response marks the contact as the customer responding (a reply, a
	// call they answered): it resets the count of unanswered emails.
	Response bool `json:"response"`
	// Direction is outbound (the firm reached out, the default) or inbound.
	Direction string `json:"direction"`
	Outcome   string `json:"outcome"`
	// Reason is why the customer is late, from ReasonCodes.
	Reason string `json:"reason"`
	// FollowUpOn is when to contact the customer next.
	FollowUpOn string `json:"follow_up_on"`
}

var channels = map[string]bool{"phone": true, "email": true, "letter": true, "meeting": true, "note": true, "reply": true}

// ReasonCodes are the reasons for paying late a contact can record, so
// reports can break overdue money down by reason.
var ReasonCodes = []string{"cash_flow", "dispute", "missing_paperwork", "wrong_contact", "forgot", "other"}

// LogContact records a contact with a customer.
// Errors: NotFound, Invalid, Conflict (contention beyond retries).
func (s *Service) LogContact(ctx context.Context, id string, in ContactInput) (*Contact, error) {
	if !channels[in.Channel] {
		return nil, apperr.Invalidf("channel", "channel must be phone, email, letter, meeting, note or reply")
	}
	if err := checkText("summary", in.Summary, maxDescription, true); err != nil {
		return nil, err
	}
	if err := checkChoice("direction", &in.Direction, "outbound", []string{"outbound", "inbound"}); err != nil {
		return nil, err
	}
	if err := checkChoice("reason", &in.Reason, "", ReasonCodes); err != nil {
		return nil, err
	}
	if err := checkText("outcome", in.Outcome, maxDescription, false); err != nil {
		return nil, err
	}
	var followUp civil.Date
	if in.FollowUpOn != "" {
		var err error
		if followUp, err = checkDate("follow_up_on", in.FollowUpOn); err != nil {
			return nil, err
		}
	}
	return retryRaces(ctx, func() (*Contact, error) {
		c, err := s.GetCustomer(ctx, id)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC()
		contact := Contact{At: now, Channel: in.Channel, Summary: strings.TrimSpace(in.Summary),
			Direction: in.Direction, Outcome: strings.TrimSpace(in.Outcome), Reason: in.Reason, FollowUpOn: followUp}
		// The customer changes when it responded, and when the next
		// follow-up moves: each contact a person logs sets it (or clears it).
		var changed *Customer
		if in.Response || followUp != c.FollowUpOn {
			cp := *c
			if in.Response {
				cp.LastResponseAt = &now
			}
			cp.FollowUpOn, cp.UpdatedAt, cp.Version = followUp, now, c.Version+1
			changed = &cp
		}
		if err := s.store.AddContact(ctx, c.ID, contact, changed); err != nil {
			return nil, err
		}
		return &contact, nil
	})
}
