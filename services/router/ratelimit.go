package router

import (
	"sync"
	"time"
)

// bucket is a token bucket: rate tokens per second, at most burst banked. Time comes from
// the caller so tests control it.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newBucket(rate, burst float64, now time.Time) *bucket {
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// allow takes one token if there is one.
func (b *bucket) allow(now time.Time) bool {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// ipLimiter rate-limits joins per client IP. It forgets idle addresses so a scan of many
// sources cannot grow it without bound.
type ipLimiter struct {
	mu          sync.Mutex
	rate, burst float64
	buckets     map[string]*bucket
	maxEntries  int
}

func newIPLimiter(rate, burst float64) *ipLimiter {
	return &ipLimiter{rate: rate, burst: burst, buckets: map[string]*bucket{}, maxEntries: 10000}
}

func (l *ipLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[ip]
	if !ok {
		if len(l.buckets) >= l.maxEntries {
			for k, v := range l.buckets { // drop buckets that have refilled: they hold no history
				if now.Sub(v.last).Seconds()*l.rate >= l.burst {
					delete(l.buckets, k)
				}
			}
			if len(l.buckets) >= l.maxEntries {
				return false
			}
		}
		b = newBucket(l.rate, l.burst, now)
		l.buckets[ip] = b
	}
	return b.allow(now)
}
