package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"dunlin/shared/audit"
	"dunlin/shared/ids"
)

// The audit trail is written by the store itself: every transaction that
// changes an entity carries one audit record per entity it changes, so no
// code path can forget one, and a record exists exactly when its change
// committed. "Before" is the item as this request last read it (the
// client middleware below remembers every item the store reads in the
// request's audit.Scope); "after" is the item written. Increments made
// without a read (money applied to an invoice, credit on account) record
// their size instead.
//
// Not audited: uniqueness guards, counters, idempotency records, processed
// webhook-event markers, and the sweep's claim on a send before the email
// goes (its outcome is recorded with the send).

const prefixAudit = "AUDIT#"

// auditItem is one audit record as stored. It is written once, under
// attribute_not_exists, and never changed.
type auditItem struct {
	PK         string         `dynamodbav:"PK"`
	SK         string         `dynamodbav:"SK"`
	GSI1PK     string         `dynamodbav:"GSI1PK"` // AUDIT#<entity>
	GSI1SK     string         `dynamodbav:"GSI1SK"` // <record id>
	GSI2PK     string         `dynamodbav:"GSI2PK"` // AUDIT
	GSI2SK     string         `dynamodbav:"GSI2SK"` // <record id>
	ID         string         `dynamodbav:"id"`
	At         time.Time      `dynamodbav:"at"`
	Actor      string         `dynamodbav:"actor"`
	Via        string         `dynamodbav:"via,omitempty"`
	RequestID  string         `dynamodbav:"request_id,omitempty"`
	Entity     string         `dynamodbav:"entity"`
	Kind       string         `dynamodbav:"kind"`
	Action     string         `dynamodbav:"action"`
	CustomerID string         `dynamodbav:"customer_id,omitempty"`
	Changes    []storedChange `dynamodbav:"changes"`
}

// storedChange keeps values as JSON text: exact for numbers and free of
// DynamoDB's type rules (empty strings, mixed lists).
type storedChange struct {
	Field  string `dynamodbav:"field"`
	Before string `dynamodbav:"before,omitempty"`
	After  string `dynamodbav:"after,omitempty"`
	By     string `dynamodbav:"by,omitempty"`
}

func (it *auditItem) record() *audit.Record {
	r := &audit.Record{ID: it.ID, At: it.At, Actor: it.Actor, Via: it.Via, RequestID: it.RequestID, Entity: it.Entity,
		Kind: it.Kind, Action: it.Action, CustomerID: it.CustomerID, Changes: []audit.Change{}}
	for _, c := range it.Changes {
		r.Changes = append(r.Changes, audit.Change{Field: c.Field, Before: raw(c.Before), After: raw(c.After), By: raw(c.By)})
	}
	return r
}

func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// ListAudit calls fn with the audit records of one entity (entity != "")
// or of all entities, oldest first, from cursor on, until fn returns false.
func (s *Store) ListAudit(ctx context.Context, entity, cursor string, pageSize int, fn func(r *audit.Record, next string) bool) error {
	q := newIndexQuery(indexByKind, "AUDIT", pageSize)
	if entity != "" {
		q = newIndexQuery(indexByCustomer, prefixAudit+entity, pageSize)
	}
	return runTyped(ctx, s, q, cursor, (*auditItem).record, fn)
}

// rememberReads is client middleware: it keeps each item a GetItem or
// Query returns in the request's audit scope, as the "before" of any
// write that follows.
func rememberReads(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("DunlinAuditReads",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			sc := audit.From(ctx)
			if err != nil || sc == nil {
				return out, md, err
			}
			switch r := out.Result.(type) {
			case *dynamodb.GetItemOutput:
				rememberItem(sc, r.Item)
			case *dynamodb.QueryOutput:
				for _, it := range r.Items {
					rememberItem(sc, it)
				}
			}
			return out, md, err
		}), middleware.After)
}

func rememberItem(sc *audit.Scope, item map[string]types.AttributeValue) {
	if k, ok := itemKey(item); ok {
		sc.Remember(k, item)
	}
}

func itemKey(item map[string]types.AttributeValue) (string, bool) {
	pk, ok1 := item[attrPK].(*types.AttributeValueMemberS)
	sk, ok2 := item[attrSK].(*types.AttributeValueMemberS)
	if !ok1 || !ok2 {
		return "", false
	}
	return pk.Value + "\x00" + sk.Value, true
}

func keyString(k map[string]types.AttributeValue) string {
	s, _ := itemKey(k)
	return s
}

// entityOf names the entity an item holds, or ok=false for items that are
// not audited.
func entityOf(pk, sk string) (kind, id string, ok bool) {
	cut := func(prefix string) string { return strings.TrimPrefix(pk, prefix) }
	switch {
	case sk == "CUSTOMER":
		return "customer", cut(prefixCustomer), true
	case sk == "ACCOUNT":
		return "account", cut(prefixCustomer), true
	case sk == "SCORE":
		return "credit_score", cut(prefixCustomer), true
	case strings.HasPrefix(sk, prefixPromise):
		return "promise", strings.TrimPrefix(sk, prefixPromise), true
	case strings.HasPrefix(sk, prefixContact):
		return "contact", cut(prefixCustomer), true
	case strings.HasPrefix(sk, prefixSend):
		return "dunning_email", cut(prefixCustomer), true
	case sk == "INVOICE":
		return "invoice", cut(prefixInvoice), true
	case sk == "PAYMENT":
		return "payment", cut(prefixPayment), true
	case sk == "CREDITNOTE":
		return "credit_note", cut(prefixCreditNote), true
	case sk == "ALERT":
		return "alert", cut(prefixAlert), true
	case sk == "KEY":
		return "key", cut(prefixKey), true
	case sk == "ENDPOINT":
		return "endpoint", cut(prefixEndpoint), true
	case sk == "POLICY":
		return "policy", cut(prefixPolicy), true
	case strings.HasPrefix(pk, prefixSnapshot):
		return "snapshot", cut(prefixSnapshot), true
	case strings.HasPrefix(pk, prefixDigest):
		return "digest", cut(prefixDigest), true
	case strings.HasPrefix(pk, prefixTemplate):
		return "template", cut(prefixTemplate) + "/" + sk, true
	}
	return "", "", false
}

// notAudited are attributes that are bookkeeping, not content: keys,
// index keys, the version counter, timestamps of the write itself.
var notAudited = map[string]bool{attrPK: true, attrSK: true, attrGSI1PK: true, attrGSI1SK: true, attrGSI2PK: true, attrGSI2SK: true,
	attrGSI3PK: true, attrGSI3SK: true, attrGSI4PK: true, attrGSI4SK: true, "version": true, "updated_at": true, attrTTL: true, "secret_hash": true,
	"signing_secret": true} // secrets never reach the audit trail

// auditNote is the change an UpdateItem makes, stated by the code that
// built it (an update expression is not read back).
type auditNote struct {
	changes []audit.Change
}

// withAudit appends to items one audit Put per audited entity they change.
// notes[i] describes items[i] when it is an Update. If the records would
// not fit in the transaction's 100 items, they are folded into one record
// whose field names are prefixed with each entity's id. That record is
// found under its first entity only; callers keep their transactions
// small enough that it does not happen (maxAllocations in billing,
// MaxInvoicesPerEmail in the sweep).
func (s *Store) withAudit(ctx context.Context, items []types.TransactWriteItem, notes map[int]auditNote) ([]types.TransactWriteItem, error) {
	sc := audit.From(ctx)
	now := time.Now().UTC()
	var recs []*auditItem
	for i, it := range items {
		var (
			pk, sk        string
			before, after map[string]types.AttributeValue
			changes       []storedChange
			action        string
		)
		switch {
		case it.Put != nil:
			after = it.Put.Item
			pk, sk = str(after[attrPK]), str(after[attrSK])
			before, _ = sc.Recall(pk + "\x00" + sk).(map[string]types.AttributeValue)
			switch {
			case before != nil:
				action = "update"
			case strings.Contains(aws.ToString(it.Put.ConditionExpression), "attribute_not_exists"):
				action = "create"
			default:
				action = "write" // a replacement of a record this request did not read
			}
			changes = diff(before, after)
		case it.Delete != nil:
			pk, sk = str(it.Delete.Key[attrPK]), str(it.Delete.Key[attrSK])
			before, _ = sc.Recall(pk + "\x00" + sk).(map[string]types.AttributeValue)
			action, changes = "delete", diff(before, nil)
		case it.Update != nil:
			pk, sk = str(it.Update.Key[attrPK]), str(it.Update.Key[attrSK])
			action = "update"
			for _, c := range notes[i].changes {
				changes = append(changes, storedChange{Field: c.Field, Before: string(c.Before), After: string(c.After), By: string(c.By)})
			}
		default:
			continue
		}
		kind, id, ok := entityOf(pk, sk)
		if !ok || (len(changes) == 0 && action == "update") {
			continue
		}
		r := &auditItem{ID: ids.New("aud_", now), At: now, Actor: audit.ActorOf(ctx), Entity: id, Kind: kind, Action: action, Changes: changes}
		if sc != nil {
			r.Via, r.RequestID = sc.Via, sc.RequestID
		}
		r.CustomerID = str(after["customer_id"])
		if r.CustomerID == "" {
			r.CustomerID = str(before["customer_id"])
		}
		if kind == "customer" || kind == "account" || kind == "contact" || kind == "dunning_email" || kind == "credit_score" {
			r.CustomerID = id
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		return items, nil
	}
	if len(items)+len(recs) > 100 {
		recs = []*auditItem{fold(recs)}
	}
	items = slices.Clone(items) // the caller's slice stays as it was

	for _, r := range recs {
		r.PK, r.SK = prefixAudit+r.ID, "AUDIT"
		r.GSI1PK, r.GSI1SK = prefixAudit+r.Entity, r.ID
		r.GSI2PK, r.GSI2SK = "AUDIT", r.ID
		p, err := s.put(r, notExists())
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: p})
	}
	return items, nil
}

// fold merges records into the first, each field named "<entity>.<field>".
func fold(recs []*auditItem) *auditItem {
	out := *recs[0]
	out.Changes = nil
	for _, r := range recs {
		for _, c := range r.Changes {
			c.Field = r.Entity + "." + c.Field
			out.Changes = append(out.Changes, c)
		}
	}
	return &out
}

// rememberWritten keeps the images a committed transaction wrote, so a
// later write in the same request diffs against them.
func rememberWritten(ctx context.Context, items []types.TransactWriteItem) {
	sc := audit.From(ctx)
	if sc == nil {
		return
	}
	for _, it := range items {
		switch {
		case it.Put != nil:
			rememberItem(sc, it.Put.Item)
		case it.Delete != nil:
			sc.Remember(keyString(it.Delete.Key), nil)
		case it.Update != nil:
			sc.Remember(keyString(it.Update.Key), nil) // no longer known
		}
	}
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// diff lists the audited attributes that differ between two images.
func diff(before, after map[string]types.AttributeValue) []storedChange {
	var names []string
	for n := range before {
		names = append(names, n)
	}
	for n := range after {
		if _, ok := before[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var out []storedChange
	for _, n := range names {
		if notAudited[n] {
			continue
		}
		b, a := jsonOf(before[n]), jsonOf(after[n])
		if a != b {
			out = append(out, storedChange{Field: n, Before: b, After: a})
		}
	}
	return out
}

// jsonOf renders an attribute value as JSON text ("" for none). Numbers
// keep their exact digits.
func jsonOf(v types.AttributeValue) string {
	if v == nil {
		return ""
	}
	var b strings.Builder
	writeJSON(&b, v)
	return b.String()
}

func writeJSON(b *strings.Builder, v types.AttributeValue) {
	quote := func(s string) { q, _ := json.Marshal(s); b.Write(q) }
	list := func(n int, item func(i int)) {
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			item(i)
		}
		b.WriteByte(']')
	}
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		quote(v.Value)
	case *types.AttributeValueMemberN:
		b.WriteString(v.Value)
	case *types.AttributeValueMemberBOOL:
		b.WriteString(strconv.FormatBool(v.Value))
	case *types.AttributeValueMemberNULL:
		b.WriteString("null")
	case *types.AttributeValueMemberB:
		quote(base64.StdEncoding.EncodeToString(v.Value))
	case *types.AttributeValueMemberSS:
		s := slices.Sorted(slices.Values(v.Value))
		list(len(s), func(i int) { quote(s[i]) })
	case *types.AttributeValueMemberNS:
		list(len(v.Value), func(i int) { b.WriteString(v.Value[i]) })
	case *types.AttributeValueMemberBS:
		list(len(v.Value), func(i int) { quote(base64.StdEncoding.EncodeToString(v.Value[i])) })
	case *types.AttributeValueMemberL:
		list(len(v.Value), func(i int) { writeJSON(b, v.Value[i]) })
	case *types.AttributeValueMemberM:
		keys := make([]string, 0, len(v.Value))
		for k := range v.Value {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			quote(k)
			b.WriteByte(':')
			writeJSON(b, v.Value[k])
		}
		b.WriteByte('}')
	default:
		b.WriteString("null")
	}
}

// jsonValue is a change value built in code.
func jsonValue(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: audit value %T: %v", v, err))
	}
	return b
}
