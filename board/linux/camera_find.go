package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/vladimirvivien/go4vl/v4l2"
)

// videoNode is one V4L2 capture node and who drives it.
type videoNode struct {
	Path, Driver, Card string
}

// captureNodes lists the video nodes that capture single-planar video, in number order.
func captureNodes() ([]videoNode, error) {
	paths, err := filepath.Glob("/dev/video*")
	if err != nil {
		return nil, fmt.Errorf("list video devices: %w", err)
	}
	num := func(p string) int { n, _ := strconv.Atoi(strings.TrimPrefix(p, "/dev/video")); return n }
	slices.SortFunc(paths, func(a, b string) int { return num(a) - num(b) })
	var nodes []videoNode
	for _, p := range paths {
		fd, err := v4l2.OpenDevice(p, syscall.O_RDWR|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue // busy or vanished nodes are not candidates
		}
		c, err := v4l2.GetCapability(fd)
		_ = v4l2.CloseDevice(fd)
		// Device caps describe this node; the global caps of a multi-node driver (vivid, many
		// SoC cameras) include the capabilities of all its nodes.
		if err != nil || c.GetCapabilities()&v4l2.CapVideoCapture == 0 || c.GetCapabilities()&v4l2.CapStreaming == 0 {
			continue
		}
		nodes = append(nodes, videoNode{Path: p, Driver: c.Driver, Card: c.Card})
	}
	return nodes, nil
}

var errNoCamera = errors.New("no such camera")

// findCamera resolves the definition's camera to a device path: the named node when device
// is set, else the first capture node whose driver or card name contains match.
func findCamera(device, match string) (string, error) {
	if device != "" {
		if _, err := os.Stat(device); err != nil {
			return "", fmt.Errorf("find camera %s: %w: %w", device, errNoCamera, err)
		}
		return device, nil
	}
	nodes, err := captureNodes()
	if err != nil {
		return "", err
	}
	m := strings.ToLower(match)
	for _, n := range nodes {
		if strings.Contains(strings.ToLower(n.Driver), m) || strings.Contains(strings.ToLower(n.Card), m) {
			return n.Path, nil
		}
	}
	var have []string
	for _, n := range nodes {
		have = append(have, fmt.Sprintf("%s (%s, %q)", n.Path, n.Driver, n.Card))
	}
	return "", fmt.Errorf("find camera matching %q: %w (capture devices: %s)", match, errNoCamera, strings.Join(append(have, "none")[:max(1, len(have))], ", "))
}
