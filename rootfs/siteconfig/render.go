package siteconfig

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// File is one rendered file; Path is relative to the runtime root (/run on the device).
type File struct {
	Path string
	Mode uint32
	Data []byte
}

// Paths under the runtime root that units and the read-only root's symlinks point at.
const (
	RoomdConfig    = "stoa/roomd.json"
	HostsFile      = "stoa/hosts"
	HostnameFile   = "stoa/hostname"
	AuthorizedKeys = "stoa/ssh/authorized_keys"
	NetworkFile    = "systemd/network/10-stoa-static.network"
	TimesyncdFile  = "systemd/timesyncd.conf.d/50-stoa.conf"
)

// Render turns s into the runtime files. The DHCP network file ships in the image; a static
// network sorts before it and wins. Time comes from the portal host only, never a public pool.
func Render(s Site) ([]File, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	roomd := map[string]any{"discover": s.PortalURL == ""}
	if s.PortalURL != "" {
		roomd["portal_url"] = s.PortalURL
	}
	rj, err := json.MarshalIndent(roomd, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render roomd config: %w", err)
	}
	files := []File{
		{Path: RoomdConfig, Mode: 0o644, Data: append(rj, '\n')},
		{Path: HostnameFile, Mode: 0o644, Data: []byte(s.Hostname() + "\n")},
	}

	var hosts strings.Builder
	fmt.Fprintf(&hosts, "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", s.Hostname())
	for _, h := range s.Hosts {
		fmt.Fprintf(&hosts, "%s\t%s\n", h.Address, h.Name)
	}
	files = append(files, File{Path: HostsFile, Mode: 0o644, Data: []byte(hosts.String())})

	var ntp string
	if s.PortalURL != "" {
		u, _ := url.Parse(s.PortalURL) // validated
		ntp = u.Hostname()
	}
	files = append(files, File{Path: TimesyncdFile, Mode: 0o644,
		Data: []byte("# Written by stoa-config: time from the portal host only.\n[Time]\nNTP=" + ntp + "\nFallbackNTP=\n")})

	if s.Network.Mode == "static" {
		var n strings.Builder
		n.WriteString("# Written by stoa-config from the site configuration.\n[Match]\nType=ether\nKind=!*\n\n[Network]\n")
		fmt.Fprintf(&n, "Address=%s\n", s.Network.Address)
		if s.Network.Gateway != "" {
			fmt.Fprintf(&n, "Gateway=%s\n", s.Network.Gateway)
		}
		for _, d := range s.Network.DNS {
			fmt.Fprintf(&n, "DNS=%s\n", d)
		}
		files = append(files, File{Path: NetworkFile, Mode: 0o644, Data: []byte(n.String())})
	}
	if len(s.SSHKeys) > 0 {
		files = append(files, File{Path: AuthorizedKeys, Mode: 0o600, Data: []byte(strings.Join(s.SSHKeys, "\n") + "\n")})
	}
	return files, nil
}
