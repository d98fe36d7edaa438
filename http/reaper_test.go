package http_test

import (
	"net/http"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/google/go-cmp/cmp"
)

// reaperRun is the body of POST /v1/reaper/runs.
type reaperRun struct {
	DryRun  bool      `json:"dry_run"`
	Deleted int       `json:"deleted"`
	Cutoff  time.Time `json:"cutoff"`
}

// runReaper calls POST /v1/reaper/runs.
func (ts *testServer) runReaper(t testing.TB, dryRun bool) reaperRun {
	t.Helper()
	body := `{"dry_run":false}`
	if dryRun {
		body = `{"dry_run":true}`
	}
	w := ts.do("POST", "/v1/reaper/runs", body, join(ts.api(), jsonType)...)
	check(t, w, http.StatusOK, "")
	var run reaperRun
	decode(t, w, &run)
	return run
}

func TestReaperRuns(t *testing.T) {
	ts := setup(t)
	ctx := t.Context()

	stale := []string{ts.signup(t).User.ID, ts.signup(t).User.ID}
	w := ts.do("POST", "/v1/users", `{"email":"kept@example.com","email_verified":true}`, join(ts.api(), jsonType)...)
	check(t, w, http.StatusCreated, "")
	var registered userDoc
	decode(t, w, &registered)

	t.Run("OKNothingStaleYet", func(t *testing.T) {
		want := reaperRun{DryRun: true, Deleted: 0, Cutoff: ts.clock.Now().Add(-testRetention)}
		if diff := cmp.Diff(want, ts.runReaper(t, true)); diff != "" {
			t.Fatalf("dry run (-want +got):\n%s", diff)
		}
		want.DryRun = false
		if diff := cmp.Diff(want, ts.runReaper(t, false)); diff != "" {
			t.Fatalf("run (-want +got):\n%s", diff)
		}
	})

	// Past the retention, and one more visitor who is active now.
	ts.clock.Advance(testRetention + time.Hour)
	fresh := ts.signup(t).User.ID

	t.Run("OKDryRunDeletesNothing", func(t *testing.T) {
		want := reaperRun{DryRun: true, Deleted: len(stale), Cutoff: ts.clock.Now().Add(-testRetention)}
		if diff := cmp.Diff(want, ts.runReaper(t, true)); diff != "" {
			t.Fatalf("dry run (-want +got):\n%s", diff)
		}
		for _, id := range stale {
			ts.findUser(t, id)
		}
	})
	t.Run("OKRun", func(t *testing.T) {
		want := reaperRun{DryRun: false, Deleted: len(stale), Cutoff: ts.clock.Now().Add(-testRetention)}
		if diff := cmp.Diff(want, ts.runReaper(t, false)); diff != "" {
			t.Fatalf("run (-want +got):\n%s", diff)
		}
		for _, id := range stale {
			if _, err := ts.users.FindUserByID(ctx, id); foyer.ErrorCode(err) != foyer.ENotFound {
				t.Errorf("stale user %s: err = %v, want not found", id, err)
			}
			// Apps learn each id from its event.
			reason := foyer.DeleteReasonReaped
			check(t, ts.do("GET", "/v1/events?type=user.deleted&user_id="+id, "", ts.api()...), 200, "", `"reason":"`+reason+`"`)
		}
		ts.findUser(t, registered.ID)
		ts.findUser(t, fresh)
	})
	t.Run("OKRunAgainFindsNothing", func(t *testing.T) {
		if got := ts.runReaper(t, false); got.Deleted != 0 {
			t.Fatalf("second run deleted %d", got.Deleted)
		}
	})

	api := join(ts.api(), jsonType)
	ts.run(t, []scenario{
		{"ErrNoDryRun", "POST", "/v1/reaper/runs", api, `{}`, 400, "invalid", []string{"dry_run"}},
		{"ErrDryRunNotBool", "POST", "/v1/reaper/runs", api, `{"dry_run":"yes"}`, 400, "invalid", nil},
		{"ErrNoBody", "POST", "/v1/reaper/runs", api, ``, 400, "malformed_json", nil},
		{"ErrUnknownField", "POST", "/v1/reaper/runs", api, `{"dry_run":true,"retention":"1s"}`, 400, "malformed_json", nil},
		{"ErrMediaType", "POST", "/v1/reaper/runs", ts.api(), `{"dry_run":true}`, 415, "unsupported_media_type", nil},
		{"ErrUnauthorized", "POST", "/v1/reaper/runs", jsonType, `{"dry_run":false}`, 401, "unauthorized", nil},
	})
}
