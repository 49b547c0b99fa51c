// Package gnettransport selects the gnet v2 client transport for
// engine.Client: importing it registers engine.TransportGnet, which a
// Config then names.
//
//	import _ "github.com/zerohop/zerohop/engine/gnettransport"
//
//	c, err := engine.Dial(ctx, engine.Config{..., Transport: engine.TransportGnet})
//
// The transport reads every connection of a client from one gnet event
// loop and parses frames in place in gnet's buffers (no reader goroutine
// per connection); plaintext only (Config.TLS requires engine.TransportNet).
// Its code is internal/gnetconn's (Client), shared with the node.
//
// Why a package of its own: gnet starts the goroutines of its worker pool
// (ants) when it is initialised, and they never stop; it also links ants,
// zap and lumberjack. A program that imports only engine gets none of
// that (engine's tests check both).
//
// Invariants: importing this package registers exactly one transport,
// under engine.TransportGnet. Concurrency: see engine.Transport; the
// transport is safe for concurrent use.
package gnettransport

import (
	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/internal/gnetconn"
)

func init() { engine.RegisterTransport(engine.TransportGnet, New) }

// New creates a gnet client transport (one event loop, stopped by the
// client's Close). engine.Dial calls it for Config.Transport =
// engine.TransportGnet; programs do not need to.
func New(cfg engine.TransportConfig) (engine.Transport, error) { return gnetconn.NewClient(cfg) }
