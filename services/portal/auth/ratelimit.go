package auth

import (
	"sync"
	"time"
)

// maxTrackedIPs bounds the limiter's memory when many addresses show up.
const maxTrackedIPs = 10000

// rateLimiter is a token bucket per key (remote IP): burst tokens, refilled at burst per period.
type rateLimiter struct {
	mu      sync.Mutex
	burst   float64
	perSec  float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(burst int, period time.Duration) *rateLimiter {
	return &rateLimiter{burst: float64(burst), perSec: float64(burst) / period.Seconds(), buckets: map[string]*bucket{}}
}

// allow takes one token for key at now; when none is left it returns false and how long until
// the next one.
func (l *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxTrackedIPs {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.perSec)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.perSec * float64(time.Second))
	return false, wait
}

// prune drops buckets that have refilled completely (they carry no state worth keeping); if an
// attacker keeps them all busy, it drops everything rather than grow without bound.
func (l *rateLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSec >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxTrackedIPs {
		clear(l.buckets)
	}
}
