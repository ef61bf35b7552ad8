// Package media is the room's media pipeline below WebRTC: VP8 (libvpx) video encode and
// decode, H.264 (x264) video encode, Opus audio encode and decode, acoustic echo cancellation (speexdsp), and the small
// pure-Go pieces around them (I420 scaling and conversion, mixing, gain, and the measurements
// tests use: dominant frequency, power, ERLE).
//
// The codecs are thin cgo wrappers written here rather than pion/mediadevices' codec packages:
// firmware needs per-frame control (force a keyframe on PLI, change the bitrate when the
// router's estimate moves, encode exactly the frame it captured) and mediadevices hides the
// encoder behind its pull-based Reader pipeline. The wrappers also make the link mode ours:
// by default cgo links the shared libraries through pkg-config; the build tag static_codecs
// links libvpx.a, libopus.a, libspeexdsp.a and libx264.a instead, so the appliance image's roomd needs
// only glibc.
package media
