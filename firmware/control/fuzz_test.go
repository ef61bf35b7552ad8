package control

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseLine: any line parses or is refused; a parsed line's command either validates or
// is refused with a one-line error, and never reaches a handler with invalid arguments.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"mic mute", "volume 101", "ptz goto 1 2 3", "get audio.mic_muted",
		"login admin secret", "join a=b=c", "\x00\xff", "preset recall 3 4", strings.Repeat("a ", 200)} {
		f.Add(s)
	}
	d, _ := testDispatcher(f)
	f.Fuzz(func(t *testing.T, line string) {
		words, err := ParseLine(line)
		if err != nil {
			return
		}
		c, err := FromWords(d.Spec, words)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		r := d.Dispatch(context.Background(), c)
		if !r.OK && strings.ContainsAny(r.Error, "\r\n") {
			t.Fatalf("multi-line error %q", r.Error)
		}
		if r.OK {
			if err := d.Validate(c); err != nil {
				t.Fatalf("dispatched an invalid command %+v: %v", c, err)
			}
		}
	})
}

// FuzzDecodeCommand: the JSON decoder refuses or returns a command that round-trips.
func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{`{"name":"mic","args":{"action":"mute"}}`, `{"id":"x","name":"leave"}`,
		`{"name":""}`, `{"name":"a","args":{"b":"c"}} x`, `null`, `{"name":"\u0000"}`} {
		f.Add([]byte(s))
	}
	d, _ := testDispatcher(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err != nil {
			return
		}
		if c.Name == "" {
			t.Fatal("decoded a command without a name")
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeCommand(again); err != nil && len(again) <= MaxCommandSize {
			t.Fatalf("re-decode %s: %v", again, err)
		}
		_ = d.Dispatch(context.Background(), c)
	})
}

// FuzzParseHash: stored credentials from a config file parse or are refused, never panic,
// and never ask for out-of-range work.
func FuzzParseHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	f.Add("$argon2i$v=19$m=19456,t=2,p=1$x$y")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHash(s)
		if err != nil {
			return
		}
		if h.memory > 256*1024 || h.time > 10 || h.threads > 16 || len(h.key) < 16 {
			t.Fatalf("accepted out-of-range hash %q: %+v", s, h)
		}
	})
}
