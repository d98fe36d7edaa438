package http

import (
	"context"
	"net/http"

	foyer "github.com/foyerhq/foyer"
)

// getMe handles GET /v1/me: the visitor's user document, with its version
// as ETag and 304 when If-None-Match has it. It costs the token check and
// the one query of the visitor middleware.
func (s *Server) getMe(w http.ResponseWriter, r *http.Request) error {
	return s.writeUser(w, r, http.StatusOK, UserFromContext(r.Context()))
}

// patchMe handles PATCH /v1/me: an RFC 7396 merge patch of the user
// document in which only data is writable (foyer.ParseUserPatch).
func (s *Server) patchMe(w http.ResponseWriter, r *http.Request) error {
	u := UserFromContext(r.Context())
	upd, err := s.userUpdate(w, r, func() (int64, error) { return u.Version, nil })
	if err != nil {
		return err
	}
	nu, err := s.deps.Users.UpdateUser(r.Context(), u.ID, upd)
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, nu)
}

// deleteMe handles DELETE /v1/me: the visitor deletes their own account
// and the cookie of that account (anonymous or session) is cleared.
// Another account's cookie in the same browser is left alone.
func (s *Server) deleteMe(w http.ResponseWriter, r *http.Request) error {
	u := UserFromContext(r.Context())
	if err := s.deps.Users.DeleteUser(r.Context(), u.ID, foyer.DeleteReasonSelf); err != nil {
		return err
	}
	// Drop a renewal the middleware may have set: there is nothing left
	// to renew.
	w.Header().Del("Set-Cookie")
	w.Header().Del("Foyer-Token")
	if u.Anonymous {
		s.clearAnonymousCookie(w)
	} else {
		s.clearSessionCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// userUpdate reads a user patch: Content-Type application/merge-patch+json,
// a body within MaxBodyBytes, only data written, and If-Match as the
// version the update must find. current gives the stored version when
// If-Match lists several.
func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request, current func() (int64, error)) (foyer.UserUpdate, error) {
	if err := requireMediaType(r, mediaMergePatch); err != nil {
		return foyer.UserUpdate{}, err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return foyer.UserUpdate{}, err
	}
	patch, err := foyer.ParseUserPatch(body)
	if err != nil {
		return foyer.UserUpdate{}, err
	}
	v, err := ifMatch(r, current)
	if err != nil {
		return foyer.UserUpdate{}, err
	}
	return foyer.UserUpdate{DataPatch: patch, IfVersion: v}, nil
}

// writeUser writes a user document with its ETag, or 304 Not Modified for
// a GET whose If-None-Match holds the current version.
func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, u *foyer.User) error {
	h := w.Header()
	h.Set("ETag", etag(u.Version))
	h.Set("Cache-Control", "private, no-cache")
	h.Set("Vary", "Authorization, Cookie")
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && notModified(r, u.Version) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return s.writeUserBody(w, status, func(b []byte) ([]byte, error) { return appendUser(b, u) })
}

// findUserVersion returns a function giving the stored version of user id.
func (s *Server) findUserVersion(ctx context.Context, id string) func() (int64, error) {
	return func() (int64, error) {
		u, err := s.deps.Users.FindUserByID(ctx, id)
		if err != nil {
			return 0, err
		}
		return u.Version, nil
	}
}
