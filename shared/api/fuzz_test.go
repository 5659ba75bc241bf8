package api

import (
	"testing"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/emails"
)

// FuzzDecodeRequestBodies: whatever a client sends as a request body, the
// strict decoder neither panics nor accepts it silently wrong: it either
// fills the input or answers a 400 that names what is wrong.
func FuzzDecodeRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Acme","email":"ap@acme.example","currency":"EUR"}`,
		`{"customer_id":"cus_1","total":12345,"due_on":"2026-12-01"}`,
		`{"amount":1,"allocations":[{"invoice_id":"inv_1","amount":1}]}`,
		`{"balance":0}`, `{"id":"x"}`, `{"total":"12"}`, `{"total":1e400}`, `[]`, `null`, `{} {}`,
		`{"a":` + string(make([]byte, 0)) + `}`, `{"name":"\u0000"}`, "{\"name\":\"\xff\"}",
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	} {
		f.Add([]byte(seed))
	}
	targets := []func() any{
		func() any { return &billing.CustomerCreate{} }, func() any { return &billing.CustomerPatch{} },
		func() any { return &billing.InvoiceCreate{} }, func() any { return &billing.PaymentInput{} },
		func() any { return &billing.PromiseInput{} }, func() any { return &billing.PlanInput{} },
		func() any { return &emails.Phrases{} },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, newTarget := range targets {
			err := decode(body, newTarget())
			if err == nil {
				continue
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.BadRequest || e.Field == "" {
				t.Fatalf("decode %q: %v, want a 400 naming a field", body, err)
			}
		}
	})
}
