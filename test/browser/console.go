package browser

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

type collectorKey struct{}

// collector keeps every console message of one browser, in order.
type collector struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func (c *collector) add(m chromedp.ConsoleMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
}

func (c *collector) all() []chromedp.ConsoleMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), c.msgs...)
}

// Console returns every message the page wrote so far: console API calls, uncaught exceptions,
// unhandled promise rejections and browser log entries (failed loads, CSP violations). ctx is
// the context from New or one derived from it.
func Console(ctx context.Context) []chromedp.ConsoleMessage {
	c, ok := ctx.Value(collectorKey{}).(*collector)
	if !ok {
		return nil
	}
	return c.all()
}

// Errors returns the messages of type error and the uncaught exceptions, leaving out those
// whose text contains one of allow (for example "status of 422" when a test provokes a
// validation failure on purpose).
func Errors(ctx context.Context, allow ...string) []chromedp.ConsoleMessage {
	var out []chromedp.ConsoleMessage
next:
	for _, m := range Console(ctx) {
		if m.Type != chromedp.ConsoleError && !m.IsException() {
			continue
		}
		for _, a := range allow {
			if strings.Contains(m.Text, a) {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// RequireNoErrors fails t if the page logged an error or threw, except for allowed texts.
func RequireNoErrors(t testing.TB, ctx context.Context, allow ...string) {
	t.Helper()
	errs := Errors(ctx, allow...)
	for _, m := range errs {
		t.Errorf("browser console: %s (%s:%d)", m, m.URL, m.Line)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
}
