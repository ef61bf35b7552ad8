package router

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/stoa-rooms/stoa/services/api"
)

// clientMsg is one decoded client→router signaling message.
type clientMsg struct {
	Type      string
	Join      api.SigJoin
	SDP       api.SigSDP
	Candidate api.SigCandidate
	Mute      api.SigMute
	E2EEKey   api.SigE2EEKey
}

// errUnknownType marks a well-formed message of a type the router does not accept.
var errUnknownType = errors.New("unknown message type")

// decodeClientMessage strictly decodes one client→router message: the envelope and the
// payload of its type. Router→client types and anything unknown are refused.
func decodeClientMessage(b []byte) (clientMsg, error) {
	m, err := api.DecodeSig(b)
	if err != nil {
		return clientMsg{}, err
	}
	out := clientMsg{Type: m.Type}
	switch m.Type {
	case api.SigTypeJoin:
		out.Join, err = api.DecodeSigJoin(m)
	case api.SigTypeOffer, api.SigTypeAnswer:
		out.SDP, err = api.DecodeSigSDP(m)
	case api.SigTypeCandidate:
		out.Candidate, err = api.DecodeSigCandidate(m)
		if err == nil && len(out.Candidate.Candidate) > 1024 {
			err = errors.New(`decode "candidate" payload: candidate longer than 1024 bytes`)
		}
	case api.SigTypeMute:
		out.Mute, err = api.DecodeSigMute(m)
	case api.SigTypeLeave:
		err = api.DecodeSigData(m, &api.SigEmpty{})
	case api.SigTypeE2EEKey:
		out.E2EEKey, err = api.DecodeSigE2EEKey(m)
		if err == nil && out.E2EEKey.To == "" {
			err = errors.New(`decode "e2ee_key" payload: missing recipient`)
		}
	default:
		return clientMsg{}, fmt.Errorf("decode signaling message: %w %q", errUnknownType, truncate(m.Type, 40))
	}
	if err != nil {
		return clientMsg{}, err
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Error codes the router sends in "error" messages.
const (
	codeMalformed   = "signal.malformed"
	codeUnknownType = "signal.unknown_type"
	codeRateLimited = "signal.rate_limited"
	codeProtocol    = "signal.protocol"
	codeToken       = "signal.token"
	codeSecured     = "signal.secured"
	codeMedia       = "media.malformed"
	codeInternal    = "internal"
)

// sigConn is a participant's WebSocket: a bounded outgoing queue drained by one writer, and a
// rate-limited reader. The writer owns the socket's end: close asks it to flush what is
// queued (an "error" explaining the close) and then send the close frame.
type sigConn struct {
	ws      *websocket.Conn
	out     chan []byte
	limiter *bucket
	now     func() time.Time

	once       sync.Once
	closing    chan struct{}
	writerDone chan struct{}
	code       websocket.StatusCode
	reason     string
}

const (
	sendQueue    = 256
	writeTimeout = 5 * time.Second
)

func newSigConn(ws *websocket.Conn, rate, burst float64, now func() time.Time) *sigConn {
	return &sigConn{ws: ws, out: make(chan []byte, sendQueue), limiter: newBucket(rate, burst, now()), now: now, closing: make(chan struct{}), writerDone: make(chan struct{})}
}

// send queues a message; it reports false when the queue is full (the peer does not read)
// or the connection is closing.
func (c *sigConn) send(typ string, data any) bool {
	b, err := api.NewSig(typ, data)
	if err != nil {
		return false
	}
	select {
	case <-c.closing:
		return false
	default:
	}
	select {
	case c.out <- b:
		return true
	default:
		return false
	}
}

// writeLoop sends queued messages until the connection closes.
func (c *sigConn) writeLoop(ctx context.Context) error {
	defer close(c.writerDone)
	write := func(b []byte, d time.Duration) error {
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return c.ws.Write(wctx, websocket.MessageText, b)
	}
	for {
		select {
		case <-ctx.Done():
			_ = c.ws.CloseNow()
			return ctx.Err()
		case <-c.closing:
			for drained := false; !drained; {
				select {
				case b := <-c.out:
					if write(b, 500*time.Millisecond) != nil {
						drained = true
					}
				default:
					drained = true
				}
			}
			// Close waits for the peer's close frame; the handler need not.
			go func() { _ = c.ws.Close(c.code, truncate(c.reason, 100)) }()
			return nil
		case b := <-c.out:
			if err := write(b, writeTimeout); err != nil {
				_ = c.ws.CloseNow()
				return fmt.Errorf("write signaling: %w", err)
			}
		}
	}
}

// read returns the next message, enforcing the rate limit; the size limit is the socket's
// read limit.
func (c *sigConn) read(ctx context.Context) (clientMsg, error) {
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		return clientMsg{}, fmt.Errorf("read signaling: %w: %w", errReadTransport, err)
	}
	if !c.limiter.allow(c.now()) {
		return clientMsg{}, errRateLimited
	}
	if typ != websocket.MessageText {
		return clientMsg{}, fmt.Errorf("%w: binary message", errProtocol)
	}
	return decodeClientMessage(b)
}

var (
	errRateLimited = errors.New("rate limited")
	errProtocol    = errors.New("protocol violation")
	// errReadTransport marks failures of the socket itself (closed, oversized message).
	errReadTransport = errors.New("signaling transport")
)

// close has the writer flush what is queued and close the socket with code and reason; it
// waits (briefly) for that to happen.
func (c *sigConn) close(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.closing)
	})
	select {
	case <-c.writerDone:
	case <-time.After(2 * time.Second):
		_ = c.ws.CloseNow()
	}
}
