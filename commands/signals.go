package commands

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/mtlsctl/mtlsctl/pkix/input"
)

// signals turns the first SIGINT or SIGTERM into a cancelled context, so
// a batch stops starting certificates and records those in flight. The
// second one is not caught: it kills the process as usual, and the
// directory's journal lets the next command finish what was committed.
type signals struct {
	ch   chan os.Signal
	mu   sync.Mutex
	got  syscall.Signal
	done chan struct{}
}

func watchSignals(parent context.Context) (context.Context, *signals) {
	ctx, cancel := context.WithCancel(parent)
	s := &signals{ch: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(s.ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-s.ch:
			signal.Stop(s.ch)
			s.mu.Lock()
			s.got = sig.(syscall.Signal)
			s.mu.Unlock()
			cancel()
			input.Interrupt() // a wait for a pipe's writer ends too
		case <-s.done:
		}
	}()
	return ctx, s
}

func (s *signals) caught() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.got)
}

func (s *signals) stop() {
	signal.Stop(s.ch)
	close(s.done)
}
