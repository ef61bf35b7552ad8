package sim

import (
	"errors"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

func TestNewFillsEveryDevice(t *testing.T) {
	b, hw := simBoard(t, nil)
	if b.Camera == nil || b.Microphone == nil || b.Speaker == nil || b.Display == nil || b.GPIO == nil ||
		b.Serial == nil || b.Light == nil || b.CEC == nil {
		t.Fatalf("sim board lacks a device: %+v", b)
	}
	if hw.Camera == nil || hw.Air == nil || hw.Display == nil || hw.GPIO == nil || hw.Serial == nil || hw.Light == nil || hw.CEC == nil {
		t.Fatalf("Devices lacks a device: %+v", hw)
	}
	if w, h := b.Display.Size(); w != 1280 || h != 720 {
		t.Fatalf("display %dx%d", w, h)
	}
	def := b.Def
	def.Driver = "linux"
	if _, err := New(def); err == nil {
		t.Fatal("New accepted a linux definition")
	}
	bare := board.Definition{Name: "bare", Driver: "sim"}
	nb, err := New(bare)
	if err != nil {
		t.Fatal(err)
	}
	if nb.Camera != nil || nb.GPIO != nil || Devices(nb).Camera != nil {
		t.Fatal("devices the definition does not name were made")
	}
}

func TestLightSensor(t *testing.T) {
	clk := NewManualClock(time.Unix(500, 0))
	b, hw := simBoard(t, clk)
	yes := true
	tests := []struct {
		name     string
		lux      float64
		presence *bool
		ok       bool
	}{
		{"lux only", 120.5, nil, true},
		{"with presence", 80, &yes, true},
		{"negative", -1, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := b.Light.Read()
			err := hw.Light.Set(tc.lux, tc.presence)
			if (err == nil) != tc.ok {
				t.Fatalf("Set = %v", err)
			}
			r, err := b.Light.Read()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				if r.Lux != before.Lux {
					t.Fatal("a refused setting changed the reading")
				}
				return
			}
			if r.Lux != tc.lux || (r.Presence == nil) != (tc.presence == nil) || !r.Time.Equal(clk.Now()) {
				t.Fatalf("Read = %+v", r)
			}
		})
	}
	hw.Light.Fail(errors.New("nak"))
	if _, err := b.Light.Read(); err == nil {
		t.Fatal("failed sensor read fine")
	}
}

func TestCECRecords(t *testing.T) {
	b, hw := simBoard(t, nil)
	b.CEC.PowerOn()
	b.CEC.Standby()
	b.CEC.PowerOn()
	if got := hw.CEC.Calls(); len(got) != 3 || got[0] != "power_on" || got[1] != "standby" || !hw.CEC.On() {
		t.Fatalf("Calls() = %v, On %v", got, hw.CEC.On())
	}
	hw.CEC.Fail(errors.New("no ack"))
	if b.CEC.Standby() == nil || len(hw.CEC.Calls()) != 3 {
		t.Fatal("failed call recorded or not reported")
	}
}
