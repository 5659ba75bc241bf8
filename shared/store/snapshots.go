package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

const prefixSnapshot = "SNAPSHOT#"

func snapshotKey(day civil.Date) key { return key{prefixSnapshot + day.String(), "SNAPSHOT"} }

// snapshotItem is the firm's receivables at the start of a firm-local day,
// written once by the first sweep of that day.
type snapshotItem struct {
	PK      string           `dynamodbav:"PK"`
	SK      string           `dynamodbav:"SK"`
	Day     string           `dynamodbav:"day"`
	Open    map[string]int64 `dynamodbav:"open"`
	Current map[string]int64 `dynamodbav:"current"`
	// Counts of invoices past due, per currency; absent on snapshots
	// taken before they were kept.
	OverdueInvoices map[string]int64 `dynamodbav:"overdue_invoices,omitempty"`
	TakenAt         time.Time        `dynamodbav:"taken_at"`
}

// PutSnapshot stores a day's snapshot unless that day has one; false then.
func (s *Store) PutSnapshot(ctx context.Context, snap *billing.Snapshot) (bool, error) {
	k := snapshotKey(snap.Day)
	p, err := s.put(snapshotItem{PK: k.PK, SK: k.SK, Day: snap.Day.String(), Open: snap.Open, Current: snap.Current,
		OverdueInvoices: snap.OverdueInvoices, TakenAt: snap.TakenAt}, notExists())
	if err != nil {
		return false, err
	}
	err = s.writeTx(ctx, []types.TransactWriteItem{{Put: p}}, []*apperr.Error{apperr.New(apperr.Conflict, "snapshot %s exists", snap.Day)})
	if apperr.Is(err, apperr.Conflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("put snapshot %s: %w", snap.Day, err)
	}
	return true, nil
}

// GetSnapshot reads a day's snapshot. Errors: NotFound.
func (s *Store) GetSnapshot(ctx context.Context, day civil.Date) (*billing.Snapshot, error) {
	return getOne(ctx, s, snapshotKey(day), "receivables snapshot for", day.String(), func(it *snapshotItem) *billing.Snapshot {
		return &billing.Snapshot{Day: day, Open: it.Open, Current: it.Current, OverdueInvoices: it.OverdueInvoices, TakenAt: it.TakenAt}
	})
}
