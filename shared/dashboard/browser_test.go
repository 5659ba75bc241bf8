package dashboard_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/testenv"
)

// seedHistory plays six months of a small firm's trade forward day by day
// on the fixture's clock: invoices issued, most paid (some late), the daily
// receivables snapshots the sweep takes. The overview then has an aging
// spread and a DSO trend to draw.
func seedHistory(t *testing.T, f *fixture) map[string]*billing.Customer {
	t.Helper()
	ctx := context.Background()
	names := []struct {
		name, email string
		late        int // days late it pays; -1: stops paying
	}{
		{"Acme Tools GmbH", "ap@acme-tools.example", 0},
		{"Bluebird Cafe Ltd", "owner@bluebird.example", 12},
		{"Northwind Traders Ltd", "accounts@northwind.example", 35},
		{"Harbour Print Co", "finance@harbour.example", -1},
		{"Kestrel Logistics", "ap@kestrel.example", 5},
	}
	customers := map[string]*billing.Customer{}
	var ids []string
	for _, n := range names {
		c, err := f.app.Billing.CreateCustomer(ctx, billing.CustomerCreate{Name: n.name, Email: n.email, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		customers[n.name] = c
		ids = append(ids, c.ID)
	}
	type due struct {
		customer int
		invoice  *billing.Invoice
		payOn    time.Time
	}
	var pending []due
	end := f.clock.Now()
	f.clock.Set(end.AddDate(0, 0, -185))
	for day := 0; f.clock.Now().Before(end); day++ {
		now := f.clock.Now()
		if day%14 == 0 {
			for i := range names {
				total := int64(40000 + 35000*i + 5000*(day%3))
				inv, err := f.app.Billing.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: ids[i], Total: &total})
				if err != nil {
					t.Fatal(err)
				}
				if names[i].late >= 0 {
					pending = append(pending, due{i, inv, now.AddDate(0, 0, 30+names[i].late)})
				}
			}
		}
		kept := pending[:0]
		for _, p := range pending {
			if now.Before(p.payOn) {
				kept = append(kept, p)
				continue
			}
			amount := p.invoice.Total
			if _, err := f.app.Billing.RecordPayment(ctx, billing.PaymentInput{CustomerID: ids[p.customer], Amount: &amount, Reference: "transfer " + p.invoice.Number}); err != nil {
				t.Fatal(err)
			}
		}
		pending = kept
		if _, err := f.app.Billing.TakeSnapshot(ctx, now); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(now.AddDate(0, 0, 1))
	}
	return customers
}

// TestInABrowser drives the dashboard in a real headless Chromium: sign
// in, read the overview, open a customer, record a promise and see it on
// the timeline, switch to Chinese. Any Content-Security-Policy violation
// or script error fails it. With DUNLIN_SCREENSHOTS=dir it saves the
// README's screenshots there.
func TestInABrowser(t *testing.T) {
	t.Parallel()
	chromium := testenv.Chromium(t)
	f := newDunlin(t)
	seedHistory(t, f)
	token, _ := f.key(auth.Collector)
	// Plain HTTP on loopback, as `make dev` serves it: browsers keep Secure
	// cookies for http://127.0.0.1 and localhost.
	srv := httptest.NewServer(f.app.API)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	// The console is read from the start: a CSP violation or a script
	// error anywhere fails the test.
	cctx, stopConsole := context.WithCancel(ctx)
	defer stopConsole()
	messages := chromedp.Console(cctx)
	shots := os.Getenv("DUNLIN_SCREENSHOTS")
	shot := func(name string) {
		if shots == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return v
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/app/"),
		chromedp.WaitVisible(`input[name=key]`),
		chromedp.SendKeys(`input[name=key]`, token),
		chromedp.Click(`#sign-in`),
		chromedp.WaitVisible(`#receivables-EUR`),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	receivables, overdue, firstTop := text(`#receivables-EUR`), text(`#overdue-EUR`), text(`#top-overdue tbody tr:first-child a`)
	if !strings.HasPrefix(receivables, "€") || !strings.HasPrefix(overdue, "€") || overdue == "€0.00" {
		t.Errorf("overview shows receivables %q and overdue %q", receivables, overdue)
	}
	if firstTop != "Harbour Print Co" {
		t.Errorf("most overdue customer %q, want Harbour Print Co, who stopped paying", firstTop)
	}
	shot("overview.png")

	promised := f.clock.Now().AddDate(0, 0, 5).Format(time.DateOnly)
	err = chromedp.Do(ctx,
		chromedp.Click(`#top-overdue tbody tr:first-child a`),
		chromedp.WaitVisible(`#promise-form`),
		chromedp.SendKeys(`#promise-form input[name=amount]`, "1250.00"),
		chromedp.SetValue(`#promise-form input[name=promised_on]`, promised),
		chromedp.SendKeys(`#promise-form input[name=note]`, "Will pay by bank transfer on Friday"),
		chromedp.Click(`#promise-form button[type=submit]`),
		chromedp.WaitVisible(`p.done`),
	)
	if err != nil {
		t.Fatalf("record a promise: %v", err)
	}
	if timeline := text(`ol.timeline`); !strings.Contains(timeline, "Promise to pay") || !strings.Contains(timeline, "Will pay by bank transfer on Friday") || !strings.Contains(timeline, "€1,250.00") {
		t.Errorf("the timeline does not show the promise:\n%s", timeline)
	}
	shot("customer.png")
	ps, err := f.app.Billing.ListPromises(context.Background(), f.customerNamed(t, "Harbour Print Co"))
	if err != nil || len(ps) != 1 || ps[0].Amount != 125000 || ps[0].PromisedOn.String() != promised {
		t.Errorf("promises recorded: %+v (%v), want one of €1,250.00 for %s", ps, err, promised)
	}

	err = chromedp.Do(ctx,
		chromedp.Click(`a[hreflang=zh-CN]`),
		chromedp.WaitVisible(`html[lang=zh-CN] header nav`),
	)
	if err != nil {
		t.Fatalf("switch language: %v", err)
	}
	if nav := text(`header nav`); !strings.Contains(nav, "概览") || !strings.Contains(nav, "客户") {
		t.Errorf("navigation after switching to Chinese: %q", nav)
	}
	// The wording editor's live preview: typing changes the framed email.
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/app/policies?lang=en&tone=firm"),
		chromedp.WaitVisible(`#wording input[name=subject]`),
		chromedp.SendKeys(`#wording input[name=subject]`, " Kindly settle, {{.CustomerName}}"),
	)
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("preview").src.includes("Kindly")`))
	}
	if err != nil {
		t.Fatalf("live preview: %v", err)
	}

	time.AfterFunc(500*time.Millisecond, stopConsole)
	for m, err := range messages {
		if err != nil {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("browser console: %s (%s)", m, m.URL)
		}
	}
}

// customerNamed finds a seeded customer's id by name.
func (f *fixture) customerNamed(t *testing.T, name string) string {
	t.Helper()
	page, err := f.app.Billing.ListCustomers(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Items {
		if c.Name == name {
			return c.ID
		}
	}
	t.Fatalf("no customer %q", name)
	return ""
}
