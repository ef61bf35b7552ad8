// Command codeccheck opens every codec of firmware/media and pushes one frame through each. The
// static link test builds it with -tags static_codecs and checks, with ldd, that it needs no
// codec shared library, then runs it.
package main

import (
	"fmt"
	"os"

	"github.com/stoa-rooms/stoa/firmware/media"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "codeccheck:", err)
		os.Exit(1)
	}
	fmt.Println("codeccheck: ok")
}

func run() error {
	enc, err := media.NewVideoEncoder(media.EncoderConfig{Codec: "vp8", Width: 64, Height: 48, FPS: 30, BitrateKbps: 100})
	if err != nil {
		return err
	}
	defer enc.Close()
	pkt, err := enc.Encode(media.NewFrame(64, 48), false)
	if err != nil {
		return err
	}
	dec, err := media.NewVideoDecoder("vp8")
	if err != nil {
		return err
	}
	defer dec.Close()
	if img, err := dec.Decode(pkt); err != nil || img == nil {
		return fmt.Errorf("vp8 decode: %v", err)
	}
	h264, err := media.NewVideoEncoder(media.EncoderConfig{Codec: "h264", Width: 64, Height: 48, FPS: 30, BitrateKbps: 100})
	if err != nil {
		return err
	}
	defer h264.Close()
	if au, err := h264.Encode(media.NewFrame(64, 48), true); err != nil || len(au) == 0 {
		return fmt.Errorf("h264 encode: %d bytes, %v", len(au), err)
	}
	oe, err := media.NewOpusEncoder(48000, 1, 32000)
	if err != nil {
		return err
	}
	defer oe.Close()
	op, err := oe.Encode(make([]int16, oe.FrameSamples()))
	if err != nil {
		return err
	}
	od, err := media.NewOpusDecoder(48000, 1)
	if err != nil {
		return err
	}
	defer od.Close()
	if _, err := od.Decode(op, make([]int16, od.MaxFrameSamples())); err != nil {
		return err
	}
	ec, err := media.NewEchoCanceller(48000, 480, 100)
	if err != nil {
		return err
	}
	defer ec.Close()
	buf := make([]int16, 480)
	return ec.Process(buf, buf, make([]int16, 480))
}
