package http

import (
	"net/http"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// reaperRun is the body of POST /v1/reaper/runs.
type reaperRun struct {
	DryRun bool `json:"dry_run"`
	// Deleted is how many anonymous users the run deleted or, for a dry
	// run, how many it would have deleted.
	Deleted int `json:"deleted"`
	// Cutoff is the time before which a user's last activity made it
	// stale.
	Cutoff time.Time `json:"cutoff"`
}

// runReaper handles POST /v1/reaper/runs {"dry_run": bool}: the reaper
// runs once, now, with the configured retention. dry_run is required, so
// that a bare call never deletes by surprise; a dry run deletes nothing
// and counts the users that are stale now. Each deleted user gets its
// user.deleted event with reason reaped, as on a scheduled run.
func (s *Server) runReaper(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DryRun *bool `json:"dry_run"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.DryRun == nil {
		return foyer.Errorf(foyer.EInvalid, "dry_run is required: true counts the users a run would delete, false deletes them.")
	}
	deleted, cutoff, err := s.deps.Reap(r.Context(), *in.DryRun)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, reaperRun{DryRun: *in.DryRun, Deleted: deleted, Cutoff: cutoff.UTC()})
}
