package auth

import (
	"context"
	"net/http"
	"strings"
	"unicode"

	"github.com/stoa-rooms/stoa/services/portal/store"
)

// maxAuditField bounds one audit field; details are short sentences.
const maxAuditField = 1024

// CleanAuditText makes s safe to keep in the audit log: valid UTF-8, no control characters,
// line or paragraph separators or bidi overrides (any of which could forge or disguise a log
// line), and at most maxAuditField bytes. HTML escaping is left to the page that shows it.
func CleanAuditText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r), r == '\u2028', r == '\u2029', unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
	if len(s) > maxAuditField {
		s = strings.ToValidUTF8(s[:maxAuditField], "")
	}
	return s
}

// Audit records action by the request's user (or "anonymous") from its remote address.
func (m *Manager) Audit(r *http.Request, action, detail string) {
	actor := "anonymous"
	if u, ok := UserFrom(r.Context()); ok {
		actor = u.Name
	}
	m.audit(r.Context(), actor, action, detail, r.RemoteAddr)
}

// AuditSystem records an action taken by the portal itself.
func (m *Manager) AuditSystem(ctx context.Context, action, detail string) {
	m.audit(ctx, "system", action, detail, "")
}

func (m *Manager) audit(ctx context.Context, actor, action, detail, remote string) {
	e := store.AuditEntry{
		At:     m.cfg.Now().UTC(),
		Actor:  CleanAuditText(actor),
		Action: CleanAuditText(action),
		Detail: CleanAuditText(detail),
		Remote: CleanAuditText(remote),
	}
	// The request may already be cancelled (client gone); the record must still be written.
	if err := m.st.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		m.log.Error("append audit", "action", e.Action, "actor", e.Actor, "err", err)
	}
}
