package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/audit"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// Values keep their exact digits and their shape; bookkeeping attributes
// (keys, index keys, version) are not changes.
func TestDiffListsContentChangesOnly(t *testing.T) {
	before := map[string]types.AttributeValue{attrPK: s("INVOICE#inv_1"), attrSK: s("INVOICE"), "version": n("3"), attrGSI3SK: s("2026-12-01#inv_1"),
		"balance": n("12345678901234567"), "state": s("open"), "fees": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"step": s("first"), "amount": n("1000")}}}}}
	after := map[string]types.AttributeValue{attrPK: s("INVOICE#inv_1"), attrSK: s("INVOICE"), "version": n("4"),
		"balance": n("12345678901234568"), "state": s("open"), "paid_on": s("2026-12-02"), "fees": before["fees"]}
	got := fmt.Sprint(diff(before, after))
	want := `[{balance 12345678901234567 12345678901234568 } {paid_on  "2026-12-02" }]`
	if got != want {
		t.Errorf("diff = %s\nwant   %s", got, want)
	}
	if got := jsonOf(before["fees"]); got != `[{"amount":1000,"step":"first"}]` {
		t.Errorf("list of maps = %s", got)
	}
	if got := jsonOf(&types.AttributeValueMemberSS{Value: []string{"b", "a\"q"}}); got != `["a\"q","b"]` {
		t.Errorf("string set = %s", got)
	}
}

// More records than fit beside the change in one transaction fold into
// one, every field named by its record's id.
func TestAuditRecordsFoldWhenTheTransactionIsFull(t *testing.T) {
	st := &Store{table: "t"}
	ctx := audit.Begin(context.Background(), "key:key_1", "POST /v1/payments", "req")
	var items []types.TransactWriteItem
	for i := range 60 {
		p, err := st.put(map[string]any{attrPK: fmt.Sprintf("INVOICE#inv_%d", i), attrSK: "INVOICE", "balance": 5}, notExists())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, types.TransactWriteItem{Put: p})
	}
	all, err := st.withAudit(ctx, items[:40], nil)
	if err != nil || len(all) != 80 {
		t.Fatalf("40 creates: %d items, %v", len(all), err)
	}
	all, err = st.withAudit(ctx, items, nil)
	if err != nil || len(all) != 61 {
		t.Fatalf("60 creates: %d items, %v", len(all), err)
	}
	var rec auditItem
	if err := unmarshal(all[60].Put.Item, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Changes) != 60 || rec.Changes[59].Field != "inv_59.balance" || rec.Actor != "key:key_1" || rec.Via != "POST /v1/payments" {
		t.Errorf("folded record: %d changes, last %+v, actor %s via %s", len(rec.Changes), rec.Changes[len(rec.Changes)-1], rec.Actor, rec.Via)
	}
}
