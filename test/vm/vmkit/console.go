package vmkit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Console splits a serial console stream into lines (CR LF and ANSI-free text assumed; a CR
// before the LF is dropped), keeps them, calls handlers for each as it arrives and lets callers
// wait for a line.
type Console struct {
	mu       sync.Mutex
	lines    []string
	changed  chan struct{} // closed and replaced on every new line
	done     chan struct{}
	err      error
	handlers []func(string)
}

// NewConsole reads r until EOF in a goroutine; every handler sees every line, in order.
func NewConsole(r io.Reader, handlers ...func(line string)) *Console {
	c := &Console{changed: make(chan struct{}), done: make(chan struct{}), handlers: handlers}
	go c.read(r)
	return c
}

func (c *Console) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(line, "\r\n")
			for _, h := range c.handlers {
				h(line)
			}
			c.mu.Lock()
			c.lines = append(c.lines, line)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
		if err != nil {
			c.mu.Lock()
			if err != io.EOF {
				c.err = err
			}
			c.mu.Unlock()
			close(c.done)
			return
		}
	}
}

// Lines returns a copy of every line so far.
func (c *Console) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// Done is closed when the stream ended (QEMU exited).
func (c *Console) Done() <-chan struct{} { return c.done }

// Err is the read error that ended the stream, if it was not EOF.
func (c *Console) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// WaitFor returns the first line (from the start of the stream) for which match is true.
func (c *Console) WaitFor(ctx context.Context, match func(line string) bool) (string, error) {
	seen := 0
	for {
		c.mu.Lock()
		lines, changed := c.lines[seen:], c.changed
		c.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return l, nil
			}
		}
		seen += len(lines)
		select {
		case <-changed:
		case <-c.done:
			c.mu.Lock()
			n := len(c.lines)
			c.mu.Unlock()
			if n == seen {
				return "", fmt.Errorf("console: stream ended before the line waited for")
			}
		case <-ctx.Done():
			return "", fmt.Errorf("console: wait: %w", ctx.Err())
		}
	}
}
