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
	"dunlin/shared/ids"
)

const prefixDigest = "DIGEST#"

func digestKey(day civil.Date) key { return key{prefixDigest + day.String(), "DIGEST"} }

// digestItem is the firm's daily alert digest for one firm-local day:
// claimed before the email goes, so it goes at most once.
type digestItem struct {
	PK        string     `dynamodbav:"PK"`
	SK        string     `dynamodbav:"SK"`
	Day       string     `dynamodbav:"day"`
	Status    string     `dynamodbav:"status"` // claimed, sent, empty, failed
	ClaimedAt time.Time  `dynamodbav:"claimed_at"`
	SentAt    *time.Time `dynamodbav:"sent_at,omitempty"`
	MessageID string     `dynamodbav:"message_id,omitempty"`
	Alerts    int        `dynamodbav:"alerts"`
	Error     string     `dynamodbav:"error,omitempty"`
}

// ClaimDigest reserves day's digest; false when it is already claimed.
func (s *Store) ClaimDigest(ctx context.Context, day civil.Date, at time.Time) (bool, error) {
	k := digestKey(day)
	p, err := s.put(digestItem{PK: k.PK, SK: k.SK, Day: day.String(), Status: "claimed", ClaimedAt: at}, notExists())
	if err != nil {
		return false, err
	}
	_, err = s.db.PutItem(ctx, putInput(p))
	if apperr.Is(wrap(err), apperr.Conflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim digest %s: %w", day, wrap(err))
	}
	return true, nil
}

// DigestClaimedAt returns when day's digest was claimed; false if never.
func (s *Store) DigestClaimedAt(ctx context.Context, day civil.Date) (time.Time, bool, error) {
	var it digestItem
	found, err := s.getItem(ctx, digestKey(day), &it)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("get digest %s: %w", day, err)
	}
	return it.ClaimedAt, found, nil
}

// FinishDigest records what became of a claimed digest.
func (s *Store) FinishDigest(ctx context.Context, day civil.Date, status, messageID string, alerts int, errText string, at time.Time) error {
	var it digestItem
	found, err := s.getItem(ctx, digestKey(day), &it)
	if err != nil || !found {
		return fmt.Errorf("finish digest %s: %v (found %v)", day, err, found)
	}
	it.Status, it.MessageID, it.Alerts, it.Error = status, messageID, alerts, errText
	if status == "sent" {
		it.SentAt = &at
	}
	c := expression.Name("status").Equal(expression.Value("claimed"))
	p, err := s.put(it, &c)
	if err != nil {
		return err
	}
	if err := s.writeTx(ctx, []types.TransactWriteItem{{Put: p}}, []*apperr.Error{apperr.Race("digest %s finished concurrently", day)}); err != nil {
		return fmt.Errorf("finish digest %s: %w", day, err)
	}
	return nil
}

// ReleaseDigest frees a claimed digest on which nothing was sent.
func (s *Store) ReleaseDigest(ctx context.Context, day civil.Date) error {
	e := conditional(expression.Name("status").Equal(expression.Value("claimed")))
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: digestKey(day).av(),
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()})
	if err != nil {
		return fmt.Errorf("release digest %s: %w", day, wrap(err))
	}
	return nil
}

// ListAlertsSince reads the alerts raised at or after since, oldest first:
// a key range on the alerts' ids, which sort by creation time. An id never
// carries a time earlier than its creation (ids.New only ever moves on), so
// the range holds every alert raised since; creation times then drop the
// few whose ids ran ahead of them.
func (s *Store) ListAlertsSince(ctx context.Context, since time.Time) ([]*billing.Alert, error) {
	q := newIndexQuery(indexByKind, kindAlert, 100)
	q.sk, q.hasSK = expression.Key(attrGSI2SK).GreaterThanEqual(expression.Value(ids.Floor("alr_", since))), true
	var out []*billing.Alert
	err := runTyped(ctx, s, q, "", (*alertItem).alert, func(a *billing.Alert, _ string) bool {
		if !a.CreatedAt.Before(since) {
			out = append(out, a)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list alerts since %s: %w", since.Format(time.RFC3339), err)
	}
	return out, nil
}
