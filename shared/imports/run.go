package imports

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
)

// Options change how a file is imported.
type Options struct {
	// DryRun checks every row against the books and reports what would
	// happen, writing nothing.
	DryRun bool
	// Partial writes the good rows of a file that has bad ones. Without it
	// a file is all or nothing: every row is checked before any is written,
	// and one bad row means none is.
	Partial bool
	// Columns maps headings to fields beyond the built-in names.
	Columns map[string]string
}

// Actions a row can come to.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
	Failed    = "failed"
)

// Report says what an import did, or in a dry run would do, row by row.
type Report struct {
	Kind    Kind `json:"kind"`
	DryRun  bool `json:"dry_run"`
	Partial bool `json:"partial"`
	// Written is whether any row was written.
	Written        bool        `json:"written"`
	Rows           int         `json:"rows"`
	Created        int         `json:"created"`
	Updated        int         `json:"updated"`
	Unchanged      int         `json:"unchanged"`
	Failed         int         `json:"failed"`
	Columns        []ColumnUse `json:"columns"`
	IgnoredColumns []string    `json:"ignored_columns"`
	Results        []Result    `json:"results"`
}

// Result is one row's outcome.
type Result struct {
	Row        int    `json:"row"`
	ExternalID string `json:"external_id"`
	Action     string `json:"action"`
	ID         string `json:"id,omitempty"`
	// Changes names the fields an update changes.
	Changes []string `json:"changes,omitempty"`
	Field   string   `json:"field,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// ErrRowsRefused is returned, with the report, when a file is all or
// nothing and some row failed its checks: nothing was written.
var ErrRowsRefused = apperr.Field(apperr.Invalid, "rows", "some rows have errors, so nothing was imported; fix them, or import the good rows with partial")

// workers bounds the rows checked or written at once: enough to hide
// DynamoDB's latency, few enough not to crowd one customer's items.
const workers = 8

// Importer imports files into the books through the billing service, so
// every rule and the audit trail apply as they do to the API.
type Importer struct {
	Billing *billing.Service
	Log     *slog.Logger // where errors that are not a row's fault go in full
}

func (im *Importer) logInternal(ctx context.Context, r Row, err error) {
	if e, ok := apperr.As(err); (!ok || e.Code == apperr.Internal) && im.Log != nil {
		im.Log.ErrorContext(ctx, "import row failed", "row", r.Number, "error", err.Error())
	}
}

// planned is a row checked against the books, ready to write.
type planned struct {
	row    Row
	result Result
	write  func(ctx context.Context) (Result, error)
}

// Import reads file (CSV or .xlsx) of kind and imports it. A file-level
// problem (unreadable, a column missing) is an error and no report. Rows
// that fail their checks are in the report; with them and without
// opt.Partial the error is ErrRowsRefused and nothing was written.
func (im *Importer) Import(ctx context.Context, kind Kind, file []byte, opt Options) (*Report, error) {
	t, err := Read(file, MaxRows)
	if err != nil {
		return nil, err
	}
	m, err := MapHeader(kind, t.Header, opt.Columns)
	if err != nil {
		return nil, err
	}
	rep := &Report{Kind: kind, DryRun: opt.DryRun, Partial: opt.Partial, Rows: len(t.Rows),
		Columns: m.Used, IgnoredColumns: m.Ignored}
	if rep.IgnoredColumns == nil {
		rep.IgnoredColumns = []string{}
	}
	rows := im.plan(ctx, t, m)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bad := 0
	for _, p := range rows {
		if p.result.Action == Failed {
			bad++
		}
	}
	if opt.DryRun || bad > 0 && !opt.Partial {
		rep.add(rows, func(p *planned) Result { return p.result })
		if bad > 0 && !opt.Partial && !opt.DryRun {
			return rep, ErrRowsRefused
		}
		return rep, nil
	}
	eachRow(rows, func(p *planned) {
		if p.result.Action == Failed || p.result.Action == Unchanged {
			return
		}
		res, err := p.write(ctx)
		if err != nil {
			im.logInternal(ctx, p.row, err)
			res = p.result.failed(err)
		}
		p.result = res
	})
	rep.add(rows, func(p *planned) Result { return p.result })
	for _, r := range rep.Results {
		if r.Action == Created || r.Action == Updated {
			rep.Written = true
		}
	}
	return rep, ctx.Err()
}

func (rep *Report) add(rows []*planned, result func(*planned) Result) {
	rep.Results = make([]Result, 0, len(rows))
	for _, p := range rows {
		r := result(p)
		rep.Results = append(rep.Results, r)
		rep.count(r.Action, 1)
	}
}

// Merge adds the report of one part of a file to r. rows maps the part's
// row numbers to the file's, as Part.Rows does.
func (r *Report) Merge(part *Report, rows map[int]int) {
	if r.Columns == nil {
		r.Columns, r.IgnoredColumns = part.Columns, part.IgnoredColumns
	}
	r.Written = r.Written || part.Written
	r.Rows += part.Rows
	for _, res := range part.Results {
		res.Row = rows[res.Row]
		r.Results = append(r.Results, res)
		r.count(res.Action, 1)
	}
}

// Fail records results as failed, replacing what r said of their rows.
func (r *Report) Fail(results []Result) {
	for _, f := range results {
		i := slices.IndexFunc(r.Results, func(x Result) bool { return x.Row == f.Row })
		if i < 0 {
			r.Results = append(r.Results, f)
			r.Rows++
		} else {
			r.count(r.Results[i].Action, -1)
			r.Results[i] = f
		}
		r.count(Failed, 1)
	}
	slices.SortFunc(r.Results, func(a, b Result) int { return a.Row - b.Row })
}

func (r *Report) count(action string, n int) {
	switch action {
	case Created:
		r.Created += n
	case Updated:
		r.Updated += n
	case Unchanged:
		r.Unchanged += n
	case Failed:
		r.Failed += n
	}
}

// plan checks each row: first against the rest of the file, then its
// cells, then against the books.
func (im *Importer) plan(ctx context.Context, t *Table, m *Mapping) []*planned {
	dups := map[int]Result{}
	for _, r := range Duplicates(t, m) {
		dups[r.Row] = r
	}
	rows := make([]*planned, len(t.Rows))
	for i, r := range t.Rows {
		rows[i] = &planned{row: r, result: Result{Row: r.Number, ExternalID: m.Cell(r, "external_id")}}
		if d, dup := dups[r.Number]; dup {
			rows[i].result = d
		}
	}
	plan := im.planCustomer
	if m.Kind == Invoices {
		plan = im.planInvoice
	}
	eachRow(rows, func(p *planned) {
		if p.result.Action == Failed || ctx.Err() != nil {
			return
		}
		if err := plan(ctx, t, m, p.row, p); err != nil {
			im.logInternal(ctx, p.row, err)
			p.result = p.result.failed(err)
		}
	})
	return rows
}

// Duplicates are the rows that repeat an external_id (or an invoice
// number) an earlier row of the file has: a file says once what each
// record should be. `dunlin import` checks a whole file with it before
// sending it in parts.
func Duplicates(t *Table, m *Mapping) []Result {
	var out []Result
	fields := []string{"external_id"}
	if m.Kind == Invoices {
		fields = append(fields, "number")
	}
	seen := map[string]map[string]int{}
	for _, f := range fields {
		seen[f] = map[string]int{}
	}
	for _, r := range t.Rows {
		for _, f := range fields {
			v := m.Cell(r, f)
			if v == "" {
				continue
			}
			if first, dup := seen[f][v]; dup {
				res := Result{Row: r.Number, ExternalID: m.Cell(r, "external_id")}
				out = append(out, res.failed(apperr.Invalidf(f, "%s %q is also on row %d", f, v, first)))
				break
			}
			seen[f][v] = r.Number
		}
	}
	return out
}

// eachRow runs fn over rows, a few at a time.
func eachRow(rows []*planned, fn func(*planned)) {
	work := make(chan *planned)
	var wg sync.WaitGroup
	for range min(workers, len(rows)) {
		wg.Go(func() {
			for p := range work {
				fn(p)
			}
		})
	}
	for _, p := range rows {
		work <- p
	}
	close(work)
	wg.Wait()
}

// failed is r refused for err, naming the field when err does. An error
// that is not the row's fault is kept out of the report's words.
func (r Result) failed(err error) Result {
	r.Action, r.ID, r.Changes = Failed, "", nil
	if e, ok := apperr.As(err); ok && e.Code != apperr.Internal {
		r.Field, r.Error = e.Field, e.Message
		return r
	}
	r.Error = "could not be written because of an internal error; importing the file again finishes it"
	return r
}
