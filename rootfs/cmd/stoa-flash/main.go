// Command stoa-flash writes a room image to a removable disk: make flash DEV=/dev/sdX.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/flash"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "stoa-flash:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stoa-flash", flag.ContinueOnError)
	img := fs.String("image", "", "image to write (.img or .img.zst)")
	dev := fs.String("dev", "", "whole disk to overwrite, /dev/sdX")
	force := fs.Bool("force", false, "allow a non-removable or larger-than-limit disk (never a mounted one)")
	maxGiB := fs.Int64("max-gib", flash.DefaultMaxBytes>>30, "largest disk written without --force")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	if *img == "" || *dev == "" {
		return fmt.Errorf("--image and --dev are required (make flash DEV=/dev/sdX)")
	}
	d, err := flash.Check(*dev, flash.CheckOptions{Force: *force, MaxBytes: *maxGiB << 30})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "stoa-flash: writing %s to %s (%d GiB, removable %v)\n", *img, d.Path, d.Bytes>>30, d.Removable)
	return flash.Write(ctx, *img, d.Path, os.Stderr, time.Now)
}
