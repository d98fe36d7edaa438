package http

import (
	"encoding/json"
	"net/http"

	foyer "github.com/foyerhq/foyer"
)

// createUser handles POST /v1/users: {"anonymous":true,"data":{…}} creates
// an anonymous user; {"email":…,"email_verified":true,"data":{…}} creates a
// registered user whose address the calling server vouches for (an audited
// admin action, DESIGN §2.2), without a password.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Anonymous     *bool           `json:"anonymous"`
		Email         *string         `json:"email"`
		EmailVerified *bool           `json:"email_verified"`
		Data          json.RawMessage `json:"data"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	data, err := profileData(in.Data)
	if err != nil {
		return err
	}
	u := &foyer.User{Data: data}
	switch {
	case in.Email == nil:
		if in.Anonymous == nil || !*in.Anonymous || in.EmailVerified != nil {
			return foyer.Errorf(foyer.EInvalid, `Give either "anonymous": true or an "email" with "email_verified": true.`)
		}
		u.Anonymous = true
	default:
		if in.Anonymous != nil && *in.Anonymous {
			return foyer.Errorf(foyer.EInvalid, "An anonymous user has no email.")
		}
		if in.EmailVerified == nil || !*in.EmailVerified {
			return foyer.Errorf(foyer.EInvalid, `The server API creates registered users only for addresses it vouches for: set "email_verified": true.`)
		}
		email, err := foyer.NormalizeEmail(*in.Email)
		if err != nil {
			return err
		}
		u.Email, u.EmailVerified = email, true
	}
	if err := s.deps.Users.CreateUser(r.Context(), u); err != nil {
		return err
	}
	if u.Anonymous {
		s.metrics.signups.Inc()
	}
	w.Header().Set("Location", "/v1/users/"+u.ID)
	return s.writeUser(w, r, http.StatusCreated, u)
}

// usersPage is the body of GET /v1/users.
type usersPage struct {
	Users      []*foyer.User `json:"users"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// listUsers handles GET /v1/users with the filters anonymous, email,
// created_after, created_before, inactive_since, limit and cursor.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.Query(), "anonymous", "email", "created_after", "created_before", "inactive_since", "limit", "cursor")
	f := foyer.UserFilter{
		Anonymous:     q.bool("anonymous"),
		Email:         q.email("email"),
		CreatedAfter:  q.time("created_after"),
		CreatedBefore: q.time("created_before"),
		InactiveSince: q.time("inactive_since"),
		After:         q.cursor(),
	}
	limit := q.limit()
	if q.err != nil {
		return q.err
	}
	f.Limit = fetchSize(limit)
	users, err := s.deps.Users.FindUsers(r.Context(), f)
	if err != nil {
		return err
	}
	users, next := page(users, limit, func(u *foyer.User) string { return u.ID })
	for _, u := range users {
		userDoc(u)
	}
	if users == nil {
		users = []*foyer.User{}
	}
	return writeJSON(w, http.StatusOK, usersPage{Users: users, NextCursor: next})
}

// getUser handles GET /v1/users/{id}.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.deps.Users.FindUserByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

// patchUser handles PATCH /v1/users/{id}, with the rules of PATCH /v1/me.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	upd, err := s.userUpdate(w, r, s.findUserVersion(r.Context(), id))
	if err != nil {
		return err
	}
	u, err := s.deps.Users.UpdateUser(r.Context(), id, upd)
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

// deleteUser handles DELETE /v1/users/{id}, recorded with reason admin.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.deps.Users.DeleteUser(r.Context(), r.PathValue("id"), foyer.DeleteReasonAdmin); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeUser handles POST /v1/users/{id}/revoke: every token issued to the
// user so far stops verifying and their sessions end.
func (s *Server) revokeUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.deps.Users.RevokeUserTokens(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}
