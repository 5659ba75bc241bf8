package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"dunlin/shared/money"
)

const exportUsage = `Usage: dunlin export customers|invoices [flags]

Writes every customer or invoice a Dunlin API holds (make dev's by
default, or a deployed one with --api and --key) as CSV or Excel. The
first columns are the ones dunlin import reads, so an exported file can be
edited and imported again; the columns after them (dunlin_id, status,
balance...) are for reading, and an import leaves them alone.

  dunlin export invoices --status overdue --out overdue.xlsx
`

// exportPage is the most the list routes give at once.
const exportPage = 200

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, exportUsage)
			return nil
		}
		fmt.Fprint(stderr, exportUsage)
		return errors.New("say what to export: customers or invoices")
	}
	what := args[0]
	fs := flag.NewFlagSet("export "+what, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, exportUsage); fs.PrintDefaults() }
	var af apiFlags
	af.register(fs)
	out := fs.String("out", "", "the file to write; .xlsx writes Excel (default: CSV to standard output)")
	status := fs.String("status", "", "invoices only: open, overdue, paid or void")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	af.limit = exportPage
	var t sheet
	var err error
	switch what {
	case "customers":
		t, err = exportCustomers(ctx, &af)
	case "invoices":
		t, err = exportInvoices(ctx, &af, *status)
	default:
		return fmt.Errorf("export %q: customers or invoices", what)
	}
	if err != nil {
		return err
	}
	if *out == "" {
		return t.writeCSV(stdout)
	}
	if strings.HasSuffix(strings.ToLower(*out), ".xlsx") {
		err = t.saveXLSX(*out)
	} else {
		err = writeFile(*out, t.writeCSV)
	}
	if err == nil {
		fmt.Fprintf(stderr, "wrote %d %s to %s\n", len(t.rows), what, *out)
	}
	return err
}

// sheet is a table of cells: text, amounts and dates, each written as
// CSV text or as the matching Excel cell.
type sheet struct {
	header []string
	rows   [][]any
}

// amount is money in minor units: 1250.00 in CSV, a number in Excel.
type amount struct {
	minor    int64
	currency string
}

// day is a civil date, YYYY-MM-DD: an Excel date in a workbook.
type day string

func text(v any) string {
	switch v := v.(type) {
	case amount:
		return money.Decimal(v.minor, v.currency)
	case day:
		return string(v)
	case *string:
		return deref(v, "")
	case *int64:
		if v == nil {
			return ""
		}
		return strconv.FormatInt(*v, 10)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

func (t sheet) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(t.header)
	for _, r := range t.rows {
		rec := make([]string, len(r))
		for i, v := range r {
			rec[i] = text(v)
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func (t sheet) saveXLSX(path string) error {
	f := excelize.NewFile()
	defer f.Close()
	name := f.GetSheetName(0)
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		return err
	}
	put := func(row int, vals []any) error {
		cells := make([]any, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case amount:
				cells[i] = float64(v.minor) / math.Pow10(money.Digits(v.currency))
			case day:
				if d, err := time.Parse("2006-01-02", string(v)); err == nil {
					cells[i] = d
					continue
				}
				cells[i] = string(v)
			default:
				cells[i] = text(v)
			}
		}
		cell, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return err
		}
		if err := f.SetSheetRow(name, cell, &cells); err != nil {
			return err
		}
		for i, v := range vals {
			if _, ok := v.(day); ok {
				c, _ := excelize.CoordinatesToCellName(i+1, row)
				_ = f.SetCellStyle(name, c, c, dateStyle)
			}
		}
		return nil
	}
	header := make([]any, len(t.header))
	for i, h := range t.header {
		header[i] = h
	}
	if err := put(1, header); err != nil {
		return err
	}
	for i, r := range t.rows {
		if err := put(i+2, r); err != nil {
			return err
		}
	}
	return f.SaveAs(path)
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pages reads every page of a list route.
func pages[T any](ctx context.Context, af *apiFlags, path string, q url.Values, each func(T)) error {
	for {
		var page struct {
			Data       []T
			NextCursor *string `json:"next_cursor"`
		}
		if _, err := af.get(ctx, path, q, &page); err != nil {
			return err
		}
		for _, x := range page.Data {
			each(x)
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			return nil
		}
		q.Set("cursor", *page.NextCursor)
	}
}

type exportedCustomer struct {
	ID, Name, Email, Currency, Language, Policy string
	ExternalID                                  *string `json:"external_id"`
	CC                                          []string
	Timezone, Owner, Grade                      *string
	CreditLimit                                 *int64 `json:"credit_limit"`
	PaymentTermsDays                            int    `json:"payment_terms_days"`
	CreditHold                                  bool   `json:"credit_hold"`
	EmailInvalid                                bool   `json:"email_invalid"`
}

func exportCustomers(ctx context.Context, af *apiFlags) (sheet, error) {
	t := sheet{header: []string{
		"external_id", "name", "email", "cc", "language", "timezone", "currency", "credit_limit", "payment_terms_days", "owner", "policy",
		"dunlin_id", "grade", "credit_hold", "email_invalid"}}
	err := pages(ctx, af, "/v1/customers", url.Values{}, func(c exportedCustomer) {
		var limit any = ""
		if c.CreditLimit != nil {
			limit = amount{*c.CreditLimit, c.Currency}
		}
		t.rows = append(t.rows, []any{c.ExternalID, c.Name, c.Email, strings.Join(c.CC, "; "), c.Language, c.Timezone, c.Currency,
			limit, c.PaymentTermsDays, c.Owner, c.Policy, c.ID, c.Grade, c.CreditHold, c.EmailInvalid})
	})
	return t, err
}

type exportedInvoice struct {
	ID, Number, Currency, Status string
	CustomerID                   string  `json:"customer_id"`
	ExternalID                   *string `json:"external_id"`
	Total, Balance               int64
	IssuedOn                     string  `json:"issued_on"`
	DueOn                        string  `json:"due_on"`
	DaysOverdue                  int     `json:"days_overdue"`
	PaymentURL                   *string `json:"payment_url"`
	Description                  *string
}

func exportInvoices(ctx context.Context, af *apiFlags, status string) (sheet, error) {
	// Invoices name their customer by Dunlin's id; the import columns name
	// it by the firm's, so read the customers' first.
	ext := map[string]string{}
	if err := pages(ctx, af, "/v1/customers", url.Values{}, func(c exportedCustomer) { ext[c.ID] = deref(c.ExternalID, "") }); err != nil {
		return sheet{}, err
	}
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	t := sheet{header: []string{
		"external_id", "customer_external_id", "number", "currency", "total", "issued_on", "due_on", "payment_url", "description",
		"dunlin_id", "dunlin_customer_id", "status", "balance", "days_overdue"}}
	err := pages(ctx, af, "/v1/invoices", q, func(inv exportedInvoice) {
		t.rows = append(t.rows, []any{inv.ExternalID, ext[inv.CustomerID], inv.Number, inv.Currency, amount{inv.Total, inv.Currency},
			day(inv.IssuedOn), day(inv.DueOn), inv.PaymentURL, inv.Description,
			inv.ID, inv.CustomerID, inv.Status, amount{inv.Balance, inv.Currency}, inv.DaysOverdue})
	})
	return t, err
}
