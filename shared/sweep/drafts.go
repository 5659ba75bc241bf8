package sweep

import (
	"context"
	"errors"
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

// ApproveDraft sends a drafted email now. It goes out as today's email
// (in the customer's zone), under today's limits: inside the send window,
// only if the customer has had no email today, within the weekly cap and
// the no-response limit. It is claimed and then re-checked, sent and
// recorded like any sweep email. Errors: NotFound; Conflict when the draft
// was already handled or has expired, or a limit or the window stops it.
func (s *Sweeper) ApproveDraft(ctx context.Context, now time.Time, customerID string, day civil.Date, kind dunning.SendKind) (*dunning.Send, Summary, error) {
	sum := Summary{Now: now}
	draft, err := s.store.GetSend(ctx, customerID, day, kind)
	if err != nil {
		return nil, sum, err
	}
	switch {
	case draft.Status != dunning.Draft:
		return nil, sum, apperr.New(apperr.Conflict, "this email is %s, not a draft awaiting approval", draft.Status)
	case draft.Expired(s.stamp(now)):
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
	loc := billing.Location(zone)
	today := civil.Today(now, loc)
	if reason := s.settings.Window.Closed(now, loc); reason != "" {
		return nil, sum, apperr.New(apperr.Conflict, "the customer's send window is closed now (%s); approve it during the customer's business hours", reason)
	}
	rc := newRunCache()
	pol, err := s.policyFor(ctx, rc, c)
	if err != nil {
		return nil, sum, err
	}
	if kind == dunning.ToCustomer {
		sends, err := s.store.SendsSince(ctx, c.ID, today.AddDays(-6))
		if err != nil {
			return nil, sum, err
		}
		if reason := pressure(sends, today, pol); reason != "" {
			return nil, sum, apperr.New(apperr.Conflict, "the customer cannot be emailed again now (%s)", reason)
		}
		if pol.MaxUnanswered > 0 {
			if n, err := s.unanswered(ctx, c, today, sends); err != nil {
				return nil, sum, err
			} else if n >= pol.MaxUnanswered {
				return nil, sum, apperr.New(apperr.Conflict, "the customer has not responded to %d emails; a person should call instead", n)
			}
		}
	}
	var work []due
	for _, st := range draft.Steps {
		inv, err := s.store.GetInvoice(ctx, st.InvoiceID)
		if err != nil {
			return nil, sum, err
		}
		if st.Step < len(pol.Steps) && pol.Done(inv.Progress()) < st.Step && inv.PromiseID == "" {
			work = append(work, due{inv, st.Step})
		}
	}
	// Today's send is claimed first (one email a day), then the draft is
	// marked approved; losing either race undoes the other.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	snd := &dunning.Send{CustomerID: c.ID, Day: today, Kind: kind, Status: dunning.Claimed, Tone: draft.Tone, Steps: draft.Steps, ClaimedAt: s.stamp(now), Language: emailLanguage(c, kind)}
	if draft.Day == today {
		// Drafted today: the draft holds today's key; it becomes the claim.
		if err := s.store.UpdateSend(ctx, snd, dunning.Draft); apperr.Is(err, apperr.Conflict) {
			return nil, sum, apperr.New(apperr.Conflict, "this draft was approved or changed by someone else")
		} else if err != nil {
			return nil, sum, err
		}
	} else {
		if _, claimed, err := s.store.ClaimSend(ctx, snd); err != nil {
			return nil, sum, err
		} else if !claimed {
			return nil, sum, apperr.New(apperr.Conflict, "the customer has already had an email today")
		}
		draft.Status = dunning.Approved
		if err := s.store.UpdateSend(ctx, draft, dunning.Draft); err != nil {
			if rerr := s.store.ReleaseSend(ctx, snd); rerr != nil {
				return nil, sum, errors.Join(err, rerr)
			}
			if apperr.Is(err, apperr.Conflict) {
				return nil, sum, apperr.New(apperr.Conflict, "this draft was approved or changed by someone else")
			}
			return nil, sum, err
		}
	}
	if err := s.deliverClaimed(ctx, now, today, c, pol, rc, snd, work, &sum); err != nil {
		return nil, sum, fmt.Errorf("send approved draft: %w", err)
	}
	done, err := s.store.GetSend(ctx, customerID, today, kind)
	if apperr.Is(err, apperr.NotFound) {
		// Released: everything was paid, disputed or paused meanwhile.
		return &dunning.Send{CustomerID: customerID, Day: today, Kind: kind, Status: "cancelled"}, sum, nil
	}
	return done, sum, err
}
