package ids

import (
	"testing"
	"time"
)

func TestIDsSortByCreationTimeAndAreValid(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	prev := New("cus_", t0)
	for i := 1; i < 200; i++ {
		id := New("cus_", t0.Add(time.Duration(i)*time.Millisecond))
		if !Valid("cus_", id) {
			t.Fatalf("%q is not valid", id)
		}
		if id <= prev {
			t.Fatalf("%q does not sort after %q", id, prev)
		}
		prev = id
	}
}

func TestValidRejectsForeignAndMalformedIDs(t *testing.T) {
	id := New("inv_", time.Now())
	for _, s := range []string{"", "inv_", "cus_" + id[4:], id + "A", id[:len(id)-1] + "U", "inv_../../etc/passwd"} {
		if Valid("inv_", s) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
}
