package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	"github.com/foyerhq/foyer/token"
	"github.com/foyerhq/foyer/webhook"
)

// The examples run against a real Foyer started by newExampleFoyer: its
// URL and an API key stand for those of your deployment.

func ExampleClient() {
	foyerd := newExampleFoyer()
	defer foyerd.Close()
	ctx := context.Background()

	c := client.New(foyerd.URL, foyerd.APIKey)

	// Import a visitor with the progress they made before.
	u := &foyer.User{Anonymous: true, Data: json.RawMessage(`{"level":3}`)}
	if err := c.CreateUser(ctx, u); err != nil {
		log.Fatal(err)
	}

	// Merge-patch their data, unless it changed since it was read.
	read := u.Version
	u, err := c.UpdateUser(ctx, u.ID, foyer.UserUpdate{
		DataPatch: json.RawMessage(`{"level":4,"badges":["first"]}`),
		IfVersion: &read,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(u.Data))

	// Writing with the stale version fails with a stable error code.
	_, err = c.UpdateUser(ctx, u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"level":1}`), IfVersion: &read})
	fmt.Println(foyer.ErrorCode(err))

	// Iterate over every anonymous user, page by page.
	anonymous := true
	for u, err := range c.AllUsers(ctx, client.UserFilter{Anonymous: &anonymous}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(u.Anonymous, string(u.Data))
	}

	// Start "save your progress": Foyer mails the visitor a link.
	if _, err := c.ConvertUser(ctx, u.ID, "player@example.org"); err != nil {
		log.Fatal(err)
	}
	u, err = c.GetUser(ctx, u.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Anonymous, u.PendingEmail)

	_, err = c.GetUser(ctx, "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091")
	fmt.Println(foyer.ErrorCode(err))
	// Output:
	// {"badges":["first"],"level":4}
	// precondition_failed
	// true {"badges":["first"],"level":4}
	// true player@example.org
	// not_found
}

func ExampleMiddleware() {
	foyerd := newExampleFoyer()
	defer foyerd.Close()

	// The app verifies visitors' tokens with Foyer's published keys: no
	// call to Foyer per request.
	m := &client.Middleware{
		Verifier: token.NewJWKSVerifier(token.JWKSConfig{BaseURL: foyerd.URL}),
		BaseURL:  foyerd.URL,
	}
	visitorAPI := client.New(foyerd.URL, "")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if client.VisitorFromContext(r.Context()) == nil {
			fmt.Fprintln(w, "hello, stranger")
			return
		}
		fmt.Fprintln(w, "welcome back")
	})
	mux.HandleFunc("POST /watch", func(w http.ResponseWriter, r *http.Request) {
		// The first watch is where the app needs a profile.
		v, err := client.EnsureUser(w, r)
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		me, err := visitorAPI.Me(r.Context(), v.Token)
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		var data struct {
			Watched int `json:"watched"`
		}
		json.Unmarshal(me.Data, &data)
		data.Watched++
		patch, _ := json.Marshal(data)
		if _, err := visitorAPI.PatchMe(r.Context(), v.Token, foyer.UserUpdate{DataPatch: patch, IfVersion: &me.Version}); err != nil {
			http.Error(w, "try again later", http.StatusConflict)
			return
		}
		fmt.Fprintf(w, "watched %d videos\n", data.Watched)
	})
	app := httptest.NewServer(m.Handler(mux))
	defer app.Close()

	// Two visitors' browsers, with their cookies.
	browse := func(browser *http.Client, method, path string) {
		req, _ := http.NewRequest(method, app.URL+path, nil)
		resp, err := browser.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Print(string(body))
	}
	jar1, _ := cookiejar.New(nil)
	jar2, _ := cookiejar.New(nil)
	watcher, browser := &http.Client{Jar: jar1}, &http.Client{Jar: jar2}

	browse(browser, "GET", "/")
	browse(browser, "GET", "/")
	browse(watcher, "GET", "/")
	browse(watcher, "POST", "/watch")
	browse(watcher, "POST", "/watch")
	browse(watcher, "GET", "/")

	// Only the visitor who watched has an account.
	page, err := client.New(foyerd.URL, foyerd.APIKey).ListUsers(context.Background(), client.UserFilter{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accounts:", len(page.Users))
	// Output:
	// hello, stranger
	// hello, stranger
	// hello, stranger
	// watched 1 videos
	// watched 2 videos
	// welcome back
	// accounts: 1
}

func ExampleEnsureUser() {
	foyerd := newExampleFoyer()
	defer foyerd.Close()

	m := &client.Middleware{
		Verifier: token.NewJWKSVerifier(token.JWKSConfig{BaseURL: foyerd.URL}),
		BaseURL:  foyerd.URL,
	}
	addToCart := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := client.EnsureUser(w, r)
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		fmt.Println("anonymous:", v.Anonymous)
	}))

	// A visitor's first "add to cart", over HTTPS.
	rec := httptest.NewRecorder()
	addToCart.ServeHTTP(rec, httptest.NewRequest("POST", "https://shop.example/cart", nil))
	c := rec.Result().Cookies()[0]
	fmt.Println(c.Name, "HttpOnly:", c.HttpOnly, "Secure:", c.Secure, "SameSite=Lax:", c.SameSite == http.SameSiteLaxMode)
	// Output:
	// anonymous: true
	// foyer_anon HttpOnly: true Secure: true SameSite=Lax: true
}

func ExampleVerifyWebhook() {
	// The endpoint's secret, shown once when it was created in Foyer.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body) // verify the bytes as received
		if err != nil {
			return
		}
		if err := client.VerifyWebhook(secret, r.Header, body, 5*time.Minute); err != nil {
			fmt.Println("refused, forged:", errors.Is(err, client.ErrWebhookSignature))
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var event struct {
			Type string `json:"type"`
		}
		json.Unmarshal(body, &event)
		fmt.Println("received", event.Type)
	}))
	defer receiver.Close()

	deliver := func(signWith string) {
		body := []byte(`{"type":"user.converted","timestamp":"2026-03-04T05:06:07Z","data":{}}`)
		// Signed as Foyer's webhook dispatcher signs deliveries.
		h, err := webhook.Headers([]string{signWith}, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Now(), body)
		if err != nil {
			log.Fatal(err)
		}
		req, _ := http.NewRequest("POST", receiver.URL, bytes.NewReader(body))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}
	deliver(secret)
	deliver("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
	// Output:
	// received user.converted
	// refused, forged: true
}
