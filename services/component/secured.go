package component

import "crypto/tls"

// restrictTLS makes the component's server configuration TLS 1.3 only while the portal's
// heartbeat answers say the Secured option is on. It is decided per handshake, so the change
// needs no restart; every Stoa component and room speaks Go's TLS 1.3.
func (rt *runtime) restrictTLS(c *tls.Config) {
	base := c.Clone()
	strict := c.Clone()
	strict.MinVersion = tls.VersionTLS13
	c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		rt.mu.Lock()
		on := rt.peers.secured
		rt.mu.Unlock()
		if on {
			return strict, nil
		}
		return base, nil
	}
}
