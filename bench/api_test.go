package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akrylysov/algnhsa"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"dunlin/shared/app"
	"dunlin/shared/auth"
	"dunlin/shared/config"
	"dunlin/shared/testenv"
)

// apiBench is the API function as Lambda runs it (configuration from the
// environment, app.New, the algnhsa adapter), with a middleware on its
// DynamoDB client that can capture what a request sends, so the bare
// round trip it is compared with is the very same call.
type apiBench struct {
	app    *app.App
	lambda interface {
		Invoke(context.Context, []byte) ([]byte, error)
	}
	db      *dynamodb.Client // a client built the same way, for the bare calls
	token   string
	capture *captured
}

type captured struct {
	mu     sync.Mutex
	on     bool
	inputs []any
}

func (c *captured) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("capture",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				if c.on {
					c.inputs = append(c.inputs, in.Parameters)
				}
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

// during returns the DynamoDB inputs f sent.
func (c *captured) during(f func()) []any {
	c.mu.Lock()
	c.on, c.inputs = true, nil
	c.mu.Unlock()
	f()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.inputs
}

func newAPIBench(b *testing.B) *apiBench {
	b.Helper()
	_, table := testenv.NewTable(b)
	env := map[string]string{"DUNLIN_TABLE": table, "DUNLIN_DYNAMODB_ENDPOINT": testenv.DynamoDBEndpoint(b),
		"DUNLIN_SES_ENDPOINT": testenv.SESEndpoint(b), "DUNLIN_FIRM_TIMEZONE": "Europe/Dublin", "DUNLIN_DEFAULT_CURRENCY": "EUR"}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	capture := &captured{}
	cfg.DynamoDBOptions = append(cfg.DynamoDBOptions, capture.option)
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	awsCfg, err := cfg.AWS(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := a.Keys.Create(context.Background(), "bench", auth.Admin)
	if err != nil {
		b.Fatal(err)
	}
	return &apiBench{app: a, lambda: algnhsa.New(a.API, &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2}),
		db: cfg.DynamoDB(awsCfg), token: token, capture: capture}
}

// event is an API Gateway HTTP API (payload 2.0) event, as Lambda delivers it.
func (f *apiBench) event(b *testing.B, method, path, idempotencyKey, body string) []byte {
	b.Helper()
	e := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "ANY /v1/{proxy+}", RawPath: path,
		Headers: map[string]string{"accept": "application/json", "authorization": "Bearer " + f.token,
			"host": "abcdef1234.execute-api.eu-west-1.amazonaws.com"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", APIID: "abcdef1234", DomainName: "abcdef1234.execute-api.eu-west-1.amazonaws.com",
			RequestID: fmt.Sprintf("req-%d", time.Now().UnixNano()), Stage: "$default", TimeEpoch: time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1",
				SourceIP: "203.0.113.10", UserAgent: "bench"},
		},
	}
	if idempotencyKey != "" {
		e.Headers["idempotency-key"] = idempotencyKey
	}
	if body != "" {
		e.Headers["content-type"] = "application/json"
		e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(body)), true
	}
	out, err := json.Marshal(e)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// invoke runs one event through the adapter and the API and returns the
// decoded response; anything but want fails the benchmark.
func (f *apiBench) invoke(b *testing.B, payload []byte, want int) events.APIGatewayV2HTTPResponse {
	out, err := f.lambda.Invoke(context.Background(), payload)
	if err != nil {
		b.Fatal(err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil || res.StatusCode != want {
		b.Fatalf("status %d, want %d: %s %v", res.StatusCode, want, res.Body, err)
	}
	return res
}

// pair times a bare DynamoDB call and the full handler path alternately,
// so the machine's noise falls on both alike, and reports both and their
// ratio. ns/op is the pair.
func pair(b *testing.B, calls int, bare func(i int), full func(i int)) {
	var tBare, tFull time.Duration
	n := 0
	for b.Loop() {
		t := time.Now()
		bare(n)
		t2 := time.Now()
		full(n)
		tBare, tFull = tBare+t2.Sub(t), tFull+time.Since(t2)
		n++
	}
	b.ReportMetric(float64(tBare.Microseconds())/float64(n), "bare-µs/op")
	b.ReportMetric(float64(tFull.Microseconds())/float64(n), "full-µs/op")
	b.ReportMetric(float64(tFull)/float64(tBare), "full/bare")
	b.ReportMetric(float64(calls), "dynamodb-calls/op")
}

// BenchmarkAPIOverhead: the full handler path (Lambda event JSON, the
// algnhsa adapter, router, key check, service, store, response JSON)
// against the bare DynamoDB round trips the request needs, captured from
// the request itself and replayed on the same table in the same run.
//
//   - GET /v1/invoices/{id}: the bare call is the GetItem of the invoice.
//   - POST /v1/customers: the bare call is the TransactWriteItems that
//     writes the customer and its audit record, replayed with fresh ids.
//     With an Idempotency-Key the request also makes two PutItem calls
//     (the claim before, the recorded answer after); the bare call stays
//     the one transaction, so the ratio shows what the key costs.
func BenchmarkAPIOverhead(b *testing.B) {
	f := newAPIBench(b)
	create := func(i int, key string) []byte {
		return f.event(b, "POST", "/v1/customers", key,
			fmt.Sprintf(`{"name":"Bench %d Ltd","email":"ap%d@bench.example","currency":"EUR"}`, i, i))
	}
	res := f.invoke(b, create(-1, ""), http.StatusCreated)
	var customer struct{ ID string }
	_ = json.Unmarshal([]byte(res.Body), &customer)
	res = f.invoke(b, f.event(b, "POST", "/v1/invoices", "", fmt.Sprintf(
		`{"customer_id":%q,"number":"B-1","total":12000,"issued_on":"2026-11-01","due_on":"2026-12-01"}`, customer.ID)), http.StatusCreated)
	var invoice struct{ ID string }
	_ = json.Unmarshal([]byte(res.Body), &invoice)
	get := f.event(b, "GET", "/v1/invoices/"+invoice.ID, "", "")
	f.invoke(b, get, http.StatusOK) // the key is read once, then cached

	b.Run("GET", func(b *testing.B) {
		sent := f.capture.during(func() { f.invoke(b, get, http.StatusOK) })
		in, calls := only[*dynamodb.GetItemInput](b, sent)
		pair(b, calls, func(int) {
			if _, err := f.db.GetItem(context.Background(), in); err != nil {
				b.Fatal(err)
			}
		}, func(int) { f.invoke(b, get, http.StatusOK) })
	})
	// With and without an Idempotency-Key: with one, the request also
	// claims the key before its transaction and records the answer after.
	for _, idem := range []bool{false, true} {
		name := "POST"
		if idem {
			name = "POST-with-Idempotency-Key"
		}
		b.Run(name, func(b *testing.B) {
			run := fmt.Sprint(time.Now().UnixNano())
			key := func(i int) string {
				if !idem {
					return ""
				}
				return fmt.Sprintf("%s-%d", run, i)
			}
			sent := f.capture.during(func() { f.invoke(b, create(0, key(-1)), http.StatusCreated) })
			tx, calls := only[*dynamodb.TransactWriteItemsInput](b, sent)
			payloads := map[int][]byte{}
			pair(b, calls, func(i int) {
				if _, err := f.db.TransactWriteItems(context.Background(), renewIDs(tx, fmt.Sprintf("%s%07d", run, i))); err != nil {
					b.Fatal(err)
				}
				payloads[i] = create(i+1, key(i)) // built outside the timed call
			}, func(i int) {
				f.invoke(b, payloads[i], http.StatusCreated)
				delete(payloads, i)
			})
		})
	}
}

// only returns the last DynamoDB call of type T a request made (the
// record it came for, after any read of the API key), and how many calls
// it made in all.
func only[T any](b *testing.B, sent []any) (T, int) {
	b.Helper()
	var found []T
	for _, s := range sent {
		if in, ok := s.(T); ok {
			found = append(found, in)
		}
	}
	if len(found) == 0 {
		b.Fatalf("the request made no call of the kind wanted among %d", len(sent))
	}
	return found[len(found)-1], len(sent)
}

// idInKey finds the ids Dunlin puts in keys: a prefix, an underscore and a
// time-ordered random part (cus_..., aud_...), and Idempotency-Keys.
var idInKey = regexp.MustCompile(`[a-z]{2,4}_[0-9A-Za-z]{10,}|\d{19}-capture`)

// renewIDs copies a captured transaction with every id found in its keys
// replaced by a fresh one of the same length, so each replay writes new
// items under the same conditions, as a new request would.
func renewIDs(tx *dynamodb.TransactWriteItemsInput, fresh string) *dynamodb.TransactWriteItemsInput {
	renew := func(s string) string {
		return idInKey.ReplaceAllStringFunc(s, func(id string) string {
			keep := max(len(id)-len(fresh), 0)
			return id[:keep] + fresh[max(len(fresh)-len(id), 0):]
		})
	}
	out := &dynamodb.TransactWriteItemsInput{ReturnConsumedCapacity: tx.ReturnConsumedCapacity}
	for _, it := range tx.TransactItems {
		switch {
		case it.Put != nil:
			p := *it.Put
			p.Item = renewMap(p.Item, renew)
			p.ExpressionAttributeValues = renewMap(p.ExpressionAttributeValues, renew)
			out.TransactItems = append(out.TransactItems, types.TransactWriteItem{Put: &p})
		case it.Update != nil:
			u := *it.Update
			u.Key = renewMap(u.Key, renew)
			u.ExpressionAttributeValues = renewMap(u.ExpressionAttributeValues, renew)
			out.TransactItems = append(out.TransactItems, types.TransactWriteItem{Update: &u})
		case it.ConditionCheck != nil:
			c := *it.ConditionCheck
			c.Key = renewMap(c.Key, renew)
			out.TransactItems = append(out.TransactItems, types.TransactWriteItem{ConditionCheck: &c})
		case it.Delete != nil:
			d := *it.Delete
			d.Key = renewMap(d.Key, renew)
			out.TransactItems = append(out.TransactItems, types.TransactWriteItem{Delete: &d})
		}
	}
	// ClientRequestToken is left unset: the SDK gives each call a fresh
	// one, as it did the request's.
	return out
}

func renewMap(m map[string]types.AttributeValue, renew func(string) string) map[string]types.AttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = renewValue(v, renew)
	}
	return out
}

func renewValue(v types.AttributeValue, renew func(string) string) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: renew(v.Value)}
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: renewMap(v.Value, renew)}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = renewValue(e, renew)
		}
		return &types.AttributeValueMemberL{Value: l}
	}
	return v
}

// BenchmarkAdapterOverhead: what algnhsa (net/http on Lambda) costs over a
// handler written against events.APIGatewayV2HTTPRequest directly, for the
// same small JSON answer, in time and allocations per request.
func BenchmarkAdapterOverhead(b *testing.B) {
	body := `{"id":"inv_0123456789","state":"open","balance":"120.00"}`
	adapted := algnhsa.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
		_, _ = io.WriteString(w, body)
	}), &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2})
	native := func(ctx context.Context, payload []byte) ([]byte, error) {
		var e events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			return nil, err
		}
		return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: body,
			Headers: map[string]string{"Content-Type": "application/json", "X-Request-Id": e.RequestContext.RequestID}})
	}
	f := &apiBench{token: "dk_key_0123456789_SECRET"}
	payload := f.event(b, "GET", "/v1/invoices/inv_0123456789", "", "")
	ctx := context.Background()
	for _, h := range []func(context.Context, []byte) ([]byte, error){adapted.Invoke, native} {
		if out, err := h(ctx, payload); err != nil || !strings.Contains(string(out), "balance") {
			b.Fatalf("%s %v", out, err)
		}
	}
	extraAllocs := testing.AllocsPerRun(1000, func() { _, _ = adapted.Invoke(ctx, payload) }) -
		testing.AllocsPerRun(1000, func() { _, _ = native(ctx, payload) })
	var tAdapted, tNative time.Duration
	n := 0
	for b.Loop() {
		t := time.Now()
		_, _ = native(ctx, payload)
		t2 := time.Now()
		_, _ = adapted.Invoke(ctx, payload)
		tNative, tAdapted = tNative+t2.Sub(t), tAdapted+time.Since(t2)
		n++
	}
	b.ReportMetric(float64(tNative.Nanoseconds())/float64(n)/1000, "native-µs/op")
	b.ReportMetric(float64((tAdapted-tNative).Nanoseconds())/float64(n)/1000, "extra-µs/op")
	b.ReportMetric(extraAllocs, "extra-allocs/op")
}
