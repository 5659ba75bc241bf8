// Package imports brings customers and invoices in from the files a firm's
// books export: CSV or Excel (.xlsx), one record per row, with a header
// row naming the columns. Rows are upserted by the firm's own id
// (external_id), so importing the same file twice changes nothing the
// second time.
package imports

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"dunlin/shared/apperr"
)

// MaxRows is how many data rows one request may carry: few enough to
// finish well inside API Gateway's 30 seconds, and for the report of
// every row (kept whole for an Idempotency-Key's replay) to stay well
// inside DynamoDB's 400 KB item. `dunlin import` splits larger files
// into requests of half this size.
const MaxRows = 500

// Format is how a file is encoded.
type Format string

const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// Table is a file read into rows of text cells.
type Table struct {
	Format Format
	Header []string
	Rows   []Row
	// Date1904 is a workbook's date system: Excel on old Macs counts days
	// from 1904, not 1900, so the same serial is another date.
	Date1904 bool
	maxRows  int
}

// Row is one data row and where it is in the file: Number counts rows the
// way a spreadsheet does, the header being row 1.
type Row struct {
	Number int
	Cells  []string
}

// zipMagic starts every .xlsx file (an xlsx is a zip archive).
var zipMagic = []byte("PK\x03\x04")

// Read reads a CSV or .xlsx file, telling them apart by their first bytes,
// of at most maxRows data rows (0: any number). Blank rows are skipped but
// still counted, so row numbers match what the firm sees in its
// spreadsheet.
func Read(b []byte, maxRows int) (*Table, error) {
	if bytes.HasPrefix(b, zipMagic) {
		return readXLSX(b, maxRows)
	}
	return readCSV(b, maxRows)
}

func readCSV(b []byte, maxRows int) (*Table, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // Excel writes a byte-order mark
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma = sniffDelimiter(b)
	r.FieldsPerRecord = -1 // ragged rows are checked per row, not refused whole
	r.TrimLeadingSpace = true
	t := &Table{Format: CSV, maxRows: maxRows}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, apperr.Field(apperr.BadRequest, "body", "the CSV file is not well formed at line %d: %v", pe.StartLine, pe.Err)
			}
			return nil, apperr.Field(apperr.BadRequest, "body", "could not read the CSV file: %v", err)
		}
		line, _ := r.FieldPos(0) // a row's number is the line it starts on, as in a spreadsheet
		if err := t.add(line, rec); err != nil {
			return nil, err
		}
	}
	return t.done()
}

// sniffDelimiter picks ';' or tab when the header line uses it, outside
// quotes, and not commas: Excel in much of Europe saves "CSV" with
// semicolons.
func sniffDelimiter(b []byte) rune {
	seen := map[byte]bool{}
	quoted := false
	for _, c := range b {
		if c == '"' {
			quoted = !quoted
		}
		if !quoted && c == '\n' {
			break
		}
		if !quoted {
			seen[c] = true
		}
	}
	for _, d := range []byte{';', '\t'} {
		if seen[d] && !seen[','] {
			return rune(d)
		}
	}
	return ','
}

func readXLSX(b []byte, maxRows int) (*Table, error) {
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		return nil, apperr.Field(apperr.BadRequest, "body", "could not read the Excel file: %v", err)
	}
	defer f.Close()
	sheet := firstVisibleSheet(f)
	if sheet == "" {
		return nil, apperr.Field(apperr.BadRequest, "body", "the Excel file has no visible sheet")
	}
	// Raw values: numbers as stored, not as the sheet formats them for a
	// locale ("1.234,50 €"), and dates as Excel serial numbers, which the
	// date columns convert.
	rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, apperr.Field(apperr.BadRequest, "body", "could not read sheet %q: %v", sheet, err)
	}
	t := &Table{Format: XLSX, maxRows: maxRows}
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		t.Date1904 = *props.Date1904
	}
	for i, rec := range rows {
		if err := t.add(i+1, rec); err != nil {
			return nil, err
		}
	}
	return t.done()
}

func firstVisibleSheet(f *excelize.File) string {
	for _, name := range f.GetSheetList() {
		if visible, err := f.GetSheetVisible(name); err == nil && visible {
			return name
		}
	}
	return ""
}

// add takes the first non-blank row as the header and the rest as data.
func (t *Table) add(n int, rec []string) error {
	blank := true
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
		if rec[i] != "" {
			blank = false
		}
	}
	switch {
	case blank:
		return nil
	case t.Header == nil:
		t.Header = rec
	default:
		if t.maxRows > 0 && len(t.Rows) == t.maxRows {
			return apperr.Field(apperr.TooLarge, "body", "more than %d rows; send larger files in parts (dunlin import does this for you)", t.maxRows)
		}
		t.Rows = append(t.Rows, Row{Number: n, Cells: rec})
	}
	return nil
}

func (t *Table) done() (*Table, error) {
	if t.Header == nil {
		return nil, apperr.Field(apperr.BadRequest, "body", "the file is empty: it needs a header row naming the columns")
	}
	return t, nil
}

// Part is a piece of a table as a file of its own, with the header: CSV,
// or .xlsx when the table came from one, so that cells keep their
// meaning (an Excel date is a number only a workbook says is a date).
type Part struct {
	File []byte
	// Rows maps a row number within the part to the row's number in the
	// original file, so errors reported on the part name the firm's rows.
	Rows map[int]int
	Len  int // data rows in the part
}

// ContentType is the media type to send the part as.
func (p Part) ContentType() string {
	if bytes.HasPrefix(p.File, zipMagic) {
		return XLSXType
	}
	return "text/csv"
}

// XLSXType is the media type of an Excel workbook.
const XLSXType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// Parts splits a table into files of at most size rows each, for sending
// in parts.
func (t *Table) Parts(size int) ([]Part, error) {
	var parts []Part
	for start := 0; start < len(t.Rows); start += size {
		rows := t.Rows[start:min(start+size, len(t.Rows))]
		write := t.csvPart
		if t.Format == XLSX {
			write = t.xlsxPart
		}
		p, err := write(rows)
		if err != nil {
			return nil, fmt.Errorf("write part: %w", err)
		}
		parts = append(parts, p)
	}
	return parts, nil
}

func (t *Table) csvPart(rows []Row) (Part, error) {
	var buf bytes.Buffer
	p := Part{Rows: make(map[int]int, len(rows)), Len: len(rows)}
	line := 1 + lines(t.Header)
	writeQuoted(&buf, t.Header)
	for _, r := range rows {
		p.Rows[line] = r.Number
		line += lines(r.Cells)
		writeQuoted(&buf, r.Cells)
	}
	p.File = buf.Bytes()
	return p, nil
}

// writeQuoted writes a CSV record with every field quoted, so that a part
// is read with commas whatever its cells hold: a semicolon in a header
// cell cannot make it look like a semicolon-separated file.
func writeQuoted(buf *bytes.Buffer, rec []string) {
	for i, f := range rec {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('"')
		buf.WriteString(strings.ReplaceAll(f, `"`, `""`))
		buf.WriteByte('"')
	}
	buf.WriteByte('\n')
}

// lines is how many lines a record takes in CSV: cells may hold newlines.
func lines(rec []string) int {
	n := 1
	for _, c := range rec {
		n += strings.Count(c, "\n")
	}
	return n
}

// xlsxPart writes the raw values back as text cells: reading a workbook
// takes raw values, so the server reads each cell as it was.
func (t *Table) xlsxPart(rows []Row) (Part, error) {
	f := excelize.NewFile()
	defer f.Close()
	p := Part{Rows: make(map[int]int, len(rows)), Len: len(rows)}
	sheet := f.GetSheetName(0)
	if t.Date1904 {
		on := true
		if err := f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &on}); err != nil {
			return p, err
		}
	}
	put := func(n int, cells []string) error {
		vals := make([]any, len(cells))
		for i, c := range cells {
			vals[i] = c
		}
		cell, err := excelize.CoordinatesToCellName(1, n)
		if err != nil {
			return err
		}
		return f.SetSheetRow(sheet, cell, &vals)
	}
	if err := put(1, t.Header); err != nil {
		return p, err
	}
	for i, r := range rows {
		p.Rows[i+2] = r.Number
		if err := put(i+2, r.Cells); err != nil {
			return p, err
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return p, err
	}
	p.File = buf.Bytes()
	return p, nil
}
