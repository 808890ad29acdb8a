package dirtx

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// LockTimeout is how long a command waits for another mtlsctl working in
// the same directory (parallel CI jobs).
const LockTimeout = 5 * time.Minute

// Session is the directory held under its lock: every change happens in
// one. Taking it repairs what an interrupted mtlsctl left.
type Session struct {
	d  *Store
	fl *flock.Flock
	// Repaired says what taking the lock repaired, for the user to see.
	Repaired []string
}

// Lock takes the directory's lock (gofrs/flock's flock(2) on the
// directory itself, so no lock file is ever left behind), then finishes
// an interrupted transaction and removes the temporary files of processes
// that are gone.
func (d *Store) Lock(ctx context.Context) (*Session, error) {
	fl := flock.New(d.abs, flock.SetFlag(os.O_RDONLY))
	ctx, cancel := context.WithTimeout(ctx, LockTimeout)
	defer cancel()
	ok, err := fl.TryLockContext(ctx, 20*time.Millisecond)
	if err != nil || !ok {
		if err == nil {
			err = ctx.Err()
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, d.noDir("no such directory", err)
		}
		if errors.Is(err, context.Canceled) {
			// A signal, not another process: nothing was changed after it.
			return nil, &pkix.Error{File: d.path, Msg: "interrupted before this step could lock the directory; it was not done", Err: err}
		}
		return nil, &pkix.Error{File: d.path, Msg: fmt.Sprintf("cannot lock the directory: %v", Unwrap(err)), Err: err,
			Hint: "another mtlsctl is working in it; try again when it is done"}
	}
	s := &Session{d: d, fl: fl}
	if err := s.recover(); err != nil {
		fl.Unlock()
		return nil, err
	}
	return s, nil
}

// Recover finishes what an interrupted mtlsctl left (a journal, staging
// files) and says what it repaired. Commands call it before they read
// their inputs: a crash between two renames of a renewal leaves a
// certificate beside the previous key until it runs. A directory that
// does not exist yet has nothing to repair.
func (d *Store) Recover(ctx context.Context) ([]string, error) {
	if info, err := os.Stat(d.abs); err != nil || !info.IsDir() {
		return nil, nil
	}
	s, err := d.Lock(ctx)
	if err != nil {
		return nil, err
	}
	s.Unlock()
	return s.Repaired, nil
}

// Unlock releases the directory.
func (s *Session) Unlock() { s.fl.Unlock() }

// Dir is the session's directory.

// recover finishes the transaction a journal describes, then sweeps.
func (s *Session) recover() error {
	d := s.d
	j, err := d.readJournal()
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		lost, err := d.Apply(j)
		if err != nil {
			return WithHint(err, fmt.Sprintf("an interrupted %s (pid %d, %s) could not be finished", j.Op, j.PID, j.Started.Format(time.RFC3339)))
		}
		if err := d.removeJournal(); err != nil {
			return err
		}
		s.Repaired = append(s.Repaired, fmt.Sprintf("finished an interrupted %s (pid %d, started %s): %s",
			j.Op, j.PID, j.Started.Local().Format("2006-01-02 15:04:05"), describe(j)))
		if len(lost) > 0 {
			s.Repaired = append(s.Repaired, pkix.Textf("WARNING: %s vanished before taking %s name (something removed mtlsctl's staged files): the inventory records the certificate, no file of it exists; if its key may have been copied, revoke it ('%s' shows its serial)",
				strings.Join(lost, ", "), map[bool]string{true: "its", false: "their"}[len(lost) == 1], pkix.ActListClients).String())
		}
	}
	if n := d.sweep(); n > 0 {
		s.Repaired = append(s.Repaired, fmt.Sprintf("removed %d temporary file%s left by mtlsctl operations that are gone", n, Plural(n)))
	}
	return nil
}

func describe(j *Journal) string {
	lines := strings.Count(j.Append, "\n")
	if strings.HasPrefix(j.Append, "#") {
		lines -= strings.Count(string(inventory.InventoryHeader()), "\n")
	}
	return fmt.Sprintf("%d inventory line%s, %d file%s", lines, Plural(lines), len(j.Moves), Plural(len(j.Moves)))
}

func Plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func WithHint(err error, context string) error {
	var pe *pkix.Error
	if errors.As(err, &pe) {
		pe.Msg = context + ": " + pe.Msg
		return pe
	}
	return fmt.Errorf("%s: %w", context, err)
}

// Pending reports an interrupted transaction that no command has
// finished yet, for read-only commands (list, check) to mention.
func (d *Store) Pending() string {
	j, err := d.readJournal()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ""
		}
		return err.Error()
	}
	return fmt.Sprintf("an interrupted %s (pid %d) is not finished yet: the next mtlsctl command that changes %s finishes it", j.Op, j.PID, d.path)
}
