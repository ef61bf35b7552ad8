package linux

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"
)

// waitReadable waits up to d for fd to be readable. An error means the device is gone
// (POLLERR/POLLHUP/POLLNVAL, as V4L2 reports an unplugged camera).
func waitReadable(fd int, d time.Duration) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(d/time.Millisecond))
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return false, nil
		}
		return false, fmt.Errorf("poll: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	if fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 && fds[0].Revents&unix.POLLIN == 0 {
		return false, fmt.Errorf("poll: device error (revents %#x)", fds[0].Revents)
	}
	return fds[0].Revents&unix.POLLIN != 0, nil
}

// isTemporary reports a dequeue that may simply be retried (no buffer ready yet).
func isTemporary(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, v4l2.ErrorTemporary) || errors.Is(err, v4l2.ErrorInterrupted)
}

// monotonicNow reads CLOCK_MONOTONIC.
func monotonicNow() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}
