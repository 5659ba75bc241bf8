package store

import (
	"context"

	"fmt"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

// customerItem is a customer as stored. GSI2 lists all customers in id
// (creation) order.
type customerItem struct {
	PK               string     `dynamodbav:"PK"`
	SK               string     `dynamodbav:"SK"`
	GSI1PK           string     `dynamodbav:"GSI1PK,omitempty"` // HOLD while on credit hold: a sparse list
	GSI1SK           string     `dynamodbav:"GSI1SK,omitempty"`
	GSI4PK           string     `dynamodbav:"GSI4PK,omitempty"` // FOLLOWUP while a follow-up date is set
	GSI4SK           string     `dynamodbav:"GSI4SK,omitempty"`
	Owner            string     `dynamodbav:"owner,omitempty"`
	FollowUpOn       string     `dynamodbav:"follow_up_on,omitempty"`
	GSI2PK           string     `dynamodbav:"GSI2PK"`
	GSI2SK           string     `dynamodbav:"GSI2SK"`
	ID               string     `dynamodbav:"id"`
	ExternalID       string     `dynamodbav:"external_id,omitempty"`
	Name             string     `dynamodbav:"name"`
	Email            string     `dynamodbav:"email"`
	CC               []string   `dynamodbav:"cc,omitempty"`
	Language         string     `dynamodbav:"language"`
	Timezone         string     `dynamodbav:"timezone,omitempty"`
	Currency         string     `dynamodbav:"currency"`
	CreditLimit      *int64     `dynamodbav:"credit_limit,omitempty"`
	PaymentTermsDays int        `dynamodbav:"payment_terms_days"`
	Policy           string     `dynamodbav:"policy,omitempty"`
	Paused           bool       `dynamodbav:"paused,omitempty"`
	PauseReason      string     `dynamodbav:"pause_reason,omitempty"`
	PausedUntil      string     `dynamodbav:"paused_until,omitempty"`
	DisputeHolds     []string   `dynamodbav:"dispute_holds,omitempty"`
	DisputesReleased []string   `dynamodbav:"disputes_released,omitempty"`
	EmailError       string     `dynamodbav:"email_error,omitempty"`
	EmailErrorAt     *time.Time `dynamodbav:"email_error_at,omitempty"`
	EmailInvalid     bool       `dynamodbav:"email_invalid,omitempty"`
	BouncedCC        []string   `dynamodbav:"bounced_cc,omitempty"`
	LastResponseAt   *time.Time `dynamodbav:"last_response_at,omitempty"`
	CreditHold       bool       `dynamodbav:"credit_hold,omitempty"`
	HoldReason       string     `dynamodbav:"hold_reason,omitempty"`
	HandedOffTo      string     `dynamodbav:"handed_off_to,omitempty"`
	HandedOffAt      *time.Time `dynamodbav:"handed_off_at,omitempty"`
	Grade            string     `dynamodbav:"grade,omitempty"`
	Score            *int       `dynamodbav:"score,omitempty"`
	CreatedAt        time.Time  `dynamodbav:"created_at"`
	UpdatedAt        time.Time  `dynamodbav:"updated_at"`
	Version          int64      `dynamodbav:"version"`
}

func toCustomerItem(c *billing.Customer) customerItem {
	k := customerKey(c.ID)
	var g1pk, g1sk string
	if c.CreditHold {
		g1pk, g1sk = partHold, c.ID
	}
	var g4pk, g4sk string
	if !c.FollowUpOn.IsZero() {
		g4pk, g4sk = partFollowUp, c.FollowUpOn.String()+"#"+c.ID
	}
	return customerItem{
		GSI1PK: g1pk, GSI1SK: g1sk, GSI4PK: g4pk, GSI4SK: g4sk, Owner: c.Owner, FollowUpOn: c.FollowUpOn.String(),
		PK: k.PK, SK: k.SK, GSI2PK: kindCustomer, GSI2SK: c.ID,
		ID: c.ID, ExternalID: c.ExternalID, Name: c.Name, Email: c.Email, CC: c.CC,
		Language: c.Language, Timezone: c.Timezone, Currency: c.Currency,
		CreditLimit: c.CreditLimit, PaymentTermsDays: c.PaymentTermsDays,
		Policy: c.Policy, Paused: c.Paused, PauseReason: c.PauseReason, PausedUntil: c.PausedUntil.String(), DisputeHolds: c.DisputeHolds, DisputesReleased: c.DisputesReleased,
		CreditHold: c.CreditHold, HoldReason: c.HoldReason, EmailError: c.EmailError, EmailErrorAt: c.EmailErrorAt, EmailInvalid: c.EmailInvalid, BouncedCC: c.BouncedCC,
		LastResponseAt: c.LastResponseAt, Grade: c.Grade, Score: c.Score, HandedOffTo: c.HandedOffTo, HandedOffAt: c.HandedOffAt,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
	}
}

func (it *customerItem) customer() *billing.Customer {
	until, _ := civil.Parse(it.PausedUntil) // "" leaves the zero date
	follow, _ := civil.Parse(it.FollowUpOn)
	return &billing.Customer{
		Owner: it.Owner, FollowUpOn: follow,
		Policy: it.Policy, Paused: it.Paused, PauseReason: it.PauseReason, PausedUntil: until, DisputeHolds: it.DisputeHolds, DisputesReleased: it.DisputesReleased,
		CreditHold: it.CreditHold, HoldReason: it.HoldReason, EmailError: it.EmailError, EmailErrorAt: it.EmailErrorAt, EmailInvalid: it.EmailInvalid, BouncedCC: it.BouncedCC, LastResponseAt: it.LastResponseAt,
		Grade: it.Grade, Score: it.Score, HandedOffTo: it.HandedOffTo, HandedOffAt: it.HandedOffAt,
		ID: it.ID, ExternalID: it.ExternalID, Name: it.Name, Email: it.Email, CC: it.CC,
		Language: it.Language, Timezone: it.Timezone, Currency: it.Currency,
		CreditLimit: it.CreditLimit, PaymentTermsDays: it.PaymentTermsDays,
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, Version: it.Version,
	}
}

func externalIDTaken(ext string) *apperr.Error {
	return apperr.Field(apperr.Conflict, "external_id", "external_id %q is already used by another record", ext)
}

// CreateCustomer writes a new customer and, in the same transaction, claims
// its external id.
func (s *Store) CreateCustomer(ctx context.Context, c *billing.Customer) error {
	p, err := s.put(toCustomerItem(c), notExists())
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{{Put: p}}
	conflicts := []*apperr.Error{apperr.New(apperr.Conflict, "customer %s already exists", c.ID)}
	if c.ExternalID != "" {
		items = append(items, s.putGuard(customerExtIDKey(c.ExternalID), c.ID))
		conflicts = append(conflicts, externalIDTaken(c.ExternalID))
	}
	if err := s.writeTx(ctx, items, conflicts); err != nil {
		return fmt.Errorf("create customer: %w", err)
	}
	return nil
}

// GetCustomer reads one customer by id.
func (s *Store) GetCustomer(ctx context.Context, id string) (*billing.Customer, error) {
	return getOne(ctx, s, customerKey(id), "customer", id, (*customerItem).customer)
}

// PeekCustomer is GetCustomer read eventually consistently, at half the
// cost: for the sweep's planning, which reads every due customer and
// re-reads consistently before it writes or sends anything.
func (s *Store) PeekCustomer(ctx context.Context, id string) (*billing.Customer, error) {
	var it customerItem
	found, err := s.getItemRead(ctx, customerKey(id), &it, false)
	if err != nil {
		return nil, fmt.Errorf("get customer %s: %w", id, err)
	}
	if !found {
		return nil, apperr.NotFoundf("no %s %q", "customer", id)
	}
	return it.customer(), nil
}

// GetCustomerByExternalID follows the external-id guard to the customer.
func (s *Store) GetCustomerByExternalID(ctx context.Context, ext string) (*billing.Customer, error) {
	id, err := s.guardOwner(ctx, customerExtIDKey(ext), "customer", ext)
	if err != nil {
		return nil, err
	}
	return s.GetCustomer(ctx, id)
}

// UpdateCustomer replaces the customer if its stored version is
// c.Version-1, moving the external-id guard in the same transaction when the
// external id changed.
func (s *Store) UpdateCustomer(ctx context.Context, c *billing.Customer, oldExternalID string) error {
	p, err := s.put(toCustomerItem(c), versionIs(c.Version-1))
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{{Put: p}}
	conflicts := []*apperr.Error{apperr.Race("customer %s was changed concurrently", c.ID)}
	if c.ExternalID != oldExternalID {
		if oldExternalID != "" {
			items = append(items, s.deleteGuard(customerExtIDKey(oldExternalID), c.ID))
			conflicts = append(conflicts, nil)
		}
		if c.ExternalID != "" {
			items = append(items, s.putGuard(customerExtIDKey(c.ExternalID), c.ID))
			conflicts = append(conflicts, externalIDTaken(c.ExternalID))
		}
	}
	// Its limit, currency or zone may move its credit score.
	items, conflicts = append(items, s.rescoreMark(c.ID)), append(conflicts, nil)
	if err := s.writeTx(ctx, items, conflicts); err != nil {
		return fmt.Errorf("update customer %s: %w", c.ID, err)
	}
	return nil
}

// ListCustomers reads GSI2's CUSTOMER partition in id order.
func (s *Store) ListCustomers(ctx context.Context, cursor string, pageSize int, fn func(*billing.Customer, string) bool) error {
	q := newIndexQuery(indexByKind, kindCustomer, pageSize)
	return runTyped(ctx, s, q, cursor, (*customerItem).customer, fn)
}

// ListCustomersOnHold reads the sparse list of customers on credit hold
// (GSI1 HOLD): its cost grows with the customers on hold, not all of them.
func (s *Store) ListCustomersOnHold(ctx context.Context, cursor string, pageSize int, fn func(*billing.Customer, string) bool) error {
	q := newIndexQuery(indexByCustomer, partHold, pageSize)
	return runTyped(ctx, s, q, cursor, (*customerItem).customer, fn)
}

// ListFollowUps reads the customers whose next contact date is on or
// before through, earliest first (GSI4, sparse: only customers with one).
func (s *Store) ListFollowUps(ctx context.Context, through civil.Date, cursor string, fn func(*billing.Customer, string) bool) error {
	q := newIndexQuery(indexFollowUps, partFollowUp, 100)
	q.sk, q.hasSK = expression.Key(attrGSI4SK).LessThanEqual(expression.Value(through.String()+"#~")), true
	return runTyped(ctx, s, q, cursor, (*customerItem).customer, fn)
}
