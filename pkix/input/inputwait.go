package input

import (
	"errors"
	"github.com/mtlsctl/mtlsctl/pkix"
	"os"
	"sync"
)

// A named pipe is read as cat reads it: its open waits for a writer, and
// its reads wait for data. Those waits are in system calls that a
// cancelled context cannot reach, so a SIGINT or SIGTERM there was
// ignored until a writer came (forever, for a FIFO nobody writes). The
// CLI calls Interrupt on the first signal; a wait for a pipe then ends
// with ErrInterrupted. Nothing is written before every input is read, so
// ending there loses nothing.

// ErrInterrupted marks an input whose wait a signal ended.
var ErrInterrupted = errors.New("interrupted while waiting for input")

var (
	interruptOnce sync.Once
	interrupted   = make(chan struct{})
)

// Interrupt ends every wait for a pipe's writer or data, now and later.
func Interrupt() { interruptOnce.Do(func() { close(interrupted) }) }

// openPipe opens a named pipe, waiting for its writer unless interrupted.
// An open left waiting ends when a writer comes or the process does; its
// file is then closed.
func openPipe(path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-interrupted:
		go func() {
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, &pkix.Error{File: path, Msg: "interrupted while waiting for the pipe's writer; nothing was written", Err: ErrInterrupted}
	}
}

// closeOnInterrupt closes f when interrupted, which ends a read waiting
// on it (Go polls a named pipe, so Close wakes the reader); the returned
// function stops watching.
func closeOnInterrupt(f *os.File) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-interrupted:
			f.Close()
		case <-done:
		}
	}()
	return func() { close(done) }
}
