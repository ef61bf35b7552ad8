// Command stoa-server runs Stoa's server roles: portal, manager, router, proxy, or all of them in
// one process (the default, for small sites and development).
//
//	stoa-server [flags] [role]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/stoa-rooms/stoa/services/config"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stoa-server:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stoa-server:", err)
		os.Exit(1)
	}
}

// parseFlags builds the configuration: defaults, then the config file, then flags (and the
// STOA_DATA_DIR environment variable, which a flag overrides).
func parseFlags(args []string, getenv func(string) string) (config.Config, error) {
	fs := flag.NewFlagSet("stoa-server", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "JSON configuration file (unknown keys are errors)")
	var o config.Config // flag values; applied only when set
	fs.StringVar(&o.Role, "role", "", "role to run: portal, manager, router, proxy or all (or as the first argument)")
	fs.StringVar(&o.DataDir, "data-dir", "", "data directory (env STOA_DATA_DIR; default ./var/stoa)")
	fs.StringVar(&o.LogLevel, "log-level", "", "debug, info, warn or error")
	fs.StringVar(&o.Portal.FQDN, "fqdn", "", "the portal's FQDN (its certificate must cover it)")
	fs.StringVar(&o.Portal.HTTPSAddr, "https-addr", "", "portal HTTPS listen address")
	fs.StringVar(&o.Portal.HTTPAddr, "http-addr", "", "portal plain-HTTP listen address (redirects only)")
	fs.StringVar(&o.Portal.InternalAddr, "internal-addr", "", "portal mutual-TLS listen address for components")
	fs.StringVar(&o.Portal.PublicURL, "public-url", "", "URL browsers and components use for the portal")
	fs.StringVar(&o.Manager.Addr, "manager-addr", "", "manager HTTPS listen address")
	fs.StringVar(&o.Router.Addr, "router-addr", "", "router HTTPS listen address")
	fs.StringVar(&o.Proxy.Addr, "proxy-addr", "", "proxy HTTPS listen address")
	fs.StringVar(&o.Proxy.TURNUDPAddr, "turn-udp-addr", "", "proxy TURN UDP listen address")
	fs.StringVar(&o.Proxy.TURNTCPAddr, "turn-tcp-addr", "", "proxy TURN TCP listen address")
	fs.StringVar(&o.Proxy.TURNTLSAddr, "turn-tls-addr", "", "proxy TURN TLS listen address")
	fs.StringVar(&o.Proxy.RelayIP, "turn-relay-ip", "", "IP address the proxy's TURN relays bind to")
	fs.StringVar(&o.Proxy.TURNHost, "turn-host", "", "host name every TURN URL handed to clients carries (a room in a VM reaches the host's TURN by name)")
	fs.IntVar(&o.Proxy.MaxAllocationsPerUser, "turn-max-allocations", 0, "TURN allocations one participant may hold at once")
	var iceInterfaces, publicIPs string
	fs.StringVar(&iceInterfaces, "ice-interfaces", "", "router: comma-separated network interfaces to gather media candidates on (default: loopback only)")
	fs.StringVar(&publicIPs, "public-ips", "", "router: comma-separated public IPv4 addresses for 1:1 NAT (replace host candidate addresses)")
	fs.IntVar(&o.Router.UDPPortMin, "udp-port-min", 0, "router: lowest ephemeral UDP port for media (0: any)")
	fs.IntVar(&o.Router.UDPPortMax, "udp-port-max", 0, "router: highest ephemeral UDP port for media (0: any)")
	fs.IntVar(&o.Router.UDPMuxPort, "udp-mux-port", 0, "router: single UDP port carrying all media (0: off)")
	announce := fs.Bool("announce", false, "announce the portal by DNS-SD (mDNS _stoa-portal._tcp) so rooms on the LAN find it")
	fs.StringVar(&o.Portal.AnnounceInterface, "announce-interface", "", "network interface to announce on (default: the HTTPS listener's)")
	var compFQDN, portalURL, joinToken, portalCA string
	fs.StringVar(&compFQDN, "component-fqdn", "", "FQDN of this manager/router/proxy (its certificate names it)")
	fs.StringVar(&portalURL, "portal-url", "", "portal URL a manager/router/proxy joins")
	fs.StringVar(&joinToken, "join-token", "", "one-time join token from Super Admin → Components")
	fs.StringVar(&portalCA, "portal-ca", "", "PEM file with the root that signs the portal's HTTPS certificate")
	if err := fs.Parse(args); err != nil {
		return config.Config{}, err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return cfg, err
	}
	if fs.NArg() > 1 {
		return cfg, fmt.Errorf("one role expected, got %q", fs.Args())
	}
	if fs.NArg() == 1 {
		if o.Role != "" && o.Role != fs.Arg(0) {
			return cfg, fmt.Errorf("role given twice: --role=%s and %s", o.Role, fs.Arg(0))
		}
		o.Role = fs.Arg(0)
	}
	if v := getenv("STOA_DATA_DIR"); v != "" && o.DataDir == "" {
		o.DataDir = v
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Role, o.Role)
	set(&cfg.DataDir, o.DataDir)
	set(&cfg.LogLevel, o.LogLevel)
	set(&cfg.Portal.FQDN, o.Portal.FQDN)
	set(&cfg.Portal.HTTPSAddr, o.Portal.HTTPSAddr)
	set(&cfg.Portal.HTTPAddr, o.Portal.HTTPAddr)
	set(&cfg.Portal.InternalAddr, o.Portal.InternalAddr)
	set(&cfg.Portal.PublicURL, o.Portal.PublicURL)
	set(&cfg.Manager.Addr, o.Manager.Addr)
	set(&cfg.Router.Addr, o.Router.Addr)
	set(&cfg.Proxy.Addr, o.Proxy.Addr)
	set(&cfg.Proxy.TURNUDPAddr, o.Proxy.TURNUDPAddr)
	set(&cfg.Proxy.TURNTCPAddr, o.Proxy.TURNTCPAddr)
	set(&cfg.Proxy.TURNTLSAddr, o.Proxy.TURNTLSAddr)
	set(&cfg.Proxy.RelayIP, o.Proxy.RelayIP)
	set(&cfg.Proxy.TURNHost, o.Proxy.TURNHost)
	if o.Proxy.MaxAllocationsPerUser != 0 {
		cfg.Proxy.MaxAllocationsPerUser = o.Proxy.MaxAllocationsPerUser
	}
	set(&cfg.Portal.AnnounceInterface, o.Portal.AnnounceInterface)
	// A bool flag overrides the file only when given, so --announce=false can switch off a
	// configured announcement and no flag leaves the file's choice alone.
	// The router's ICE flags likewise override only when given, so --ice-interfaces= or
	// --udp-mux-port=0 can switch a configured value back to the loopback/off default.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "announce":
			cfg.Portal.Announce = *announce
		case "ice-interfaces":
			cfg.Router.ICEInterfaces = splitList(iceInterfaces)
		case "public-ips":
			cfg.Router.PublicIPs = splitList(publicIPs)
		case "udp-port-min":
			cfg.Router.UDPPortMin = o.Router.UDPPortMin
		case "udp-port-max":
			cfg.Router.UDPPortMax = o.Router.UDPPortMax
		case "udp-mux-port":
			cfg.Router.UDPMuxPort = o.Router.UDPMuxPort
		}
	})
	for _, c := range []*config.Component{&cfg.Manager, &cfg.Router.Component, &cfg.Proxy.Component} {
		set(&c.FQDN, compFQDN)
		set(&c.PortalURL, portalURL)
		set(&c.JoinToken, joinToken)
		set(&c.PortalCA, portalCA)
	}
	return cfg, cfg.Validate()
}

// splitList splits a comma-separated flag value, dropping blanks ("" is an empty list).
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated already
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
