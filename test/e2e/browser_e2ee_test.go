package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/browser"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// e2eeCounters is window.stoaMeeting.e2ee(): SFrame frames this browser encrypted, decrypted
// and dropped.
type e2eeCounters struct {
	Encrypted, Decrypted, Dropped int
}

func (b *meetingBrowser) e2ee(t *testing.T) *e2eeCounters {
	t.Helper()
	raw := bsRun(t, b.ctx, chromedp.Evaluate[string](`JSON.stringify(window.stoaMeeting.e2ee())`))
	var c *e2eeCounters
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatalf("%s: e2ee %q: %v", b.name, raw, err)
	}
	return c
}

// TestBrowserMeetingE2EE: two Chromiums join with end-to-end encryption (meeting.html?e2ee=1)
// through the real stoa-server: each one's key is bound into its portal-signed token, keys
// travel sealed through the router, every sent frame is SFrame-encrypted in an encoded
// transform, and each decrypts and decodes the other's video and audio.
func TestBrowserMeetingE2EE(t *testing.T) {
	stack := stoatest.Start(t, stoatest.Options{})
	sess := stack.Login(t)
	var m api.Meeting
	if status, body, err := sess.Do(http.MethodPost, "/api/v1/meetings", api.NewMeeting{Name: "Encrypted call"}, "", &m); err != nil || status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("create meeting: %d %v %s", status, err, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body, err := sess.Do(http.MethodPost, "/api/v1/meetings/"+m.ID+"/join", api.MeetingJoinRequest{Name: "probe"}, "", nil)
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("joins still refused after 30 s: %d %v %s", status, err, body)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	alice := openMeeting(t, stack, "Alice", m.ID+"&e2ee=1")
	bob := openMeeting(t, stack, "Bob", m.ID+"&e2ee=1")
	alice.join(t)
	bob.join(t)
	bobSeen := alice.waitPeer(t, "Bob")
	aliceSeen := bob.waitPeer(t, "Alice")
	a := alice.waitMediaFlows(t, bobSeen.ID)
	b := bob.waitMediaFlows(t, aliceSeen.ID)
	for _, br := range []*meetingBrowser{alice, bob} {
		c := br.e2ee(t)
		if c == nil {
			t.Fatalf("%s's call runs without e2ee", br.name)
		}
		if c.Encrypted == 0 || c.Decrypted == 0 {
			t.Fatalf("%s: e2ee counters %+v", br.name, *c)
		}
		t.Logf("%s: e2ee %+v", br.name, *c)
	}
	t.Logf("Alice from Bob %+v; Bob from Alice %+v", a, b)
	for _, br := range []*meetingBrowser{alice, bob} {
		browser.RequireNoErrors(t, br.ctx)
	}
}
