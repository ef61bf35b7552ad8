//go:build !cgo

package roomd

import (
	"log/slog"
)

// CallJoiner is nil without cgo: the call's codecs need it, so such a roomd pairs and is
// controlled but refuses join.
func CallJoiner(*Agent, any, *slog.Logger) Joiner { return nil }
