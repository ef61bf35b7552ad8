package sim

import (
	"bufio"
	"errors"
	"io"
	"testing"
	"time"
)

func TestSerialPipes(t *testing.T) {
	b, hw := simBoard(t, nil)
	peer := hw.SerialPeer("visca")
	if peer == nil || hw.SerialPeer("nope") != nil {
		t.Fatal("SerialPeer: want a peer for visca only")
	}
	peer.Write([]byte("stale"))
	dev, err := b.Serial.OpenSerial("visca")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Serial.OpenSerial("visca"); err == nil {
		t.Fatal("second open succeeded")
	}
	if _, err := b.Serial.OpenSerial("printer"); err == nil {
		t.Fatal("unknown port opened")
	}
	tests := []struct {
		name     string
		from, to io.ReadWriter
		msg      string
	}{
		{"device to peer", dev, peer, "\x81\x01\x06\x01\x18\x14\x01\x03\xff"},
		{"peer to device", peer, dev, "\x90\x41\xff\x90\x51\xff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.from.Write([]byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(tc.msg))
			if _, err := io.ReadFull(tc.to, got); err != nil || string(got) != tc.msg {
				t.Fatalf("read %q, %v; want %q (stale bytes before open must be gone)", got, err, tc.msg)
			}
		})
	}
	t.Run("close wakes a blocked read", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := dev.Read(make([]byte, 1))
			done <- err
		}()
		time.Sleep(5 * time.Millisecond) // let Read block (a missed wake-up would hang below)
		dev.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("Read returned no error after Close")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Read still blocked after Close")
		}
	})
	t.Run("reopen and hang up", func(t *testing.T) {
		dev, err := b.Serial.OpenSerial("visca")
		if err != nil {
			t.Fatal(err)
		}
		peer.Write([]byte("line\r\n"))
		peer.Close()
		r := bufio.NewReader(dev)
		if l, err := r.ReadString('\n'); err != nil || l != "line\r\n" {
			t.Fatalf("ReadString = %q, %v", l, err)
		}
		if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("after hang-up: %v, want EOF", err)
		}
		if _, err := dev.Write([]byte("x")); err == nil {
			t.Fatal("write after hang-up succeeded")
		}
	})
}
