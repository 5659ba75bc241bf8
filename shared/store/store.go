// Package store keeps Dunlin's records in one DynamoDB table.
//
// Every access pattern is a GetItem, a Query on the table or on one of two
// overloaded global secondary indexes, or a conditional write; nothing here
// scans. The patterns and the key layout are listed in README.md beside this
// file. Items are marshalled with attributevalue and conditions built with
// the expression package.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"dunlin/shared/apperr"
)

// Store is the DynamoDB adapter. It implements billing.Store and auth.Store.
type Store struct {
	db    *dynamodb.Client
	table string
}

// New returns a Store on the named table. Its client is db plus one
// middleware that remembers what each request reads, for the audit trail.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: dynamodb.New(db.Options(), func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, rememberReads) }), table: table}
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

func (s *Store) getItem(ctx context.Context, k key, out any) (bool, error) {
	return s.getItemRead(ctx, k, out, true) // read-your-writes for API clients
}

// getItemRead is getItem with the consistency chosen: an eventually
// consistent read costs half as much and may miss a write of the last
// second or so.
func (s *Store) getItemRead(ctx context.Context, k key, out any, consistent bool) (bool, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            k.av(),
		ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return false, wrap(err)
	}
	if res.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, fmt.Errorf("unmarshal %s: %w", k.PK, err)
	}
	return true, nil
}

// getOne reads the item at k as a T and converts it to the domain type;
// a missing item is NotFound naming the kind and id.
func getOne[T any, R any](ctx context.Context, s *Store, k key, kind, id string, conv func(*T) *R) (*R, error) {
	var it T
	found, err := s.getItem(ctx, k, &it)
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	if !found {
		return nil, apperr.NotFoundf("no %s %q", kind, id)
	}
	return conv(&it), nil
}

func (k key) av() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: k.PK},
		attrSK: &types.AttributeValueMemberS{Value: k.SK},
	}
}

// wrap turns DynamoDB errors callers can act on into apperr codes:
// a failed condition is a Conflict; throttling is Unavailable (retry later).
func wrap(err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &apperr.Error{Code: apperr.Conflict, Message: "the record was changed by someone else; retry", Err: fmt.Errorf("%w: %w", apperr.ErrLostRace, err)}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "TransactionConflictException":
			return &apperr.Error{Code: apperr.Unavailable, Message: "the database is busy; retry shortly", Err: err}
		}
	}
	if unanswered(err) {
		return &apperr.Error{Code: apperr.Unavailable, Message: "the database did not answer; retry shortly", Err: err}
	}
	return err
}

// noteSilence sets silence when any attempt of the call (the SDK retries)
// got no usable answer.
func noteSilence(silence *atomic.Bool) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("NoteSilence",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleFinalize(ctx, in)
					if err != nil && unanswered(err) {
						silence.Store(true)
					}
					return out, md, err
				}), "Retry", middleware.After)
		})
	}
}

// unanswered reports whether err means DynamoDB gave no usable answer, even
// after the SDK's retries: the connection failed or dropped, the call timed
// out, or the service failed (5xx).
func unanswered(err error) bool {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return false // an answer: a refusal, not silence
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded)
}

// writeTx runs a transaction. When a condition fails, conflicts[i] (if set)
// is the error to report for item i, so callers can name the field whose
// uniqueness was violated.
func (s *Store) writeTx(ctx context.Context, items []types.TransactWriteItem, conflicts []*apperr.Error) error {
	return s.writeNoted(ctx, items, conflicts, nil)
}

// writeNoted is writeTx with notes on the Update items for the audit
// trail (see withAudit). The audit records go after the items, so
// cancellation reasons keep their indexes.
func (s *Store) writeNoted(ctx context.Context, items []types.TransactWriteItem, conflicts []*apperr.Error, notes map[int]auditNote) error {
	all, err := s.withAudit(ctx, items, notes)
	if err != nil {
		return err
	}
	var silence atomic.Bool
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: all}, noteSilence(&silence))
	if err == nil {
		rememberWritten(ctx, items)
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for i, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" && i < len(conflicts) && conflicts[i] != nil {
				e := *conflicts[i]
				if conflicts[i].Err != nil {
					// Keep the marker (a lost race, a duplicate event) for errors.Is.
					e.Err = fmt.Errorf("%w: %w", conflicts[i].Err, err)
				} else {
					e.Err = err
				}
				return &e
			}
		}
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "TransactionConflict" {
				// Another transaction held one of the items: nothing was
				// written, so re-reading and retrying is safe. Past the
				// retries it is a 503 (Unavailable), not a conflict.
				return &apperr.Error{Code: apperr.Unavailable, Message: "a concurrent change is in progress; retry shortly", Err: fmt.Errorf("%w: %w", apperr.ErrLostRace, err)}
			}
		}
	}
	if unanswered(err) || silence.Load() {
		// The transaction may have committed: an attempt went unanswered.
		// The SDK's retries carry its idempotency token, so they cannot
		// apply it twice, but none brought back an answer to trust (a
		// throttled retry says nothing of the attempt before it).
		return &apperr.Error{Code: apperr.Unavailable, Message: "the database did not answer; the change may or may not have been made",
			Err: fmt.Errorf("%w: %w", apperr.ErrInDoubt, err)}
	}
	return wrap(err)
}

// conditional builds a condition-only expression. Build can only fail on an
// empty builder, which would be a bug here, so it panics.
func conditional(c expression.ConditionBuilder) expression.Expression {
	e, err := expression.NewBuilder().WithCondition(c).Build()
	if err != nil {
		panic(fmt.Sprintf("store: build condition: %v", err))
	}
	return e
}

// put prepares a Put of item under condition c (nil: unconditional).
func (s *Store) put(item any, c *expression.ConditionBuilder) (*types.Put, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", item, err)
	}
	p := &types.Put{TableName: &s.table, Item: av}
	if c != nil {
		e := conditional(*c)
		p.ConditionExpression, p.ExpressionAttributeNames, p.ExpressionAttributeValues = e.Condition(), e.Names(), e.Values()
	}
	return p, nil
}

// notExists is the condition for creating an item that must be new.
func notExists() *expression.ConditionBuilder {
	c := expression.AttributeNotExists(expression.Name(attrPK))
	return &c
}

// versionIs is the optimistic-locking condition: the stored item still has
// the version the writer read.
func versionIs(v int64) *expression.ConditionBuilder {
	c := expression.Name("version").Equal(expression.Value(v))
	return &c
}

// guardItem reserves a unique value for its owner.
type guardItem struct {
	PK    string `dynamodbav:"PK"`
	SK    string `dynamodbav:"SK"`
	Owner string `dynamodbav:"owner"`
}

func (s *Store) putGuard(k key, owner string) types.TransactWriteItem {
	p, _ := s.put(guardItem{PK: k.PK, SK: k.SK, Owner: owner}, notExists()) // cannot fail: plain strings
	return types.TransactWriteItem{Put: p}
}

// guardOwner returns the id of the record holding a unique external id.
// Errors: NotFound when no record holds it.
func (s *Store) guardOwner(ctx context.Context, k key, kind, ext string) (string, error) {
	var g guardItem
	found, err := s.getItem(ctx, k, &g)
	if err != nil {
		return "", fmt.Errorf("find %s by external id: %w", kind, err)
	}
	if !found {
		return "", apperr.NotFoundf("no %s with external_id %q", kind, ext)
	}
	return g.Owner, nil
}

// deleteGuard releases a unique value, only if owner still holds it.
func (s *Store) deleteGuard(k key, owner string) types.TransactWriteItem {
	e := conditional(expression.Name("owner").Equal(expression.Value(owner)))
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName:                 &s.table,
		Key:                       k.av(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}
}

func putInput(p *types.Put) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{
		TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
		ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues,
	}
}

// updateInput is an UpdateItem that returns the whole item as written.
func updateInput(table string, k key, e expression.Expression) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                 &table,
		Key:                       k.av(),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	}
}

func unmarshal(av map[string]types.AttributeValue, out any) error {
	if err := attributevalue.UnmarshalMap(av, out); err != nil {
		return fmt.Errorf("unmarshal %T: %w", out, err)
	}
	return nil
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }
