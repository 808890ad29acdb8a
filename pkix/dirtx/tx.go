package dirtx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// Set is one certificate's files (or any outputs that must land together)
// and the inventory lines that record them. A set is whole or absent.
type Set struct {
	Staged  *atomicfile.Staged
	Records []inventory.Record
	Force   bool // an existing output is kept as NAME.bak, not refused
	// Retire are files of the same certificate that this set does not
	// make again (a renewal without --p12 leaves no stale NAME.p12 with
	// the old key): moved to a backup name with the set.
	Retire []string
	// renames are a re-keyed CA's files taking their retired names
	// (retired.go): done before any file of the change takes its name, so
	// the new key's files never meet the old ones.
	Renames []Rename
}

// Change is one transaction: sets of staged files, each whole or absent
// with its own inventory lines, plus Updates, lines that change existing
// records (a revocation), which make the change all or nothing.
type Change struct {
	Op      string
	Sets    []Set
	Updates []inventory.Record
	// Whole: a set that fails fails the change (a re-key must not retire
	// the old key without placing the new one).
	Whole bool
}

// ErrUnfinished marks a transaction that was committed (its journal is
// on disk) but could not be carried out to the end: the next command
// that takes the lock finishes it.
var ErrUnfinished = errors.New("committed but not finished")

// Commit carries out a change under the session's lock: sets whose
// outputs are taken are refused one by one (errs), the others are
// recorded and placed together. err is for the change as a whole: when it
// wraps ErrUnfinished, the change was committed and will be finished.
func (s *Session) Commit(ch Change) (written [][]atomicfile.Written, errs []error, err error) {
	written, errs, _, err = s.CommitRetiring(ch)
	return written, errs, err
}

// commit is Commit, also saying which stale files a renewal moved aside.
func (s *Session) CommitRetiring(ch Change) (written [][]atomicfile.Written, errs []error, retired []string, err error) {
	d := s.d
	written = make([][]atomicfile.Written, len(ch.Sets))
	errs = make([]error, len(ch.Sets))
	staged := make([]*atomicfile.Staged, len(ch.Sets))
	for i, set := range ch.Sets {
		staged[i] = set.Staged
		errs[i] = set.Staged.Err()
	}
	// Until the journal is on disk, a failure takes every temporary file
	// away; after it, they belong to the journal.
	journaled := false
	defer func() {
		if !journaled {
			for _, st := range staged {
				st.Discard()
			}
		}
	}()
	inv, err := s.inventoryForAppend()
	if err != nil {
		return nil, nil, nil, err
	}
	j := &Journal{Version: 1, Op: ch.Op, PID: os.Getpid(), Started: time.Now().UTC(), InventorySize: inv.size}
	var lines []byte
	switch {
	case inv.size == 0:
		lines = inventory.InventoryHeader()
	case !inv.endsWithNewline:
		return nil, nil, nil, d.TornInventory()
	}
	base := len(lines)
	planned := make([][]Move, len(ch.Sets))
	var rekeys []Move
	for i, set := range ch.Sets {
		if errs[i] != nil {
			continue
		}
		moves, err := d.plan(set)
		if err != nil {
			errs[i] = err
			set.Staged.Discard()
			continue
		}
		planned[i] = moves
		j.Moves = append(j.Moves, certificateLast(moves, len(set.Staged.Files()))...)
		rekeys = append(rekeys, d.rekeyMoves(set.Renames)...)
		for k := range set.Records {
			lines = inventory.AppendInventoryLine(lines, &set.Records[k])
		}
	}
	// Updates belong to the change as a whole (a revocation and the
	// serials file and CRL that publish it): a set that failed fails all.
	if len(ch.Updates) > 0 || ch.Whole {
		for _, e := range errs {
			if e != nil {
				return nil, nil, nil, e
			}
		}
	}
	for k := range ch.Updates {
		lines = inventory.AppendInventoryLine(lines, &ch.Updates[k])
	}
	j.Moves = append(rekeys, j.Moves...)
	if len(j.Moves) == 0 && len(ch.Updates) == 0 && !anyRecords(ch.Sets, errs) {
		return written, errs, retired, nil
	}
	if len(lines) > base {
		j.Append = string(lines)
	}
	if err := atomicfile.SyncStaged(staged); err != nil {
		return nil, nil, nil, err
	}
	CrashPoint("staged")
	if err := d.WriteJournal(j); err != nil {
		return nil, nil, nil, err
	}
	journaled = true
	CrashPoint("journal")
	if _, err := d.Apply(j); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrUnfinished, WithHint(err, ch.Op+" was interrupted; the next mtlsctl command in "+d.path+" finishes it"))
	}
	CrashPoint("applied")
	if err := d.removeJournal(); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrUnfinished, err)
	}
	for i, set := range ch.Sets {
		if errs[i] != nil {
			continue
		}
		for _, m := range planned[i][len(set.Staged.Files()):] {
			retired = append(retired, fmt.Sprintf("moved the previous %s aside as %s: the renewal did not make it again",
				d.rel(d.abspath(m.Path)), d.rel(d.abspath(m.Backup))))
		}
		for k, f := range set.Staged.Files() {
			w := atomicfile.Written{File: f}
			if m := planned[i][k]; m.How == MoveBackup {
				if _, err := os.Lstat(d.abspath(m.Backup)); err == nil {
					w.Backup = d.rel(d.abspath(m.Backup))
				}
			}
			written[i] = append(written[i], w)
		}
	}
	return written, errs, retired, nil
}

// certificateLast orders a set's moves so that its first file (the
// certificate, by convention) takes its name after the others (its key,
// CSR, fullchain, PKCS#12): whoever reads the directory between two
// renames never finds a certificate without its key.
func certificateLast(moves []Move, files int) []Move {
	if files < 2 {
		return moves
	}
	out := make([]Move, 0, len(moves))
	out = append(out, moves[1:files]...)
	out = append(out, moves[0])
	return append(out, moves[files:]...)
}

func anyRecords(sets []Set, errs []error) bool {
	for i, s := range sets {
		if errs[i] == nil && len(s.Records) > 0 {
			return true
		}
	}
	return false
}

// plan turns a set into moves, checking each output under the lock: a
// new name must be free; a replaced one must be a regular file (never a
// symlink the program did not make: replacing one would either destroy
// the link or, followed, let whoever planted it choose what is
// overwritten).
func (d *Store) plan(set Set) ([]Move, error) {
	files, temps := set.Staged.Files(), set.Staged.Temps()
	moves := make([]Move, 0, len(files))
	for k, f := range files {
		m := Move{Temp: d.journalName(temps[k]), Path: d.journalName(f.Path), How: MoveNew}
		info, err := os.Lstat(f.Path)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, d.IOError(f.Path, "cannot check the output", err)
		}
		switch {
		case f.Replace:
			m.How = MoveReplace
			if exists && !info.Mode().IsRegular() {
				return nil, &pkix.Error{File: f.Path, Msg: "is not a regular file (a symlink?); mtlsctl rewrites it and will not replace or follow it",
					Hint: "remove it; to publish a CRL elsewhere, copy it after each build (see the README)"}
			}
		case exists && set.Force:
			if !info.Mode().IsRegular() {
				return nil, &pkix.Error{File: f.Path, Msg: "exists and is not a regular file; refusing to replace it"}
			}
			m.How, m.Backup = MoveBackup, d.journalName(freeBackup(f.Path))
		case exists:
			return nil, &pkix.Error{File: f.Path, Msg: "already exists; refusing to overwrite it",
				Hint: pkix.MoveAway.Format, HintArgs: pkix.MoveAway.Args}
		}
		moves = append(moves, m)
	}
	for _, p := range set.Retire {
		if info, err := os.Lstat(p); err == nil && info.Mode().IsRegular() {
			moves = append(moves, Move{Path: d.journalName(p), How: moveRetire, Backup: d.journalName(freeBackup(p))})
		}
	}
	return moves, nil
}

// freeBackup is NAME.bak, or NAME.bak.TIMESTAMP when that is taken.
func freeBackup(path string) string {
	backup := path + ".bak"
	if _, err := os.Lstat(backup); err == nil {
		backup = path + ".bak." + time.Now().UTC().Format("20060102T150405.000000000Z")
	}
	return backup
}

// TornInventory: the inventory does not end with a newline, so its last
// line may be cut; nothing is appended after it or read from it.
func (d *Store) TornInventory() error {
	return &pkix.Error{File: d.Inventory(), Msg: "ends in the middle of a line (a torn write, or a truncated or hand-edited file)",
		Hint: "restore it from git; if its last line is whole, end the file with a newline"}
}

// CommitAll is Commit for a change that must be placed whole: the first
// set refused fails it (nothing of it is recorded half), and the files of
// every set are returned together.
func (s *Session) CommitAll(ch Change) ([]atomicfile.Written, error) {
	written, errs, err := s.Commit(ch)
	if err != nil {
		return nil, err
	}
	var out []atomicfile.Written
	for i := range written {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, written[i]...)
	}
	return out, nil
}
