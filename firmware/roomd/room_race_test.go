package roomd

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/firmware/control"
)

// The local API takes commands as soon as roomd listens, while Run is still opening the LEDs
// and the camera head: commands racing Run's start must neither race on the devices (the
// race detector watches) nor leave the mute LED out of step with the status.
func TestCommandsDuringRunStart(t *testing.T) {
	for i := 0; i < 5; i++ {
		r := newSimRoom(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan struct{})
		cmdsDone := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(ctx, func() { close(ready) }) }()
		go func() {
			defer close(cmdsDone)
			for n := 0; n < 40; n++ { // the last one mutes
				action := map[bool]string{true: "mute", false: "unmute"}[n%2 == 1]
				r.Dispatcher().Dispatch(ctx, control.Command{Name: "mic", Args: control.Args{"action": action}})
				r.Dispatcher().Dispatch(ctx, control.Command{Name: "preset", Args: control.Args{"n": "1"}})
			}
		}()
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatal("room not ready within 10 s")
		}
		<-cmdsDone
		// After the last command the LED shows what the status says: muted.
		if muted, on := r.Hub().Status().Audio.MicMuted, r.hw.GPIO.OutputValue(LineMuteLED); !muted || !on {
			t.Fatalf("after the last mute: status mic_muted %v, mute LED %v", muted, on)
		}
		cancel()
		wg.Wait()
	}
}
