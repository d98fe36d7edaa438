package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testMerges(t *testing.T, open Opener) {
	const (
		registered = `{"a":1,"b":{"x":1}}`
		anonymous  = `{"a":2,"b":{"y":2},"c":3}`
	)
	tests := []struct {
		policy foyer.MergePolicy
		want   string
	}{
		{foyer.MergeRegisteredWins, `{"a":1,"b":{"x":1,"y":2},"c":3}`},
		{"", `{"a":1,"b":{"x":1,"y":2},"c":3}`},
		{foyer.MergeAnonymousWins, `{"a":2,"b":{"x":1,"y":2},"c":3}`},
		{foyer.MergeKeepRegistered, `{"a":1,"b":{"x":1}}`},
	}
	for _, tt := range tests {
		t.Run("OK/"+cmpName(string(tt.policy)), func(t *testing.T) {
			s, c := setup(t, open)
			into := convert(t, s, c, createAnonymous(t, s, registered).ID, "ann@example.com")
			from := createAnonymous(t, s, anonymous)
			_, hash := requestConversion(t, s, c, from.ID, "ann@example.com", time.Hour)
			c.Advance(time.Second)

			got, err := s.Merges.MergeUsers(t.Context(), from.ID, into.ID, tt.policy)
			ok(t, err)
			jsonEqual(t, "merged data", got.Data, tt.want)
			if got.ID != into.ID || got.Anonymous || got.Version != into.Version+1 || !got.UpdatedAt.Equal(c.Now()) {
				t.Fatalf("merged user = %+v", got)
			}
			if diff := userDiff(got, findUser(t, s, into.ID)); diff != "" {
				t.Fatalf("stored (-returned +stored):\n%s", diff)
			}
			_, err = s.Users.FindUserByID(t.Context(), from.ID)
			wantCode(t, err, foyer.ENotFound)
			_, err = s.Conversions.CompleteConversion(t.Context(), hash, "pwhash", nil)
			wantCode(t, err, foyer.ETokenInvalid)
			alias, err := s.Merges.FindAlias(t.Context(), from.ID)
			ok(t, err)
			if diff := cmp.Diff(&foyer.Alias{From: from.ID, Into: into.ID, CreatedAt: c.Now()}, alias); diff != "" {
				t.Fatalf("alias (-want +got):\n%s", diff)
			}
			evs := userEvents(t, s, into.ID)
			last := evs[len(evs)-1]
			if last.Type != foyer.EventUserMerged {
				t.Fatalf("last event = %s, want %s", last.Type, foyer.EventUserMerged)
			}
			var d struct {
				From, Into string
				User       foyer.User
			}
			ok(t, json.Unmarshal(last.Data, &d))
			if d.From != from.ID || d.Into != into.ID || d.User.ID != into.ID {
				t.Fatalf("user.merged data = %s", last.Data)
			}
		})
	}

	t.Run("OK/FromWithoutData", func(t *testing.T) {
		s, _ := setup(t, open)
		into := createRegistered(t, s, "ann@example.com")
		from := createAnonymous(t, s, "")
		got, err := s.Merges.MergeUsers(t.Context(), from.ID, into.ID, foyer.MergeRegisteredWins)
		ok(t, err)
		jsonEqual(t, "merged data", got.Data, `{}`)
	})

	// The limit applies to the merged data: dropping the anonymous data
	// keeps it within bounds.
	t.Run("OK/KeepRegisteredOfLargeData", func(t *testing.T) {
		s, _ := setup(t, open)
		half := strings.Repeat("x", foyer.MaxDataSize/2)
		into := createRegistered(t, s, "ann@example.com")
		_, err := s.Users.UpdateUser(t.Context(), into.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":"` + half + `"}`)})
		ok(t, err)
		from := createAnonymous(t, s, `{"b":"`+half+`"}`)
		got, err := s.Merges.MergeUsers(t.Context(), from.ID, into.ID, foyer.MergeKeepRegistered)
		ok(t, err)
		jsonEqual(t, "merged data", got.Data, `{"a":"`+half+`"}`)
	})

	fail := []struct {
		name     string
		prepare  func(t *testing.T, s Services) (from, into string)
		policy   foyer.MergePolicy
		wantCode string
	}{
		{name: "ErrConflict/FromRegistered", wantCode: foyer.EConflict,
			prepare: func(t *testing.T, s Services) (string, string) {
				return createRegistered(t, s, "bob@example.com").ID, createRegistered(t, s, "ann@example.com").ID
			}},
		{name: "ErrConflict/IntoAnonymous", wantCode: foyer.EConflict,
			prepare: func(t *testing.T, s Services) (string, string) {
				return createAnonymous(t, s, `{"a":1}`).ID, createAnonymous(t, s, `{"b":2}`).ID
			}},
		{name: "ErrConflict/Self", wantCode: foyer.EConflict,
			prepare: func(t *testing.T, s Services) (string, string) {
				u := createAnonymous(t, s, `{"a":1}`)
				return u.ID, u.ID
			}},
		{name: "ErrInvalid/Policy", wantCode: foyer.EInvalid, policy: "bogus",
			prepare: func(t *testing.T, s Services) (string, string) {
				return createAnonymous(t, s, `{"a":1}`).ID, createRegistered(t, s, "ann@example.com").ID
			}},
		{name: "ErrTooLarge", wantCode: foyer.ETooLarge,
			prepare: func(t *testing.T, s Services) (string, string) {
				// Each fits on its own; together they exceed the limit.
				half := strings.Repeat("x", foyer.MaxDataSize/2)
				into := createRegistered(t, s, "ann@example.com")
				_, err := s.Users.UpdateUser(t.Context(), into.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":"` + half + `"}`)})
				ok(t, err)
				return createAnonymous(t, s, `{"b":"`+half+`"}`).ID, into.ID
			}},
		{name: "ErrTooLarge/AnonymousWins", wantCode: foyer.ETooLarge, policy: foyer.MergeAnonymousWins,
			prepare: func(t *testing.T, s Services) (string, string) {
				into := createRegistered(t, s, "ann@example.com")
				_, err := s.Users.UpdateUser(t.Context(), into.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":"` + strings.Repeat("x", foyer.MaxDataSize-100) + `"}`)})
				ok(t, err)
				return createAnonymous(t, s, `{"b":"`+strings.Repeat("y", 200)+`"}`).ID, into.ID
			}},
		{name: "ErrNotFound/From", wantCode: foyer.ENotFound,
			prepare: func(t *testing.T, s Services) (string, string) {
				return notFoundIDs()[0].id, createRegistered(t, s, "ann@example.com").ID
			}},
		{name: "ErrNotFound/FromMalformed", wantCode: foyer.ENotFound,
			prepare: func(t *testing.T, s Services) (string, string) {
				return "nope", createRegistered(t, s, "ann@example.com").ID
			}},
		{name: "ErrNotFound/Into", wantCode: foyer.ENotFound,
			prepare: func(t *testing.T, s Services) (string, string) {
				return createAnonymous(t, s, `{"a":1}`).ID, notFoundIDs()[0].id
			}},
	}
	for _, tt := range fail {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := setup(t, open)
			from, into := tt.prepare(t, s)
			before, err := s.Users.FindUsers(t.Context(), foyer.UserFilter{})
			ok(t, err)
			_, err = s.Merges.MergeUsers(t.Context(), from, into, tt.policy)
			wantCode(t, err, tt.wantCode)
			after, err := s.Users.FindUsers(t.Context(), foyer.UserFilter{})
			ok(t, err)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Fatalf("a failed merge changed users (-want +got):\n%s", diff)
			}
			_, err = s.Merges.FindAlias(t.Context(), from)
			wantCode(t, err, foyer.ENotFound)
		})
	}

	for _, nf := range notFoundIDs() {
		t.Run("FindAlias/"+nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			_, err := s.Merges.FindAlias(t.Context(), nf.id)
			wantCode(t, err, foyer.ENotFound)
		})
	}
}

// cmpName names a subtest after a value that may be empty.
func cmpName(s string) string {
	if s == "" {
		return "Default"
	}
	return s
}
