package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

// partRescore is the GSI4 partition of customers whose credit score is to
// be recomputed: marked by a change, or due by the calendar. It shares
// GSI4 with the follow-up list; the two are on different items.
const partRescore = "RESCORE"

func scoreKey(customerID string) key { return key{prefixCustomer + customerID, "SCORE"} }

// scoreItem is a customer's stored credit score. GSI4 holds it in the
// rescoring queue while a rescore is pending or scheduled.
type scoreItem struct {
	PK         string       `dynamodbav:"PK"`
	SK         string       `dynamodbav:"SK"`
	GSI4PK     string       `dynamodbav:"GSI4PK,omitempty"`
	GSI4SK     string       `dynamodbav:"GSI4SK,omitempty"` // <rescore_on>#<customer id>
	CustomerID string       `dynamodbav:"customer_id"`
	Score      int          `dynamodbav:"score"`
	Grade      string       `dynamodbav:"grade,omitempty"`
	Factors    []factorItem `dynamodbav:"factors,omitempty"`
	AsOf       string       `dynamodbav:"as_of,omitempty"`
	ScoredAt   *time.Time   `dynamodbav:"scored_at,omitempty"`
	RescoreOn  string       `dynamodbav:"rescore_on,omitempty"`
	MarkedAt   string       `dynamodbav:"marked_at,omitempty"`
	Version    int64        `dynamodbav:"version"`
}

type factorItem struct {
	Name    string `dynamodbav:"name"`
	Value   string `dynamodbav:"value"`
	Points  int    `dynamodbav:"points"`
	Explain string `dynamodbav:"explain"`
}

func (it *scoreItem) score() *billing.CreditScore {
	asOf, _ := civil.Parse(it.AsOf)
	next, _ := civil.Parse(it.RescoreOn)
	cs := &billing.CreditScore{CustomerID: it.CustomerID, AsOf: asOf, RescoreOn: next, Version: it.Version,
		Score: billing.Score{Score: it.Score, Grade: it.Grade}, Marked: strings.HasPrefix(it.GSI4SK, markedNow+"#")}
	cs.MarkedAt, _ = time.Parse(time.RFC3339Nano, it.MarkedAt)
	if it.ScoredAt != nil {
		cs.ScoredAt = *it.ScoredAt
	}
	for _, f := range it.Factors {
		cs.Score.Factors = append(cs.Score.Factors, billing.ScoreFactor{Name: f.Name, Value: f.Value, Points: f.Points, Explain: f.Explain})
	}
	return cs
}

// GetScore reads a customer's stored score (Version 0: none yet).
func (s *Store) GetScore(ctx context.Context, customerID string) (*billing.CreditScore, error) {
	var it scoreItem
	found, err := s.getItem(ctx, scoreKey(customerID), &it)
	if err != nil {
		return nil, fmt.Errorf("get score of %s: %w", customerID, err)
	}
	if !found {
		return &billing.CreditScore{CustomerID: customerID}, nil
	}
	return it.score(), nil
}

// DueRescores reads the rescoring queue up to through, earliest first,
// with when each customer was marked (zero when it is due by date).
func (s *Store) DueRescores(ctx context.Context, through civil.Date, fn func(string, time.Time) bool) error {
	q := newIndexQuery(indexFollowUps, partRescore, 100)
	q.sk, q.hasSK = expression.Key(attrGSI4SK).LessThanEqual(expression.Value(through.String()+"#~")), true
	return s.run(ctx, q, "", func(item map[string]types.AttributeValue, _ string) bool {
		var marked time.Time
		if strings.HasPrefix(str(item[attrGSI4SK]), markedNow+"#") {
			marked, _ = time.Parse(time.RFC3339Nano, str(item["marked_at"]))
		}
		return fn(strings.TrimPrefix(str(item[attrPK]), prefixCustomer), marked)
	})
}

// scoreItems are a rescoring's writes: the score on its version, and the
// customer's grade and score (an update that bumps its version, so a
// writer holding an older copy of the customer re-reads it).
func (s *Store) scoreItems(cs *billing.CreditScore, add func(types.TransactWriteItem, *apperr.Error), noted func(types.TransactWriteItem, *apperr.Error, ...audit.Change)) error {
	k := scoreKey(cs.CustomerID)
	at := cs.ScoredAt
	it := scoreItem{PK: k.PK, SK: k.SK, CustomerID: cs.CustomerID, Score: cs.Score.Score, Grade: cs.Score.Grade,
		AsOf: cs.AsOf.String(), ScoredAt: &at, RescoreOn: cs.RescoreOn.String(), Version: cs.Version}
	if !cs.RescoreOn.IsZero() {
		it.GSI4PK, it.GSI4SK = partRescore, cs.RescoreOn.String()+"#"+cs.CustomerID
	}
	for _, f := range cs.Score.Factors {
		it.Factors = append(it.Factors, factorItem{f.Name, f.Value, f.Points, f.Explain})
	}
	cond := notExists()
	if cs.Version > 1 {
		cond = versionIs(cs.Version - 1)
	}
	p, err := s.put(it, cond)
	if err != nil {
		return err
	}
	add(types.TransactWriteItem{Put: p}, apperr.Race("the score of %s changed while it was recomputed", cs.CustomerID))
	e, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("grade"), expression.Value(cs.Score.Grade)).
			Set(expression.Name("score"), expression.Value(cs.Score.Score)).
			Add(expression.Name("version"), expression.Value(1))).
		WithCondition(expression.AttributeExists(expression.Name(attrPK))).Build()
	if err != nil {
		return fmt.Errorf("build grade update: %w", err)
	}
	grade, score := audit.Change{Field: "grade", After: jsonValue(cs.Score.Grade)}, audit.Change{Field: "score", After: jsonValue(cs.Score.Score)}
	if b := cs.Before; b != nil {
		grade.Before, score.Before = jsonValue(b.Grade), jsonValue(b.Score)
	}
	var changes []audit.Change
	for _, c := range []audit.Change{grade, score} {
		if string(c.Before) != string(c.After) {
			changes = append(changes, c)
		}
	}
	noted(types.TransactWriteItem{Update: txUpdate(s.table, customerKey(cs.CustomerID), e)}, apperr.New(apperr.NotFound, "no customer %q", cs.CustomerID), changes...)
	return nil
}

// markedNow sorts before every date: a customer marked by a change is
// rescored by the next pass, whatever day that pass thinks it is.
const markedNow = "0000-00-00"

// rescoreMark puts a customer at the head of the rescoring queue: an
// update in the transaction of the change that calls for it. It bumps the
// score's version, so a rescoring that read the books before this change
// fails its condition and reads them again.
func (s *Store) rescoreMark(customerID string) types.TransactWriteItem {
	e, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name(attrGSI4PK), expression.Value(partRescore)).
			Set(expression.Name(attrGSI4SK), expression.Value(markedNow+"#"+customerID)).
			Set(expression.Name("marked_at"), expression.Value(time.Now().UTC().Format(time.RFC3339Nano))).
			Set(expression.Name("customer_id"), expression.Value(customerID)).
			Add(expression.Name("version"), expression.Value(1))).Build()
	if err != nil {
		panic(fmt.Sprintf("store: build rescore mark: %v", err)) // constant shape: a bug
	}
	return types.TransactWriteItem{Update: txUpdate(s.table, scoreKey(customerID), e)}
}
