package browsertest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/foyerhq/foyer/internal/browsertest"
)

// TestScreenshot starts a browser, shows a page and saves it, first in the
// directory the caller names, then in $FOYER_TEST_ARTIFACTS, which wins.
func TestScreenshot(t *testing.T) {
	ctx := browsertest.New(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(`data:text/html,<h1>Foyer</h1>`)); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		t.Setenv("FOYER_TEST_ARTIFACTS", "")
		dir := t.TempDir()
		path, err := browsertest.Screenshot(ctx, filepath.Join(dir, "shots"), "TestX/sign in: step 1")
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "shots", "TestX_sign_in_step_1.png"); path != want {
			t.Fatalf("path=%q, want %q", path, want)
		}
		checkPNG(t, path)
	})

	t.Run("OKArtifacts", func(t *testing.T) {
		artifacts := t.TempDir()
		t.Setenv("FOYER_TEST_ARTIFACTS", artifacts)
		path, err := browsertest.Screenshot(ctx, t.TempDir(), "page")
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(artifacts, "page.png"); path != want {
			t.Fatalf("path=%q, want %q", path, want)
		}
		checkPNG(t, path)
	})
}

// checkPNG checks that the file at path is a PNG image.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG: starts with %q", path, b[:min(len(b), 8)])
	}
}
