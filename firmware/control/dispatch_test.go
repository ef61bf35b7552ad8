package control

import (
	"context"
	"strings"
	"testing"
)

// testDispatcher registers the standard specs with handlers that record the arguments.
func testDispatcher(t testing.TB) (*Dispatcher, *[]Command) {
	t.Helper()
	d := NewDispatcher()
	var got []Command
	for name, spec := range Specs() {
		if err := d.Register(name, spec, func(_ context.Context, a Args) (any, error) {
			got = append(got, Command{Name: name, Args: a})
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return d, &got
}

func TestDispatcherValidates(t *testing.T) {
	tests := []struct {
		name    string
		cmd     Command
		wantErr string
	}{
		{"mic mute", Command{Name: "mic", Args: map[string]string{"action": "mute"}}, ""},
		{"volume number", Command{Name: "volume", Args: map[string]string{"level": "100"}}, ""},
		{"volume up", Command{Name: "volume", Args: map[string]string{"level": "up"}}, ""},
		{"volume too loud", Command{Name: "volume", Args: map[string]string{"level": "101"}}, `volume: argument level: "101" is not valid (up, down, 0..100)`},
		{"mic missing", Command{Name: "mic"}, "mic: argument action is required (mute, unmute, toggle)"},
		{"mic bad", Command{Name: "mic", Args: map[string]string{"action": "loud"}}, `argument action: "loud" is not valid`},
		{"unknown command", Command{Name: "reboot"}, `unknown command "reboot"`},
		{"unknown arg", Command{Name: "leave", Args: map[string]string{"now": "1"}}, `leave: unknown argument "now"`},
		{"join default", Command{Name: "join"}, ""},
		{"join pin", Command{Name: "join", Args: map[string]string{"meeting_id": "weekly-sync", "pin": "1234"}}, ""},
		{"join bad pin", Command{Name: "join", Args: map[string]string{"meeting_id": "x", "pin": "12a"}}, `argument pin: "12a" is not valid (digits)`},
		{"preset", Command{Name: "preset", Args: map[string]string{"action": "recall", "n": "3"}}, ""},
		{"preset range", Command{Name: "preset", Args: map[string]string{"action": "recall", "n": "128"}}, `argument n: "128" is not valid (0..127)`},
		{"ptz speed", Command{Name: "ptz", Args: map[string]string{"action": "pan", "speed": "-5"}}, ""},
		{"control chars", Command{Name: "mic\x00", Args: nil}, `unknown command "mic?"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, got := testDispatcher(t)
			r := d.Dispatch(context.Background(), tc.cmd)
			if tc.wantErr != "" {
				if r.OK || !strings.Contains(r.Error, tc.wantErr) {
					t.Fatalf("reply %+v, want error containing %q", r, tc.wantErr)
				}
				if len(*got) != 0 {
					t.Fatalf("handler ran for a refused command: %+v", *got)
				}
				return
			}
			if !r.OK || len(*got) != 1 || (*got)[0].Name != tc.cmd.Name {
				t.Fatalf("reply %+v, handled %+v", r, *got)
			}
		})
	}
}

func TestDispatcherRegisterRefuses(t *testing.T) {
	d := NewDispatcher()
	h := func(context.Context, Args) (any, error) { return nil, nil }
	if err := d.Register("mic", Spec{}, h); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cmd  string
		spec Spec
		h    Handler
	}{
		"duplicate":   {"mic", Spec{}, h},
		"bad name":    {"Mic!", Spec{}, h},
		"nil handler": {"x", Spec{}, nil},
		"repeat arg":  {"y", Spec{Args: []Arg{{Name: "a"}, {Name: "a"}}}, h},
		"after":       {"z", Spec{Args: []Arg{{Name: "a"}}, After: map[string][]string{"go": {"b"}}}, h},
	} {
		t.Run(name, func(t *testing.T) {
			if err := d.Register(tc.cmd, tc.spec, tc.h); err == nil {
				t.Fatal("registered")
			}
		})
	}
}

func TestFromWords(t *testing.T) {
	tests := []struct {
		line    string
		want    map[string]string
		wantErr string
	}{
		{"mic mute", map[string]string{"action": "mute"}, ""},
		{"ptz pan -3", map[string]string{"action": "pan", "speed": "-3"}, ""},
		{"ptz goto 10 -20 300", map[string]string{"action": "goto", "pan": "10", "tilt": "-20", "zoom": "300"}, ""},
		{"join weekly 1234", map[string]string{"meeting_id": "weekly", "pin": "1234"}, ""},
		{"join pin=1234 meeting_id=weekly", map[string]string{"meeting_id": "weekly", "pin": "1234"}, ""},
		{"leave", nil, ""},
		{"leave now", nil, `leave: unexpected argument "now"`},
		{"mic mute action=unmute", nil, "given twice"},
		{"dance", nil, `unknown command "dance"`},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			c, err := FromWords(SpecLookup(), strings.Fields(tc.line))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(c.Args) != len(tc.want) {
				t.Fatalf("%+v %v; want %v", c, err, tc.want)
			}
			for k, v := range tc.want {
				if c.Args[k] != v {
					t.Fatalf("%s = %q, want %q", k, c.Args[k], v)
				}
			}
		})
	}
}

func TestDecodeCommand(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{`{"id":"1","name":"mic","args":{"action":"mute"}}`, ""},
		{`{"name":"leave"}`, ""},
		{`{"name":"leave","x":1}`, "unknown field"},
		{`{"name":"leave"} {}`, "trailing data"},
		{`{"args":{}}`, "name is required"},
		{`{"name":"mic","args":{"action":1}}`, "cannot unmarshal"},
		{`[`, "unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := DecodeCommand([]byte(tc.in))
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
