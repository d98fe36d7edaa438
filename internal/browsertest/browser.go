package browsertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// stepTimeout bounds one step, so that a page that never shows what a step
// waits for fails with a screenshot instead of hanging the test run. It is
// a guard, not an assertion about speed.
const stepTimeout = 30 * time.Second

// Browser is one person's headless Chromium, driven in named steps. A step
// that fails, or that waits longer than 30 seconds, fails the test with a
// screenshot of the page, whose path the failure names.
//
// Open, Submit and Expect read which page a browser shows, and in which
// state, from the data-page and data-state attributes of its <body>, which
// Foyer's hosted pages and the demo's pages set.
type Browser struct {
	t         testing.TB
	name      string
	artifacts string
	ctx       context.Context
}

// NewBrowser starts the browser of the person name stands for, as New does
// with opts. Screenshots of failed steps go to $FOYER_TEST_ARTIFACTS, or to
// artifacts when that is unset.
func NewBrowser(t testing.TB, name, artifacts string, opts ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	return &Browser{t: t, name: name, artifacts: artifacts, ctx: New(t, opts...)}
}

// Run runs the action a as the step named step of b and returns what it
// returns. If it fails, the test fails with a screenshot.
func Run[T any](b *Browser, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.Fail(step, err)
	}
	return v
}

// Do runs actions as the step named step. If one fails, the test fails
// with a screenshot.
func (b *Browser) Do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	Run(b, step, chromedp.Steps(actions...))
}

// Fail saves a screenshot of the page and fails the test, naming the
// person, the step and the screenshot's path.
func (b *Browser) Fail(step string, err error) {
	b.t.Helper()
	b.t.Fatalf("%s: %s: %v (screenshot: %s)", b.name, step, err, b.screenshot(step))
}

// screenshot saves the page as a PNG named after the test, the person and
// the step, and returns its path, or why there is none.
func (b *Browser) screenshot(step string) string {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	path, err := Screenshot(ctx, b.artifacts, b.t.Name()+"-"+b.name+"-"+step)
	if err != nil {
		return "none: " + err.Error()
	}
	return path
}

// Open navigates to target and checks that it shows page in state.
func (b *Browser) Open(step, target, page, state string) {
	b.t.Helper()
	b.Do(step, chromedp.Navigate(target))
	b.Expect(step, page, state)
}

// Submit clicks the button or link sel and checks that the page it ends
// at, after any redirects, is page in state. The old document is marked
// first, so the check waits for the new one.
func (b *Browser) Submit(step, sel, page, state string) {
	b.t.Helper()
	b.Do(step,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[string](`document.body.dataset.submitted = "yes"`)(ctx, t)
			return err
		}),
		chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible),
		chromedp.WaitReady(chromedp.CSS(`body:not([data-submitted])`)),
	)
	b.Expect(step, page, state)
}

// Expect checks that the browser shows page in state.
func (b *Browser) Expect(step, page, state string) {
	b.t.Helper()
	got := Run(b, step, chromedp.Evaluate[[]string](`[document.body.dataset.page || "", document.body.dataset.state || "", location.href]`))
	if got[0] != page || got[1] != state {
		b.Fail(step, fmt.Errorf("the browser shows %s (page %q, state %q), want page %q in state %q", got[2], got[0], got[1], page, state))
	}
}

// Text returns the visible text of the first element matching sel,
// without leading and trailing white space.
func (b *Browser) Text(step, sel string) string {
	b.t.Helper()
	return strings.TrimSpace(Run(b, step, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)))
}

// AttackPage returns the HTML of a page of another site that posts a form
// of fields (name, value, …) to target as soon as it loads, as a cross-site
// request forgery would.
func AttackPage(target string, fields ...string) string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win a prize</title></head><body>`)
	fmt.Fprintf(&b, `<form method="post" action="%s">`, target)
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, fields[i], fields[i+1])
	}
	b.WriteString(`</form><script>document.forms[0].submit()</script></body></html>`)
	return b.String()
}
