// Package hil boots the real qemu-x86_64 room image under QEMU (TCG) against servers on the
// host and drives it the way a room is used: boot, pairing, management channel.
package hil

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sync"
	"time"
)

// console keeps everything the guest wrote to its serial console and lets a test wait for a
// line matching a pattern.
type console struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Head is the first n bytes, for failure messages.
func (c *console) Head(n int) string {
	s := c.String()
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// Tail is the last n bytes, for failure messages.
func (c *console) Tail(n int) string {
	s := c.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// wait polls until re matches the output after offset from; it returns the submatches and
// the offset just past the match.
func (c *console) wait(ctx context.Context, re *regexp.Regexp, from int) ([]string, int, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		s := c.String()
		if from > len(s) {
			from = len(s)
		}
		if loc := re.FindStringSubmatchIndex(s[from:]); loc != nil {
			var m []string
			for i := 0; i < len(loc); i += 2 {
				if loc[i] >= 0 {
					m = append(m, s[from+loc[i]:from+loc[i+1]])
				} else {
					m = append(m, "")
				}
			}
			return m, from + loc[1], nil
		}
		select {
		case <-ctx.Done():
			return nil, from, fmt.Errorf("console: no %q: %w", re, ctx.Err())
		case <-t.C:
		}
	}
}
