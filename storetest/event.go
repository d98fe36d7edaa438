package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testEvents(t *testing.T, open Opener) {
	s, c := setup(t, open)
	// e1: u1 created at t0; e2: u2 created at t0+1s; e3: u1 updated at t0+2s.
	u1 := createAnonymous(t, s, "")
	c.Advance(time.Second)
	u2 := createAnonymous(t, s, "")
	c.Advance(time.Second)
	_, err := s.Users.UpdateUser(t.Context(), u1.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":1}`)})
	ok(t, err)
	all, err := s.Events.FindEvents(t.Context(), foyer.EventFilter{})
	ok(t, err)
	if len(all) != 3 {
		t.Fatalf("%d events, want 3", len(all))
	}
	e1, e2, e3 := all[0], all[1], all[2]
	want := []struct {
		e    *foyer.Event
		typ  string
		user string
		at   time.Time
	}{
		{e1, foyer.EventUserAnonymousCreated, u1.ID, t0},
		{e2, foyer.EventUserAnonymousCreated, u2.ID, t0.Add(time.Second)},
		{e3, foyer.EventUserUpdated, u1.ID, t0.Add(2 * time.Second)},
	}
	for i, w := range want {
		if w.e.Type != w.typ || w.e.UserID != w.user || !w.e.CreatedAt.Equal(w.at) || w.e.ID == "" {
			t.Fatalf("event %d = %+v, want %s about %s at %v", i, w.e, w.typ, w.user, w.at)
		}
	}

	tests := []struct {
		name     string
		filter   foyer.EventFilter
		want     []*foyer.Event
		wantCode string
	}{
		{name: "OK/All", want: []*foyer.Event{e1, e2, e3}},
		{name: "OK/Type", filter: foyer.EventFilter{Type: ptr(foyer.EventUserUpdated)}, want: []*foyer.Event{e3}},
		{name: "OK/UserID", filter: foyer.EventFilter{UserID: &u1.ID}, want: []*foyer.Event{e1, e3}},
		{name: "OK/UserIDMalformed", filter: foyer.EventFilter{UserID: ptr("nope")}, want: []*foyer.Event{}},
		{name: "OK/Since", filter: foyer.EventFilter{Since: ptr(t0.Add(time.Second))}, want: []*foyer.Event{e2, e3}},
		{name: "OK/Until", filter: foyer.EventFilter{Until: ptr(t0.Add(time.Second))}, want: []*foyer.Event{e1}},
		{name: "OK/SinceUntil", filter: foyer.EventFilter{Since: ptr(t0.Add(time.Millisecond)), Until: ptr(t0.Add(2 * time.Second))}, want: []*foyer.Event{e2}},
		{name: "OK/Since1960", filter: foyer.EventFilter{Since: ptr(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.Event{e1, e2, e3}},
		{name: "OK/Until1960", filter: foyer.EventFilter{Until: ptr(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.Event{}},
		{name: "OK/UntilYear10890", filter: foyer.EventFilter{Until: ptr(time.Date(10890, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.Event{e1, e2, e3}},
		{name: "OK/TypeAndUser", filter: foyer.EventFilter{Type: ptr(foyer.EventUserAnonymousCreated), UserID: &u2.ID}, want: []*foyer.Event{e2}},
		{name: "OK/Limit", filter: foyer.EventFilter{Limit: 1}, want: []*foyer.Event{e1}},
		{name: "OK/After", filter: foyer.EventFilter{After: e1.ID, Limit: 1}, want: []*foyer.Event{e2}},
		{name: "ErrInvalid/After", filter: foyer.EventFilter{After: "bogus"}, wantCode: foyer.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Events.FindEvents(t.Context(), tt.filter)
			wantCode(t, err, tt.wantCode)
			if tt.wantCode != "" {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}
