package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Subjects of the counter workload's stand-ins.
const (
	TellPrefix   = "counter." // + entity id: a fire-and-forget Increment
	AskPrefix    = "ask."     // + entity id: a GetCount request
	StatsSubject = "_harness.stats"
)

// Payload sizes: the lengths of zerohop's frames on the wire (4-byte length
// prefix included) for the same messages, so that both systems move the
// same bytes per message (README.md says how they were measured).
const (
	DefaultTellBytes  = 310 // a ShardEnvelope(Increment{1}) frame
	DefaultAskBytes   = 400 // a ShardEnvelope(GetCount{reply_to}) frame
	DefaultReplyBytes = 290 // the CountReply frame that answers it
)

// ServiceConfig configures Serve; a plain value, copied by Serve. The zero value of each field means its
// documented default.
type ServiceConfig struct {
	// ReplyBytes is the length of every reply. Default DefaultReplyBytes.
	ReplyBytes int
	// PendingMsgs and PendingBytes bound each subscription's queue of
	// messages not yet handled (nats.go drops past them and counts it in
	// Stats.Dropped). Default 4,000,000 messages and 1 GiB, so that a
	// flood the service keeps up with on average is not cut by a burst.
	PendingMsgs  int
	PendingBytes int
}

func (c ServiceConfig) withDefaults() ServiceConfig {
	if c.ReplyBytes == 0 {
		c.ReplyBytes = DefaultReplyBytes
	}
	if c.PendingMsgs == 0 {
		c.PendingMsgs = 4_000_000
	}
	if c.PendingBytes == 0 {
		c.PendingBytes = 1 << 30
	}
	return c
}

// Stats is the service's answer on StatsSubject, a plain value. Every
// field is cumulative since Serve.
type Stats struct {
	Tells   int64 `json:"tells"`   // messages counted on TellPrefix+">"
	Asks    int64 `json:"asks"`    // requests answered
	Dropped int64 `json:"dropped"` // messages nats.go dropped from the service's subscriptions
	CPUNs   int64 `json:"cpu_ns"`  // user + system CPU time of the service's process
}

// Service counts tells and answers asks on one connection. Safe for
// concurrent use; not copyable; create it with Serve.
type Service struct {
	reply []byte
	tells atomic.Int64 // written by the tell subscription's goroutine
	asks  atomic.Int64 // written by the ask subscription's goroutine
	subs  []*nats.Subscription
}

// Serve subscribes the service's three subjects on nc and flushes them to
// the server, so a publisher that connects after Serve returns is counted
// from its first message.
func Serve(nc *nats.Conn, cfg ServiceConfig) (*Service, error) {
	cfg = cfg.withDefaults()
	if cfg.ReplyBytes < 0 || cfg.PendingMsgs < 0 || cfg.PendingBytes < 0 {
		return nil, fmt.Errorf("harness: bad service config %+v", cfg)
	}
	s := &Service{reply: payload(cfg.ReplyBytes)}
	sub := func(subj string, h nats.MsgHandler) error {
		ns, err := nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("harness: subscribe %s: %w", subj, err)
		}
		s.subs = append(s.subs, ns)
		return ns.SetPendingLimits(cfg.PendingMsgs, cfg.PendingBytes)
	}
	err := errors.Join(
		sub(TellPrefix+">", func(*nats.Msg) { s.tells.Add(1) }),
		sub(AskPrefix+">", func(m *nats.Msg) {
			s.asks.Add(1)
			_ = m.Respond(s.reply) // a failed reply is the asker's timeout
		}),
		sub(StatsSubject, func(m *nats.Msg) {
			b, _ := json.Marshal(s.Stats()) // cannot fail: plain integers
			_ = m.Respond(b)
		}),
	)
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Stats returns the service's counters now.
func (s *Service) Stats() Stats {
	st := Stats{Tells: s.tells.Load(), Asks: s.asks.Load(), CPUNs: int64(processCPU())}
	for _, sub := range s.subs {
		if n, err := sub.Dropped(); err == nil {
			st.Dropped += int64(n)
		}
	}
	return st
}

// Close unsubscribes. Idempotent; the connection stays open.
func (s *Service) Close() error {
	var errs []error
	for _, sub := range s.subs {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrBadSubscription) && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// payload returns n bytes of printable filler (nats-server does not look
// at payloads; printable keeps captures readable).
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// processCPU returns this process's user + system CPU time.
func processCPU() time.Duration {
	c := processCPUSplit()
	return c.user + c.sys
}
