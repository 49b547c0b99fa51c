package gnetconn

import (
	"context"
	"fmt"
	"log/slog"
)

// Logger routes gnet's logging to l, prefixed "gnet: ". gnet's info
// chatter (engine started, event loops) goes to debug; its warnings to
// warn; its errors to error: gnet logs at error level when an event loop
// or a connection fails in a way the caller does not see (a failed
// accept, a poller error), which must stand out. Fatal is logged at error
// level: gnet's logger calls it before gnet itself gives up, and neither
// the client nor the node exits the process for it.
type Logger struct{ L *slog.Logger }

func (g Logger) Debugf(format string, args ...any) { g.log(slog.LevelDebug, format, args) }
func (g Logger) Infof(format string, args ...any)  { g.log(slog.LevelDebug, format, args) }
func (g Logger) Warnf(format string, args ...any)  { g.log(slog.LevelWarn, format, args) }
func (g Logger) Errorf(format string, args ...any) { g.log(slog.LevelError, format, args) }
func (g Logger) Fatalf(format string, args ...any) { g.log(slog.LevelError, format, args) }

// log formats only when the level is enabled (gnet's debug chatter costs
// nothing when it is off).
func (g Logger) log(level slog.Level, format string, args []any) {
	if g.L.Enabled(context.Background(), level) {
		g.L.Log(context.Background(), level, "gnet: "+fmt.Sprintf(format, args...))
	}
}
