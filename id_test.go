package foyer_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/foyerhq/foyer"
)

func TestIDs(t *testing.T) {
	var g foyer.IDs
	now := time.UnixMilli(1_750_000_000_123)
	prev := g.New(now)
	for i := range 1000 {
		id := g.New(now) // the clock stands still: ids still count up
		if bytes.Compare(id[:], prev[:]) <= 0 {
			t.Fatalf("id %d %x does not sort after %x", i, id, prev)
		}
		if id[6]>>4 != 7 || id[8]>>6 != 2 {
			t.Fatalf("id %x: version or variant wrong", id)
		}
		if floor := foyer.IDFloor(now.UnixMilli()); bytes.Compare(id[:], floor[:]) < 0 {
			t.Fatalf("id %x sorts before the floor of its millisecond", id)
		}
		if next := foyer.IDFloor(now.UnixMilli() + 1); bytes.Compare(id[:], next[:]) >= 0 {
			t.Fatalf("id %x sorts at or after the next millisecond's floor", id)
		}
		prev = id
	}
	later := g.New(now.Add(time.Millisecond))
	if bytes.Compare(later[:], prev[:]) <= 0 {
		t.Fatal("an id of a later millisecond sorts first")
	}
}

func TestIDFloorClamps(t *testing.T) {
	zero, first := foyer.IDFloor(-1), foyer.IDFloor(0)
	if zero != first {
		t.Fatalf("IDFloor(-1)=%x, want the floor of 1970 %x", zero, first)
	}
	last, past := foyer.IDFloor(1<<48-1), foyer.IDFloor(1<<60)
	if last != past {
		t.Fatalf("IDFloor past the last millisecond=%x, want %x", past, last)
	}
}
