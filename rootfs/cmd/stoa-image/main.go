// Command stoa-image builds the room appliance image: make image BOARD=<board>.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/stoa-rooms/stoa/rootfs/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, bundle, err := parse(os.Args[1:], os.Stderr)
	if err == nil {
		cfg.Out = os.Stdout
		if bundle {
			_, err = image.BuildBundle(ctx, cfg)
		} else {
			_, err = image.Run(ctx, cfg)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stoa-image:", err)
		os.Exit(1)
	}
}

func parse(args []string, stderr io.Writer) (image.Config, bool, error) {
	fs := flag.NewFlagSet("stoa-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c image.Config
	fs.StringVar(&c.Board, "board", "qemu-x86_64", "board to build for ("+strings.Join(image.BoardNames(), ", ")+")")
	fs.StringVar(&c.Version, "version", "dev", "image version (file name, /etc/stoa-release, roomd --firmware)")
	fs.StringVar(&c.OutDir, "out", "out", "output directory")
	fs.StringVar(&c.CacheDir, "cache", image.DefaultCacheDir(), "cache directory for base root file systems")
	fs.StringVar(&c.Mirror, "mirror", image.DefaultMirror, "Debian mirror")
	fs.StringVar(&c.SiteConfig, "config", "", "site configuration (stoa-config.json) baked into the data partition")
	fs.StringVar(&c.Roomd, "roomd", "", "prebuilt roomd binary (default: build ./firmware/cmd/roomd with cgo and static_codecs)")
	fs.StringVar(&c.RoomdBoard, "roomd-board", "", "roomd --board in the image (default: the board; sim runs without hardware drivers)")
	fs.BoolVar(&c.Quick, "quick", false, "no .img.zst copy and no SHA256SUMS (test builds)")
	fs.StringVar(&c.UpdateKey, "update-key", "", "Ed25519 key signing update bundles, made when missing (default: <cache>/update-signing.key); images trust its public half")
	bundle := fs.Bool("bundle", false, "build a signed A/B update bundle (out/stoa-room-<board>-<version>.bundle) instead of an image")
	if err := fs.Parse(args); err != nil {
		return image.Config{}, false, fmt.Errorf("parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return image.Config{}, false, fmt.Errorf("parse flags: unexpected argument %q", fs.Arg(0))
	}
	return c, *bundle, nil
}
