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
	codeMedia       = "media.malformed"
	codeInternal    = "internal"
)

// sigConn is a participant's WebSocket: a bounded outgoing queue drained by one writer, and a
// rate-limited reader.
type sigConn struct {
	ws      *websocket.Conn
	out     chan []byte
	limiter *bucket
	now     func() time.Time

	once   sync.Once
	closed chan struct{}
}

const (
	sendQueue    = 256
	writeTimeout = 5 * time.Second
)

func newSigConn(ws *websocket.Conn, rate, burst float64, now func() time.Time) *sigConn {
	return &sigConn{ws: ws, out: make(chan []byte, sendQueue), limiter: newBucket(rate, burst, now()), now: now, closed: make(chan struct{})}
}

// send queues a message; it reports false when the queue is full (the peer does not read)
// or the connection is closed.
func (c *sigConn) send(typ string, data any) bool {
	b, err := api.NewSig(typ, data)
	if err != nil {
		return false
	}
	select {
	case <-c.closed:
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
	for {
		select {
		case <-c.closed:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case b := <-c.out:
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := c.ws.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
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

// close flushes what is queued (briefly) and closes the socket with code and reason.
func (c *sigConn) close(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		deadline := time.After(time.Second)
	flush:
		for {
			select {
			case b := <-c.out:
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				err := c.ws.Write(ctx, websocket.MessageText, b)
				cancel()
				if err != nil {
					break flush
				}
			case <-deadline:
				break flush
			default:
				break flush
			}
		}
		close(c.closed)
		go func() { _ = c.ws.Close(code, truncate(reason, 100)) }()
	})
}
