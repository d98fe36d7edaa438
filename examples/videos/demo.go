package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	"github.com/foyerhq/foyer/token"
	"golang.org/x/oauth2"
)

// appName is the name the demo registers itself under in Foyer.
const appName = "Videos demo"

// config is what the demo needs to know.
type config struct {
	// FoyerURL is Foyer's public URL: the OpenID Connect issuer, and where
	// the demo calls Foyer's API.
	FoyerURL string
	// APIKey is a server API key of Foyer.
	APIKey string
	// URL is where people reach the demo.
	URL string
}

// video is one video of the catalogue.
type video struct {
	ID, Title, Length string
}

// videos is what there is to watch.
var videos = []video{
	{"big-buck-bunny", "Big Buck Bunny", "9:56"},
	{"sintel", "Sintel", "14:48"},
	{"tears-of-steel", "Tears of Steel", "12:14"},
	{"elephants-dream", "Elephants Dream", "10:54"},
}

// demo is the app: its handlers, its sessions and what it knows of Foyer.
type demo struct {
	cfg    config
	logger *slog.Logger
	// foyer calls Foyer: the server API with the API key, and the
	// visitor API (Me, PatchMe, MergeMe) with a visitor's token.
	foyer *client.Client
	// visitors verifies the anonymous cookie locally and creates
	// anonymous accounts when asked to (client.EnsureUser).
	visitors *client.Middleware
	// oauth and idTokens are the OpenID Connect relying party.
	oauth      oauth2.Config
	idTokens   *oidc.IDTokenVerifier
	endSession string
	sessions   *sessions
	// refreshing serialises refresh token exchanges (accessToken).
	refreshing sync.Mutex
	pages      pages
}

// newDemo registers the demo with Foyer and discovers Foyer's OpenID
// Connect endpoints.
func newDemo(ctx context.Context, cfg config, logger *slog.Logger) (*demo, error) {
	cfg.FoyerURL = strings.TrimRight(cfg.FoyerURL, "/")
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	d := &demo{
		cfg:    cfg,
		logger: logger,
		foyer:  client.New(cfg.FoyerURL, cfg.APIKey),
		visitors: &client.Middleware{
			Verifier: token.NewJWKSVerifier(token.JWKSConfig{BaseURL: cfg.FoyerURL}),
			BaseURL:  cfg.FoyerURL,
		},
		sessions: newSessions(strings.HasPrefix(cfg.URL, "https://")),
		pages:    newPages(),
	}
	clientID, secret, err := d.register(ctx)
	if err != nil {
		return nil, fmt.Errorf("register with Foyer at %s (is `foyer serve` running, and is FOYER_API_KEY its key?): %w", cfg.FoyerURL, err)
	}
	provider, err := oidc.NewProvider(ctx, cfg.FoyerURL)
	if err != nil {
		return nil, fmt.Errorf("discover Foyer's OpenID Connect provider: %w", err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("read Foyer's OpenID Connect metadata: %w", err)
	}
	d.endSession = meta.EndSession
	// Access tokens Foyer issued to other applications are not ours.
	d.visitors.AppID = clientID
	d.oauth = oauth2.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  cfg.URL + "/callback",
		// offline_access: a refresh token, for when the access token
		// (15 minutes by default) expires.
		Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess},
	}
	// Verify checks the ID token's signature against Foyer's published
	// keys, its issuer, its audience (our client id) and its expiry; the
	// nonce is checked in the callback.
	d.idTokens = provider.Verifier(&oidc.Config{ClientID: clientID})
	return d, nil
}

// register makes sure Foyer knows the demo as a confidential application
// with its redirect addresses, and returns its client id and a secret:
// a new registration's, or a fresh one for the registration of an
// earlier start (a secret is shown only once).
func (d *demo) register(ctx context.Context) (clientID, secret string, err error) {
	redirect, afterLogout := d.cfg.URL+"/callback", d.cfg.URL+"/signed-out"
	apps, err := d.foyer.ListApps(ctx)
	if err != nil {
		return "", "", err
	}
	for _, a := range apps {
		if a.Name == appName && a.Type == foyer.AppConfidential &&
			slices.Contains(a.RedirectURIs, redirect) && slices.Contains(a.PostLogoutRedirectURIs, afterLogout) {
			secret, err := d.foyer.NewAppSecret(ctx, a.ID)
			return a.ID, secret, err
		}
	}
	a := &foyer.App{
		Name:                   appName,
		Type:                   foyer.AppConfidential,
		RedirectURIs:           []string{redirect},
		PostLogoutRedirectURIs: []string{afterLogout},
	}
	secret, err = d.foyer.CreateApp(ctx, a)
	return a.ID, secret, err
}

// Handler returns the demo's HTTP handler. Cross-origin form posts are
// refused before anything else runs; every form also carries the
// demo's own CSRF token, checked by route.
func (d *demo) Handler() http.Handler {
	mux := http.NewServeMux()
	d.route(mux, "GET /{$}", d.home)
	d.route(mux, "POST /watch", d.watch)
	d.route(mux, "POST /save", d.save)
	d.route(mux, "GET /check-email", d.checkEmail)
	d.route(mux, "GET /mailbox", d.mailbox)
	d.route(mux, "POST /signin", d.signIn)
	d.route(mux, "GET /callback", d.callback)
	d.route(mux, "GET /merge", d.mergeForm)
	d.route(mux, "POST /merge", d.merge)
	d.route(mux, "POST /signout", d.signOut)
	d.route(mux, "GET /signed-out", d.signedOut)

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, errForbidden)
	}))
	return csrf.Handler(d.visitors.Handler(mux))
}

// errForbidden answers a form posted from elsewhere or with a bad token.
var errForbidden = foyer.Errorf(foyer.EForbidden, "This form was not sent from this site, or the page was too old. Go back, reload the page and try again.")

// route registers h for pattern. A POST must carry the CSRF token of the
// browser's session; an error becomes the error page.
func (d *demo) route(mux *http.ServeMux, pattern string, h func(http.ResponseWriter, *http.Request) error) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var err error = errForbidden
		if r.Method != http.MethodPost || d.sessions.validCSRF(r) {
			err = h(w, r)
		}
		if err != nil {
			d.fail(w, r, err)
		}
	})
}

// fail shows the error page for err.
func (d *demo) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := foyer.ErrorCode(err), "Something went wrong on our side, or Foyer could not be reached. Try again in a moment."
	if e, ok := errors.AsType[*foyer.Error](err); ok && code != foyer.EInternal {
		msg = e.Message
	} else if !errors.Is(err, context.Canceled) {
		d.logger.ErrorContext(r.Context(), "request failed", slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	status := map[string]int{
		foyer.EInvalid:      http.StatusBadRequest,
		foyer.EUnauthorized: http.StatusUnauthorized,
		foyer.EForbidden:    http.StatusForbidden,
		foyer.ENotFound:     http.StatusNotFound,
		foyer.EConflict:     http.StatusConflict,
		foyer.ERateLimited:  http.StatusTooManyRequests,
	}[code]
	if status == 0 {
		status = http.StatusBadGateway
	}
	d.pages.show(w, status, &view{Page: "error", State: code, Title: "Sorry", Message: msg})
}

// account is who the browser is to the demo.
type account struct {
	// User is the visitor's Foyer account; nil until the first watch.
	User *foyer.User
	// Token is the credential to act for them on Foyer's visitor API:
	// the access token of their sign-in, or their anonymous token.
	Token string
	// SignedIn is true after a sign-in through Foyer.
	SignedIn bool
}

// account finds the browser's account: the one it signed in to, else the
// anonymous one of its cookie, else none. It asks Foyer (GET /v1/me), which
// also sees revocation: a sign-in ended at Foyer, or an anonymous account
// that has since been registered or merged, is forgotten here.
func (d *demo) account(w http.ResponseWriter, r *http.Request) (*account, error) {
	ctx := r.Context()
	if s := d.sessions.get(r); s.Token != nil {
		tok, err := d.accessToken(ctx, r)
		if _, refused := errors.AsType[*oauth2.RetrieveError](err); err != nil && !refused {
			return nil, err
		}
		if err == nil {
			u, err := d.foyer.Me(ctx, tok)
			switch foyer.ErrorCode(err) {
			case "":
				return &account{User: u, Token: tok, SignedIn: true}, nil
			case foyer.EUnauthorized:
			default:
				return nil, err
			}
		}
		// Foyer ended the session (signed out elsewhere, or expired).
		d.sessions.signOut(r)
	}
	if v := client.VisitorFromContext(ctx); v != nil {
		u, err := d.foyer.Me(ctx, v.Token)
		switch foyer.ErrorCode(err) {
		case "":
			return &account{User: u, Token: v.Token}, nil
		case foyer.EUnauthorized:
			forgetAnonymous(w)
		default:
			return nil, err
		}
	}
	return &account{}, nil
}

// accessToken returns the access token of the session of r, refreshed
// with its refresh token when it has expired. Refresh tokens rotate and
// Foyer takes a used one presented again as stolen, ending the session,
// so refreshes are made one at a time and each first looks whether
// another one already did the work.
func (d *demo) accessToken(ctx context.Context, r *http.Request) (string, error) {
	if s := d.sessions.get(r); s.Token.Valid() {
		return s.Token.AccessToken, nil
	}
	d.refreshing.Lock()
	defer d.refreshing.Unlock()
	s := d.sessions.get(r)
	if s.Token == nil { // signed out meanwhile: as good as refused
		return "", &oauth2.RetrieveError{ErrorCode: "signed_out"}
	}
	t, err := d.oauth.TokenSource(ctx, s.Token).Token()
	if err != nil {
		return "", err
	}
	if t.AccessToken != s.Token.AccessToken {
		s.Token = t
		d.sessions.set(r, s)
	}
	return t.AccessToken, nil
}

// guest returns the anonymous account of the browser's cookie, with its
// token, when it is another account than signedIn's (the id of the
// account signed in to) and has progress to bring in; otherwise nil.
func (d *demo) guest(ctx context.Context, signedIn string) (*foyer.User, string) {
	v := client.VisitorFromContext(ctx)
	if v == nil || v.UserID == signedIn {
		return nil, ""
	}
	u, err := d.foyer.Me(ctx, v.Token)
	if err != nil || !u.Anonymous || watchedOf(u).total() == 0 {
		return nil, ""
	}
	return u, v.Token
}

// forgetAnonymous deletes the anonymous cookie that client.EnsureUser set.
func forgetAnonymous(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: client.DefaultCookieName, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// watched is the visitor's progress, data.videos_watched in Foyer: how many
// times they watched each video, by video id. Keeping one key per video
// makes a merge meaningful: Foyer merges objects key by key, so videos
// watched on only one side add up and only a video watched on both sides
// is decided by the merge policy.
type watched map[string]int

// watchedOf reads the progress of u.
func watchedOf(u *foyer.User) watched {
	var data struct {
		VideosWatched watched `json:"videos_watched"`
	}
	if u != nil {
		json.Unmarshal(u.Data, &data) // data the demo did not write counts as none
	}
	if data.VideosWatched == nil {
		return watched{}
	}
	return data.VideosWatched
}

// total is how many videos were watched.
func (w watched) total() int {
	n := 0
	for _, c := range w {
		n += max(c, 0)
	}
	return n
}

// home handles GET /: the videos, the count and what the visitor can do.
// Looking costs nothing: no account is created here.
func (d *demo) home(w http.ResponseWriter, r *http.Request) error {
	a, err := d.account(w, r)
	if err != nil {
		return err
	}
	s := d.sessions.get(r)
	v := &view{Page: "home", State: "visitor", CSRF: d.sessions.csrf(w, r), User: a.User, SavedEmail: s.SavedEmail}
	switch {
	case a.SignedIn:
		v.State, v.Email = "signed-in", a.User.Email
		if g, _ := d.guest(r.Context(), a.User.ID); g != nil {
			v.GuestTotal = watchedOf(g).total()
		}
	case a.User != nil:
		v.State = "anonymous"
	}
	v.setProgress(watchedOf(a.User))
	d.pages.show(w, http.StatusOK, v)
	return nil
}

// watch handles POST /watch (video): the visitor watches a video. The
// first watch is where the demo needs a profile, so this is where an
// anonymous account is created (client.EnsureUser, which sets the cookie).
func (d *demo) watch(w http.ResponseWriter, r *http.Request) error {
	id := r.PostFormValue("video")
	if !slices.ContainsFunc(videos, func(v video) bool { return v.ID == id }) {
		return foyer.Errorf(foyer.EInvalid, "There is no such video.")
	}
	a, err := d.account(w, r)
	if err != nil {
		return err
	}
	if a.User == nil {
		v, err := client.EnsureUser(w, r)
		if err != nil {
			return err
		}
		a.Token = v.Token
	}
	if err := d.addWatch(r.Context(), a.Token, id); err != nil {
		return err
	}
	http.Redirect(w, r, "/#"+id, http.StatusSeeOther)
	return nil
}

// addWatch adds one to the visitor's count of video id, on their behalf
// (PATCH /v1/me with their token). The write is conditional on the version
// read, so two watches at once cannot lose one: the loser reads again.
func (d *demo) addWatch(ctx context.Context, tok, id string) error {
	for range 5 {
		u, err := d.foyer.Me(ctx, tok)
		if err != nil {
			return err
		}
		patch, _ := json.Marshal(map[string]watched{"videos_watched": {id: watchedOf(u)[id] + 1}})
		_, err = d.foyer.PatchMe(ctx, tok, foyer.UserUpdate{DataPatch: patch, IfVersion: &u.Version})
		if foyer.ErrorCode(err) != foyer.EPreconditionFailed {
			return err
		}
	}
	return foyer.Errorf(foyer.EConflict, "Your progress changed too often at once; try again.")
}

// save handles POST /save (email): "save your progress". The demo's server
// asks Foyer to start the conversion of the visitor's anonymous account
// (POST /v1/users/{id}/convert); Foyer mails a single-use link to the
// address. The account stays anonymous until the link is used.
func (d *demo) save(w http.ResponseWriter, r *http.Request) error {
	a, err := d.account(w, r)
	if err != nil {
		return err
	}
	if a.User == nil || !a.User.Anonymous {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	email, err := foyer.NormalizeEmail(r.PostFormValue("email"))
	if err != nil {
		return err
	}
	if _, err := d.foyer.ConvertUser(r.Context(), a.User.ID, email); err != nil {
		return err
	}
	s := d.sessions.get(r)
	s.SavedEmail = email
	d.sessions.set(r, s)
	http.Redirect(w, r, "/check-email?to="+url.QueryEscape(email), http.StatusSeeOther)
	return nil
}

// checkEmail handles GET /check-email?to=…: the page after "save your
// progress".
func (d *demo) checkEmail(w http.ResponseWriter, r *http.Request) error {
	d.pages.show(w, http.StatusOK, &view{Page: "check-email", Title: "Check your email", Email: r.URL.Query().Get("to")})
	return nil
}

// mailbox handles GET /mailbox?to=…: the development mailbox of an
// address, read from Foyer's server API (GET /v1/dev/mail), which exists
// only when Foyer runs in development mode and sends no mail. It stands
// in for the person's mail program; a real app has no such page.
func (d *demo) mailbox(w http.ResponseWriter, r *http.Request) error {
	to := r.URL.Query().Get("to")
	if to == "" {
		return foyer.Errorf(foyer.EInvalid, "Which address? The link from the previous page names it.")
	}
	msgs, err := d.foyer.DevMail(r.Context(), to, 5)
	if foyer.ErrorCode(err) == foyer.ENotFound {
		return foyer.Errorf(foyer.ENotFound, "Foyer is not in development mode, so it sends mail for real: look in the mailbox of %s.", to)
	}
	if err != nil {
		return err
	}
	d.pages.show(w, http.StatusOK, &view{Page: "mailbox", Title: "Development mailbox", Email: to, Messages: msgs})
	return nil
}
