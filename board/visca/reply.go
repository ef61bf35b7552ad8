package visca

import (
	"errors"
	"fmt"
)

// Errors a camera answers with (z0 6y ee FF), and the timeout of a camera that does not answer.
// Command errors wrap one of them: errors.Is(err, visca.ErrNotExecutable).
var (
	ErrMessageLength = errors.New("camera: message length error")
	ErrSyntax        = errors.New("camera: syntax error")
	ErrBufferFull    = errors.New("camera: command buffer full")
	ErrCancelled     = errors.New("camera: command cancelled")
	ErrNoSocket      = errors.New("camera: no socket (to be cancelled)")
	ErrNotExecutable = errors.New("camera: command not executable")
	ErrTimeout       = errors.New("camera did not answer")
	ErrUnknownError  = errors.New("camera: unknown error code")
)

// Error codes on the wire.
const (
	CodeMessageLength byte = 0x01
	CodeSyntax        byte = 0x02
	CodeBufferFull    byte = 0x03
	CodeCancelled     byte = 0x04
	CodeNoSocket      byte = 0x05
	CodeNotExecutable byte = 0x41
)

func codeError(code byte) error {
	switch code {
	case CodeMessageLength:
		return ErrMessageLength
	case CodeSyntax:
		return ErrSyntax
	case CodeBufferFull:
		return ErrBufferFull
	case CodeCancelled:
		return ErrCancelled
	case CodeNoSocket:
		return ErrNoSocket
	case CodeNotExecutable:
		return ErrNotExecutable
	}
	return fmt.Errorf("%w 0x%02x", ErrUnknownError, code)
}

// ReplyKind is what a camera's message says.
type ReplyKind int

// Reply kinds.
const (
	ReplyAck           ReplyKind = iota + 1 // z0 4y FF: command accepted into socket y
	ReplyCompletion                         // z0 5y [data] FF: done (data for inquiries)
	ReplyError                              // z0 6y ee FF
	ReplyNetworkChange                      // z0 38 FF: a camera was plugged in or out
	ReplyAddress                            // 88 30 0w FF: address set, w = next free address
	ReplyIFClear                            // 88 01 00 01 FF: broadcast IF_Clear passed on
)

func (k ReplyKind) String() string {
	switch k {
	case ReplyAck:
		return "ack"
	case ReplyCompletion:
		return "completion"
	case ReplyError:
		return "error"
	case ReplyNetworkChange:
		return "network-change"
	case ReplyAddress:
		return "address"
	case ReplyIFClear:
		return "if-clear"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Reply is one parsed message from a camera.
type Reply struct {
	From   int // sender address 1–7 (8 for a broadcast)
	Kind   ReplyKind
	Socket int
	Data   []byte // completion data (inquiry answers)
	Code   byte   // error code (ReplyError)
}

// Err is the error an error reply means, nil for other replies.
func (r Reply) Err() error {
	if r.Kind != ReplyError {
		return nil
	}
	return codeError(r.Code)
}

// ParseReply parses one framed message (header..FF) from a camera.
func ParseReply(p []byte) (Reply, error) {
	if len(p) < 3 || len(p) > maxPacket {
		return Reply{}, fmt.Errorf("parse reply: length %d is not 3–16", len(p))
	}
	if p[len(p)-1] != terminator {
		return Reply{}, errors.New("parse reply: no terminator")
	}
	h := p[0]
	if h&0x80 == 0 || h == terminator {
		return Reply{}, fmt.Errorf("parse reply: 0x%02x is not a header byte", h)
	}
	body := p[1 : len(p)-1]
	for _, b := range body {
		if b&0x80 != 0 {
			return Reply{}, fmt.Errorf("parse reply: data byte 0x%02x has bit 7 set", b)
		}
	}
	if h == 0x88 { // broadcast: address set and IF_Clear pass around the daisy chain
		switch {
		case len(body) == 2 && body[0] == 0x30 && body[1] >= 1 && body[1] <= 8:
			return Reply{From: 8, Kind: ReplyAddress, Data: []byte{body[1]}}, nil
		case len(body) == 3 && body[0] == 0x01 && body[1] == 0x00 && body[2] == 0x01:
			return Reply{From: 8, Kind: ReplyIFClear}, nil
		}
		return Reply{}, fmt.Errorf("parse reply: unknown broadcast % x", p)
	}
	from := int(h>>4) & 7
	if from == 0 || h&0x0F != 0 {
		return Reply{}, fmt.Errorf("parse reply: header 0x%02x is not from a camera to the controller", h)
	}
	r := Reply{From: from, Socket: int(body[0] & 0x0F)}
	switch body[0] & 0xF0 {
	case 0x40:
		if len(body) != 1 {
			return Reply{}, fmt.Errorf("parse reply: ack with %d extra bytes", len(body)-1)
		}
		r.Kind = ReplyAck
	case 0x50:
		r.Kind = ReplyCompletion
		if len(body) > 1 {
			r.Data = append([]byte(nil), body[1:]...)
		}
	case 0x60:
		if len(body) != 2 {
			return Reply{}, fmt.Errorf("parse reply: error reply with %d bytes, want 2", len(body))
		}
		r.Kind = ReplyError
		r.Code = body[1]
	case 0x30:
		if body[0] != 0x38 || len(body) != 1 {
			return Reply{}, fmt.Errorf("parse reply: unknown message % x", p)
		}
		r.Kind, r.Socket = ReplyNetworkChange, 0
	default:
		return Reply{}, fmt.Errorf("parse reply: unknown message type 0x%02x", body[0])
	}
	return r, nil
}

// encode renders r back to the wire (the fake's replies; the fuzz round trip).
func (r Reply) encode() []byte {
	if r.From == 8 {
		switch r.Kind {
		case ReplyAddress:
			return []byte{0x88, 0x30, r.Data[0], terminator}
		case ReplyIFClear:
			return []byte{0x88, 0x01, 0x00, 0x01, terminator}
		}
	}
	h := byte(0x80 | (r.From&7)<<4)
	s := byte(r.Socket & 0x0F)
	switch r.Kind {
	case ReplyAck:
		return []byte{h, 0x40 | s, terminator}
	case ReplyCompletion:
		return append(append([]byte{h, 0x50 | s}, r.Data...), terminator)
	case ReplyError:
		return []byte{h, 0x60 | s, r.Code, terminator}
	case ReplyNetworkChange:
		return []byte{h, 0x38, terminator}
	}
	return nil
}
