package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/coder/websocket"
)

// CommandHandler serves POST of one JSON Command, answering its Reply (200 when it succeeded,
// 400 when it was refused: bad JSON, unknown command, bad arguments, or the handler's error).
func CommandHandler(d *Dispatcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(io.LimitReader(r.Body, MaxCommandSize+1))
		var rep Reply
		if err == nil {
			var cmd Command
			if cmd, err = DecodeCommand(data); err == nil {
				rep = d.Dispatch(r.Context(), cmd)
			}
		}
		if err != nil {
			rep = Reply{Error: err.Error()}
		}
		code := http.StatusOK
		if !rep.OK {
			code = http.StatusBadRequest
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(rep)
	})
}

// WSClient is a client of WSHandler (roomctl events, tests, Go panels).
type WSClient struct {
	c *websocket.Conn
}

// DialWS connects to a WSHandler at url (ws:// or wss://) with hc (nil: the default client).
func DialWS(ctx context.Context, url string, hc *http.Client) (*WSClient, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("dial control websocket: %w", err)
	}
	c.SetReadLimit(16 << 20)
	return &WSClient{c: c}, nil
}

// Next reads the next message.
func (w *WSClient) Next(ctx context.Context) (Message, error) {
	var m Message
	_, data, err := w.c.Read(ctx)
	if err != nil {
		return m, fmt.Errorf("read control message: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("decode control message: %w", err)
	}
	return m, nil
}

// Send sends a command; its Reply arrives through Next.
func (w *WSClient) Send(ctx context.Context, c Command) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("send command: %w", err)
	}
	if err := w.c.Write(ctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("send command: %w", err)
	}
	return nil
}

// Close closes the connection.
func (w *WSClient) Close() error { return w.c.Close(websocket.StatusNormalClosure, "") }
