package portal

import (
	"github.com/stoa-rooms/stoa/services/config"
	"github.com/stoa-rooms/stoa/services/portal/auth"
	"github.com/stoa-rooms/stoa/services/portal/updates"
)

// newUpdates builds Super Admin → Updates: bundles kept under the data directory, uploads
// bounded by portal.max_update_bytes.
func (s *Server) newUpdates(o Options) (*updates.Service, error) {
	max := o.Config.MaxUpdateBytes
	if max == 0 {
		max = config.DefaultMaxUpdateBytes
	}
	return updates.New(updates.Options{
		Store: s.store, DataDir: o.DataDir, MaxBytes: max, Now: o.Now, Log: o.Log.With("component", "updates"),
		Audit: s.auth.Audit,
		Actor: auth.UserName,
	})
}
