package e2ee

import (
	"errors"
	"fmt"
)

// Receiver limits.
const (
	// replayWindow is how far behind the newest counter a frame may arrive (reordering).
	replayWindow = 64
	// maxRatchet bounds how many epochs ahead of its newest key a receiver ratchets on its own
	// (joins it has not seen the sender's key for yet).
	maxRatchet = 8
	// keepKeys is how many epochs per sender a receiver keeps (frames in flight across a change).
	keepKeys = 4
)

// Errors a receiver reports.
var (
	ErrReplay = errors.New("sframe replayed or too old")
	ErrNoKey  = errors.New("no key for this KID")
)

// window is an anti-replay sliding window over counters (RFC 9605 section 9.3).
type window struct {
	started bool
	max     uint64
	bits    uint64 // bit i: max-i seen
}

func (w *window) check(ctr uint64) error {
	if !w.started || ctr > w.max {
		return nil
	}
	d := w.max - ctr
	if d >= replayWindow {
		return fmt.Errorf("CTR %d is %d behind the newest: %w", ctr, d, ErrReplay)
	}
	if w.bits&(1<<d) != 0 {
		return fmt.Errorf("CTR %d: %w", ctr, ErrReplay)
	}
	return nil
}

func (w *window) commit(ctr uint64) {
	switch {
	case !w.started:
		w.started, w.max, w.bits = true, ctr, 1
	case ctr > w.max:
		shift := ctr - w.max
		if shift >= replayWindow {
			w.bits = 0
		} else {
			w.bits <<= shift
		}
		w.bits |= 1
		w.max = ctr
	default:
		w.bits |= 1 << (w.max - ctr)
	}
}

// rxKey is one decryption key of a sender.
type rxKey struct {
	key  *Key
	base []byte
	win  window
}

// ring holds one sender's decryption keys by KID.
type ring struct {
	keys map[uint64]*rxKey
}

// set installs base for kid (a key message). A key for the same KID replaces the old one only
// if it differs (a fresh window); repeating the same key keeps the window.
func (r *ring) set(kid uint64, base []byte) error {
	if r.keys == nil {
		r.keys = map[uint64]*rxKey{}
	}
	if old := r.keys[kid]; old != nil && string(old.base) == string(base) {
		return nil
	}
	k, err := NewKey(kid, base)
	if err != nil {
		return err
	}
	r.keys[kid] = &rxKey{key: k, base: append([]byte(nil), base...)}
	r.prune()
	return nil
}

func (r *ring) newest() (uint64, bool) {
	var n uint64
	ok := false
	for kid := range r.keys {
		if !ok || kid > n {
			n, ok = kid, true
		}
	}
	return n, ok
}

func (r *ring) prune() {
	for len(r.keys) > keepKeys {
		var oldest uint64
		first := true
		for kid := range r.keys {
			if first || kid < oldest {
				oldest, first = kid, false
			}
		}
		delete(r.keys, oldest)
	}
}

// open decrypts an SFrame with the key its KID names, ratcheting forward from the newest
// known key when the sender moved on after a join. Nothing is stored unless it authenticates.
func (r *ring) open(dst, metadata, sframe []byte) ([]byte, error) {
	h, n, err := ParseHeader(sframe)
	if err != nil {
		return nil, err
	}
	if k := r.keys[h.KID]; k != nil {
		if err := k.win.check(h.CTR); err != nil {
			return nil, fmt.Errorf("sframe decrypt KID %d: %w", h.KID, err)
		}
		out, err := k.key.open(dst, h, sframe[:n], metadata, sframe[n:])
		if err != nil {
			return nil, err
		}
		k.win.commit(h.CTR)
		return out, nil
	}
	newest, ok := r.newest()
	if !ok || h.KID < newest || h.KID-newest > maxRatchet {
		return nil, fmt.Errorf("sframe decrypt KID %d: %w", h.KID, ErrNoKey)
	}
	base := r.keys[newest].base
	for i := newest; i < h.KID; i++ {
		if base, err = ratchet(base); err != nil {
			return nil, err
		}
	}
	k, err := NewKey(h.KID, base)
	if err != nil {
		return nil, err
	}
	out, err := k.open(dst, h, sframe[:n], metadata, sframe[n:])
	if err != nil {
		// A rotation (someone left) rather than a ratchet: wait for the key message.
		return nil, fmt.Errorf("sframe decrypt KID %d: not a ratchet of KID %d, awaiting its key: %w", h.KID, newest, ErrNoKey)
	}
	rk := &rxKey{key: k, base: base}
	rk.win.commit(h.CTR)
	r.keys[h.KID] = rk
	r.prune()
	return out, nil
}
