package imports

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"dunlin/shared/apperr"
)

func TestReadCSVAsSpreadsheetsSaveIt(t *testing.T) {
	// Excel in much of Europe: a byte-order mark, semicolons, a blank line.
	file := "\xef\xbb\xbfExternal ID;Name;Email\r\nC-1;Acme;ap@acme.example\r\n\r\n;;\r\nC-2;\"Bolt; Nut\";ap@bolt.example\r\n"
	tb, err := Read([]byte(file), MaxRows)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"External ID", "Name", "Email"}; !reflect.DeepEqual(tb.Header, want) {
		t.Errorf("header %q, want %q", tb.Header, want)
	}
	if len(tb.Rows) != 2 || tb.Rows[0].Number != 2 || tb.Rows[1].Number != 5 || tb.Rows[1].Cells[1] != "Bolt; Nut" {
		t.Errorf("rows %+v: want rows 2 and 5, blank ones skipped but counted", tb.Rows)
	}
}

func TestReadRefusesWhatIsNotATable(t *testing.T) {
	for name, file := range map[string]string{
		"empty":         "",
		"only blanks":   "\n,,\n",
		"bad quoting":   "a,b\n\"x,y\n",
		"broken xlsx":   "PK\x03\x04 and then nothing",
		"too many rows": "id\n" + strings.Repeat("x\n", MaxRows+1),
	} {
		_, err := Read([]byte(file), MaxRows)
		if e, ok := apperr.As(err); !ok || e.Field != "body" {
			t.Errorf("%s: %v, want an error naming the body", name, err)
		}
	}
}

func TestReadXLSXGivesRawValues(t *testing.T) {
	f := excelize.NewFile()
	rows := [][]any{{"external_id", "total", "due_on"}, {"I-1", 1234.56, 46357}, {}, {"I-2", "99", "2026-12-31"}}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	// A date format on the date cell: the raw value stays the serial.
	style, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	_ = f.SetCellStyle("Sheet1", "C2", "C2", style)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	tb, err := Read(buf.Bytes(), MaxRows)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Format != XLSX || len(tb.Rows) != 2 || tb.Rows[1].Number != 4 {
		t.Fatalf("table %+v", tb)
	}
	if got := tb.Rows[0].Cells; got[1] != "1234.56" || got[2] != "46357" {
		t.Errorf("cells %q, want raw values", got)
	}
	if d, _ := dateCell(tb, "due_on", "46357"); d != "2026-12-01" {
		t.Errorf("Excel day 46357 = %s, want 2026-12-01", d)
	}
	if d, _ := dateCell(tb, "due_on", "2026-12-31"); d != "2026-12-31" {
		t.Errorf("a date written as text = %s", d)
	}
}

func TestAmountsInMajorUnits(t *testing.T) {
	cases := []struct {
		f        Format
		in, code string
		want     int64
		err      bool
	}{
		{CSV, "1250.00", "EUR", 125000, false},
		{CSV, "1,250.5", "EUR", 125050, false},
		{CSV, "12,50", "EUR", 0, true}, // a decimal comma is refused, not read as 1250
		{CSV, "1.005", "EUR", 0, true},
		{CSV, "-3", "EUR", 0, true},
		{CSV, "1500", "JPY", 1500, false},
		{CSV, "12.500", "EUR", 0, true}, // twelve and a half, or twelve thousand five hundred?
		{CSV, "1.250.000", "EUR", 0, true},
		{CSV, "12.50", "EUR", 1250, false},
		{CSV, "12.500", "KWD", 12500, false}, // three decimals: no doubt
		{XLSX, "1234.5599999999999", "EUR", 123456, false},
		{XLSX, "0.1234", "EUR", 0, true},
	}
	for _, c := range cases {
		got, err := optionalAmount(c.f, "total", c.in, c.code)
		if c.err {
			if e, ok := apperr.As(err); !ok || e.Field != "total" {
				t.Errorf("%s %q: %v, want an error naming total", c.f, c.in, err)
			}
			continue
		}
		if err != nil || *got != c.want {
			t.Errorf("%s %q %s = %v, %v; want %d", c.f, c.in, c.code, got, err, c.want)
		}
	}
}

func TestMapHeader(t *testing.T) {
	m, err := MapHeader(Customers, []string{"Customer Number", "Company Name", "E-mail", "Credit-Limit", "Notes", "Client Ref"}, map[string]string{"client ref": "owner"})
	if err != nil {
		t.Fatal(err)
	}
	want := []ColumnUse{{"Customer Number", "external_id"}, {"Company Name", "name"}, {"E-mail", "email"}, {"Credit-Limit", "credit_limit"}, {"Client Ref", "owner"}}
	if !reflect.DeepEqual(m.Used, want) || !reflect.DeepEqual(m.Ignored, []string{"Notes"}) {
		t.Errorf("used %v ignored %v", m.Used, m.Ignored)
	}
	for name, c := range map[string]struct {
		header    []string
		overrides map[string]string
		field     string
	}{
		"no external_id":  {[]string{"name", "email"}, nil, "columns"},
		"two for one":     {[]string{"external_id", "customer_id"}, nil, "columns"},
		"no such field":   {[]string{"external_id"}, map[string]string{"x": "balance"}, "map"},
		"invoice w/o sum": {[]string{"external_id", "customer_external_id"}, nil, "columns"},
	} {
		kind := Customers
		if strings.HasPrefix(name, "invoice") {
			kind = Invoices
		}
		_, err := MapHeader(kind, c.header, c.overrides)
		if e, ok := apperr.As(err); !ok || e.Field != c.field {
			t.Errorf("%s: %v, want an error naming %s", name, err, c.field)
		}
	}
}

func TestPartsKeepTheFilesRowNumbers(t *testing.T) {
	file := "external_id,description\n1,one\n\n2,\"two\nlines\"\n3,three\n4,four\n"
	tb, err := Read([]byte(file), MaxRows)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := tb.Parts(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("%d parts", len(parts))
	}
	for i, p := range parts {
		again, err := Read(p.File, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range again.Rows {
			orig := p.Rows[r.Number]
			var want Row
			for _, o := range tb.Rows {
				if o.Number == orig {
					want = o
				}
			}
			if orig == 0 || !reflect.DeepEqual(r.Cells, want.Cells) {
				t.Errorf("part %d row %d maps to row %d (%q), holds %q", i, r.Number, orig, want.Cells, r.Cells)
			}
		}
	}
	if parts[1].Rows[2] != 6 { // row 3 of the file is blank; "two" takes rows 4 and 5
		t.Errorf("part 2's first row is row %d of the file, want 6", parts[1].Rows[2])
	}
}

// TestTheREADMEListsEveryColumn keeps the documented mapping and the code
// the same: every field and alias is in the README's import section.
func TestTheREADMEListsEveryColumn(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "### Importing from your books")
	section, _, _ = strings.Cut(section, "\n### ")
	for kind, cols := range Columns {
		for _, c := range cols {
			for _, name := range append([]string{c.Field}, c.Aliases...) {
				if !strings.Contains(section, "`"+name+"`") {
					t.Errorf("%s column %s: the README does not list `%s`", kind, c.Field, name)
				}
			}
		}
	}
}

// TestAWorkbookDatedFrom1904: a workbook in Excel's 1904 date system
// (old Mac Excel) counts days from 1904; its dates are read as such, and
// the parts sent for it say so too.
func TestAWorkbookDatedFrom1904(t *testing.T) {
	f := excelize.NewFile()
	on := true
	if err := f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &on}); err != nil {
		t.Fatal(err)
	}
	for i, r := range [][]any{{"external_id", "due_on"}, {"I-1", 44895}} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	tb, err := Read(buf.Bytes(), MaxRows)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := dateCell(tb, "due_on", tb.Rows[0].Cells[1]); err != nil || d != "2026-12-01" {
		t.Errorf("day 44895 from 1904 = %s %v, want 2026-12-01", d, err)
	}
	parts, err := tb.Parts(10)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Read(parts[0].File, 0)
	if err != nil || !again.Date1904 {
		t.Errorf("the part lost the date system: %v %v", again, err)
	}
}
