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
// person and this browser is sent to the app with the code.
// Otherwise:
//   - prompt=none answers the app with login_required, which ends the
//     request;
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
			// The code goes to this browser, the one signed in, never to
			// whoever else holds the request id: op's own callback, which
			// issues a code for any completed request id, is not served.
			a.UserID, a.AuthTime = userID, authTime
			op.AuthResponse(p.storage.authRequest(a), p.op, w, r.WithContext(op.ContextWithIssuer(ctx, p.cfg.Issuer)))
			return
		case foyer.ENotFound:
			p.requestGone(w, r, err)
			return
		case foyer.EConflict:
			// Someone else already signed in for this request in this
			// browser; it cannot be taken over.
			p.refuse(w, r, a, zoidc.ErrLoginRequired().WithDescription("The sign-in request was completed by another account."))
			return
		default:
			p.cfg.Logger.ErrorContext(ctx, "oidc: completing an authorization request", "err", err)
			http.Error(w, "Foyer cannot complete the sign-in right now; try again in a moment.", http.StatusServiceUnavailable)
			return
		}
	}
	if promptIs(a, zoidc.PromptNone) {
		p.refuse(w, r, a, zoidc.ErrLoginRequired())
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

// freshEnough reports whether a sign-in at authTime satisfies a. A
// sign-in made since the request was made always does: the person has
// just proved who they are, which is what prompt=login and max_age ask
// for. (op turns prompt=login into max_age=0, which the time it takes to
// come back here would otherwise always exceed.) An older sign-in
// satisfies neither prompt=login nor a max_age it exceeds.
func (p *Provider) freshEnough(a *foyer.AuthRequest, authTime time.Time) bool {
	if !authTime.Before(a.CreatedAt) {
		return true
	}
	if promptIs(a, zoidc.PromptLogin) {
		return false
	}
	return a.MaxAge == nil || p.cfg.Now().Sub(authTime) <= time.Duration(*a.MaxAge)*time.Second
}

// refuse answers the app that made a with the error e, and ends a: an
// authorization request gets one answer, so once the app was told it
// failed, no code may come of it later.
func (p *Provider) refuse(w http.ResponseWriter, r *http.Request, a *foyer.AuthRequest, e *zoidc.Error) {
	if err := p.deps.AuthRequests.DeleteAuthRequest(r.Context(), a.ID); err != nil {
		// It expires on its own; the app still gets its answer.
		p.cfg.Logger.ErrorContext(r.Context(), "oidc: deleting a refused authorization request", "err", err)
	}
	op.AuthRequestError(w, r, p.storage.authRequest(a), e, p.op)
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
