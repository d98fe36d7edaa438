package http

import (
	"net/http"

	foyer "github.com/foyerhq/foyer"
)

// mergeResponse is the body of POST /v1/me/merge.
type mergeResponse struct {
	User *foyer.User `json:"user"`
	// MergedFrom is the id of the anonymous account that was merged in and
	// no longer exists; GET /v1/aliases/{id} maps it to User.ID.
	MergedFrom string `json:"merged_from"`
}

// mergeMe handles POST /v1/me/merge with an optional {"policy"}: the
// signed-in registered user (session cookie or access token) brings in
// the anonymous account whose credential the same request presents (the
// anonymous cookie, or the Foyer-Anonymous-Token header). Its data moves
// in under the policy (Config.MergePolicy unless the body names another of
// the three), it is deleted and an alias from its id is kept, in one
// transaction. Without both credentials nothing happens (401); a source
// that is not anonymous is a conflict (409). It is never done on sign-in
// by itself: the person confirms by calling it.
func (s *Server) mergeMe(w http.ResponseWriter, r *http.Request) error {
	into := UserFromContext(r.Context())
	var in struct {
		Policy *foyer.MergePolicy `json:"policy"`
	}
	if _, err := s.decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	policy := s.cfg.MergePolicy
	if in.Policy != nil {
		if !in.Policy.Valid() {
			return foyer.Errorf(foyer.EInvalid, "policy must be %s, %s or %s.",
				foyer.MergeRegisteredWins, foyer.MergeAnonymousWins, foyer.MergeKeepRegistered)
		}
		policy = *in.Policy
	}
	ctx := r.Context()
	cred, ok := s.anonymousCredential(r)
	if !ok {
		return foyer.Errorf(foyer.EUnauthorized, "The anonymous account's credential is required to merge it.")
	}
	from, _, err := s.authenticate(ctx, cred, cred.types)
	if err != nil {
		return err
	}
	if !from.Anonymous || from.ID == into.ID {
		return foyer.Errorf(foyer.EConflict, "Only an anonymous account can be merged into yours.")
	}
	u, err := s.deps.Merges.MergeUsers(ctx, from.ID, into.ID, policy)
	if err != nil {
		return err
	}
	if cred.cookie != "" {
		s.clearAnonymousCookie(w)
	}
	w.Header().Set("ETag", etag(u.Version))
	return writeJSON(w, http.StatusOK, mergeResponse{User: userDoc(u), MergedFrom: from.ID})
}

// getAlias handles GET /v1/aliases/{id} on the server API: the account an
// anonymous id was merged into, so the app can re-key its own rows.
func (s *Server) getAlias(w http.ResponseWriter, r *http.Request) error {
	a, err := s.deps.Merges.FindAlias(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}
