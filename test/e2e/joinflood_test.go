package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/participant"
)

// Bounds of the flood: connections, how many at once, and how long one may take.
const (
	floodSockets     = 200
	floodParallel    = 40
	floodJoinCalls   = 60
	floodPerAttempt  = 5 * time.Second
	floodTotalBudget = 30 * time.Second
)

// TestJoinFlood opens floodSockets signaling WebSockets through the portal with garbage and
// replayed join tokens and fires a burst of join API calls from one user, while two
// established participants keep exchanging media. The flood is refused (429s, policy-violation
// closes, never a "joined"), the burst is rate-limited (429s), and the established
// participants never drop and keep decoding new frames from each other during and after.
func TestJoinFlood(t *testing.T) {
	conf := foStart(t, 1)
	meeting := conf.meeting(t, "flood")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Two established participants; their join answers' tokens are what an attacker replays.
	var tokens []string
	var routerID string
	var ps []*participant.Participant
	for _, name := range []string{"ann", "ben"} {
		copts, err := conf.joinFunc(conf.user(t, name), meeting, name, nil)(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, copts.Token)
		routerID = copts.SignalURL[strings.LastIndex(copts.SignalURL, "/")+1:]
		p, err := participant.Join(ctx, participant.Options{Client: copts, Media: conf.media, Log: log.With("who", name)})
		if err != nil {
			t.Fatalf("%s joins: %v", name, err)
		}
		t.Cleanup(func() { p.Close() })
		ps = append(ps, p)
	}
	for _, p := range ps {
		if err := p.WaitMedia(ctx, 1, 5, 25); err != nil {
			t.Fatal(err)
		}
	}
	decoded := func() []int {
		var out []int
		for i, p := range ps {
			out = append(out, p.Report().Remote[ps[1-i].ID()].Decoded)
		}
		return out
	}
	// Video RTP packets show media flowing even when the participant's decoder skips frames to
	// save CPU (200 TLS handshakes under -race share the 2 cores during the flood).
	videoPackets := func() []int {
		var out []int
		for i, p := range ps {
			out = append(out, p.Report().Remote[ps[1-i].ID()].VideoPackets)
		}
		return out
	}
	audio := func() []int {
		var out []int
		for i, p := range ps {
			out = append(out, p.Report().Remote[ps[1-i].ID()].AudioPackets)
		}
		return out
	}
	before, audioBefore, videoBefore := decoded(), audio(), videoPackets()

	// The flood and the burst run at once.
	floodCtx, cancelFlood := context.WithTimeout(ctx, floodTotalBudget)
	defer cancelFlood()
	var wg sync.WaitGroup
	var sockets, calls tally
	wg.Add(2)
	go func() {
		defer wg.Done()
		rtcURL := strings.Replace(conf.portal.PortalURL, "https://", "wss://", 1) + "/api/v1/rtc/"
		bounded(floodSockets, floodParallel, func(i int) {
			path, tok := routerID, "garbage."+strings.Repeat("A", i%64)
			switch i % 4 {
			case 1, 2:
				tok = tokens[i%2] // replayed: a token already used to join
			case 3:
				path = "no-such-router"
			}
			sockets.add(floodSocket(floodCtx, conf, rtcURL+path, tok))
		})
	}()
	go func() {
		defer wg.Done()
		hostile := conf.user(t, "flooder")
		bounded(floodJoinCalls, floodParallel, func(int) {
			if floodCtx.Err() != nil {
				calls.add("timeout")
				return
			}
			code, body, err := hostile.Do(http.MethodPost, "/api/v1/meetings/"+meeting+"/join", api.MeetingJoinRequest{Name: "flooder"}, "", nil)
			switch {
			case err != nil:
				calls.add("error")
			case code == http.StatusOK:
				calls.add("200")
			default:
				var e api.Error
				_ = json.Unmarshal(body, &e)
				calls.add(fmt.Sprintf("%d %s", code, e.Code))
			}
		})
	}()
	started := time.Now()
	wg.Wait()
	floodTook := time.Since(started)
	during, audioDuring, videoDuring := decoded(), audio(), videoPackets() // what arrived while the flood ran
	t.Logf("flood of %d sockets and %d join calls took %v", floodSockets, floodJoinCalls, floodTook.Round(time.Millisecond))
	t.Logf("sockets: %v", sockets.snapshot())
	t.Logf("join calls: %v", calls.snapshot())
	if floodCtx.Err() != nil {
		t.Errorf("the flood did not finish within %v", floodTotalBudget)
	}

	s := sockets.snapshot()
	if s["joined"] != 0 {
		t.Errorf("%d flood sockets were admitted", s["joined"])
	}
	for outcome, n := range s {
		if !strings.HasPrefix(outcome, "HTTP ") && !strings.HasPrefix(outcome, "closed ") {
			t.Errorf("%d flood sockets ended %q, want refused (HTTP status) or closed by the server", n, outcome)
		}
	}
	if s["HTTP 429"] == 0 {
		t.Errorf("no flood socket was rate-limited (429): %v", s)
	}
	c := calls.snapshot()
	if c["429 meeting.join_rate"] == 0 {
		t.Errorf("the join burst was never rate-limited: %v", c)
	}
	if c["200"] > 10 {
		t.Errorf("%d of the burst's joins were admitted, want at most 10", c["200"])
	}

	for i, p := range ps {
		select {
		case <-p.Client().Done():
			t.Fatalf("%s dropped during the flood: %v", p.ID(), p.Client().Err())
		default:
		}
		if audioDuring[i] <= audioBefore[i] {
			t.Errorf("participant %d received no audio during the flood (%d before, %d at its end)", i, audioBefore[i], audioDuring[i])
		}
		if videoDuring[i] <= videoBefore[i] {
			t.Errorf("participant %d received no video during the flood (%d packets before, %d at its end; frames decoded %d → %d)", i, videoBefore[i], videoDuring[i], before[i], during[i])
		}
	}
	// And after it: 15 more frames each within 10 s.
	afterCtx, cancelAfter := context.WithTimeout(ctx, 10*time.Second)
	defer cancelAfter()
	for i, p := range ps {
		want := decoded()[i] + 15
		for decoded()[i] < want {
			select {
			case <-afterCtx.Done():
				t.Fatalf("participant %d stalled after the flood: %d decoded, want %d; %v", i, decoded()[i], want, p.Report())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	after := decoded()
	t.Logf("frames decoded from the other: before %v, at the flood's end %v, after %v", before, during, after)
}

// floodSocket opens one signaling socket through the portal, sends a join with tok and reports
// how it ended: "HTTP <status>" (refused before the upgrade), "closed <status> <code>" (the
// server closed it, with the router's error code), "joined", or a client-side failure.
func floodSocket(ctx context.Context, conf *foConference, url, tok string) string {
	ctx, cancel := context.WithTimeout(ctx, floodPerAttempt)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: conf.tls.Clone(), DisableKeepAlives: true}}
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		if resp != nil {
			return fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return "dial error"
	}
	defer ws.CloseNow()
	join, _ := json.Marshal(map[string]any{"type": api.SigTypeJoin, "data": api.SigJoin{Token: tok}})
	if err := ws.Write(ctx, websocket.MessageText, join); err != nil {
		return "write error"
	}
	code := ""
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != -1 {
				return strings.TrimSpace(fmt.Sprintf("closed %d %s", st, code))
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return "still open"
			}
			return "read error"
		}
		m, err := api.DecodeSig(b)
		if err != nil {
			return "undecodable message"
		}
		switch m.Type {
		case api.SigTypeJoined:
			return "joined"
		case api.SigTypeError:
			if e, err := api.DecodeSigError(m); err == nil {
				code = e.Code
			}
		}
	}
}

// bounded runs fn(0..n-1) with at most par running at once.
func bounded(n, par int, fn func(i int)) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// tally counts outcomes from many goroutines.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (t *tally) add(k string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[k]++
}

func (t *tally) snapshot() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = t.m[k]
	}
	return out
}
