package main

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	foyer "github.com/foyerhq/foyer"
)

func TestMergeOutcome(t *testing.T) {
	tests := []struct {
		name                 string
		before, guest, after watched
		want                 []string
	}{
		{"OKAdded", watched{"sintel": 1}, watched{"tears-of-steel": 2}, watched{"sintel": 1, "tears-of-steel": 2},
			[]string{"Tears of Steel: added, watched twice."}},
		{"OKRegisteredWins", watched{"sintel": 1}, watched{"sintel": 3}, watched{"sintel": 1},
			[]string{"Sintel: watched on both; your account's count (once) was kept, this browser's (3 times) was not."}},
		{"OKAnonymousWins", watched{"sintel": 1}, watched{"sintel": 3}, watched{"sintel": 3},
			[]string{"Sintel: watched on both; this browser's count (3 times) replaced your account's (once)."}},
		{"OKKeepRegistered", watched{}, watched{"sintel": 1}, watched{},
			[]string{"Sintel: not brought in; Foyer's merge policy keeps only your account's progress."}},
		{"OKInCatalogueOrder", watched{}, watched{"sintel": 1, "big-buck-bunny": 1}, watched{"sintel": 1, "big-buck-bunny": 1},
			[]string{"Big Buck Bunny: added, watched once.", "Sintel: added, watched once."}},
		{"OKNothingFromTheGuest", watched{"sintel": 1}, watched{}, watched{"sintel": 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergeOutcome(tt.before, tt.guest, tt.after); !slices.Equal(got, tt.want) {
				t.Fatalf("mergeOutcome = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWatchedOf(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		want      watched
		wantTotal int
	}{
		{"OK", `{"videos_watched":{"sintel":2,"tears-of-steel":1},"theme":"dark"}`, watched{"sintel": 2, "tears-of-steel": 1}, 3},
		{"OKEmpty", `{}`, watched{}, 0},
		{"OKNotTheDemos", `{"videos_watched":"many"}`, watched{}, 0},
		{"OKNegativeIgnored", `{"videos_watched":{"sintel":-4,"tears-of-steel":1}}`, watched{"sintel": -4, "tears-of-steel": 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := watchedOf(&foyer.User{Data: json.RawMessage(tt.data)})
			if !maps.Equal(got, tt.want) || got.total() != tt.wantTotal {
				t.Fatalf("watchedOf(%s) = %v (total %d), want %v (total %d)", tt.data, got, got.total(), tt.want, tt.wantTotal)
			}
		})
	}
	if got := watchedOf(nil); len(got) != 0 {
		t.Fatalf("watchedOf(nil) = %v, want nothing", got)
	}
}
