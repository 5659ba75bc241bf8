package api_test

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// The customer's statement page: the signed link opens that customer's
// open invoices and nothing else; "I have paid" is logged, "I dispute
// this" disputes the invoice and alerts the firm; a forged, altered or
// expired link opens nothing.
func TestCustomerStatementPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(map[string]any{"name": "<b>Bold</b> Ltd"})
	other := f.customer(map[string]any{"name": "Someone Else"})
	paid := f.invoice(cid, 10000, map[string]any{"number": "P-1", "payment_url": "https://pay.example/P-1"})
	disputed := f.invoice(cid, 20000, map[string]any{"number": "P-2"})
	theirs := f.invoice(other, 5000, map[string]any{"number": "O-1"})
	tok, err := f.links.Token(t.Context(), cid, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	anon := f.As("")
	res := anon.Do("GET", "/s/"+tok, nil)
	page := string(res.Body)
	if res.Status != 200 || !strings.Contains(page, "P-1") || !strings.Contains(page, "P-2") || strings.Contains(page, "O-1") {
		t.Fatalf("page: %d\n%s", res.Status, page)
	}
	if !strings.Contains(page, "&lt;b&gt;Bold&lt;/b&gt; Ltd") || strings.Count(page, "Pay now") != 1 || !strings.Contains(page, `href="https://pay.example/P-1"`) {
		t.Errorf("escaping or pay links:\n%s", page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || res.Header.Get("Referrer-Policy") != "no-referrer" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", res.Header)
	}

	form := func(invoice, note string) string {
		return url.Values{"invoice_id": {invoice}, "note": {note}}.Encode()
	}
	post := func(path, body string) int {
		return anon.Do("POST", path, body, "Content-Type", "application/x-www-form-urlencoded").Status
	}
	if st := post("/s/"+tok+"/paid", form(paid, "bank transfer on Friday")); st != 303 {
		t.Errorf("paid = %d", st)
	}
	if st := post("/s/"+tok+"/dispute", form(disputed, "never delivered")); st != 303 {
		t.Errorf("dispute = %d", st)
	}
	if st := post("/s/"+tok+"/dispute", form(disputed, "again")); st != 422 {
		t.Errorf("a replayed dispute = %d", st)
	}
	if st := post("/s/"+tok+"/dispute", form(theirs, "")); st != 422 {
		t.Errorf("another customer's invoice = %d", st)
	}
	if inv := f.get("/v1/invoices/" + disputed); inv["disputed"] != true || !strings.Contains(inv["dispute_reason"].(string), "never delivered") {
		t.Errorf("disputed invoice: %v %v", inv["disputed"], inv["dispute_reason"])
	}
	if inv := f.get("/v1/invoices/" + theirs); inv["disputed"] != false {
		t.Error("another customer's invoice was disputed")
	}
	contacts := f.get("/v1/customers/" + cid + "/contacts")["data"].([]any)
	var said []string
	for _, c := range contacts {
		c := c.(map[string]any)
		said = append(said, c["channel"].(string)+": "+c["summary"].(string))
	}
	joined := strings.Join(said, "\n")
	if !strings.Contains(joined, "portal: says invoice P-1 is paid: bank transfer on Friday") || !strings.Contains(joined, "portal: disputes invoice P-2: never delivered") {
		t.Errorf("contact log:\n%s\n%s", joined, f.Do("GET", "/v1/customers/"+cid+"/contacts", nil).Body)
	}
	alerts := f.get("/v1/alerts?customer_id=" + cid)["data"].([]any)
	found := false
	for _, a := range alerts {
		found = found || a.(map[string]any)["kind"] == "customer_dispute" && a.(map[string]any)["ref"] == disputed
	}
	if !found || len(alerts) != 1 {
		t.Errorf("want one customer_dispute alert: %v", alerts)
	}
	// The audit trail says the customer did it, through its page.
	byCustomer := false
	for _, r := range f.get("/v1/audit?entity=" + disputed)["data"].([]any) {
		r := r.(map[string]any)
		byCustomer = byCustomer || r["actor"] == "customer:"+cid && r["via"] == "POST /s/{token}/dispute"
	}
	if !byCustomer {
		t.Error("the dispute is not in the audit trail as the customer's")
	}

	parts := strings.Split(tok, ".")
	for name, bad := range map[string]string{
		"another customer": other + "." + parts[1] + "." + parts[2],
		"a longer life":    parts[0] + "." + "99999999999" + "." + parts[2],
		"garbage":          "x",
	} {
		if res := anon.Do("GET", "/s/"+bad, nil); res.Status != 404 || strings.Contains(string(res.Body), "Someone Else") {
			t.Errorf("%s: %d", name, res.Status)
		}
	}
	// In the customer's language.
	zh := f.customer(map[string]any{"name": "华信", "language": "zh-CN"})
	f.invoice(zh, 8800, map[string]any{"number": "Z-1"})
	ztok, _ := f.links.Token(t.Context(), zh, f.clock.Now())
	if res := anon.Do("GET", "/s/"+ztok, nil); !strings.Contains(string(res.Body), "我已付款") || !strings.Contains(string(res.Body), `lang="zh-CN"`) {
		t.Errorf("zh page:\n%s", res.Body)
	}
	f.clock.Set(f.clock.Now().Add(31 * 24 * time.Hour))
	if res := anon.Do("GET", "/s/"+tok, nil); res.Status != 410 {
		t.Errorf("an expired link = %d", res.Status)
	}
}
