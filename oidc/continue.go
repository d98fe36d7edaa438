package oidc

import (
	"net/http"
	"net/url"
	"time"

	foyer "github.com/foyerhq/foyer"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// promptCreate asks for the registration page (Initiating User
// Registration via OpenID Connect 1.0).
const promptCreate = "create"

// continueAuth handles GET /oauth2/continue?id=…, where op sends the
// browser once it has stored an authorization request, and where the
// hosted pages send it back after signing in. If the browser is signed in
// recently enough for the request, the request is completed for that
// person and the browser goes on to op's callback, which issues the code.
// Otherwise:
//   - prompt=none answers the app with login_required;
//   - prompt=create sends the person to the hosted registration page;
//   - anything else sends them to the hosted sign-in page, which comes
//     back here. prompt=login and max_age ask for a sign-in newer than the
//     request, or than max_age; the sign-in page then shows its form even
//     to a browser that is signed in.
//
// Completing the request on GET is the protocol: it changes nothing about
// the account, and the code goes only to a redirect URI the app
// registered.
func (p *Provider) continueAuth(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.URL.Query().Get("id")
	a, err := p.deps.AuthRequests.FindAuthRequest(ctx, id)
	if err != nil {
		p.requestGone(w, r, err)
		return
	}
	userID, authTime, err := p.cfg.SignedIn(r)
	if err != nil {
		p.cfg.Logger.ErrorContext(ctx, "oidc: reading the browser's sign-in", "err", err)
		http.Error(w, "Foyer cannot read this browser's sign-in right now; try again in a moment.", http.StatusServiceUnavailable)
		return
	}
	fresh := userID != "" && p.freshEnough(a, authTime)
	if fresh {
		err := p.deps.AuthRequests.CompleteAuthRequest(ctx, a.ID, userID, authTime)
		switch foyer.ErrorCode(err) {
		case "":
			http.Redirect(w, r, PathCallback+"?id="+url.QueryEscape(a.ID), http.StatusFound)
			return
		case foyer.ENotFound:
			p.requestGone(w, r, err)
			return
		case foyer.EConflict:
			// Someone else already signed in for this request in this
			// browser; it cannot be taken over.
			op.AuthRequestError(w, r, p.storage.authRequest(a), zoidc.ErrLoginRequired().WithDescription("The sign-in request was completed by another account."), p.op)
			return
		default:
			p.cfg.Logger.ErrorContext(ctx, "oidc: completing an authorization request", "err", err)
			http.Error(w, "Foyer cannot complete the sign-in right now; try again in a moment.", http.StatusServiceUnavailable)
			return
		}
	}
	if promptIs(a, zoidc.PromptNone) {
		op.AuthRequestError(w, r, p.storage.authRequest(a), zoidc.ErrLoginRequired(), p.op)
		return
	}
	back := PathContinue + "?id=" + url.QueryEscape(a.ID)
	q := url.Values{"return_to": {back}}
	if promptIs(a, promptCreate) {
		http.Redirect(w, r, "/register?"+q.Encode(), http.StatusFound)
		return
	}
	if userID != "" {
		// Signed in, but not recently enough: sign in again.
		q.Set("prompt", "login")
	}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusFound)
}

// freshEnough reports whether a sign-in at authTime satisfies a:
// prompt=login wants one after the request was made, max_age one no
// older than that many seconds.
func (p *Provider) freshEnough(a *foyer.AuthRequest, authTime time.Time) bool {
	if promptIs(a, zoidc.PromptLogin) && authTime.Before(a.CreatedAt) {
		return false
	}
	if a.MaxAge != nil && p.cfg.Now().Sub(authTime) > time.Duration(*a.MaxAge)*time.Second {
		return false
	}
	return true
}

// requestGone answers a continue for a request that expired or never
// existed. There is no redirect URI to trust, so the person is told what
// to do.
func (p *Provider) requestGone(w http.ResponseWriter, r *http.Request, err error) {
	if foyer.ErrorCode(err) != foyer.ENotFound {
		p.cfg.Logger.ErrorContext(r.Context(), "oidc: finding an authorization request", "err", err)
		http.Error(w, "Foyer cannot continue the sign-in right now; try again in a moment.", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "This sign-in request has expired or is unknown. Go back to the application and sign in again.", http.StatusBadRequest)
}
