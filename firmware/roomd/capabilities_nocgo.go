//go:build !cgo

package roomd

// capabilities is empty without cgo: such a roomd makes no calls (calljoin_nocgo.go), so it
// claims no end-to-end encryption either.
func capabilities() []string { return nil }
