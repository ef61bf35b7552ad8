package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notifyReady tells systemd (Type=notify) that the local API listens. Outside systemd
// NOTIFY_SOCKET is unset and this does nothing.
func notifyReady(log *slog.Logger) {
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("sd_notify READY", "err", err)
	}
}

// notifyStopping tells systemd the shutdown has begun.
func notifyStopping(log *slog.Logger) {
	if _, err := daemon.SdNotify(false, daemon.SdNotifyStopping); err != nil {
		log.Warn("sd_notify STOPPING", "err", err)
	}
}

// watchdog pings systemd at half of WATCHDOG_USEC (sd_watchdog_enabled(3)) until ctx ends,
// but only while healthy says every subsystem is: a hung loop or a camera without frames stops
// the pings and systemd restarts roomd.
func watchdog(ctx context.Context, log *slog.Logger, healthy func() error) {
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("watchdog settings", "err", err)
		return
	}
	if every == 0 {
		return
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	var was error
	for {
		err := healthy()
		switch {
		case err != nil && was == nil:
			log.Error("watchdog: not pinging while unhealthy", "err", err)
		case err == nil && was != nil:
			log.Info("watchdog: healthy again; pinging")
		}
		was = err
		if err == nil {
			if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
				log.Warn("sd_notify WATCHDOG", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
