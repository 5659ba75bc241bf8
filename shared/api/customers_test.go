package api_test

import (
	"fmt"
	"sync"
	"testing"
)

func TestCustomerCreateReadPatchList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.mustCreate("/v1/customers", map[string]any{
		"external_id": "ERP-100", "name": "华信贸易有限公司", "email": "finance@huaxin.example",
		"cc": []string{"boss@huaxin.example"}, "language": "zh-CN", "timezone": "Asia/Shanghai",
		"currency": "cny", "credit_limit": 5000000, "payment_terms_days": 45,
	})
	id := c["id"].(string)
	if c["currency"] != "CNY" || c["payment_terms_days"].(float64) != 45 || c["version"].(float64) != 1 {
		t.Errorf("created = %v", c)
	}
	got := f.Do("GET", "/v1/customers/"+id, nil).Map(t)
	if got["name"] != "华信贸易有限公司" || got["external_id"] != "ERP-100" {
		t.Errorf("read back = %v", got)
	}

	// Defaults: English, the firm's currency and terms, no zone of its own.
	d := f.mustCreate("/v1/customers", map[string]any{"name": "Plain Ltd", "email": "a@plain.example"})
	if d["language"] != "en" || d["currency"] != "GBP" || d["payment_terms_days"].(float64) != 30 || d["timezone"] != nil || d["credit_limit"] != nil {
		t.Errorf("defaults = %v", d)
	}

	res := f.Do("PATCH", "/v1/customers/"+id, map[string]any{"email": "ar@huaxin.example", "clear_credit_limit": true})
	p := res.Map(t)
	if res.Status != 200 || p["email"] != "ar@huaxin.example" || p["credit_limit"] != nil || p["name"] != "华信贸易有限公司" || p["version"].(float64) != 2 {
		t.Errorf("patched = %d %v", res.Status, p)
	}
	if res := f.Do("PATCH", "/v1/customers/"+id, map[string]any{"timezone": "Mars/Olympus"}); res.Status != 422 {
		t.Errorf("bad patch = %d", res.Status)
	}
	if v := f.Do("GET", "/v1/customers/"+id, nil).Map(t)["version"]; v.(float64) != 2 {
		t.Errorf("a rejected patch changed the version to %v", v)
	}
	if res := f.Do("GET", "/v1/customers/cus_01M842XZPHKJY7EJGDAVY9KYCS", nil); res.Status != 404 {
		t.Errorf("unknown customer = %d", res.Status)
	}
	if res := f.Do("GET", "/v1/customers/garbage", nil); res.Status != 404 {
		t.Errorf("garbage id = %d", res.Status)
	}
}

func TestDuplicateCustomerExternalIDIsAConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.customer(map[string]any{"external_id": "ERP-1"})
	res := f.Do("POST", "/v1/customers", map[string]any{"name": "Other", "email": "o@x.example", "external_id": "ERP-1"})
	if code, field := res.ErrorField(t); res.Status != 409 || code != "conflict" || field != "external_id" {
		t.Errorf("got %d %s %s", res.Status, code, field)
	}
	if n := len(f.Do("GET", "/v1/customers", nil).Map(t)["data"].([]any)); n != 1 {
		t.Errorf("%d customers stored, want 1", n)
	}
}

func TestCustomerListPagesWithCursors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var want []string
	for i := range 5 {
		want = append(want, f.customer(map[string]any{"name": fmt.Sprintf("Customer %d", i)}))
	}
	var got []string
	path := "/v1/customers?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		m := f.Do("GET", path, nil).Map(t)
		for _, c := range m["data"].([]any) {
			got = append(got, c.(map[string]any)["id"].(string))
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/v1/customers?limit=2&cursor=" + next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages gave %v, want %v (creation order)", got, want)
	}
	if res := f.Do("GET", "/v1/customers?cursor=bogus", nil); res.Status != 400 {
		t.Errorf("bogus cursor = %d", res.Status)
	}
}

// TestConcurrentPatchesLoseNoUpdate: patches of different fields racing on
// one customer all land, because a version clash re-reads and re-applies.
func TestConcurrentPatchesLoseNoUpdate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.customer(nil)
	patches := []map[string]any{
		{"name": "Acme Tools GmbH"},
		{"email": "billing@acme.example"},
		{"cc": []string{"cfo@acme.example"}},
		{"language": "zh-CN"},
		{"timezone": "Asia/Tokyo"},
		{"credit_limit": 100000},
		{"payment_terms_days": 14},
		{"external_id": "ACME-9"},
	}
	var wg sync.WaitGroup
	for _, p := range patches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := f.Do("PATCH", "/v1/customers/"+id, p); res.Status != 200 {
				t.Errorf("PATCH %v = %d %s", p, res.Status, res.Body)
			}
		}()
	}
	wg.Wait()
	c := f.Do("GET", "/v1/customers/"+id, nil).Map(t)
	for _, p := range patches {
		for k, v := range p {
			if fmt.Sprint(c[k]) != fmt.Sprint(v) {
				t.Errorf("%s = %v, want %v (an update was lost)", k, c[k], v)
			}
		}
	}
	if c["version"].(float64) != float64(1+len(patches)) {
		t.Errorf("version = %v, want %d", c["version"], 1+len(patches))
	}
}

func TestLookupsByTheFirmsExternalIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(map[string]any{"external_id": "ERP-42"})
	iid := f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "total": 100, "external_id": "BOOKS-7"})["id"]
	ids := func(path string) string {
		t.Helper()
		var out []any
		for _, d := range f.Do("GET", path, nil).Map(t)["data"].([]any) {
			out = append(out, d.(map[string]any)["id"])
		}
		return fmt.Sprint(out)
	}
	cases := map[string]string{
		"/v1/customers?external_id=ERP-42":                                fmt.Sprint([]any{cid}),
		"/v1/customers?external_id=ERP-43":                                "[]",
		"/v1/invoices?external_id=BOOKS-7":                                fmt.Sprint([]any{iid}),
		"/v1/invoices?external_id=BOOKS-7&status=open":                    fmt.Sprint([]any{iid}),
		"/v1/invoices?external_id=BOOKS-7&status=void":                    "[]",
		"/v1/invoices?external_id=BOOKS-7&customer_id=" + f.customer(nil): "[]",
		"/v1/invoices?external_id=nope":                                   "[]",
	}
	for path, want := range cases {
		if got := ids(path); got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}
}

func TestChangingCurrencyMustRestateTheCreditLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.customer(map[string]any{"credit_limit": 100000})
	res := f.Do("PATCH", "/v1/customers/"+id, map[string]any{"currency": "JPY"})
	if _, field := res.ErrorField(t); res.Status != 422 || field != "credit_limit" {
		t.Errorf("currency change alone = %d %s", res.Status, res.Body)
	}
	res = f.Do("PATCH", "/v1/customers/"+id, map[string]any{"currency": "JPY", "credit_limit": 15000000})
	if c := res.Map(t); res.Status != 200 || c["currency"] != "JPY" || c["credit_limit"].(float64) != 15000000 {
		t.Errorf("with a new limit = %d %s", res.Status, res.Body)
	}
	if res := f.Do("PATCH", "/v1/customers/"+id, map[string]any{"currency": "jpy", "name": "Same currency"}); res.Status != 200 {
		t.Errorf("same currency in lower case = %d %s", res.Status, res.Body)
	}
}
