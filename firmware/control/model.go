// Package control is the room's device API: one model of commands, a status tree and events,
// served the same way over every transport (the local unix-socket API, a line-based serial
// protocol for room-control systems, and a WebSocket handler for the touch panel).
package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxCommandSize bounds one JSON command; commands are a name and a few short arguments.
const MaxCommandSize = 4 << 10

// Command asks the room to do something. ID is the caller's, echoed in the Reply.
type Command struct {
	ID   string            `json:"id,omitempty"`
	Name string            `json:"name"`
	Args map[string]string `json:"args,omitempty"`
}

// Reply answers one Command.
type Reply struct {
	ID     string `json:"id,omitempty"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Result any    `json:"result,omitempty"`
}

// Event is something that happened in the room: "status" (the status tree changed; Data is a
// StatusChange), "button" (a ButtonEvent), "call" (a CallEvent), "occupancy".
type Event struct {
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	Data any       `json:"data,omitempty"`
}

// Event types.
const (
	EventStatus    = "status"
	EventButton    = "button"
	EventCall      = "call"
	EventOccupancy = "occupancy"
)

// StatusChange is the Data of a "status" event: every changed leaf of the tree by dotted path
// ("audio.mic_muted") with its new value (null when the leaf went away).
type StatusChange struct {
	Changed map[string]any `json:"changed"`
}

// ButtonEvent is the Data of a "button" event. Action is "pressed", "released" or "long_press".
type ButtonEvent struct {
	Button string `json:"button"`
	Action string `json:"action"`
}

// CallEvent is the Data of a "call" event. State is the call's new state.
type CallEvent struct {
	State   string `json:"state"`
	Meeting string `json:"meeting,omitempty"`
	Error   string `json:"error,omitempty"`
}

// DecodeCommand strictly decodes one JSON command: unknown fields, trailing data, oversized
// input and a missing name are errors. Argument values are checked by the Dispatcher.
func DecodeCommand(data []byte) (Command, error) {
	var c Command
	if len(data) > MaxCommandSize {
		return c, fmt.Errorf("decode command: larger than %d bytes", MaxCommandSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Command{}, fmt.Errorf("decode command: %w", err)
	}
	if dec.More() {
		return Command{}, errors.New("decode command: trailing data after the JSON object")
	}
	if c.Name == "" {
		return Command{}, errors.New("decode command: name is required")
	}
	if len(c.ID) > 64 {
		return Command{}, errors.New("decode command: id longer than 64 characters")
	}
	return c, nil
}
