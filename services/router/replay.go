package router

import (
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/token"
)

// maxUsedTokens bounds the replay cache. Tokens live at most token.MaxLifetime (+ skew), and
// each join passes the per-IP join limit first, so a full cache means an attack: joins are then
// refused rather than the cache forgetting tokens that could be replayed.
const maxUsedTokens = 100000

// usedTokens remembers the nonces (jti) of join tokens already presented until they expire.
// A token is single use: the portal mints one per join, so a second presentation is a
// replay (someone who saw it in transit or in a log), and admitting it would take over the
// participant's ID and drop the real one from the meeting.
type usedTokens struct {
	mu   sync.Mutex
	seen map[string]time.Time // nonce → when it can be forgotten
	max  int
}

func newUsedTokens(max int) *usedTokens {
	return &usedTokens{seen: map[string]time.Time{}, max: max}
}

// use records c's nonce; false if it was seen before (or the cache is full of live tokens).
func (u *usedTokens) use(c token.Claims, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if until, ok := u.seen[c.Nonce]; ok && now.Before(until) {
		return false
	}
	if len(u.seen) >= u.max {
		for n, until := range u.seen {
			if !now.Before(until) {
				delete(u.seen, n)
			}
		}
		if len(u.seen) >= u.max {
			return false
		}
	}
	// Verify accepts a token up to Skew past its expiry: remember it that long.
	u.seen[c.Nonce] = time.Unix(c.Expires, 0).Add(token.Skew + time.Second)
	return true
}
