package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/router"
	"github.com/stoa-rooms/stoa/services/token"
)

const benchRouterID = "rtr-bench"

// meeting is one scenario's participants connected in one mode.
type meeting interface {
	ids() []string
	// forwarded is the router's count of packets forwarded to subscribers (0 without a router).
	forwarded() int64
	close()
}

// routerMeeting is the scenario through an in-process SFU served on loopback.
type routerMeeting struct {
	sfu     *router.SFU
	srv     *http.Server
	clients []*rtcclient.Client
	names   []string
	stop    context.CancelFunc
}

func startRouterMeeting(ctx context.Context, s Scenario, c *collector, sent *atomic.Int64) (_ *routerMeeting, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("bench router: token key: %w", err)
	}
	quiet := slog.New(slog.DiscardHandler)
	m := &routerMeeting{sfu: router.New(router.Options{
		ID: benchRouterID, TokenKey: func() ed25519.PublicKey { return pub }, Log: quiet,
		JoinRate: 100, JoinBurst: 100,
	})}
	pctx, stop := context.WithCancel(ctx)
	m.stop = stop
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench router: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /rtc", m.sfu.Handler())
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	url := "ws://" + ln.Addr().String() + "/rtc"
	for i := range s.Participants {
		name := fmt.Sprintf("p%d", i)
		now := time.Now()
		tok, err := token.Sign(token.Claims{
			Meeting: "bench", Participant: name, Name: name, Kind: token.KindUser,
			Perms: []string{token.PermPublish, token.PermSubscribe}, Router: benchRouterID,
			IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(), Nonce: name,
		}, priv)
		if err != nil {
			return nil, fmt.Errorf("bench router: sign token: %w", err)
		}
		cl, err := rtcclient.Dial(ctx, rtcclient.Options{
			SignalURL: url, Token: tok, Log: quiet,
			OnTrack: func(tr *webrtc.TrackRemote, from string) { go c.receive(tr, name, from) },
		})
		if err != nil {
			return nil, fmt.Errorf("bench router: join %s: %w", name, err)
		}
		m.clients = append(m.clients, cl)
		m.names = append(m.names, name)
		tr, err := newTrack(s, name)
		if err != nil {
			return nil, err
		}
		if _, err := cl.Publish(tr); err != nil {
			return nil, fmt.Errorf("bench router: publish %s: %w", name, err)
		}
		go publish(pctx, s, tr, c, sent)
	}
	return m, nil
}

func (m *routerMeeting) ids() []string { return m.names }

func (m *routerMeeting) forwarded() int64 {
	var n int64
	for _, p := range m.sfu.Stats().Participants {
		for _, r := range p.Received {
			n += int64(r.Packets)
		}
	}
	return n
}

func (m *routerMeeting) close() {
	m.stop()
	for _, cl := range m.clients {
		_ = cl.Close()
	}
	m.sfu.Close()
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := m.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			_ = m.srv.Close()
		}
		_ = m.srv.Close()
	}
}

// newTrack is participant name's published track for the scenario.
func newTrack(s Scenario, name string) (*webrtc.TrackLocalStaticRTP, error) {
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	id := "audio-" + name
	if s.Video {
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
		id = "video-" + name
	}
	tr, err := webrtc.NewTrackLocalStaticRTP(codec, id, name)
	if err != nil {
		return nil, fmt.Errorf("bench: track %s: %w", id, err)
	}
	return tr, nil
}
