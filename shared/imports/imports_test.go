package imports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"dunlin/shared/billing"
	"dunlin/shared/imports"
	"dunlin/shared/testenv"
)

func newImporter(t *testing.T) (*imports.Importer, *billing.Service) {
	t.Helper()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	bill, err := billing.NewService(testenv.NewStore(t), billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return &imports.Importer{Billing: bill}, bill
}

func customer(t *testing.T, bill *billing.Service, ext string) *billing.Customer {
	t.Helper()
	page, err := bill.FindCustomerByExternalID(context.Background(), ext)
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("customer %s: %v %v", ext, page.Items, err)
	}
	return page.Items[0]
}

func actions(rep *imports.Report) string {
	var out []string
	for _, r := range rep.Results {
		s := fmt.Sprintf("%d:%s", r.Row, r.Action)
		if r.Field != "" {
			s += "(" + r.Field + ")"
		}
		if len(r.Changes) > 0 {
			s += fmt.Sprint(r.Changes)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestCustomersAreUpsertedByExternalID(t *testing.T) {
	t.Parallel()
	im, bill := newImporter(t)
	ctx := context.Background()
	file := "Customer Number,Company,E-mail,CC,Currency,Credit Limit,Terms,Notes\n" +
		"C-1,Acme Ltd,ap@acme.example,cfo@acme.example; boss@acme.example,EUR,\"5,000.00\",45,good payer\n" +
		"C-2,Bolt GmbH,ap@bolt.example,,JPY,150000,,\n"
	rep, err := im.Import(ctx, imports.Customers, []byte(file), imports.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(rep); got != "2:created 3:created" || !rep.Written || rep.Created != 2 {
		t.Fatalf("first import: %s %+v", got, rep)
	}
	if len(rep.IgnoredColumns) != 1 || rep.IgnoredColumns[0] != "Notes" {
		t.Errorf("ignored %v, want Notes", rep.IgnoredColumns)
	}
	acme := customer(t, bill, "C-1")
	if acme.ID != rep.Results[0].ID || acme.Name != "Acme Ltd" || len(acme.CC) != 2 || *acme.CreditLimit != 500000 || acme.PaymentTermsDays != 45 {
		t.Errorf("acme = %+v", acme)
	}
	if bolt := customer(t, bill, "C-2"); *bolt.CreditLimit != 150000 || bolt.Currency != "JPY" || bolt.PaymentTermsDays != 30 {
		t.Errorf("bolt = %+v: JPY has no minor units; blank terms are the firm's", bolt)
	}

	// The same file again changes nothing and writes nothing.
	rep, err = im.Import(ctx, imports.Customers, []byte(file), imports.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(rep); got != "2:unchanged 3:unchanged" || rep.Written {
		t.Errorf("second import: %s written=%v", got, rep.Written)
	}
	if again := customer(t, bill, "C-1"); again.Version != acme.Version {
		t.Errorf("version %d -> %d on an unchanged row", acme.Version, again.Version)
	}

	// A new address for one; a blank cell leaves a field as it is.
	file = "external_id,name,email,credit_limit\nC-1,,billing@acme.example,\nC-2,Bolt GmbH,ap@bolt.example,150000\n"
	rep, err = im.Import(ctx, imports.Customers, []byte(file), imports.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(rep); got != "2:updated[email] 3:unchanged" {
		t.Errorf("third import: %s", got)
	}
	if acme := customer(t, bill, "C-1"); acme.Email != "billing@acme.example" || acme.Name != "Acme Ltd" || *acme.CreditLimit != 500000 {
		t.Errorf("acme after update = %+v", acme)
	}
}

func TestAFileWithBadRowsIsAllOrNothing(t *testing.T) {
	t.Parallel()
	im, bill := newImporter(t)
	ctx := context.Background()
	file := "external_id,name,email,payment_terms_days,policy\n" +
		"C-1,Acme,ap@acme.example,30,\n" +
		"C-2,Bolt,not an address,30,\n" +
		"C-1,Acme again,ap2@acme.example,30,\n" +
		",No Id,x@y.example,30,\n" +
		"C-5,Cog,ap@cog.example,thirty,\n" +
		"C-6,Dent,ap@dent.example,30,nosuchpolicy\n" +
		"C-7,Edge,ap@edge.example,30,standard\n"
	want := "2:created 3:failed(email) 4:failed(external_id) 5:failed(external_id) 6:failed(payment_terms_days) 7:failed(policy) 8:created"

	rep, err := im.Import(ctx, imports.Customers, []byte(file), imports.Options{})
	if !errors.Is(err, imports.ErrRowsRefused) || rep == nil {
		t.Fatalf("err = %v, want ErrRowsRefused with a report", err)
	}
	if got := actions(rep); got != want || rep.Written || rep.Failed != 5 {
		t.Errorf("all or nothing: %s written=%v", got, rep.Written)
	}
	if page, _ := bill.ListCustomers(ctx, "", 10); len(page.Items) != 0 {
		t.Fatalf("%d customers written by a refused file", len(page.Items))
	}

	rep, err = im.Import(ctx, imports.Customers, []byte(file), imports.Options{DryRun: true, Partial: true})
	if err != nil || actions(rep) != want || rep.Written {
		t.Errorf("dry run: %v %s", err, actions(rep))
	}
	if page, _ := bill.ListCustomers(ctx, "", 10); len(page.Items) != 0 {
		t.Fatalf("%d customers written by a dry run", len(page.Items))
	}

	rep, err = im.Import(ctx, imports.Customers, []byte(file), imports.Options{Partial: true})
	if err != nil || actions(rep) != want || !rep.Written {
		t.Errorf("partial: %v %s", err, actions(rep))
	}
	if page, _ := bill.ListCustomers(ctx, "", 10); len(page.Items) != 2 {
		t.Errorf("%d customers after a partial import, want the 2 good rows", len(page.Items))
	}
}

func TestConcurrentImportsOfOneFileCreateEachCustomerOnce(t *testing.T) {
	t.Parallel()
	im, bill := newImporter(t)
	var b strings.Builder
	b.WriteString("external_id,name,email\n")
	const n = 30
	for i := range n {
		fmt.Fprintf(&b, "C-%d,Customer %d,ap%d@example.com\n", i, i, i)
	}
	var wg sync.WaitGroup
	reps := make([]*imports.Report, 3)
	errs := make([]error, 3)
	for i := range reps {
		wg.Go(func() {
			reps[i], errs[i] = im.Import(context.Background(), imports.Customers, []byte(b.String()), imports.Options{})
		})
	}
	wg.Wait()
	created := 0
	for i, rep := range reps {
		if errs[i] != nil || rep.Failed != 0 {
			t.Fatalf("import %d: %v %s", i, errs[i], actions(rep))
		}
		created += rep.Created
	}
	page, err := bill.ListCustomers(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != n || created != n {
		t.Errorf("%d customers, %d reported created; want %d of each", len(page.Items), created, n)
	}
}

func TestInvoicesFromCSVAndExcel(t *testing.T) {
	t.Parallel()
	im, bill := newImporter(t)
	ctx := context.Background()
	if _, err := im.Import(ctx, imports.Customers, []byte("external_id,name,email,currency\nC-1,Acme,ap@acme.example,EUR\n"), imports.Options{}); err != nil {
		t.Fatal(err)
	}
	csv := "Invoice ID,Customer ID,Invoice Number,Amount,Invoice Date,Due Date,Memo\n" +
		"I-1,C-1,A-100,\"1,250.00\",2026-11-01,2026-12-01,Consulting\n" +
		"I-2,C-9,A-101,10.00,2026-11-01,,\n"
	rep, err := im.Import(ctx, imports.Invoices, []byte(csv), imports.Options{})
	if !errors.Is(err, imports.ErrRowsRefused) || actions(rep) != "2:created 3:failed(customer_external_id)" {
		t.Fatalf("unknown customer: %v %s", err, actions(rep))
	}
	rep, err = im.Import(ctx, imports.Invoices, []byte(csv), imports.Options{Partial: true})
	if err != nil || actions(rep) != "2:created 3:failed(customer_external_id)" {
		t.Fatalf("partial: %v %s", err, actions(rep))
	}
	inv, err := bill.GetInvoice(ctx, rep.Results[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Number != "A-100" || inv.Total != 125000 || inv.Balance != 125000 || inv.IssuedOn.String() != "2026-11-01" || inv.DueOn.String() != "2026-12-01" || inv.Description != "Consulting" {
		t.Errorf("invoice = %+v", inv)
	}

	// An Excel workbook: numbers and dates as Excel keeps them. The first
	// row matches I-1 with a new memo; the second asks for another total.
	f := excelize.NewFile()
	rows := [][]any{
		{"external_id", "customer_external_id", "total", "issued_on", "due_on", "description"},
		{"I-1", "C-1", 1250, 46327, 46357, "Consulting, November"},
		{"I-1b", "C-1", 99.99, 46327, 46357, ""},
		{"I-3", "C-1", 80.5, "2026-11-15", "", "Travel"},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	rep, err = im.Import(ctx, imports.Invoices, buf.Bytes(), imports.Options{})
	if err != nil || actions(rep) != "2:updated[description] 3:created 4:created" {
		t.Fatalf("xlsx: %v %s", err, actions(rep))
	}
	i3, _ := bill.GetInvoice(ctx, rep.Results[2].ID)
	if i3.Total != 8050 || i3.DueOn.String() != "2026-12-15" || !strings.HasPrefix(i3.Number, "INV-") {
		t.Errorf("I-3 = %+v: due 30 days after issue, numbered by the counter", i3)
	}
	if i1, _ := bill.GetInvoice(ctx, inv.ID); i1.Description != "Consulting, November" || i1.Total != 125000 {
		t.Errorf("I-1 = %+v", i1)
	}

	// What is owed never changes through an import.
	rep, err = im.Import(ctx, imports.Invoices, []byte("external_id,customer_external_id,total,due_on\nI-1,C-1,1300.00,\nI-3,C-1,80.50,2027-01-31\n"), imports.Options{Partial: true})
	if err != nil || actions(rep) != "2:failed(total) 3:failed(due_on)" {
		t.Errorf("changed amounts: %v %s", err, actions(rep))
	}
}

// TestATakenInvoiceNumberIsFoundByTheCheck: a number another invoice has
// fails its row in the check, so an all-or-nothing file writes nothing.
func TestATakenInvoiceNumberIsFoundByTheCheck(t *testing.T) {
	t.Parallel()
	im, bill := newImporter(t)
	ctx := context.Background()
	if _, err := im.Import(ctx, imports.Customers, []byte("external_id,name,email\nC-1,Acme,ap@acme.example\n"), imports.Options{}); err != nil {
		t.Fatal(err)
	}
	c := customer(t, bill, "C-1")
	total := int64(1000)
	if _, err := bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: "A-1", Total: &total}); err != nil {
		t.Fatal(err)
	}
	rep, err := im.Import(ctx, imports.Invoices, []byte("external_id,customer_external_id,number,total\nI-1,C-1,A-2,10.00\nI-2,C-1,A-1,10.00\n"), imports.Options{})
	if !errors.Is(err, imports.ErrRowsRefused) || actions(rep) != "2:created 3:failed(number)" {
		t.Fatalf("%v %s", err, actions(rep))
	}
	if page, _ := bill.FindInvoiceByExternalID(ctx, "I-1"); len(page.Items) != 0 {
		t.Error("a refused file wrote a row")
	}
}

// TestANumberClashDoesNotSpendCreditTwice: a new invoice paid from the
// customer's credit, whose counter number turns out taken, is paid once
// from that credit under the next number.
func TestANumberClashDoesNotSpendCreditTwice(t *testing.T) {
	t.Parallel()
	_, bill := newImporter(t)
	ctx := context.Background()
	other, err := bill.CreateCustomer(ctx, billing.CustomerCreate{Name: "Other", Email: "ap@other.example"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := bill.CreateCustomer(ctx, billing.CustomerCreate{Name: "Credit", Email: "ap@credit.example"})
	if err != nil {
		t.Fatal(err)
	}
	amount := func(n int64) *int64 { return &n }
	if _, err := bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: other.ID, Number: "INV-000001", Total: amount(500)}); err != nil {
		t.Fatal(err)
	}
	if _, err := bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: amount(10000)}); err != nil {
		t.Fatal(err)
	}
	inv, err := bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Total: amount(3000)}) // the counter's first number is taken
	if err != nil {
		t.Fatal(err)
	}
	bal, err := bill.CustomerBalance(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Number != "INV-000002" || inv.Balance != 0 || inv.Paid != 3000 || bal.Credit["EUR"] != 7000 {
		t.Errorf("invoice %s balance %d paid %d, credit left %d; want INV-000002 paid 3000 from credit, 7000 left",
			inv.Number, inv.Balance, inv.Paid, bal.Credit["EUR"])
	}
}

// TestABouncedCCAddressStaysOffAfterAnImport: a CC address SES reported
// as bouncing for good is not put back by importing the books that still
// list it; the firm listing it again through the API is.
func TestABouncedCCAddressStaysOffAfterAnImport(t *testing.T) {
	t.Parallel()
	im, bill := newImporter(t)
	ctx := context.Background()
	file := "external_id,name,email,cc\nC-1,Acme,ap@acme.example,gone@acme.example; cfo@acme.example\n"
	if _, err := im.Import(ctx, imports.Customers, []byte(file), imports.Options{}); err != nil {
		t.Fatal(err)
	}
	c := customer(t, bill, "C-1")
	if err := bill.RecordMailEvent(ctx, billing.MailEvent{ID: "ses-1", Kind: billing.MailBounced, CustomerID: c.ID, Recipients: []string{"gone@acme.example"}}); err != nil {
		t.Fatal(err)
	}
	rep, err := im.Import(ctx, imports.Customers, []byte(file), imports.Options{})
	if err != nil || actions(rep) != "2:unchanged" {
		t.Fatalf("re-import: %v %s", err, actions(rep))
	}
	if c = customer(t, bill, "C-1"); len(c.CC) != 1 || c.CC[0] != "cfo@acme.example" || len(c.BouncedCC) != 1 {
		t.Errorf("after re-import cc %v, bounced %v", c.CC, c.BouncedCC)
	}
	cc := []string{"gone@acme.example", "cfo@acme.example"}
	if c, err = bill.UpdateCustomer(ctx, c.ID, billing.CustomerPatch{CC: &cc}); err != nil || len(c.CC) != 2 || len(c.BouncedCC) != 0 {
		t.Errorf("listed again through the API: cc %v, bounced %v, %v", c.CC, c.BouncedCC, err)
	}
}

// TestTheLargestReportFitsAnIdempotencyRecord: a request of MaxRows rows
// that all fail, with the longest ids and values the rules allow, still
// answers with a report small enough to be kept whole for an
// Idempotency-Key's replay (a DynamoDB item holds 400 KB).
func TestTheLargestReportFitsAnIdempotencyRecord(t *testing.T) {
	t.Parallel()
	im, _ := newImporter(t)
	var b strings.Builder
	b.WriteString("external_id,name,email\n")
	for i := range imports.MaxRows {
		fmt.Fprintf(&b, "%s%04d,Customer,%s\n", strings.Repeat("x", 124), i, strings.Repeat("y", 250))
	}
	rep, err := im.Import(context.Background(), imports.Customers, []byte(b.String()), imports.Options{})
	if !errors.Is(err, imports.ErrRowsRefused) || rep.Failed != imports.MaxRows {
		t.Fatalf("%v, %d failed", err, rep.Failed)
	}
	body, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 300_000 {
		t.Errorf("the report is %d bytes; an idempotency record must stay under 400 KB with room to spare", len(body))
	}
	t.Logf("%d rows, report %d bytes", imports.MaxRows, len(body))
}
