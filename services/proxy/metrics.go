package proxy

import (
	"net"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus series.
type metrics struct {
	allocations prometheus.Gauge
	allocTotal  prometheus.Counter
	bytes       *prometheus.CounterVec // direction: "to_peer", "from_peer"
	refusals    *prometheus.CounterVec // reason: "auth", "quota", "policy_private", ...
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		allocations: prometheus.NewGauge(prometheus.GaugeOpts{Name: "stoa_turn_allocations",
			Help: "TURN allocations currently open."}),
		allocTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "stoa_turn_allocations_total",
			Help: "TURN allocations created."}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stoa_turn_relayed_bytes_total",
			Help: "Payload bytes relayed between clients and peers, by direction."}, []string{"direction"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stoa_turn_refusals_total",
			Help: "TURN requests refused, by reason."}, []string{"reason"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.allocations, m.allocTotal, m.bytes, m.refusals} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// countingConn counts the bytes a relay socket exchanges with peers.
type countingConn struct {
	net.PacketConn
	toPeer, fromPeer prometheus.Counter
}

func (c *countingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	if n > 0 {
		c.fromPeer.Add(float64(n))
	}
	return n, a, err
}

func (c *countingConn) WriteTo(p []byte, a net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(p, a)
	if n > 0 {
		c.toPeer.Add(float64(n))
	}
	return n, err
}
