package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/stoa-rooms/stoa/firmware/control"
	"github.com/stoa-rooms/stoa/firmware/roomd"
)

// device sends one device command built from words ("mic", "mute") and prints its result as
// path=value lines (or the reply as JSON).
func device(ctx context.Context, c *roomd.LocalClient, words []string, asJSON bool, stdout io.Writer) error {
	cmd, err := control.FromWords(control.SpecLookup(), words)
	if err != nil {
		return err
	}
	rep, err := c.Command(ctx, cmd)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	if !rep.OK {
		return errors.New(rep.Error)
	}
	if asJSON {
		return nil
	}
	if m, ok := rep.Result.(map[string]any); ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(stdout, "%s=%s\n", k, control.FormatValue(m[k]))
		}
		return nil
	}
	fmt.Fprintln(stdout, "OK", strings.Join(words, " "))
	return nil
}

// events prints status changes and events until interrupted, in the serial protocol's line
// form (or one JSON message per line).
func events(ctx context.Context, c *roomd.LocalClient, asJSON bool, stdout io.Writer) error {
	ws, err := c.Events(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	enc := json.NewEncoder(stdout)
	for {
		m, err := ws.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if asJSON {
			if err := enc.Encode(m); err != nil {
				return err
			}
			continue
		}
		if m.Event == nil {
			continue // the initial status; `roomctl status` prints it
		}
		for _, l := range eventLines(*m.Event) {
			fmt.Fprintln(stdout, l)
		}
	}
}

// eventLines renders an event decoded from JSON (Data is generic) like the line protocol.
func eventLines(e control.Event) []string {
	data, _ := json.Marshal(e.Data)
	switch e.Type {
	case control.EventStatus:
		var sc control.StatusChange
		if json.Unmarshal(data, &sc) == nil {
			return control.EventLines(control.Event{Type: e.Type, Data: sc})
		}
	case control.EventButton:
		var b control.ButtonEvent
		if json.Unmarshal(data, &b) == nil {
			return control.EventLines(control.Event{Type: e.Type, Data: b})
		}
	case control.EventCall:
		var ce control.CallEvent
		if json.Unmarshal(data, &ce) == nil {
			return control.EventLines(control.Event{Type: e.Type, Data: ce})
		}
	}
	return []string{"EVENT " + e.Type + " " + string(data)}
}

// hashPassword reads a password (first line of stdin) and prints its argon2id PHC string for
// roomd's control_login.password_hash.
func hashPassword(stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("hash-password: read: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" || strings.ContainsAny(pw, " \t") {
		return errors.New("hash-password: give a non-empty password without spaces on stdin (the line protocol splits on spaces)")
	}
	h, err := control.HashPassword(pw, rand.Reader)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, h)
	return nil
}
