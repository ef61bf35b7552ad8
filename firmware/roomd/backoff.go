package roomd

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces reconnect attempts: the ceiling doubles from Min to Max, and each wait is drawn
// uniformly from [0, ceiling] ("full jitter", AWS Architecture Blog, "Exponential Backoff And
// Jitter"), so rooms that lost the portal together do not come back in lock-step.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a uniform value in [0, n); nil uses math/rand/v2 (jitter needs no secrecy).
	Rand    func(n int64) int64
	attempt int
}

// NewBackoff returns the management channel's policy: 1 s doubling to 60 s.
func NewBackoff() *Backoff { return &Backoff{Min: time.Second, Max: time.Minute} }

// Ceiling is the upper bound of the next wait.
func (b *Backoff) Ceiling() time.Duration {
	c := b.Min
	for i := 0; i < b.attempt && c < b.Max; i++ {
		c *= 2
	}
	return min(c, b.Max)
}

// Next returns the wait before the next attempt and raises the ceiling.
func (b *Backoff) Next() time.Duration {
	c := b.Ceiling()
	b.attempt++
	rnd := b.Rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	return time.Duration(rnd(int64(c) + 1))
}

// Reset starts over at Min after a success.
func (b *Backoff) Reset() { b.attempt = 0 }
