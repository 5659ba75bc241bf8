package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// TestRecordsCarryTheFunctionAndTheContext: a record names its function,
// the Lambda invocation and what the context was told, without the call
// repeating it; a later With of the same key wins; other contexts are
// untouched.
func TestRecordsCarryTheFunctionAndTheContext(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "sweep")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "inv-1"})
	ctx = With(ctx, "request_id", "req-1", "customer_id", "cus_1")
	ctx2 := With(ctx, "customer_id", "cus_2", "invoice_id", "inv_9")
	log.InfoContext(ctx2, "email sent", "kind", "reminder")
	log.With("run", "r1").InfoContext(ctx, "second")
	log.InfoContext(context.Background(), "bare")
	log.InfoContext(ctx, "named", "customer_id", "cus_3")

	var recs []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records", len(recs))
	}
	want := map[string]any{"function": "sweep", "aws_request_id": "inv-1", "request_id": "req-1", "customer_id": "cus_2", "invoice_id": "inv_9", "kind": "reminder", "msg": "email sent"}
	for k, v := range want {
		if recs[0][k] != v {
			t.Errorf("first record %s = %v, want %v (%v)", k, recs[0][k], v, recs[0])
		}
	}
	if recs[1]["customer_id"] != "cus_1" || recs[1]["run"] != "r1" || recs[1]["invoice_id"] != nil {
		t.Errorf("second record = %v", recs[1])
	}
	if recs[2]["function"] != "sweep" || recs[2]["request_id"] != nil || recs[2]["aws_request_id"] != nil {
		t.Errorf("a record with no context carried some: %v", recs[2])
	}
	if n := bytes.Count(buf.Bytes(), []byte(`"customer_id":"cus_3"`)); n != 1 || bytes.Contains(bytes.Split(buf.Bytes(), []byte("\n"))[3], []byte("cus_1")) {
		t.Errorf("a key the call names was written twice or lost: %s", bytes.Split(buf.Bytes(), []byte("\n"))[3])
	}
}
