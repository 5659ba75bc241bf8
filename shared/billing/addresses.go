package billing

import (
	"context"
	"fmt"

	"dunlin/shared/apperr"
	"dunlin/shared/ids"
)

// NoteBadAddress records on the customer that its address was refused for
// good (SES rejected the message: EmailError and EmailErrorAt) and, the
// first time since the address last worked or changed, raises an
// address_bounced alert in the same transaction. c is the customer as the
// caller read it; a customer changed since is left alone (Conflict), as
// the next send tells again.
func (s *Service) NoteBadAddress(ctx context.Context, c *Customer, reason string) error {
	now := s.now().UTC()
	marked := *c
	marked.EmailError, marked.EmailErrorAt, marked.Version, marked.UpdatedAt = reason, &now, c.Version+1, now
	pt := &Posting{Customer: &marked, CustomerID: c.ID}
	if c.EmailError == "" {
		pt.Alerts = []*Alert{{ID: ids.New("alr_", now), CustomerID: c.ID, Kind: AlertAddressBounced, State: AlertOpen,
			Ref: c.Email, CreatedAt: now, UpdatedAt: now,
			Message: fmt.Sprintf("emails to %s are refused: %s", c.Email, reason)}}
	}
	if err := s.store.Post(ctx, pt); err != nil && !apperr.Is(err, apperr.Conflict) {
		return fmt.Errorf("note bad address of %s: %w", c.ID, err)
	}
	return nil
}
