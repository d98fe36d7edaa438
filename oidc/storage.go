package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
	jose "github.com/go-jose/go-jose/v4"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is the op.Storage of Foyer's services.
type storage struct {
	cfg  *Config
	deps Deps
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// randomToken returns 32 random bytes as unpadded base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateAuthRequest stores a request op has validated against its app,
// after Foyer's own PKCE rule: S256 only, and required for public apps.
func (s *storage) CreateAuthRequest(ctx context.Context, r *zoidc.AuthRequest, _ string) (op.AuthRequest, error) {
	app, err := s.deps.Apps.FindApp(ctx, r.ClientID)
	if err != nil {
		return nil, err
	}
	if r.CodeChallenge != "" && r.CodeChallengeMethod != zoidc.CodeChallengeMethodS256 {
		return nil, zoidc.ErrInvalidRequest().WithDescription("The code_challenge_method must be S256.")
	}
	if app.Type == foyer.AppPublic && r.CodeChallenge == "" {
		return nil, zoidc.ErrInvalidRequest().WithDescription("A public application must send a PKCE code_challenge with method S256.")
	}
	a := &foyer.AuthRequest{
		AppID: app.ID,
		AuthParams: foyer.AuthParams{
			RedirectURI:         r.RedirectURI,
			Scopes:              r.Scopes,
			ResponseType:        string(r.ResponseType),
			ResponseMode:        string(r.ResponseMode),
			State:               r.State,
			Nonce:               r.Nonce,
			CodeChallenge:       r.CodeChallenge,
			CodeChallengeMethod: string(r.CodeChallengeMethod),
			Prompt:              r.Prompt,
		},
		ExpiresAt: s.cfg.Now().Add(s.cfg.AuthRequestTTL),
	}
	if r.MaxAge != nil {
		v := int64(*r.MaxAge)
		a.MaxAge = &v
	}
	if err := s.deps.AuthRequests.CreateAuthRequest(ctx, a); err != nil {
		return nil, err
	}
	return s.authRequest(a), nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.deps.AuthRequests.FindAuthRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.authRequest(a), nil
}

// AuthRequestByCode redeems a code: the request is deleted as it is
// read, so a code works once even when two token requests race.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	a, err := s.deps.AuthRequests.RedeemAuthCode(ctx, hash(code))
	if notFound(err) {
		return nil, zoidc.ErrInvalidGrant().WithDescription("The code is invalid, expired or already used.")
	}
	if err != nil {
		return nil, err
	}
	return s.authRequest(a), nil
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.deps.AuthRequests.SaveAuthCode(ctx, id, hash(code))
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.deps.AuthRequests.DeleteAuthRequest(ctx, id)
}

// CreateAccessToken signs a person in to an app without a refresh token:
// a session that lives as long as the access token.
func (s *storage) CreateAccessToken(ctx context.Context, r op.TokenRequest) (string, time.Time, error) {
	ar, ok := r.(*authRequest)
	if !ok {
		return "", time.Time{}, zoidc.ErrUnsupportedGrantType()
	}
	exp := s.cfg.Now().Add(s.cfg.AccessTTL)
	if _, err := s.startSession(ctx, ar, exp); err != nil {
		return "", time.Time{}, err
	}
	return ar.tokenID(), exp, nil
}

// CreateAccessAndRefreshTokens either starts a session with a refresh
// token, for a code with offline_access, or hands out the refresh token
// TokenRequestByRefreshToken already rotated.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, _ string) (string, string, time.Time, error) {
	exp := s.cfg.Now().Add(s.cfg.AccessTTL)
	switch r := r.(type) {
	case *authRequest:
		refresh, err := s.startSession(ctx, r, s.cfg.Now().Add(s.cfg.SessionTTL))
		if err != nil {
			return "", "", time.Time{}, err
		}
		return r.tokenID(), refresh, exp, nil
	case *refreshRequest:
		return r.tokenID(), r.refresh, exp, nil
	}
	return "", "", time.Time{}, zoidc.ErrUnsupportedGrantType()
}

// startSession creates the Foyer session of a completed authorization
// request, expiring at exp, and returns its refresh token. The token
// names its app, so the token endpoint can rotate it for that app only.
func (s *storage) startSession(ctx context.Context, ar *authRequest, exp time.Time) (string, error) {
	refresh := ar.a.AppID + "." + randomToken()
	sess := &foyer.Session{
		UserID:      ar.a.UserID,
		RefreshHash: hash(refresh),
		ExpiresAt:   exp,
		AppID:       ar.a.AppID,
		Scopes:      ar.a.Scopes,
		AuthTime:    ar.a.AuthTime,
	}
	u, err := s.deps.Sessions.CreateSession(ctx, sess)
	if err != nil {
		if foyer.ErrorCode(err) == foyer.ENotFound || foyer.ErrorCode(err) == foyer.EConflict {
			return "", zoidc.ErrInvalidGrant().WithDescription("The account can no longer sign in.").WithParent(err)
		}
		return "", err
	}
	ar.grant = grant{session: sess, user: u}
	return refresh, nil
}

// TokenRequestByRefreshToken rotates the refresh token: the old one is
// spent whether or not the rest of the token request succeeds, and
// presenting it again revokes the session (reuse detection).
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	appID, _, ok := strings.Cut(token, ".")
	if !ok || appID == "" {
		return nil, zoidc.ErrInvalidGrant().WithDescription("The refresh token is invalid.")
	}
	next := appID + "." + randomToken()
	sess, u, err := s.deps.Sessions.RotateSession(ctx, appID, hash(token), hash(next))
	if notFound(err) {
		return nil, zoidc.ErrInvalidGrant().WithDescription("The refresh token is invalid, expired or was already used.")
	}
	if err != nil {
		return nil, err
	}
	return &refreshRequest{grant: grant{session: sess, user: u}, aud: s.cfg.Audience, refresh: next, scopes: sess.Scopes}, nil
}

// TerminateSession ends userID's sessions in clientID.
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	if userID == "" || clientID == "" {
		return nil
	}
	_, err := s.deps.Sessions.DeleteAppSessions(ctx, userID, clientID)
	return err
}

// TerminateSessionFromRequest ends the app's sessions of the person the
// id_token_hint names, then sends the browser to the hosted sign-out
// page, which asks before it ends the browser's own session (no GET
// changes state there) and then goes on to the app's post-logout URI.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, r *op.EndSessionRequest) (string, error) {
	if err := s.TerminateSession(ctx, r.UserID, r.ClientID); err != nil {
		return "", err
	}
	if r.ClientID == "" {
		return "/logout", nil
	}
	return "/logout?" + url.Values{"client_id": {r.ClientID}, "post_logout_redirect_uri": {r.RedirectURI}}.Encode(), nil
}

// RevokeToken revokes a refresh token, or the session of an access token:
// either way the app's session ends. Unknown tokens are not an error
// (RFC 7009 §2.2).
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *zoidc.Error {
	var (
		sess *foyer.Session
		err  error
	)
	if userID == "" {
		sess, err = s.deps.Sessions.FindSessionByRefresh(ctx, hash(tokenOrID))
	} else {
		sid, _, _ := strings.Cut(tokenOrID, ".")
		sess, err = s.deps.Sessions.FindSession(ctx, userID, sid)
	}
	if notFound(err) {
		return nil
	}
	if err != nil {
		return zoidc.ErrServerError().WithParent(err)
	}
	if sess.AppID != clientID {
		return zoidc.ErrInvalidClient().WithDescription("The token was not issued to this client.")
	}
	if err := s.deps.Sessions.DeleteSession(ctx, sess.ID); err != nil && !notFound(err) {
		return zoidc.ErrServerError().WithParent(err)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	sess, err := s.deps.Sessions.FindSessionByRefresh(ctx, hash(token))
	if notFound(err) || (err == nil && sess.AppID != clientID) {
		return "", "", op.ErrInvalidRefreshToken
	}
	if err != nil {
		return "", "", err
	}
	return sess.UserID, sess.ID, nil
}

// signingKey is op's view of the keyring's current key.
type signingKey struct{ jwk jose.JSONWebKey }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.jwk.Algorithm)
}
func (k signingKey) Key() any   { return k.jwk }
func (k signingKey) ID() string { return k.jwk.KeyID }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	jwk, err := s.deps.Keys.SigningKey()
	if err != nil {
		return nil, err
	}
	return signingKey{jwk}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	var algs []jose.SignatureAlgorithm
	for _, k := range s.deps.Keys.PublicKeys() {
		if alg := jose.SignatureAlgorithm(k.Algorithm); !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	return algs, nil
}

// publicKey is op's view of one verifying key.
type publicKey struct{ jwk jose.JSONWebKey }

func (k publicKey) ID() string { return k.jwk.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.jwk.Algorithm)
}
func (k publicKey) Use() string { return "sig" }
func (k publicKey) Key() any    { return k.jwk.Key }

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	pub := s.deps.Keys.PublicKeys()
	keys := make([]op.Key, len(pub))
	for i, k := range pub {
		keys[i] = publicKey{k}
	}
	return keys, nil
}

// GetClientByClientID returns the app as op's client. An id that is not
// a known app is invalid_client: op answers a plain error with
// invalid_client at the code grant, but passes it on as server_error (a
// 500) at the refresh grant and at the end-session endpoint, as for a
// refresh token of a deleted app.
func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	app, err := s.deps.Apps.FindApp(ctx, clientID)
	if err != nil {
		if foyer.ErrorCode(err) == foyer.ENotFound || foyer.ErrorCode(err) == foyer.EInvalid {
			return nil, zoidc.ErrInvalidClient().WithDescription("The client is unknown.").WithParent(fmt.Errorf("oidc: unknown client %q", clientID))
		}
		return nil, zoidc.ErrServerError().WithParent(err)
	}
	return &client{app: app, cfg: s.cfg}, nil
}

// AuthorizeClientIDSecret checks a confidential app's secret in constant
// time.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, secret string) error {
	c, err := s.GetClientByClientID(ctx, clientID)
	if err != nil {
		return err
	}
	if !c.(*client).secretMatches(secret) {
		return errors.New("oidc: wrong client secret")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op in favour of
// SetUserinfoFromRequest, which sets the claims.
func (s *storage) SetUserinfoFromScopes(context.Context, *zoidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest sets the ID token's claims about the person.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *zoidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	u, err := s.deps.Users.FindUserByID(ctx, r.GetSubject())
	if err != nil {
		return err
	}
	setUserinfo(info, u, scopes)
	return nil
}

// errNotAppToken refuses a token that is not the access token of a live
// session of an app.
var errNotAppToken = errors.New("oidc: not an access token of an app session")

// SetUserinfoFromToken answers /oauth2/userinfo. The token must name a
// live session of an app (its id is "<session>.<random>"), so tokens of
// ended sessions and ID tokens presented as access tokens are refused.
// Outages are server_error, which the userinfo endpoint tells apart.
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, tokenID, subject, _ string) error {
	sid, _, ok := strings.Cut(tokenID, ".")
	if !ok {
		return errNotAppToken
	}
	u, err := s.deps.Sessions.FindSessionUser(ctx, subject, sid)
	if notFound(err) {
		return errNotAppToken
	}
	if err != nil {
		return zoidc.ErrServerError().WithParent(err)
	}
	sess, err := s.deps.Sessions.FindSession(ctx, subject, sid)
	if notFound(err) {
		return errNotAppToken
	}
	if err != nil {
		return zoidc.ErrServerError().WithParent(err)
	}
	if sess.AppID == "" {
		return errNotAppToken
	}
	setUserinfo(info, u, sess.Scopes)
	return nil
}

// setUserinfo sets sub, is_anonymous and, with scope email, the address.
func setUserinfo(info *zoidc.UserInfo, u *foyer.User, scopes []string) {
	info.Subject = u.ID
	if slices.Contains(scopes, zoidc.ScopeEmail) && u.Email != "" {
		info.Email = u.Email
		info.EmailVerified = zoidc.Bool(u.EmailVerified)
	}
	info.AppendClaims("is_anonymous", u.Anonymous)
}

// SetIntrospectionFromToken backs op's introspection endpoint, which
// Foyer does not serve: apps verify the JWTs themselves. Were it reached,
// it describes no token.
func (s *storage) SetIntrospectionFromToken(context.Context, *zoidc.IntrospectionResponse, string, string, string) error {
	return errors.New("oidc: introspection is not offered")
}

// GetPrivateClaimsFromRequest gives the access token the claims of a
// Foyer access token, so the Foyer API and the SDK accept it.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, r op.TokenRequest, _ []string) (map[string]any, error) {
	g, ok := r.(interface{ granted() *grant })
	if !ok || g.granted().session == nil {
		return nil, zoidc.ErrUnsupportedGrantType()
	}
	sess, u := g.granted().session, g.granted().user
	return map[string]any{"typ": "access", "is_anonymous": u.Anonymous, "ep": u.Epoch, "sid": sess.ID}, nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID is for the JWT profile grant, which Foyer does
// not offer.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, zoidc.ErrUnsupportedGrantType()
}

// ValidateJWTProfileScopes is for the JWT profile grant, which Foyer does
// not offer.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, zoidc.ErrUnsupportedGrantType()
}

// Health is op's readiness probe, which Foyer does not route: /readyz
// checks the database.
func (s *storage) Health(context.Context) error { return nil }
