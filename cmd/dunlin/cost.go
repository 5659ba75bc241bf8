package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"dunlin/shared/cost"
)

// runCost prints the monthly AWS bill of a firm of a given size, from the
// request units and durations measured by bench/cost_test.go
// (shared/cost/measured.json) and a price list:
//
//	dunlin cost --customers 300 --invoices-per-month 500 --format markdown
func runCost(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	customers := fs.Int("customers", 300, "customers the firm dunns")
	invoices := fs.Float64("invoices-per-month", 0, "invoices a month (default: 5/3 per customer, five a quarter)")
	payments := fs.Float64("payments-per-month", 0, "payments a month (default: one per invoice)")
	reads := fs.Float64("api-requests-per-month", 0, fmt.Sprintf("API and dashboard read requests a month; the invoices and payments are counted apart (default: %d per customer)", cost.DefaultReadsPerCustomer))
	dunned := fs.Float64("dunned-share", 0, "share of invoices that get at least one dunning email, 0 to 1 (default 0.6: the standard ladder's first email goes 3 days before the due date)")
	emailsPer := fs.Float64("emails-per-dunned-invoice", 0, "dunning emails per dunned invoice (default 1.5)")
	webhookShare := fs.Float64("webhook-share", 0, "share of payments that arrive by webhook rather than through the API, 0 to 1 (default 0.5)")
	history := fs.Float64("history-months", 0, "months of books in the table: storage grows with them (default 12)")
	endpoints := fs.Float64("endpoints", 0, "outbound-event endpoints that receive every event (default 1; 0 when the firm uses none)")
	detailed := fs.Bool("detailed-metrics", true, fmt.Sprintf("the template's DetailedMetrics: %d CloudWatch custom metrics, or %d when false", cost.DetailedMetrics, cost.EssentialMetrics))
	format := fs.String("format", "text", "text, markdown or json")
	pricesFile := fs.String("prices", "", "a JSON price list overriding the defaults field by field (see the json output's prices)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: dunlin cost --customers N [flags]\n\n"+
			"Estimates the monthly AWS bill of a firm with N customers from measured\n"+
			"DynamoDB request units, Lambda durations and emails, at the list prices\n"+
			"it prints. The AWS Free Tier is not counted.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *customers <= 0 {
		return fmt.Errorf("--customers %d: a firm has at least one customer", *customers)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	firm := cost.DefaultFirm(*customers)
	for _, c := range []struct {
		name  string
		v     float64
		share bool
		dst   *float64
	}{
		{"invoices-per-month", *invoices, false, &firm.InvoicesPerMonth},
		{"payments-per-month", *payments, false, &firm.PaymentsPerMonth},
		{"api-requests-per-month", *reads, false, &firm.APIReadsPerMonth},
		{"dunned-share", *dunned, true, &firm.DunnedShare},
		{"emails-per-dunned-invoice", *emailsPer, false, &firm.EmailsPerDunnedInvoice},
		{"webhook-share", *webhookShare, true, &firm.WebhookShare},
		{"history-months", *history, false, &firm.HistoryMonths},
		{"endpoints", *endpoints, false, &firm.Endpoints},
	} {
		if !set[c.name] {
			continue
		}
		switch {
		case math.IsNaN(c.v) || math.IsInf(c.v, 0) || c.v < 0:
			return fmt.Errorf("--%s %v: a number, zero or more", c.name, c.v)
		case c.share && c.v > 1:
			return fmt.Errorf("--%s %v: a share from 0 to 1", c.name, c.v)
		}
		*c.dst = c.v
		if c.name == "invoices-per-month" {
			// Payments and open invoices follow the invoices unless given.
			firm.OpenInvoices = c.v
			if !set["payments-per-month"] {
				firm.PaymentsPerMonth = c.v
			}
		}
	}
	if !*detailed {
		firm.CustomMetrics = cost.EssentialMetrics
	}
	if err := firm.Validate(); err != nil {
		return err
	}
	prices := cost.DefaultPrices()
	if *pricesFile != "" {
		f, err := os.Open(*pricesFile)
		if err != nil {
			return fmt.Errorf("--prices: %w", err)
		}
		defer f.Close()
		if prices, err = cost.ReadPrices(f); err != nil {
			return fmt.Errorf("--prices %s: %w", *pricesFile, err)
		}
	}
	measured, err := cost.Default()
	if err != nil {
		return err
	}
	bill := cost.Estimate(firm, measured, prices)
	switch *format {
	case "text":
		return printCostText(stdout, bill)
	case "markdown":
		return printCostMarkdown(stdout, bill)
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			cost.Bill
			PriceList []cost.PriceItem `json:"price_list"`
		}{bill, prices.List()})
	}
	return errors.New("--format must be text, markdown or json")
}

func printCostText(w io.Writer, b cost.Bill) error {
	f, p := b.Firm, b.Prices
	fmt.Fprintf(w, "Dunlin's monthly AWS bill for %s customers, %s invoices and %s payments a month\n", thousands(float64(f.Customers)), thousands(f.InvoicesPerMonth), thousands(f.PaymentsPerMonth))
	fmt.Fprintf(w, "%s list prices of %s, USD, no free tier\n\n", p.Region, p.AsOf)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "service\titem\tquantity\tunit\tunit price\tcost")
	for _, l := range b.Lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\n", l.Service, l.Item, quantity(l.Quantity), l.Unit, price(l.UnitPrice), l.PriceUnit, usd(l.Cost))
	}
	fmt.Fprintf(tw, "total\t\t\t\t\t%s\n", usd(b.Total))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nWorkload: %s\n", workload(b))
	fmt.Fprintln(w, "\nNotes:")
	for _, n := range b.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	fmt.Fprintf(w, "\nPrice list (%s, read %s):\n", p.Region, p.AsOf)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, it := range p.List() {
		fmt.Fprintf(tw, "  %s\t%s\t%s %s\t%s\n", it.Service, it.Item, price(it.Price), it.Unit, it.Source)
	}
	return tw.Flush()
}

func printCostMarkdown(w io.Writer, b cost.Bill) error {
	f, p := b.Firm, b.Prices
	var s strings.Builder
	fmt.Fprintf(&s, "**%s customers, %s invoices and %s payments a month** (%s list prices of %s, USD, no free tier)\n\n",
		thousands(float64(f.Customers)), thousands(f.InvoicesPerMonth), thousands(f.PaymentsPerMonth), p.Region, p.AsOf)
	s.WriteString("| service | item | quantity | unit price | cost |\n|---|---|---:|---:|---:|\n")
	for _, l := range b.Lines {
		fmt.Fprintf(&s, "| %s | %s | %s %s | %s %s | %s |\n", l.Service, l.Item, quantity(l.Quantity), l.Unit, price(l.UnitPrice), l.PriceUnit, usd(l.Cost))
	}
	fmt.Fprintf(&s, "| **total** | | | | **%s** |\n\n", usd(b.Total))
	fmt.Fprintf(&s, "Workload: %s\n\n", workload(b))
	for _, n := range b.Notes {
		fmt.Fprintf(&s, "- %s\n", n)
	}
	fmt.Fprintf(&s, "\nPrice list (%s, read %s):\n\n| service | item | price | source |\n|---|---|---:|---|\n", p.Region, p.AsOf)
	for _, it := range p.List() {
		fmt.Fprintf(&s, "| %s | %s | %s %s | %s |\n", it.Service, it.Item, price(it.Price), it.Unit, it.Source)
	}
	_, err := io.WriteString(w, s.String())
	return err
}

// workload is the assumptions behind a bill, in one sentence.
func workload(b cost.Bill) string {
	f, u := b.Firm, b.Usage
	return fmt.Sprintf("%s API requests (%s reads), %s webhook payments, %s sweep runs, %s emails (%g%% of invoices dunned, %g emails each, plus digests), "+
		"%s SES delivery events, %s outbound runs, %s outbound events to %g endpoints, "+
		"%s rescorings at most, %s cold starts, %s GB stored after %g months, %s GB of logs, %g custom metrics, %g alarms.",
		thousands(u.APIRequests), thousands(f.APIReadsPerMonth), thousands(u.WebhookEvents), thousands(u.SweepRuns), thousands(u.Emails),
		f.DunnedShare*100, f.EmailsPerDunnedInvoice, thousands(u.MailEvents), thousands(u.OutboundRuns), thousands(u.OutboundEvents), f.Endpoints,
		thousands(u.Rescores), thousands(u.ColdStarts), quantity(u.StoredGB), f.HistoryMonths, quantity(u.LogGB), f.CustomMetrics, f.Alarms)
}

// usd formats a cost to a hundredth of a cent.
func usd(v float64) string { return "$" + strconv.FormatFloat(v, 'f', 4, 64) }

// price formats a unit price as it is published.
func price(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// quantity formats a quantity: whole numbers with thousands separators
// from 100 up, three significant digits below.
func quantity(v float64) string {
	if v >= 100 || v == math.Trunc(v) {
		return thousands(v)
	}
	if v <= 0 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', max(0, 2-int(math.Floor(math.Log10(v)))), 64)
}

// thousands rounds v to a whole number with thousands separators.
func thousands(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
