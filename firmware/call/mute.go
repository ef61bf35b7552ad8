package call

import "time"

// muteSync tells the router about mute changes. The router refuses (and ends the session on)
// a mute for a track it has not received yet, so a track's mute is only sent once RTCP from
// the router shows it has the stream; until then a muted track sends silence or black.
type muteSync struct {
	c    *Call
	wake chan struct{}
}

func newMuteSync(c *Call) *muteSync { return &muteSync{c: c, wake: make(chan struct{}, 1)} }

func (m *muteSync) start() {
	m.c.wg.Add(1)
	go m.loop()
}

func (m *muteSync) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *muteSync) loop() {
	c := m.c
	defer c.wg.Done()
	var retry <-chan time.Time
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-m.wake:
		case <-retry:
		}
		retry = nil
		ok := true
		if a := c.audio; a != nil && a.heard.Load() {
			ok = m.sync(AudioTrackID, c.micMuted.Load(), &a.toldMuted) && ok
		}
		if v := c.video; v != nil && v.heard.Load() {
			ok = m.sync(VideoTrackID, c.camMuted.Load(), &v.toldMuted) && ok
		}
		if !ok {
			retry = time.After(200 * time.Millisecond) // a signaling hiccup: try again
		}
	}
}

type boolFlag interface {
	Load() bool
	Store(bool)
}

// sync sends want for track when the router was told otherwise; false when sending failed.
func (m *muteSync) sync(track string, want bool, told boolFlag) bool {
	if told.Load() == want {
		return true
	}
	if !want {
		told.Store(false) // resume sending before the router forwards again
	}
	if err := m.c.client.Mute(track, want); err != nil {
		if m.c.ctx.Err() == nil {
			m.c.log.Warn("tell the router about mute", "track", track, "muted", want, "err", err)
		}
		return false
	}
	told.Store(want)
	return true
}
