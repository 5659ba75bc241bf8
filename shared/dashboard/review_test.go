package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"dunlin/shared/auth"
	"dunlin/shared/billing"
)

func TestSigningOutWorksEvenWithARevokedKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, k := f.key(auth.Admin)
	c := f.browser()
	f.signIn(c, token)
	csrf := field(t, csrfRE, f.get(c, "/app/overview").body)
	if _, err := f.app.Keys.Revoke(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	p := f.do(c, "POST", "/app/logout", url.Values{"csrf": {csrf}})
	if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Set-Cookie"), "dunlin_session=;") {
		t.Errorf("sign out with a revoked key: %d, Set-Cookie %q; want the cookie cleared", p.status, p.header.Get("Set-Cookie"))
	}
	// Another site cannot sign a live session out: the token is needed.
	token2, _ := f.key(auth.Admin)
	c2 := f.browser()
	f.signIn(c2, token2)
	if p := f.do(c2, "POST", "/app/logout", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("sign out without the token: %d, want 403", p.status)
	}
}

func TestIntegrationKeysCannotSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.key(auth.Integration)
	p := f.do(f.browser(), "POST", "/app/login", url.Values{"key": {token}})
	if p.status != http.StatusForbidden || p.header.Get("Set-Cookie") != "" || !strings.Contains(p.body, "integration key") {
		t.Errorf("an integration key signing in: %d, cookie %q", p.status, p.header.Get("Set-Cookie"))
	}
}

func TestBadQueriesAreTheReadersNotTheServers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.key(auth.Viewer)
	c := f.browser()
	f.signIn(c, token)
	for _, path := range []string{"/app/alerts?state=bogus", "/app/customers?cursor=bogus", "/app/customers/" + f.customer.ID + "/statement.csv?currency=XYZ"} {
		if p := f.get(c, path); p.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400\n%s", path, p.status, p.body)
		}
	}
}

func TestADoubleClickRecordsOnePromiseAndSaysSo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.key(auth.Collector)
	c := f.browser()
	f.signIn(c, token)
	path := "/app/customers/" + f.customer.ID
	body := f.get(c, path).body
	form := url.Values{"csrf": {field(t, csrfRE, body)}, "nonce": {field(t, nonceRE, body)}, "amount": {"100"}, "currency": {"EUR"}, "promised_on": {"2026-11-27"}}
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = f.do(c, "POST", path+"/promises", form).status
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusSeeOther {
			t.Errorf("click %d: %d, want 303 to the customer page", i, st)
		}
	}
	if ps := f.promises(); len(ps) != 1 {
		t.Errorf("%d promises recorded, want 1", len(ps))
	}
}

func TestTheCustomerPageShowsTheNewestPaymentsAndCredit(t *testing.T) {
	t.Parallel()
	f := newDunlin(t)
	ctx := context.Background()
	c, err := f.app.Billing.CreateCustomer(ctx, billing.CustomerCreate{Name: "Busy Payer", Email: "ap@busy.example", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 55 {
		amount := int64(100 + i)
		on := fmt.Sprintf("2026-%02d-%02d", 1+i/28, 1+i%28)
		if _, err := f.app.Billing.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: &amount, ReceivedOn: on, Reference: fmt.Sprintf("REF-%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	token, _ := f.key(auth.Viewer)
	br := f.browser()
	f.signIn(br, token)
	body := f.get(br, "/app/customers/"+c.ID).body
	if !strings.Contains(body, "REF-54") || strings.Contains(body, ">REF-00<") {
		t.Errorf("the page does not list the newest payments first")
	}
	if !strings.Contains(body, "Credit on account") || !strings.Contains(body, "€69.85") {
		t.Errorf("the credit on account (€69.85 unapplied) is not shown")
	}
}

func TestTheOverviewFollowsTheFirmsCurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // a EUR firm, a EUR customer overdue
	ctx := context.Background()
	c, err := f.app.Billing.CreateCustomer(ctx, billing.CustomerCreate{Name: "Tokyo Trading", Email: "ap@tokyo.example", Currency: "JPY"})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(200000)
	if _, err := f.app.Billing.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Total: &total, IssuedOn: "2026-09-01", DueOn: "2026-10-01"}); err != nil {
		t.Fatal(err)
	}
	token, _ := f.key(auth.Viewer)
	br := f.browser()
	f.signIn(br, token)
	body := f.get(br, "/app/overview").body
	if !strings.Contains(body, "DSO (EUR)") {
		t.Errorf("the DSO trend does not follow the firm's currency")
	}
	top := body[strings.Index(body, `id="top-overdue"`):]
	if strings.Index(top, "Tokyo Trading") < strings.Index(top, "Acme") {
		t.Errorf("a yen debt ranks above a euro one by its minor units")
	}
}
