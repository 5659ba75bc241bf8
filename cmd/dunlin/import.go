package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"dunlin/shared/imports"
)

const importUsage = `Usage: dunlin import [flags] FILE...

Imports customers or invoices from CSV or Excel (.xlsx) files through a
Dunlin API (make dev's by default, or a deployed one with --api and --key),
upserting each row by external_id. Files are imported in the order given,
so put customers before the invoices that name them:

  dunlin import customers.csv invoices.xlsx

Every row of a file is checked before any is written; one bad row means
nothing of that file is written, unless --partial. --dry-run only checks.
The kind of a file comes from its name (customers..., invoices...) or
--kind. Column names and their aliases: README, "Importing from your books".
`

// partRows is how many rows go in one request: small enough for a steady
// progress bar, large enough that a big file takes few requests.
const partRows = 250

type importFlags struct {
	apiFlags
	run     string // a random id for this run's Idempotency-Keys
	kind    string
	dryRun  bool
	partial bool
	maps    multiFlag
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, importUsage); fs.PrintDefaults() }
	var f importFlags
	f.register(fs)
	fs.StringVar(&f.kind, "kind", "", "customers or invoices (default: from the file's name)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "check every row and report, writing nothing")
	fs.BoolVar(&f.partial, "partial", false, "import the good rows even when some rows fail")
	fs.Var(&f.maps, "map", `a heading of the file and the field it holds, e.g. --map "Client Ref=external_id" (repeatable)`)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return errors.New("name at least one file to import")
	}
	overrides, err := imports.ParseOverrides(f.maps)
	if err != nil {
		return err
	}
	f.run = rand.Text()
	failed := false
	for _, path := range files {
		rep, err := f.importFile(ctx, path, overrides, stdout, stderr)
		if rep != nil {
			f.report(path, rep, stdout)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		failed = failed || rep.Failed > 0
	}
	if failed {
		return errors.New("some rows were not imported (see above)")
	}
	return nil
}

// importFile checks a whole file, part by part, then (unless a dry run, or
// rows failed and not --partial) imports it part by part.
func (f *importFlags) importFile(ctx context.Context, path string, overrides map[string]string, stdout, stderr io.Writer) (*imports.Report, error) {
	kind, err := f.kindOf(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := imports.Read(b, 0)
	if err != nil {
		return nil, err
	}
	m, err := imports.MapHeader(kind, t.Header, overrides)
	if err != nil {
		return nil, err
	}
	parts, err := t.Parts(partRows)
	if err != nil {
		return nil, err
	}
	dups := imports.Duplicates(t, m)

	bar := newProgress(stderr, len(t.Rows))
	checked := &imports.Report{Kind: kind, DryRun: true, Partial: f.partial}
	for _, p := range parts {
		rep, err := f.send(ctx, kind, p, true, false)
		if err != nil {
			bar.done()
			return nil, err
		}
		checked.Merge(rep, p.Rows)
		bar.add("checked", p.Len)
	}
	bar.done()
	checked.Fail(dups)
	if f.dryRun || checked.Failed > 0 && !f.partial {
		if !f.dryRun {
			fmt.Fprintf(stdout, "%s: %d of %d rows have errors, so nothing was imported (fix them, or use --partial)\n", path, checked.Failed, checked.Rows)
		}
		return checked, nil
	}

	bad := map[int]bool{}
	for _, r := range dups {
		bad[r.Row] = true
	}
	done := &imports.Report{Kind: kind, Partial: f.partial}
	bar = newProgress(stderr, len(t.Rows))
	for _, p := range parts {
		// A row repeated in another part is not sent again: it was
		// reported with the duplicates.
		if p = withoutRows(p, bad); p.Len == 0 {
			continue
		}
		rep, err := f.send(ctx, kind, p, false, f.partial)
		if err != nil {
			bar.done()
			if done.Written {
				return done, fmt.Errorf("%w; the rows reported above were imported: import the file again once it is fixed (they will be unchanged)", err)
			}
			return done, err
		}
		done.Merge(rep, p.Rows)
		bar.add("imported", p.Len)
		if rep.Failed > 0 && !f.partial {
			// A row that passed the check failed now: something changed
			// the books meanwhile. The part was refused whole; stop.
			bar.done()
			return done, errors.New("rows changed since they were checked, so this part was not imported; rows before it were: import the file again to finish (they will be unchanged)")
		}
	}
	bar.done()
	done.Fail(dups)
	return done, nil
}

func (f *importFlags) kindOf(path string) (imports.Kind, error) {
	if f.kind != "" {
		return imports.ParseKind(f.kind)
	}
	name := strings.ToLower(filepath.Base(path))
	switch {
	case strings.Contains(name, "customer"):
		return imports.Customers, nil
	case strings.Contains(name, "invoice"):
		return imports.Invoices, nil
	}
	return "", fmt.Errorf("cannot tell from its name whether it holds customers or invoices: give --kind")
}

// send posts one part. A refused part (422 with a report) is a report, not
// an error; the same Idempotency-Key on a retry means a part is never
// imported twice when an answer is lost.
func (f *importFlags) send(ctx context.Context, kind imports.Kind, p imports.Part, dryRun, partial bool) (*imports.Report, error) {
	q := url.Values{"kind": {string(kind)}}
	if dryRun {
		q.Set("dry_run", "true")
	}
	if partial {
		q.Set("partial", "true")
	}
	for _, m := range f.maps {
		q.Add("map", m)
	}
	// The key is this run's (a later run must import afresh, not replay
	// this one's answer) and this part's, so only a retry repeats it.
	sum := sha256.Sum256(append([]byte(f.run+q.Encode()+"\n"), p.File...))
	key := "import-" + hex.EncodeToString(sum[:16])
	var status int
	var body []byte
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * time.Second)
		}
		status, body, err = f.do(ctx, http.MethodPost, "/v1/imports", q, p.File, "Content-Type", p.ContentType(), "Idempotency-Key", key)
		if err == nil && status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests && status < 500 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	var out struct {
		*imports.Report
		Import *imports.Report `json:"import"`
	}
	switch status {
	case http.StatusOK:
		out.Report = new(imports.Report)
		if err := json.Unmarshal(body, out.Report); err != nil {
			return nil, fmt.Errorf("read the API's report: %w", err)
		}
		return out.Report, nil
	case http.StatusUnprocessableEntity:
		if json.Unmarshal(body, &out) == nil && out.Import != nil {
			return out.Import, nil
		}
	}
	return nil, apiError(status, body)
}

func withoutRows(p imports.Part, bad map[int]bool) imports.Part {
	if len(bad) == 0 {
		return p
	}
	t, err := imports.Read(p.File, 0)
	if err != nil {
		return p
	}
	keep := t.Rows[:0]
	for _, r := range t.Rows {
		if !bad[p.Rows[r.Number]] {
			keep = append(keep, r)
		}
	}
	if len(keep) == len(t.Rows) {
		return p
	}
	t.Rows = keep
	parts, err := t.Parts(len(keep) + 1)
	if err != nil || len(parts) == 0 {
		return imports.Part{}
	}
	// Map the new part's rows through the old part's to the file's rows.
	for n, old := range parts[0].Rows {
		parts[0].Rows[n] = p.Rows[old]
	}
	return parts[0]
}

// report prints what happened to a file: JSON with --json, else counts and
// a table of the rows that failed.
func (f *importFlags) report(path string, rep *imports.Report, stdout io.Writer) {
	if f.json {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return
	}
	verb := "imported"
	if rep.DryRun {
		verb = "checked (dry run, nothing written)"
	}
	fmt.Fprintf(stdout, "%s: %d rows %s: %d created, %d updated, %d unchanged, %d failed\n",
		path, rep.Rows, verb, rep.Created, rep.Updated, rep.Unchanged, rep.Failed)
	if len(rep.IgnoredColumns) > 0 {
		fmt.Fprintf(stdout, "  columns not read: %s\n", strings.Join(rep.IgnoredColumns, ", "))
	}
	if rep.Failed == 0 {
		return
	}
	c := colourFor(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tEXTERNAL_ID\tFIELD\tERROR")
	for _, r := range rep.Results {
		if r.Action == imports.Failed {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Row, r.ExternalID, r.Field, c.red(r.Error))
		}
	}
	_ = tw.Flush()
}

// progress draws a bar on a terminal and nothing elsewhere, so logs and
// pipes get only the results.
type progress struct {
	w     io.Writer
	total int
	n     int
	on    bool
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, on: isTerminal(w) && total > 0}
}

func (p *progress) add(verb string, n int) {
	p.n += n
	if !p.on {
		return
	}
	const width = 30
	filled := width * p.n / p.total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d rows %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.n, p.total, verb)
}

func (p *progress) done() {
	if p.on && p.n > 0 {
		fmt.Fprintln(p.w)
	}
}
