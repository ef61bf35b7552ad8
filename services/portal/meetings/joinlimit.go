package meetings

import (
	"sync"
	"time"
)

// Defaults of the per-user join limit: a person joins a handful of times (a rejoin after a
// router failure retries for a few seconds), never dozens. Every admitted join holds a seat
// until the manager's lease runs out, so without a limit one account could fill the licence.
const (
	DefaultJoinRate  = 1.0 // joins per second, refilled
	DefaultJoinBurst = 10  // joins at once
	maxJoinLimited   = 10000
)

// joinLimiter is a token bucket per user ID.
type joinLimiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	buckets map[int64]*joinBucket
}

type joinBucket struct {
	tokens float64
	last   time.Time
}

func newJoinLimiter(rate float64, burst int) *joinLimiter {
	if rate <= 0 {
		rate = DefaultJoinRate
	}
	if burst <= 0 {
		burst = DefaultJoinBurst
	}
	return &joinLimiter{rate: rate, burst: float64(burst), buckets: map[int64]*joinBucket{}}
}

// allow takes one join for user at now.
func (l *joinLimiter) allow(user int64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[user]
	if b == nil {
		if len(l.buckets) >= maxJoinLimited {
			// Forget users whose bucket has refilled: they hold no history.
			for k, v := range l.buckets {
				if now.Sub(v.last).Seconds()*l.rate >= l.burst {
					delete(l.buckets, k)
				}
			}
		}
		b = &joinBucket{tokens: l.burst, last: now}
		l.buckets[user] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
