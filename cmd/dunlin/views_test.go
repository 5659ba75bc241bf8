package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"dunlin/shared/app"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/config"
	"dunlin/shared/testenv"
)

// serveAPI serves a whole App, on a table of its own, over HTTP at a
// fixed time, as the commands that talk to the API would find it.
func serveAPI(t *testing.T, now time.Time) (*app.App, *httptest.Server) {
	t.Helper()
	_, table := testenv.NewTable(t)
	env := map[string]string{"DUNLIN_TABLE": table, "DUNLIN_DYNAMODB_ENDPOINT": testenv.DynamoDBEndpoint(t), "DUNLIN_SES_ENDPOINT": testenv.SESEndpoint(t)}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.API)
	t.Cleanup(srv.Close)
	return a, srv
}

// serveAPIWithKey is serveAPI and a key of the role to call it with.
func serveAPIWithKey(t *testing.T, role auth.Role) (*app.App, *httptest.Server, string) {
	t.Helper()
	a, srv := serveAPI(t, time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	token, _, err := a.Keys.Create(context.Background(), "cli", role)
	if err != nil {
		t.Fatal(err)
	}
	return a, srv, token
}

// TestCustomersAndInvoicesListWhatTheAPIHolds: the quick views read the
// real API over HTTP, as they would a deployed one, with a viewer's key;
// an overdue invoice says so (no colour codes when not on a terminal); a
// wrong key or none is a clear error.
func TestCustomersAndInvoicesListWhatTheAPIHolds(t *testing.T) {
	t.Parallel()
	a, srv := serveAPI(t, time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	ctx := context.Background()
	token, _, err := a.Keys.Create(ctx, "views", auth.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Billing.CreateCustomer(ctx, billing.CustomerCreate{Name: "Acme GmbH", Email: "ap@acme.example", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(12050)
	for _, inv := range []billing.InvoiceCreate{
		{CustomerID: c.ID, Number: "LATE-1", Total: &total, IssuedOn: "2026-10-01", DueOn: "2026-11-01"},
		{CustomerID: c.ID, Number: "NEW-2", Total: &total, IssuedOn: "2026-12-01", DueOn: "2026-12-31"},
	} {
		if _, err := a.Billing.CreateInvoice(ctx, inv); err != nil {
			t.Fatal(err)
		}
	}

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"customers", "--api", srv.URL, "--key", token}, &out, &errOut); err != nil {
		t.Fatalf("customers: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), c.ID) || !strings.Contains(out.String(), "Acme GmbH") {
		t.Errorf("customers:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"invoices", "--api", srv.URL, "--key", token, "--customer", c.ID}, &out, &errOut); err != nil {
		t.Fatalf("invoices: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(out.String(), "EUR 120.50") || strings.Contains(out.String(), "\x1b[") {
		t.Fatalf("invoices:\n%s", out.String())
	}
	for _, l := range lines[1:] {
		late := strings.HasPrefix(l, "LATE-1")
		if late != strings.Contains(l, "overdue, 31 days") {
			t.Errorf("line %q: only LATE-1 is 31 days overdue", l)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"invoices", "--api", srv.URL, "--key", token, "--status", "overdue", "--json"}, &out, &errOut); err != nil ||
		!strings.Contains(out.String(), `"number":"LATE-1"`) || strings.Contains(out.String(), "NEW-2") {
		t.Errorf("overdue as JSON: %v\n%s", err, out.String())
	}

	for name, args := range map[string][]string{
		"a wrong key": {"customers", "--api", srv.URL, "--key", "dk_key_0000000000000000000000000A_nope"},
		"no key":      {"customers", "--api", srv.URL, "--key", ""},
		"a bad limit": {"invoices", "--api", srv.URL, "--key", token, "--limit", "500"},
	} {
		err := run(ctx, args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), map[string]string{"a wrong key": "401", "no key": "--key", "a bad limit": "--limit"}[name]) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
