package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dunlin/shared/auth"
)

// TestImportTheSampleFiles imports the samples in testdata/imports through
// the real API over HTTP, as a firm would with make dev or a deployed
// stack: customers first, then invoices from CSV and from Excel. Importing
// them again changes nothing.
func TestImportTheSampleFiles(t *testing.T) {
	t.Parallel()
	a, srv, token := serveAPIWithKey(t, auth.Integration)
	ctx := context.Background()
	samples := []string{"../../testdata/imports/customers.csv", "../../testdata/imports/invoices.csv", "../../testdata/imports/invoices-december.xlsx"}
	var out, errOut bytes.Buffer
	args := append([]string{"import", "--api", srv.URL, "--key", token}, samples...)
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{
		"customers.csv: 4 rows imported: 4 created, 0 updated, 0 unchanged, 0 failed",
		"columns not read: Notes",
		"invoices.csv: 5 rows imported: 5 created",
		"invoices-december.xlsx: 2 rows imported: 2 created",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	page, err := a.Billing.FindInvoiceByExternalID(ctx, "QB-5007")
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("QB-5007: %v %v", page.Items, err)
	}
	if inv := page.Items[0]; inv.Total != 299999 || inv.Currency != "USD" || inv.IssuedOn.String() != "2026-11-28" || inv.DueOn.String() != "2027-01-12" {
		t.Errorf("QB-5007 from Excel = %+v", inv)
	}
	cny, _ := a.Billing.FindCustomerByExternalID(ctx, "C-1004")
	if c := cny.Items[0]; c.Language != "zh-CN" || *c.CreditLimit != 8000000 || c.Owner != "" {
		t.Errorf("C-1004 = %+v", c)
	}

	out.Reset()
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("import again: %v\n%s", err, out.String())
	}
	if got := strings.Count(out.String(), "0 created, 0 updated"); got != 3 {
		t.Errorf("a second import changed something:\n%s", out.String())
	}
}

// TestImportChecksTheWholeFileBeforeWriting: a large file goes in parts
// with a row that is bad only in the last part, and a duplicate across
// parts; nothing is written until --partial, and errors name the file's
// rows.
func TestImportChecksTheWholeFileBeforeWriting(t *testing.T) {
	t.Parallel()
	a, srv, token := serveAPIWithKey(t, auth.Admin)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("Client Ref,name,email\n")
	const n = 2*partRows + 10
	for i := range n {
		email := fmt.Sprintf("ap%d@example.com", i)
		if i == n-3 {
			email = "nobody"
		}
		id := fmt.Sprintf("K-%d", i)
		if i == n-1 {
			id = "K-0" // also on row 2, in the first part
		}
		fmt.Fprintf(&b, "%s,Customer %d,%s\n", id, i, email)
	}
	path := filepath.Join(t.TempDir(), "customers-export.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		page, err := a.Billing.ListCustomers(ctx, "", 200)
		if err != nil {
			t.Fatal(err)
		}
		total := len(page.Items)
		for page.NextCursor != "" {
			if page, err = a.Billing.ListCustomers(ctx, page.NextCursor, 200); err != nil {
				t.Fatal(err)
			}
			total += len(page.Items)
		}
		return total
	}
	var out, errOut bytes.Buffer
	base := []string{"import", "--api", srv.URL, "--key", token, "--map", "Client Ref=external_id"}
	for _, extra := range [][]string{nil, {"--dry-run"}} {
		out.Reset()
		err := run(ctx, append(append(base, extra...), path), &out, &errOut)
		if err == nil || count() != 0 {
			t.Fatalf("%v: err %v, %d customers written\n%s", extra, err, count(), out.String())
		}
		words := strings.Join(strings.Fields(out.String()), " ")
		for _, want := range []string{"2 failed", fmt.Sprintf("%d K-%d email", n-3+2, n-3), fmt.Sprintf("%d K-0 external_id", n-1+2)} {
			if !strings.Contains(words, want) {
				t.Errorf("%v: output lacks %q:\n%s", extra, want, out.String())
			}
		}
	}
	out.Reset()
	if err := run(ctx, append(append(base, "--partial"), path), &out, &errOut); err == nil {
		t.Errorf("--partial with failed rows: no error")
	}
	if got := count(); got != n-2 {
		t.Errorf("%d customers after --partial, want %d\n%s", got, n-2, out.String())
	}
	if c, _ := a.Billing.FindCustomerByExternalID(ctx, "K-0"); len(c.Items) != 1 || c.Items[0].Email != "ap0@example.com" {
		t.Errorf("K-0 = %+v: the first row wins, the repeat is refused", c.Items)
	}
}

// TestExportThenImportChangesNothing: what export writes, CSV or Excel,
// import reads back as the same books.
func TestExportThenImportChangesNothing(t *testing.T) {
	t.Parallel()
	_, srv, token := serveAPIWithKey(t, auth.Admin)
	ctx := context.Background()
	api := []string{"--api", srv.URL, "--key", token}
	var out, errOut bytes.Buffer
	if err := run(ctx, append(append([]string{"import"}, api...), "../../testdata/imports/customers.csv", "../../testdata/imports/invoices.csv"), &out, &errOut); err != nil {
		t.Fatalf("import: %v\n%s", err, out.String())
	}
	dir := t.TempDir()
	for _, name := range []string{"customers.csv", "invoices.xlsx"} {
		what, _, _ := strings.Cut(name, ".")
		path := filepath.Join(dir, name)
		if err := run(ctx, append(append([]string{"export", what}, api...), "--out", path), &out, &errOut); err != nil {
			t.Fatalf("export %s: %v\n%s", what, err, errOut.String())
		}
		out.Reset()
		if err := run(ctx, append(append([]string{"import"}, api...), path), &out, &errOut); err != nil {
			t.Fatalf("import %s: %v\n%s", name, err, out.String())
		}
		want := map[string]string{"customers": "4 rows imported: 0 created, 0 updated, 4 unchanged, 0 failed", "invoices": "5 rows imported: 0 created, 0 updated, 5 unchanged, 0 failed"}[what]
		if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "columns not read: dunlin_id,") {
			t.Errorf("%s exported and imported again:\n%s", name, out.String())
		}
	}
	out.Reset()
	if err := run(ctx, append(append([]string{"export", "invoices"}, api...), "--status", "overdue"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// Four of the five are past due on 2 December; QB-5005 is due in January.
	if len(lines) != 5 || !strings.Contains(out.String(), "\nQB-5001,C-1001,2026-0101,EUR,1250.00,2026-10-01,2026-10-31,") || strings.Contains(out.String(), "QB-5005") {
		t.Errorf("overdue invoices as CSV:\n%s", out.String())
	}
}
