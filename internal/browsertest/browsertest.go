// Package browsertest starts headless Chromium for the tests that walk
// Foyer's pages with chromedp, drives it in named steps, and saves
// screenshots of the pages.
//
// It is for tests only: it is imported by _test.go files alone, never by
// the code Foyer ships, so it adds nothing to the dependencies of the
// packages whose tests use it. It imports chromedp and the standard
// library, nothing of Foyer. Like the tests, it reads CI (a missing
// Chromium fails the test there instead of skipping it) and
// FOYER_TEST_ARTIFACTS (where screenshots go).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
)

// debianPath is where Debian installs Chromium.
const debianPath = "/usr/bin/chromium"

// Path returns the Chromium the tests drive: Debian's, or else a chromium
// on PATH. Without one the test is skipped, except when CI is set, where
// it fails, so that the browser tests cannot silently stop running there.
// A test calls it first to skip before it starts any server; New calls it
// too.
func Path(t testing.TB) string {
	t.Helper()
	_, err := os.Stat(debianPath)
	if err == nil {
		return debianPath
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("Chromium must be installed at %s in CI: %v", debianPath, err)
	}
	t.Skipf("Chromium is not installed at %s", debianPath)
	return ""
}

// New starts a headless Chromium with a fresh profile in t.TempDir() and
// returns the context of its tab: one person's browser. Without Chromium
// the test is skipped or fails, as Path says.
//
// The browser runs with --headless --no-sandbox --disable-gpu
// --disable-background-networking --disable-component-update
// --disable-sync --no-first-run in a 1024×900 window; opts come after
// these, to add flags or set one again (a WindowSize of their own).
//
// The context outlives t.Context(): it is cancelled, and the browser
// stopped, by a cleanup that New registers, so the cleanups a caller
// registers after New (such as a screenshot of a failed test) still find
// the browser running. The browser is started here, without a timeout,
// because the context of the first run is the one the browser lives in.
func New(t testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	execPath := Path(t)
	// The profile is made before the cleanups below are registered, so it
	// is removed after the browser has stopped.
	profile := t.TempDir()
	flags := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1024, 900),
	}, opts...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// unsafeName matches what may not stand in a screenshot's file name.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Screenshot saves the whole page of the browser ctx as name.png, with
// what may not stand in a file name replaced by "_", and returns the
// file's absolute path. The file goes in $FOYER_TEST_ARTIFACTS, or in dir
// when that is unset; the directory is made if it is missing. ctx bounds
// taking the screenshot.
func Screenshot(ctx context.Context, dir, name string) (string, error) {
	if d := os.Getenv("FOYER_TEST_ARTIFACTS"); d != "" {
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", err
	}
	path, err := filepath.Abs(filepath.Join(dir, unsafeName.ReplaceAllString(name, "_")+".png"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", err
	}
	return path, nil
}
