package ids

import (
	"encoding/binary"
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

func TestIDsMadeInOneMillisecondStillSortByCreation(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := New("x_", t0)
	for range 1000 {
		id := New("x_", t0)
		if id <= prev || !Valid("x_", id) {
			t.Fatalf("%q does not sort after %q", id, prev)
		}
		prev = id
	}
	if back := New("x_", t0.Add(-time.Hour)); back <= prev {
		t.Fatalf("an id after the clock stepped back sorts before earlier ids")
	}
}

// Floor bounds the ids of an instant: an id made at t (whatever its
// random part) sorts at or after it, one made a millisecond before, before.
func TestFloorBoundsIdsByTime(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	made := func(at time.Time, fill byte) string { // as New makes one, without its in-process ordering
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli())<<16)
		for i := 6; i < 16; i++ {
			b[i] = fill
		}
		return "alr_" + encode(b)
	}
	floor := Floor("alr_", t0)
	before, lowest, highest := made(t0.Add(-time.Millisecond), 0xff), made(t0, 0), made(t0, 0xff)
	if !(before < floor && floor <= lowest && lowest < highest) || !Valid("alr_", floor) {
		t.Errorf("before %s, floor %s, at %s..%s", before, floor, lowest, highest)
	}
}
