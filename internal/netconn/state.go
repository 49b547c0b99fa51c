package netconn

import (
	"io"
	"sync"
)

// State is the teardown record of a link: the first failure is kept, and
// the done channel is closed exactly once. Call Init before use. Safe for
// concurrent use; not copyable after Init.
type State struct {
	once    sync.Once
	doneCh  chan struct{}
	mu      sync.Mutex
	failure error // guarded by mu
}

// Init makes the done channel.
func (s *State) Init() { s.doneCh = make(chan struct{}) }

// SetErr records err unless an error was recorded before.
func (s *State) SetErr(err error) {
	s.mu.Lock()
	if s.failure == nil {
		s.failure = err
	}
	s.mu.Unlock()
}

// Err returns the first recorded error, io.EOF when none was.
func (s *State) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure == nil {
		return io.EOF
	}
	return s.failure
}

// Done is closed by Finish.
func (s *State) Done() <-chan struct{} { return s.doneCh }

// Finish closes Done (idempotent).
func (s *State) Finish() { s.once.Do(func() { close(s.doneCh) }) }
