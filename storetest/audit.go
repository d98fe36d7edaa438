package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testAudit(t *testing.T, open Opener) {
	t.Run("CreateAuditEntry", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, c := setup(t, open)
			e := &foyer.AuditEntry{
				Actor: "api_key:k1", Action: "DELETE /v1/users/{id}", Target: "0190a5d0-0000-7000-8000-000000000001",
				Status: 204, IP: "192.0.2.7", Details: json.RawMessage(`{ "reason" : "admin" }`),
			}
			ok(t, s.Audit.CreateAuditEntry(t.Context(), e))
			if e.ID == "" || !e.CreatedAt.Equal(c.Now()) {
				t.Fatalf("created entry = %+v, want an id and the time", e)
			}
			got, err := s.Audit.FindAuditEntries(t.Context(), foyer.AuditFilter{})
			ok(t, err)
			want := &foyer.AuditEntry{
				ID: e.ID, Actor: "api_key:k1", Action: "DELETE /v1/users/{id}", Target: "0190a5d0-0000-7000-8000-000000000001",
				Status: 204, IP: "192.0.2.7", Details: json.RawMessage(`{"reason":"admin"}`), CreatedAt: c.Now(),
			}
			if diff := cmp.Diff([]*foyer.AuditEntry{want}, got); diff != "" {
				t.Fatalf("stored (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, e); diff != "" {
				t.Fatalf("returned (-want +got):\n%s", diff)
			}
		})
		t.Run("OK/Minimal", func(t *testing.T) {
			s, c := setup(t, open)
			e := &foyer.AuditEntry{Actor: "admin:a1", Action: "POST /v1/reaper/runs", Status: 200}
			ok(t, s.Audit.CreateAuditEntry(t.Context(), e))
			got, err := s.Audit.FindAuditEntries(t.Context(), foyer.AuditFilter{})
			ok(t, err)
			want := []*foyer.AuditEntry{{ID: e.ID, Actor: "admin:a1", Action: "POST /v1/reaper/runs", Status: 200, CreatedAt: c.Now()}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			s, _ := setup(t, open)
			for _, e := range []*foyer.AuditEntry{
				{Action: "GET /v1/users", Status: 200},
				{Actor: "api_key:k1", Status: 200},
				{Actor: "api_key:k1", Action: "GET /v1/users", Status: 200, Details: json.RawMessage(`{"a":`)},
			} {
				wantCode(t, s.Audit.CreateAuditEntry(t.Context(), e), foyer.EInvalid)
			}
			got, err := s.Audit.FindAuditEntries(t.Context(), foyer.AuditFilter{})
			ok(t, err)
			if len(got) != 0 {
				t.Fatalf("%d entries after refused ones", len(got))
			}
		})
	})

	t.Run("FindAuditEntries", func(t *testing.T) {
		s, c := setup(t, open)
		entry := func(actor, action, target string) *foyer.AuditEntry {
			e := &foyer.AuditEntry{Actor: actor, Action: action, Target: target, Status: 200}
			ok(t, s.Audit.CreateAuditEntry(t.Context(), e))
			return e
		}
		e1 := entry("api_key:k1", "DELETE /v1/users/{id}", "user-1")
		c.Advance(time.Second)
		e2 := entry("admin:a1", "POST /v1/users/{id}/convert", "user-2")
		c.Advance(time.Second)
		e3 := entry("api_key:k1", "GET /v1/users", "")
		e4 := entry("api_key:k2", "GET /v1/users/{id}/export", "user-1")

		tests := []struct {
			name     string
			filter   foyer.AuditFilter
			want     []*foyer.AuditEntry
			wantCode string
		}{
			{name: "OK/All", want: []*foyer.AuditEntry{e4, e3, e2, e1}},
			{name: "OK/Actor", filter: foyer.AuditFilter{Actor: ptr("api_key:k1")}, want: []*foyer.AuditEntry{e3, e1}},
			{name: "OK/Target", filter: foyer.AuditFilter{Target: ptr("user-1")}, want: []*foyer.AuditEntry{e4, e1}},
			{name: "OK/ActorAndTarget", filter: foyer.AuditFilter{Actor: ptr("api_key:k1"), Target: ptr("user-1")}, want: []*foyer.AuditEntry{e1}},
			{name: "OK/Since", filter: foyer.AuditFilter{Since: ptr(t0.Add(time.Second))}, want: []*foyer.AuditEntry{e4, e3, e2}},
			{name: "OK/SinceBetween", filter: foyer.AuditFilter{Since: ptr(t0.Add(time.Millisecond))}, want: []*foyer.AuditEntry{e4, e3, e2}},
			{name: "OK/Limit", filter: foyer.AuditFilter{Limit: 2}, want: []*foyer.AuditEntry{e4, e3}},
			{name: "OK/After", filter: foyer.AuditFilter{After: e3.ID}, want: []*foyer.AuditEntry{e2, e1}},
			{name: "OK/NoMatch", filter: foyer.AuditFilter{Actor: ptr("api_key:none")}, want: []*foyer.AuditEntry{}},
			{name: "OK/Since1960", filter: foyer.AuditFilter{Since: ptr(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.AuditEntry{e4, e3, e2, e1}},
			{name: "OK/SinceYear10890", filter: foyer.AuditFilter{Since: ptr(time.Date(10890, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.AuditEntry{}},
			{name: "ErrInvalid/After", filter: foyer.AuditFilter{After: "bogus"}, wantCode: foyer.EInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Audit.FindAuditEntries(t.Context(), tt.filter)
				wantCode(t, err, tt.wantCode)
				if tt.wantCode != "" {
					return
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
			})
		}
	})
}
