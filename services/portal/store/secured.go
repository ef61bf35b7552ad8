package store

import (
	"context"
	"time"
)

// SecuredOption is the Secured option's persisted state: whether it is on and who changed it
// last, when (the audit log keeps the whole history).
type SecuredOption struct {
	Enabled   bool
	ChangedBy string
	ChangedAt time.Time
}

// SecuredStore keeps the Secured option.
type SecuredStore interface {
	// SecuredOption returns the option's state; the zero value (off) when it was never changed.
	SecuredOption(ctx context.Context) (SecuredOption, error)
	// SetSecuredOption records a change.
	SetSecuredOption(ctx context.Context, o SecuredOption) error
}
