package sweep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/emails"
	"dunlin/shared/mailer"
)

// maxDigestLookBack is how many days back a digest looks for the last one.
const maxDigestLookBack = 7

// maxDigestNames bounds the customer reads a digest makes for names; any
// further customers are shown by id.
const maxDigestNames = 50

// digest emails the firm's collections address the alerts raised since the
// last digest, once a firm-local day, with the first run at or after
// DigestHour. The day is claimed before the email goes, so a digest is
// never sent twice; a run that dies between SES and the record leaves the
// claim, and the day's digest is not resent (an alert is never lost from
// the API: GET /v1/alerts lists them all).
func (s *Sweeper) digest(ctx context.Context, now time.Time, sum *Summary) error {
	if !s.settings.Digest || s.settings.CollectionsEmail == "" {
		return nil
	}
	loc := billing.Location(s.settings.FirmTimezone)
	if now.In(loc).Hour() < s.settings.DigestHour {
		return nil
	}
	day := civil.Today(now, loc)
	at := s.stamp(now)
	claimed, err := s.store.ClaimDigest(ctx, day, at)
	if err != nil || !claimed {
		return err
	}
	// The alerts raised from the last digest's claim (looking back up to a
	// week; else the last 24 hours) to this one's: consecutive digests
	// neither overlap nor leave a gap.
	since := at.Add(-24 * time.Hour)
	for back := 1; back <= maxDigestLookBack; back++ {
		prev, ok, err := s.store.DigestClaimedAt(ctx, day.AddDays(-back))
		if err != nil {
			return errors.Join(err, s.store.ReleaseDigest(ctx, day))
		}
		if ok {
			since = prev
			break
		}
	}
	listed, err := s.store.ListAlertsSince(ctx, since)
	if err != nil {
		return errors.Join(err, s.store.ReleaseDigest(ctx, day))
	}
	var alerts []*billing.Alert
	for _, a := range listed {
		if a.CreatedAt.Before(at) { // later ones are the next digest's
			alerts = append(alerts, a)
		}
	}
	if len(alerts) == 0 {
		sum.Digest = "empty"
		return s.store.FinishDigest(ctx, day, "empty", "", 0, "", at)
	}
	d := emails.Digest{FirmName: s.settings.FirmName, Day: day.String()}
	names := map[string]string{}
	for _, a := range alerts {
		name, ok := names[a.CustomerID]
		if !ok {
			name = a.CustomerID
			if len(names) < maxDigestNames {
				if c, err := s.store.GetCustomer(ctx, a.CustomerID); err == nil {
					name = c.Name
				}
			}
			names[a.CustomerID] = name
		}
		if a.State == billing.AlertOpen {
			d.Open++
		}
		d.Alerts = append(d.Alerts, emails.DigestAlert{Kind: a.Kind, Customer: name, Message: a.Message, At: a.CreatedAt.In(loc).Format("2006-01-02 15:04")})
	}
	e, err := emails.RenderDigest(d)
	if err != nil {
		return errors.Join(err, s.store.ReleaseDigest(ctx, day))
	}
	msg := mailer.Message{From: s.settings.From, To: []string{s.settings.CollectionsEmail}, Subject: e.Subject, HTML: e.HTML, Text: e.Text}
	id, err := s.deliver(ctx, msg)
	switch {
	case errors.Is(err, mailer.ErrThrottled):
		sum.Digest = "throttled"
		return s.store.ReleaseDigest(ctx, day) // nothing went: the next run tries again
	case errors.Is(err, mailer.ErrRejected):
		sum.Digest = "failed"
		return s.store.FinishDigest(ctx, day, "failed", "", len(alerts), err.Error(), at)
	case err != nil:
		sum.Digest = "in_doubt" // it may have gone: left claimed, not resent
		return fmt.Errorf("digest %s: outcome unknown: %w", day, err)
	}
	sum.Digest = "sent"
	return s.store.FinishDigest(ctx, day, "sent", id, len(alerts), "", at)
}
