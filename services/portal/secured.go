package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/auth"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// securedOption is the Secured option (issue 8) as the portal runs it: its persisted state,
// what the rooms declared they can do, and the hooks that apply a change to running
// listeners without a restart.
type securedOption struct {
	s  *Server
	on atomic.Bool // read on every plain-HTTP request and TLS handshake

	mu    sync.Mutex // guards state and caps, and serialises changes
	state store.SecuredOption
	caps  map[string]roomCaps // room ID → what its latest poll declared
	// changed are called (outside mu) after every change, with the new value.
	changed []func(on bool)
}

// roomCaps is what a room declared in its latest management poll.
type roomCaps struct {
	firmware string
	caps     []string
}

// newSecuredOption loads the persisted state.
func newSecuredOption(ctx context.Context, s *Server) (*securedOption, error) {
	st, err := s.store.SecuredOption(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the Secured option: %w", err)
	}
	o := &securedOption{s: s, state: st, caps: map[string]roomCaps{}}
	o.on.Store(st.Enabled)
	return o, nil
}

// On reports whether the Secured option is on now.
func (o *securedOption) On() bool { return o.on.Load() }

// onChange registers f to be told of every change (for example to end calls in progress).
func (o *securedOption) onChange(f func(on bool)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.changed = append(o.changed, f)
}

// recordRoom keeps what a room declared in a poll.
func (o *securedOption) recordRoom(id, firmware string, caps []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.caps[id] = roomCaps{firmware: firmware, caps: slices.Clone(caps)}
}

// errNotLicensed refuses turning the option on without the licence option.
var errNotLicensed = errors.New(api.ErrSecuredNotLicensed)

// state answers GET /api/v1/security/secured: the option, whether the licence includes it,
// and what is not ready.
func (o *securedOption) stateNow(ctx context.Context) (api.SecuredState, error) {
	o.mu.Lock()
	st := o.state
	o.mu.Unlock()
	out := api.SecuredState{Enabled: st.Enabled, ChangedBy: st.ChangedBy, ChangedAt: st.ChangedAt}
	licensed, err := o.s.securedLicensed(ctx)
	out.Licensed = licensed
	if err != nil {
		out.LicenceError = err.Error()
	}
	out.NotReady, err = o.readiness(ctx)
	if err != nil {
		return api.SecuredState{}, err
	}
	return out, nil
}

// readiness lists the components and rooms that cannot take part in a secured system.
func (o *securedOption) readiness(ctx context.Context) ([]api.SecuredBlocker, error) {
	out := []api.SecuredBlocker{}
	comps, err := o.s.store.ListComponents(ctx)
	if err != nil {
		return nil, fmt.Errorf("secured readiness: %w", err)
	}
	now := o.s.now()
	window := 3 * o.s.comps.HeartbeatInterval
	for _, c := range comps {
		var reason string
		switch {
		case c.LastHeartbeat.IsZero() || c.Address == "":
			reason = "has never reported over mutual TLS since it joined"
		case now.Sub(c.LastHeartbeat) > window:
			reason = fmt.Sprintf("offline since %s: cannot confirm it uses mutual TLS", c.LastHeartbeat.UTC().Format(time.RFC3339))
		case !c.CertNotAfter.IsZero() && !now.Before(c.CertNotAfter):
			reason = "its mutual-TLS certificate expired on " + c.CertNotAfter.UTC().Format(time.RFC3339)
		}
		if reason != "" {
			out = append(out, api.SecuredBlocker{Kind: "component", ID: c.ID, Name: c.Kind + " " + c.FQDN, Reason: reason})
		}
	}
	rooms, err := o.s.rooms.Rooms(ctx)
	if err != nil {
		return nil, fmt.Errorf("secured readiness: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range rooms {
		rc, seen := o.caps[r.ID]
		var reason string
		switch {
		case !seen && r.Firmware != "":
			reason = fmt.Sprintf("firmware %s has not declared its capabilities since the portal started (room offline?)", r.Firmware)
		case !seen:
			reason = "has not reported since the portal started (room offline?)"
		case !slices.Contains(rc.caps, api.CapabilityE2EE):
			reason = fmt.Sprintf("firmware %s does not declare the %q capability (end-to-end encrypted media)", cmpOr(rc.firmware, r.Firmware), api.CapabilityE2EE)
		}
		if reason != "" {
			out = append(out, api.SecuredBlocker{Kind: "room", ID: r.ID, Name: r.Name, Reason: reason})
		}
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// set turns the option on or off for actor. Turning it on needs the licence option; confirm
// is the super admin's answer to the list of what is not ready.
func (o *securedOption) set(ctx context.Context, on bool, actor string) (changed bool, err error) {
	if on {
		licensed, err := o.s.securedLicensed(ctx)
		if err != nil {
			return false, err
		}
		if !licensed {
			return false, errNotLicensed
		}
	}
	o.mu.Lock()
	if o.state.Enabled == on {
		o.mu.Unlock()
		return false, nil
	}
	next := store.SecuredOption{Enabled: on, ChangedBy: actor, ChangedAt: o.s.now().UTC()}
	if err := o.s.store.SetSecuredOption(ctx, next); err != nil {
		o.mu.Unlock()
		return false, fmt.Errorf("change the Secured option: %w", err)
	}
	o.state = next
	o.on.Store(on)
	hooks := slices.Clone(o.changed)
	o.mu.Unlock()
	for _, f := range hooks {
		f(on)
	}
	return true, nil
}

func (s *Server) handleSecuredGet(w http.ResponseWriter, r *http.Request) {
	st, err := s.secured.stateNow(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// handleSecuredPut is PUT /api/v1/security/secured.
func (s *Server) handleSecuredPut(w http.ResponseWriter, r *http.Request) {
	var req api.SecuredChange
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", err.Error())
		return
	}
	ctx := r.Context()
	if req.Enabled && !s.secured.On() {
		licensed, err := s.securedLicensed(ctx)
		switch {
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "secured.licence_unknown", "cannot confirm the licence: "+err.Error())
			return
		case !licensed:
			writeError(w, http.StatusForbidden, "secured.not_licensed", api.ErrSecuredNotLicensed)
			return
		}
		if !req.Confirm {
			st, err := s.secured.stateNow(ctx)
			if err != nil {
				writeError(w, http.StatusInternalServerError, "internal", err.Error())
				return
			}
			writeError(w, http.StatusConflict, "secured.confirm", confirmMessage(st.NotReady))
			return
		}
	}
	actor := "superadmin"
	if u, ok := auth.UserFrom(ctx); ok {
		actor = u.Name
	}
	changed, err := s.secured.set(ctx, req.Enabled, actor)
	switch {
	case errors.Is(err, errNotLicensed):
		writeError(w, http.StatusForbidden, "secured.not_licensed", api.ErrSecuredNotLicensed)
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "secured.licence_unknown", err.Error())
		return
	}
	if changed {
		action := "secured.off"
		if req.Enabled {
			action = "secured.on"
		}
		nr, _ := s.secured.readiness(ctx)
		s.auth.Audit(r, action, fmt.Sprintf("not_ready=%d", len(nr)))
		s.log.Warn("Secured option changed", "enabled", req.Enabled, "by", actor, "not_ready", len(nr))
	}
	s.handleSecuredGet(w, r)
}

// confirmMessage is what the super admin confirms before the option goes on.
func confirmMessage(nr []api.SecuredBlocker) string {
	if len(nr) == 0 {
		return "Confirm turning the Secured option on: every component and room is ready; calls in progress will rejoin under the new policy."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Confirm turning the Secured option on: %d not ready (they will be refused): ", len(nr))
	for i, x := range nr {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s: %s", x.Kind, cmpOr(x.Name, x.ID), x.Reason)
	}
	return b.String()
}
