//go:build static_codecs

package media

// The appliance image links the codecs statically: roomd then needs only glibc at run time.
// The headers still come from the -dev packages (pkg-config's cflags are empty on Debian).

// #cgo LDFLAGS: -l:libvpx.a -l:libopus.a -l:libspeexdsp.a -l:libx264.a -lm -lpthread -ldl
import "C"
