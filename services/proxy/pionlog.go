package proxy

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs routes pion's logs into slog. pion reports a client's bad request as an error; for
// a server facing the Internet that is a warning at most.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) at(lv slog.Level, msg string) { l.log.Log(context.Background(), lv, msg) }

func (l pionLogger) Trace(msg string) { l.at(slog.LevelDebug-4, msg) }
func (l pionLogger) Tracef(format string, args ...any) {
	l.at(slog.LevelDebug-4, fmt.Sprintf(format, args...))
}
func (l pionLogger) Debug(msg string) { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(format string, args ...any) {
	l.at(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l pionLogger) Info(msg string) { l.at(slog.LevelInfo, msg) }
func (l pionLogger) Infof(format string, args ...any) {
	l.at(slog.LevelInfo, fmt.Sprintf(format, args...))
}
func (l pionLogger) Warn(msg string) { l.at(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.at(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (l pionLogger) Error(msg string) { l.at(slog.LevelWarn, msg) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.at(slog.LevelWarn, fmt.Sprintf(format, args...))
}
