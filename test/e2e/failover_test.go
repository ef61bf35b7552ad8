package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	testmedia "github.com/stoa-rooms/stoa/test/media"
	"github.com/stoa-rooms/stoa/test/participant"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// failoverBudget is the acceptance criterion: after the router under a meeting dies, media
// from every other participant resumes within this long.
const failoverBudget = 5 * time.Second

// TestRouterFailover kills (SIGKILL) the router process hosting a meeting of three synthetic
// participants. They notice the signaling drop, rejoin through the portal, the manager re-places
// the meeting on the surviving router once the dead one stays silent, and every participant
// decodes new frames from every other within failoverBudget of the kill.
func TestRouterFailover(t *testing.T) {
	conf := foStart(t, 2)
	meeting := conf.meeting(t, "failover")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	names := []string{"ada", "bo", "cy"}
	placed := &foRouterLog{}
	kept := map[string]*participant.Kept{}
	for _, name := range names {
		// One user each: people join from their own accounts.
		sess := conf.user(t, name)
		k, err := participant.Keep(ctx, conf.joinFunc(sess, meeting, name, placed), participant.KeepOptions{
			Options: participant.Options{Media: conf.media, Log: log.With("who", name)}, Backoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})
		if err != nil {
			t.Fatalf("%s joins: %v", name, err)
		}
		t.Cleanup(func() { k.Close() })
		kept[name] = k
	}
	for name, k := range kept {
		if err := k.Current().WaitMedia(ctx, len(names)-1, 5, 25); err != nil {
			t.Fatalf("%s before the failure: %v", name, err)
		}
	}
	hostID := placed.last()
	host, ok := conf.routers[hostID]
	if !ok {
		t.Fatalf("meeting placed on %q, not one of the routers %v", hostID, conf.routers)
	}
	var survivor string
	for id := range conf.routers {
		if id != hostID {
			survivor = id
		}
	}

	killed := time.Now()
	host.Kill(t)
	t.Logf("killed router %s (hosting the meeting); %s survives", hostID, survivor)

	t.Cleanup(func() {
		if t.Failed() {
			for name, k := range kept {
				t.Logf("%s: ids %v, rejoins %v, last rejoin error: %v", name, k.IDs(), k.Rejoins(), k.LastError())
			}
			t.Logf("manager output:\n%s", conf.manager.Stdout)
		}
	})
	// Every participant must see every other again, from sessions that started after the kill.
	resumed := map[string]time.Duration{}
	foWaitFor(t, "media resumes between every pair", 30*time.Second, func() bool {
		for _, name := range names {
			since := kept[name].ResumedSince(killed)
			for _, other := range names {
				if other == name {
					continue
				}
				at, ok := since[other]
				if !ok {
					return false
				}
				resumed[name+"←"+other] = at.Sub(killed)
			}
		}
		return true
	})
	var worst time.Duration
	for pair, d := range resumed {
		t.Logf("media %s resumed %v after the kill", pair, d.Round(time.Millisecond))
		worst = max(worst, d)
	}
	t.Logf("failover: media between all %d participants resumed within %v of SIGKILL", len(names), worst.Round(time.Millisecond))
	if worst > failoverBudget {
		t.Errorf("media resumed %v after the router died, want ≤ %v", worst.Round(time.Millisecond), failoverBudget)
	}
	if got := placed.last(); got != survivor {
		t.Errorf("after the failure the meeting is on %q, want the surviving router %q", got, survivor)
	}
	for name, k := range kept {
		rj := k.Rejoins()
		if len(rj) != 1 {
			t.Errorf("%s rejoined %d times, want 1 (ids %v)", name, len(rj), k.IDs())
		} else {
			t.Logf("%s rejoined %v after the kill (last failed attempt: %v)", name, rj[0].Sub(killed).Round(time.Millisecond), k.LastError())
		}
		// Frames keep coming on the new router, not just a first one.
		if err := k.Current().WaitMedia(ctx, len(names)-1, 10, 50); err != nil {
			t.Errorf("%s after the failover: %v", name, err)
		}
		by := k.Report().ByName()
		for _, other := range names {
			if other != name && by[other].Backwards != 0 {
				t.Errorf("%s saw %s's frames go backwards %d times", name, other, by[other].Backwards)
			}
		}
		t.Logf("%s: %s", name, fmt.Sprint(summaryByName(by)))
	}
}

func summaryByName(by map[string]participant.RemoteReport) map[string]string {
	out := map[string]string{}
	for n, rr := range by {
		out[n] = fmt.Sprintf("decoded=%d audio=%d", rr.Decoded, rr.AudioPackets)
	}
	return out
}

// foConference is a site run as separate processes: a portal, a manager and routers, each
// component joined with a token minted through the portal's API.
type foConference struct {
	portal  *stoatest.Stack
	manager *stoatest.Stack
	routers map[string]*stoatest.Stack // by component ID
	admin   *stoatest.Session
	tls     *tls.Config // trusts the portal's (self-signed) certificate for wss://localhost
	media   *testmedia.Set
}

// foStart starts the processes and waits until the manager has heard from every router.
func foStart(t *testing.T, routers int) *foConference {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	set, err := testmedia.Load(ctx, testmedia.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	// Two routers need two FQDNs (one component per kind and FQDN), and the portal dials
	// routers by FQDN: it alone gets a private /etc/hosts naming them on loopback, through a
	// mount namespace (unshare(1)); the machine's own file is untouched.
	hosts := filepath.Join(t.TempDir(), "hosts")
	var names []string
	for i := range routers {
		names = append(names, foRouterFQDN(i))
	}
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n::1 localhost\n127.0.0.1 "+strings.Join(names, " ")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	portal := stoatest.Start(t, stoatest.Options{Role: "portal", Wrap: []string{
		"unshare", "--mount", "--propagation", "private", "--", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, hosts}})
	c := &foConference{portal: portal, routers: map[string]*stoatest.Stack{}, admin: portal.Login(t), media: set}

	conn, err := tls.Dial("tcp", portal.PortalHost, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // fetching the certificate to pin
	if err != nil {
		t.Fatal(err)
	}
	portalCert := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	caFile := filepath.Join(t.TempDir(), "portal-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: portalCert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(portalCert)
	c.tls = &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}

	startComponent := func(kind, fqdn string) *stoatest.Stack {
		var tok api.JoinTokenResponse
		if code, body, err := c.admin.Do("POST", "/api/v1/components/tokens", api.JoinTokenRequest{Kind: kind, FQDN: fqdn}, "", &tok); err != nil || code != 201 {
			t.Fatalf("create %s token: %d %s %v", kind, code, body, err)
		}
		return stoatest.Start(t, stoatest.Options{Role: kind, Args: []string{
			"--portal-url", portal.PortalURL, "--join-token", tok.Token, "--portal-ca", caFile, "--component-fqdn", fqdn}})
	}
	// The manager first: routers learn its URL from their first heartbeat to the portal.
	c.manager = startComponent("manager", "localhost")
	c.waitComponents(t, "manager", 1)
	var rs []*stoatest.Stack
	for i := range routers {
		rs = append(rs, startComponent("router", foRouterFQDN(i)))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, r := range rs {
				t.Logf("router %d output:\n%s", i, r.Stdout)
			}
		}
	})
	for _, comp := range c.waitComponents(t, "router", routers) {
		for i, r := range rs {
			if comp.FQDN == foRouterFQDN(i) {
				c.routers[comp.ID] = r
			}
		}
	}
	if len(c.routers) != routers {
		t.Fatalf("matched %d of %d routers to their processes", len(c.routers), routers)
	}
	// Each router heartbeats to the manager every second once it knows the manager.
	foWaitFor(t, "the manager hears from every router", 30*time.Second, func() bool {
		return strings.Count(c.manager.Stdout.String(), "router registered") >= routers
	})
	return c
}

// foRouterFQDN names router i (router-a.localhost, router-b.localhost, ...).
func foRouterFQDN(i int) string { return "router-" + string(rune('a'+i)) + ".localhost" }

// waitComponents polls the portal until n components of kind are online and returns them.
func (c *foConference) waitComponents(t *testing.T, kind string, n int) []api.Component {
	t.Helper()
	var online, all []api.Component
	defer func() {
		if t.Failed() {
			t.Logf("components: %+v", all)
		}
	}()
	foWaitFor(t, fmt.Sprintf("%d %s online at the portal", n, kind), 30*time.Second, func() bool {
		var comps []api.Component
		if code, _, err := c.admin.Do("GET", "/api/v1/components", nil, "", &comps); err != nil || code != 200 {
			return false
		}
		all = comps
		online = online[:0]
		for _, comp := range comps {
			if comp.Kind == kind && comp.Status == "online" {
				online = append(online, comp)
			}
		}
		return len(online) == n
	})
	return online
}

// user creates a portal user and signs them in.
func (c *foConference) user(t *testing.T, name string) *stoatest.Session {
	t.Helper()
	pw := "correct horse battery " + name
	if code, body, err := c.admin.Do("POST", "/api/v1/users", api.NewUser{Name: name, Role: "user", Password: pw}, "", nil); err != nil || code != 201 {
		t.Fatalf("create user %s: %d %s %v", name, code, body, err)
	}
	return stoatest.LoginAs(t, c.portal.PortalURL, c.portal.Client(), name, pw)
}

// meeting creates a meeting without PIN and returns its ID.
func (c *foConference) meeting(t *testing.T, name string) string {
	t.Helper()
	var m api.Meeting
	if code, body, err := c.admin.Do("POST", "/api/v1/meetings", api.NewMeeting{Name: name}, "", &m); err != nil || code != 201 {
		t.Fatalf("create meeting: %d %s %v", code, body, err)
	}
	return m.ID
}

// joinFunc joins meeting through the portal's API as sess, displayed as name, recording the
// router each admission placed it on.
func (c *foConference) joinFunc(sess *stoatest.Session, meeting, name string, placed *foRouterLog) participant.JoinFunc {
	return func(ctx context.Context) (rtcclient.Options, error) {
		var jr api.MeetingJoinResponse
		code, body, err := sess.Do(http.MethodPost, "/api/v1/meetings/"+meeting+"/join", api.MeetingJoinRequest{Name: name}, "", &jr)
		if err != nil {
			return rtcclient.Options{}, fmt.Errorf("join API: %w", err)
		}
		if code != http.StatusOK {
			return rtcclient.Options{}, fmt.Errorf("join API: HTTP %d %s", code, strings.TrimSpace(string(body)))
		}
		if placed != nil {
			placed.add(jr.RouterID)
		}
		return rtcclient.Options{SignalURL: jr.SignalURL, Token: jr.Token, TLS: c.tls, ICEServers: jr.ICEServers}, nil
	}
}

// foRouterLog records the routers join answers named, in order.
type foRouterLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *foRouterLog) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, id)
}

func (l *foRouterLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) == 0 {
		return ""
	}
	return l.ids[len(l.ids)-1]
}

// foWaitFor polls cond every 50 ms until it holds or d passes.
func foWaitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
