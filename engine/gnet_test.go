package engine

import "github.com/zerohop/zerohop/internal/gnetconn"

// The engine's tests run against both transports. They cannot import
// engine/gnettransport (it imports engine), so they register its
// implementation themselves, as that package's init does.
func init() { RegisterTransport(TransportGnet, gnetconn.NewClient) }
