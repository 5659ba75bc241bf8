package sweep

import (
	"context"
	"fmt"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
)

// Drafts lists the emails waiting for approval, expired ones included
// (callers can tell them apart with Send.Expired).
func (s *Sweeper) Drafts(ctx context.Context) ([]*dunning.Send, error) {
	return s.store.ListDrafts(ctx)
}

// ApproveDraft sends a drafted email now: it becomes a claim and goes
// through the same re-check, send and record as any sweep email. It must be
// inside the customer's send window. Errors: NotFound; Conflict when the
// draft was already handled, has expired, or the window is closed.
func (s *Sweeper) ApproveDraft(ctx context.Context, now time.Time, customerID string, day civil.Date, kind dunning.SendKind) (*dunning.Send, Summary, error) {
	sum := Summary{Now: now}
	snd, err := s.store.GetSend(ctx, customerID, day, kind)
	if err != nil {
		return nil, sum, err
	}
	switch {
	case snd.Status != dunning.Draft:
		return nil, sum, apperr.New(apperr.Conflict, "this email is %s, not a draft awaiting approval", snd.Status)
	case snd.Expired(now):
		return nil, sum, apperr.New(apperr.Conflict, "this draft expired %s after it was made; the next sweep drafts the email afresh", dunning.DraftTTL)
	}
	c, err := s.store.GetCustomer(ctx, customerID)
	if err != nil {
		return nil, sum, err
	}
	zone := c.Timezone
	if zone == "" {
		zone = s.settings.FirmTimezone
	}
	if reason := s.settings.Window.Closed(now, billing.Location(zone)); reason != "" {
		return nil, sum, apperr.New(apperr.Conflict, "the customer's send window is closed now (%s); approve it during the customer's business hours", reason)
	}
	rc := newRunCache()
	pol, err := s.policy(ctx, rc, c.Policy)
	if err != nil {
		return nil, sum, err
	}
	var work []due
	for _, st := range snd.Steps {
		inv, err := s.store.GetInvoice(ctx, st.InvoiceID)
		if err != nil {
			return nil, sum, err
		}
		if st.Step < len(pol.Steps) && inv.DunningStep < st.Step {
			work = append(work, due{inv, st.Step})
		}
	}
	snd.Status, snd.ClaimedAt = dunning.Claimed, now.UTC()
	if err := s.store.UpdateSend(ctx, snd, dunning.Draft); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return nil, sum, apperr.New(apperr.Conflict, "this draft was approved or changed by someone else")
		}
		return nil, sum, err
	}
	if err := s.deliverClaimed(ctx, now, day, c, pol, rc, snd, work, &sum); err != nil {
		return nil, sum, fmt.Errorf("send approved draft: %w", err)
	}
	done, err := s.store.GetSend(ctx, customerID, day, kind)
	if apperr.Is(err, apperr.NotFound) {
		// Released: everything was paid, disputed or paused meanwhile.
		return &dunning.Send{CustomerID: customerID, Day: day, Kind: kind, Status: "cancelled"}, sum, nil
	}
	return done, sum, err
}
