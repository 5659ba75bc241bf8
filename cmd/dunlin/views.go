package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"dunlin/shared/money"
)

// apiFlags say which Dunlin API a command talks to: the local stack by
// default (make dev), or a deployed one given its URL and a key.
type apiFlags struct {
	url, key string
	json     bool
	limit    int
}

func (f *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "api", envOr("DUNLIN_API_URL", "http://127.0.0.1:8080"), "the API's base URL: the ApiUrl stack output when deployed (env DUNLIN_API_URL)")
	fs.StringVar(&f.key, "key", os.Getenv("DUNLIN_API_KEY"), "an API key, any role (env DUNLIN_API_KEY; make dev prints one)")
	fs.BoolVar(&f.json, "json", false, "print the API's JSON instead of a table")
	fs.IntVar(&f.limit, "limit", 50, "how many to show, 1 to 200")
}

// get reads one page of a list from the API.
func (f *apiFlags) get(ctx context.Context, path string, q url.Values, out any) ([]byte, error) {
	if f.limit < 1 || f.limit > 200 {
		return nil, fmt.Errorf("--limit %d: from 1 to 200", f.limit)
	}
	q.Set("limit", fmt.Sprint(f.limit))
	status, body, err := f.do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, apiError(status, body)
	}
	return body, json.Unmarshal(body, out)
}

// do sends one request to the API and returns its status and body.
// headers are name, value pairs.
func (f *apiFlags) do(ctx context.Context, method, path string, q url.Values, body []byte, headers ...string) (int, []byte, error) {
	if f.key == "" {
		return 0, nil, errors.New("--key is required (or DUNLIN_API_KEY): make dev prints an admin key, dunlin keys create makes one")
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(f.url, "/")+path+"?"+q.Encode(), rd)
	if err != nil {
		return 0, nil, fmt.Errorf("--api %q: %w", f.url, err)
	}
	req.Header.Set("Authorization", "Bearer "+f.key)
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("reach the API at %s (is make dev running, or is --api right?): %w", f.url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("read the API's answer: %w", err)
	}
	return res.StatusCode, b, nil
}

// apiError turns an error answer into a Go error with the API's message.
func apiError(status int, body []byte) error {
	var e struct {
		Error struct{ Message, Field string } `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		if e.Error.Field != "" {
			return fmt.Errorf("the API answered %d (%s): %s", status, e.Error.Field, e.Error.Message)
		}
		return fmt.Errorf("the API answered %d: %s", status, e.Error.Message)
	}
	return fmt.Errorf("the API answered %d", status)
}

// colour is for a terminal only, and never when NO_COLOR is set
// (https://no-color.org).
type colour bool

func colourFor(w io.Writer) colour {
	return colour(isTerminal(w) && os.Getenv("NO_COLOR") == "")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (c colour) red(s string) string {
	if !c {
		return s
	}
	return "\x1b[31m" + s + "\x1b[0m"
}

const customersUsage = `Usage: dunlin customers [--api URL] [--key KEY] [--on-hold] [--limit N] [--json]

Lists customers from a Dunlin API: the local stack by default, or a
deployed one (--api is its ApiUrl output).
`

func runCustomers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("customers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, customersUsage); fs.PrintDefaults() }
	var af apiFlags
	af.register(fs)
	onHold := fs.Bool("on-hold", false, "only customers on credit hold")
	if err := fs.Parse(args); err != nil {
		return err
	}
	q := url.Values{}
	if *onHold {
		q.Set("on_hold", "true")
	}
	var page struct {
		Data []struct {
			ID, Name, Email, Currency string
			Grade                     *string
			CreditHold                bool    `json:"credit_hold"`
			EmailError                *string `json:"email_error"`
		}
		NextCursor *string `json:"next_cursor"`
	}
	raw, err := af.get(ctx, "/v1/customers", q, &page)
	if err != nil {
		return err
	}
	return af.show(raw, page.NextCursor, stdout, stderr, "ID\tNAME\tEMAIL\tCURRENCY\tGRADE\tNOTE", func(tw io.Writer, c colour) {
		for _, x := range page.Data {
			note := ""
			if x.CreditHold {
				note = c.red("on hold")
			}
			if x.EmailError != nil {
				note = strings.TrimSpace(note + " " + c.red("email refused"))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Name, x.Email, x.Currency, deref(x.Grade, "-"), note)
		}
	})
}

// show prints a page: the API's own JSON with --json, else a table with
// header whose rows writes, and a note on stderr when there is more.
func (f *apiFlags) show(raw []byte, next *string, stdout, stderr io.Writer, header string, rows func(tw io.Writer, c colour)) error {
	if f.json {
		_, err := stdout.Write(append(raw, '\n'))
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw, colourFor(stdout))
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != nil {
		fmt.Fprintf(stderr, "(more: raise --limit, or page the API with cursor=%s)\n", *next)
	}
	return nil
}

const invoicesUsage = `Usage: dunlin invoices [--api URL] [--key KEY] [--customer ID] [--status S] [--limit N] [--json]

Lists invoices from a Dunlin API, with what is still owed; overdue ones
are red on a terminal.
`

func runInvoices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, invoicesUsage); fs.PrintDefaults() }
	var af apiFlags
	af.register(fs)
	customer := fs.String("customer", "", "only this customer's invoices (its id)")
	status := fs.String("status", "", "only open, overdue, paid or void invoices")
	if err := fs.Parse(args); err != nil {
		return err
	}
	q := url.Values{}
	if *customer != "" {
		q.Set("customer_id", *customer)
	}
	if *status != "" {
		q.Set("status", *status)
	}
	var page struct {
		Data []struct {
			ID, Number, Currency, Status string
			CustomerID                   string `json:"customer_id"`
			Total, Balance               int64
			DueOn                        string `json:"due_on"`
			DaysOverdue                  int    `json:"days_overdue"`
		}
		NextCursor *string `json:"next_cursor"`
	}
	raw, err := af.get(ctx, "/v1/invoices", q, &page)
	if err != nil {
		return err
	}
	// The status, coloured or not, is the last column: tabwriter counts
	// colour codes as width, so they stay out of the aligned columns.
	return af.show(raw, page.NextCursor, stdout, stderr, "NUMBER\tCUSTOMER\tDUE\tTOTAL\tOWED\tSTATUS", func(tw io.Writer, c colour) {
		for _, x := range page.Data {
			st := x.Status
			if x.DaysOverdue > 0 {
				days := "days"
				if x.DaysOverdue == 1 {
					days = "day"
				}
				st = c.red(fmt.Sprintf("%s, %d %s", x.Status, x.DaysOverdue, days))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s %s\t%s\n", x.Number, x.CustomerID, x.DueOn,
				x.Currency, money.Decimal(x.Total, x.Currency), x.Currency, money.Decimal(x.Balance, x.Currency), st)
		}
	})
}

func deref(s *string, none string) string {
	if s == nil {
		return none
	}
	return *s
}
