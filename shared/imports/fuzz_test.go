package imports

import (
	"reflect"
	"testing"
)

// FuzzReadAndParts: any body either reads as a table or is refused with
// an error naming it, never a panic; a table split into parts reads back
// as the same rows, each mapped to its row in the file.
func FuzzReadAndParts(f *testing.F) {
	f.Add([]byte("external_id,name,email\nC-1,Acme,ap@acme.example\n"))
	f.Add([]byte("\xef\xbb\xbfa;b\n1;\"x\ny\"\n\n2;3\n"))
	f.Add([]byte("a\tb\n\"unterminated\n"))
	f.Add([]byte("PK\x03\x04junk"))
	f.Fuzz(func(t *testing.T, body []byte) {
		tb, err := Read(body, MaxRows)
		if err != nil {
			return
		}
		parts, err := tb.Parts(3)
		if err != nil {
			t.Fatalf("parts: %v", err)
		}
		byNumber := map[int][]string{}
		for _, r := range tb.Rows {
			byNumber[r.Number] = r.Cells
		}
		n := 0
		for _, p := range parts {
			again, err := Read(p.File, 0)
			if err != nil {
				t.Fatalf("a part does not read back: %v\n%q", err, p.File)
			}
			for _, r := range again.Rows {
				orig, ok := p.Rows[r.Number]
				if !ok || !reflect.DeepEqual(trimmed(byNumber[orig]), trimmed(r.Cells)) {
					t.Fatalf("part row %d (file row %d) = %q, the file has %q", r.Number, orig, r.Cells, byNumber[orig])
				}
				n++
			}
		}
		if n != len(tb.Rows) {
			t.Fatalf("parts hold %d rows, the file %d", n, len(tb.Rows))
		}
	})
}

// trimmed is cells as a second read gives them: trailing blank cells of a
// row may be dropped by a workbook.
func trimmed(cells []string) []string {
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	return cells
}
