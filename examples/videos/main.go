// Command videos is a demo app built on Foyer's Go SDK, after FusionAuth's
// anonymous user example: a page of videos that counts what a visitor
// watched. The visitor gets an anonymous Foyer account on their first
// watch (not before), saves their progress with an email address, sets a
// password from the mailed link, signs in through Foyer's OpenID Connect
// provider and finds their count where they left it. On another device,
// progress made before signing in can be merged into the account.
//
// Start Foyer, then the demo with the API key Foyer printed on its first
// start, and open http://localhost:9012:
//
//	go run ./cmd/foyer serve
//	FOYER_API_KEY=foyer_sk_… go run ./examples/videos
//
// Settings, from the environment:
//
//	FOYER_API_KEY  a server API key of Foyer (required)
//	FOYER_URL      where Foyer is, its public URL (default http://127.0.0.1:9011)
//	VIDEOS_URL     where people reach the demo, also where it listens (default http://localhost:9012)
//
// On start the demo registers itself with Foyer as a confidential OpenID
// Connect application, or gives its existing registration a new secret.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Defaults of the settings. The demo and Foyer are on different host
// names, so the browser treats them as different sites, as a real app
// and its identity provider would be.
const (
	defaultFoyerURL = "http://127.0.0.1:9011"
	defaultURL      = "http://localhost:9012"
)

func main() {
	cfg := config{
		FoyerURL: cmp.Or(os.Getenv("FOYER_URL"), defaultFoyerURL),
		APIKey:   os.Getenv("FOYER_API_KEY"),
		URL:      cmp.Or(os.Getenv("VIDEOS_URL"), defaultURL),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
		fmt.Fprintln(os.Stderr, "videos:", err)
		os.Exit(1)
	}
}

// run serves the demo at cfg.URL until ctx is done.
func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	if cfg.APIKey == "" {
		return errors.New("FOYER_API_KEY is not set: use the admin API key that `foyer serve` printed on its first start")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("VIDEOS_URL %q is not an absolute URL", cfg.URL)
	}
	d, err := newDemo(ctx, cfg, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	logger.Info("videos demo started", slog.String("url", cfg.URL), slog.String("foyer", cfg.FoyerURL))
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
