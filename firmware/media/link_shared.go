//go:build !static_codecs

package media

// #cgo pkg-config: vpx opus speexdsp x264
import "C"
