package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCostCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"cost"}, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCostPrintsTheBillAndItsPrices(t *testing.T) {
	t.Parallel()
	out, _, err := runCostCmd(t, "--customers", "300", "--invoices-per-month", "500")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"300 customers, 500 invoices and 500 payments a month", "DynamoDB", "write request units", "SES", "total", "$0.",
		"Price list (us-east-1, read 2026-12-02)", "0.625 USD per million", "https://aws.amazon.com/dynamodb/pricing/on-demand/", "No AWS Free Tier is counted"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	md, _, err := runCostCmd(t, "--customers", "3000", "--format", "markdown")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**3,000 customers, 5,000 invoices and 5,000 payments a month**", "| service | item | quantity | unit price | cost |", "| **total** |", "| DynamoDB | on-demand write request units | 0.625 USD per million |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}

	js, _, err := runCostCmd(t, "--customers", "300", "--format", "json", "--dunned-share", "1", "--emails-per-dunned-invoice", "3")
	if err != nil {
		t.Fatal(err)
	}
	var bill struct {
		Total float64
		Firm  struct {
			DunnedShare            float64 `json:"dunned_share"`
			EmailsPerDunnedInvoice float64 `json:"emails_per_dunned_invoice"`
		} `json:"firm"`
		Lines     []struct{ Service string }
		PriceList []struct{ Source string } `json:"price_list"`
	}
	if err := json.Unmarshal([]byte(js), &bill); err != nil {
		t.Fatalf("json output: %v\n%s", err, js)
	}
	if bill.Total <= 0 || len(bill.Lines) == 0 || len(bill.PriceList) == 0 || bill.Firm.DunnedShare != 1 || bill.Firm.EmailsPerDunnedInvoice != 3 {
		t.Errorf("json bill: %+v", bill)
	}
}

func TestCostReadsAPriceList(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(file, []byte(`{"region": "eu-west-1", "as_of": "2027-01-01", "ses_per_thousand": 100}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCostCmd(t, "--prices", file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "eu-west-1 list prices of 2027-01-01") || !strings.Contains(out, "100 per 1,000") {
		t.Errorf("the price list was not applied:\n%s", out)
	}
	if _, _, err := runCostCmd(t, "--prices", filepath.Join(t.TempDir(), "none.json")); err == nil || !strings.Contains(err.Error(), "--prices") {
		t.Errorf("a missing price list: %v", err)
	}
}

func TestCostRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		flag string
	}{
		{"no customers", []string{"--customers", "0"}, "customers"},
		{"negative customers", []string{"--customers", "-3"}, "customers"},
		{"customers that are not a number", []string{"--customers", "many"}, "customers"},
		{"a share over one", []string{"--dunned-share", "1.5"}, "dunned-share"},
		{"negative invoices", []string{"--invoices-per-month", "-1"}, "invoices-per-month"},
		{"invoices that are not a number", []string{"--invoices-per-month", "NaN"}, "invoices-per-month"},
		{"an unknown format", []string{"--format", "xml"}, "format"},
	} {
		_, _, err := runCostCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.flag)
		}
	}
}

func TestCostHelp(t *testing.T) {
	t.Parallel()
	_, errOut, err := runCostCmd(t, "--help")
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(errOut, "Usage: dunlin cost --customers N") || !strings.Contains(errOut, "-dunned-share") {
		t.Errorf("--help printed:\n%s", errOut)
	}
}
