package main

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"
	foyer "github.com/foyerhq/foyer"
	"golang.org/x/oauth2"
)

// signIn handles POST /signin: the OpenID Connect authorization code flow
// starts. The browser goes to Foyer's authorization endpoint with a state
// and a nonce, which bind the answer to this browser, and a PKCE
// challenge (S256), which binds the code to this server's exchange.
func (d *demo) signIn(w http.ResponseWriter, r *http.Request) error {
	s := d.sessions.get(r)
	p := &pendingSignIn{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier()}
	s.SignIn = p
	d.sessions.set(r, s)
	http.Redirect(w, r, d.oauth.AuthCodeURL(p.State, oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier)), http.StatusSeeOther)
	return nil
}

// callback handles GET /callback?code=…&state=…, where Foyer sends the
// browser back after sign-in. The code is exchanged for tokens with the
// client secret and the PKCE verifier, and the ID token is verified
// before anything of it is believed.
func (d *demo) callback(w http.ResponseWriter, r *http.Request) error {
	ctx, q := r.Context(), r.URL.Query()
	s := d.sessions.get(r)
	p := s.SignIn
	if p == nil || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.State)) != 1 {
		return foyer.Errorf(foyer.EInvalid, "This sign-in was not started here, or it was already used. Go back to the videos and sign in again.")
	}
	s.SignIn = nil // an answer is good once
	d.sessions.set(r, s)
	if e := q.Get("error"); e != "" {
		return foyer.Errorf(foyer.EUnauthorized, "Foyer did not sign you in (%s). %s", e, q.Get("error_description"))
	}

	tok, err := d.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.Verifier))
	if err != nil {
		return fmt.Errorf("exchange the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := d.idTokens.Verify(ctx, raw)
	if err != nil {
		return fmt.Errorf("verify the ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return fmt.Errorf("the ID token's nonce is not the one sent")
	}
	var claims struct {
		Email     string `json:"email"`
		Anonymous bool   `json:"is_anonymous"`
	}
	if err := idt.Claims(&claims); err != nil {
		return fmt.Errorf("read the ID token: %w", err)
	}
	if claims.Anonymous {
		return foyer.Errorf(foyer.EUnauthorized, "Foyer signed in an anonymous account; sign in with your email address.")
	}
	d.sessions.signIn(w, r, session{Token: tok, IDToken: raw, SavedEmail: s.SavedEmail})

	// Did this browser make progress as a guest before signing in? If
	// that anonymous account is another one than the account signed in
	// to, offer to bring its progress in. Otherwise the anonymous cookie
	// has served its purpose: its account is now this one (registered
	// from it), or has nothing in it.
	if g, _ := d.guest(ctx, idt.Subject); g != nil {
		http.Redirect(w, r, "/merge", http.StatusSeeOther)
		return nil
	}
	forgetAnonymous(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// mergeForm handles GET /merge: "Bring your progress into your account?",
// for a signed-in browser that also holds an anonymous account with
// progress. Nothing is merged until the person confirms.
func (d *demo) mergeForm(w http.ResponseWriter, r *http.Request) error {
	a, err := d.account(w, r)
	if err != nil {
		return err
	}
	if !a.SignedIn {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	g, _ := d.guest(r.Context(), a.User.ID)
	if g == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	v := &view{Page: "merge", State: "confirm", Title: "Bring your progress into your account?", CSRF: d.sessions.csrf(w, r), Email: a.User.Email, User: a.User}
	v.setProgress(watchedOf(a.User))
	v.GuestTotal = watchedOf(g).total()
	for _, vid := range videos {
		if n := watchedOf(g)[vid.ID]; n > 0 {
			v.Guest = append(v.Guest, videoRow{video: vid, Watched: n})
		}
	}
	d.pages.show(w, http.StatusOK, v)
	return nil
}

// merge handles POST /merge: the person confirmed. Foyer's merge (POST
// /v1/me/merge) needs both credentials, the access token of the account
// signed in to and the anonymous token of the guest account, and moves
// the guest's data in under Foyer's merge policy; the guest account is
// deleted. The page then says what happened to each video.
func (d *demo) merge(w http.ResponseWriter, r *http.Request) error {
	a, err := d.account(w, r)
	if err != nil {
		return err
	}
	if !a.SignedIn {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	g, guestToken := d.guest(r.Context(), a.User.ID)
	if g == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	u, _, err := d.foyer.MergeMe(r.Context(), a.Token, guestToken, "") // "": Foyer's configured policy
	if err != nil {
		return err
	}
	forgetAnonymous(w)
	v := &view{Page: "merge", State: "merged", Title: "Your progress is in your account", Email: u.Email, User: u}
	v.setProgress(watchedOf(u))
	v.Outcome = mergeOutcome(watchedOf(a.User), watchedOf(g), watchedOf(u))
	d.pages.show(w, http.StatusOK, v)
	return nil
}

// mergeOutcome says, for each video the guest watched, what the merge did
// with it, from the progress of the account before, of the guest and of
// the account after.
func mergeOutcome(before, guest, after watched) []string {
	var out []string
	for _, vid := range videos {
		g := guest[vid.ID]
		if g == 0 {
			continue
		}
		b, a := before[vid.ID], after[vid.ID]
		switch {
		case a == 0:
			out = append(out, fmt.Sprintf("%s: not brought in; Foyer's merge policy keeps only your account's progress.", vid.Title))
		case b == 0:
			out = append(out, fmt.Sprintf("%s: added, watched %s.", vid.Title, times(a)))
		case a == b:
			out = append(out, fmt.Sprintf("%s: watched on both; your account's count (%s) was kept, this browser's (%s) was not.", vid.Title, times(b), times(g)))
		default:
			out = append(out, fmt.Sprintf("%s: watched on both; this browser's count (%s) replaced your account's (%s).", vid.Title, times(g), times(b)))
		}
	}
	return out
}

// signOut handles POST /signout: the demo forgets the sign-in, then sends
// the browser to Foyer's end-session endpoint (RP-initiated logout) with
// the ID token as a hint: Foyer ends the demo's session there at once,
// asks the person whether to sign out of Foyer itself, and sends them
// back to /signed-out.
func (d *demo) signOut(w http.ResponseWriter, r *http.Request) error {
	old := d.sessions.signOut(r)
	forgetAnonymous(w)
	if old.IDToken == "" || d.endSession == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	state := rand.Text()
	d.sessions.set(r, session{LogoutState: state})
	u, err := url.Parse(d.endSession)
	if err != nil {
		return fmt.Errorf("Foyer's end_session_endpoint: %w", err)
	}
	q := u.Query()
	q.Set("id_token_hint", old.IDToken)
	q.Set("post_logout_redirect_uri", d.cfg.URL+"/signed-out")
	q.Set("client_id", d.oauth.ClientID)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return nil
}

// signedOut handles GET /signed-out?state=…, where Foyer sends the browser
// after signing out.
func (d *demo) signedOut(w http.ResponseWriter, r *http.Request) error {
	s := d.sessions.get(r)
	v := &view{Page: "signed-out", State: "signed-out", Title: "You are signed out"}
	v.FoyerToo = s.LogoutState != "" && subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("state")), []byte(s.LogoutState)) == 1
	d.sessions.signOut(r)
	d.pages.show(w, http.StatusOK, v)
	return nil
}
