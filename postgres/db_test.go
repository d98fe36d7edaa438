package postgres

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseID checks that parseID accepts only canonical UUIDs and that
// what it accepts round-trips to the lowercase form.
func FuzzParseID(f *testing.F) {
	f.Add("01890a5d-ac96-774b-bcce-b302099a8057")
	f.Add("01890A5D-AC96-774B-BCCE-B302099A8057")
	f.Add("{01890a5d-ac96-774b-bcce-b302099a8057}")
	f.Add("urn:uuid:01890a5d-ac96-774b-bcce-b302099a8057")
	f.Add("01890a5dac96774bbcceb302099a8057")
	f.Add("")
	f.Add("not-a-uuid")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := parseID(s)
		if !ok {
			return
		}
		if id.String() != strings.ToLower(s) {
			t.Fatalf("parseID(%q) = %s, which is not the same id", s, id)
		}
	})
}

// FuzzMigrationVersion checks that accepted migration names carry a
// positive number before the first underscore.
func FuzzMigrationVersion(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "0002_webhooks.sql", "init.sql", "_x.sql", "0000_zero.sql", "-1_x.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, err := migrationVersion(name)
		if err != nil {
			return
		}
		num, _, _ := strings.Cut(name, "_")
		if v <= 0 || !strings.Contains(name, "_") || num == "" {
			t.Fatalf("migrationVersion(%q) = %d", name, v)
		}
	})
}

// TestMigrations checks the embedded files: numbered, in order, distinct.
func TestMigrations(t *testing.T) {
	migs, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range migs {
		if i > 0 && m.version <= migs[i-1].version {
			t.Fatalf("migration %s does not follow %s", m.name, migs[i-1].name)
		}
		if strings.TrimSpace(m.sql) == "" {
			t.Fatalf("migration %s is empty", m.name)
		}
	}
}

// TestNewIDOrder checks that ids are ordered within a millisecond and
// across milliseconds, and that each carries its millisecond.
func TestNewIDOrder(t *testing.T) {
	db := NewDB("unused")
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	var prev string
	for i := range 1000 {
		now := t0.Add(time.Duration(i/100) * time.Millisecond)
		id := db.newID(now)
		if s := id.String(); s <= prev {
			t.Fatalf("id %d: %s does not sort after %s", i, s, prev)
		} else {
			prev = s
		}
		if id.Version() != 7 {
			t.Fatalf("version %d", id.Version())
		}
		sec, nsec := id.Time().UnixTime()
		if got := time.Unix(sec, nsec).UnixMilli(); got != now.UnixMilli() {
			t.Fatalf("id %d carries ms %d, want %d", i, got, now.UnixMilli())
		}
		if floor := idFloor(now.UnixMilli()); floor.String() > id.String() {
			t.Fatalf("idFloor(%d) = %s sorts after %s", now.UnixMilli(), floor, id)
		}
	}
}
