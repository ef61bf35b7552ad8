package control

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// Message is one WebSocket message from the room: exactly one field is set. The first
// message of a connection is the whole Status; then Events as they happen and a Reply to
// every Command the client sends (a Command is the JSON of Command).
type Message struct {
	Status *Status `json:"status,omitempty"`
	Event  *Event  `json:"event,omitempty"`
	Reply  *Reply  `json:"reply,omitempty"`
}

// WSOptions configure WSHandler.
type WSOptions struct {
	Hub        *Hub
	Dispatcher *Dispatcher
	// Auth admits a request before the upgrade; an error is answered 401 with its text.
	// Nil admits everyone (the local unix socket, guarded by its file mode).
	Auth func(r *http.Request) error
	// OriginPatterns are extra allowed browser origins (host patterns); same-host is allowed.
	OriginPatterns []string
	Log            *slog.Logger
}

// WSHandler serves the device API over WebSocket: commands in, status, events and replies out.
func WSHandler(o WSOptions) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Auth != nil {
			if err := o.Auth(r); err != nil {
				http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
				return
			}
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: o.OriginPatterns})
		if err != nil {
			o.Log.Warn("control websocket: accept", "err", err)
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(MaxCommandSize)
		err = serveWS(r.Context(), c, o)
		var ce websocket.CloseError
		switch {
		case errors.Is(err, ErrSlowSubscriber):
			c.Close(websocket.StatusPolicyViolation, "too slow reading events; fetch the status and reconnect")
		case err == nil, errors.As(err, &ce), errors.Is(err, context.Canceled):
			c.Close(websocket.StatusNormalClosure, "")
		default:
			o.Log.Debug("control websocket ended", "err", err)
		}
	})
}

func serveWS(ctx context.Context, c *websocket.Conn, o WSOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Subscribe before taking the snapshot so no change falls between the two.
	sub := o.Hub.Subscribe(ctx)
	st := o.Hub.Status()
	if err := writeMsg(ctx, c, Message{Status: &st}); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		for e := range sub.C() {
			if err := writeMsg(ctx, c, Message{Event: &e}); err != nil {
				errc <- err
				return
			}
		}
		errc <- sub.Err()
	}()
	go func() {
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				errc <- err
				return
			}
			cmd, err := DecodeCommand(data)
			var r Reply
			if err != nil {
				r = Reply{Error: err.Error()}
			} else {
				r = o.Dispatcher.Dispatch(ctx, cmd)
			}
			if err := writeMsg(ctx, c, Message{Reply: &r}); err != nil {
				errc <- err
				return
			}
		}
	}()
	return <-errc
}

func writeMsg(ctx context.Context, c *websocket.Conn, m Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, data)
}
