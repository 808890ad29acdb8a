package dirtx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
)

const RetiredMark = ".retired-"

// Rename is a file of a retired key taking its retired name, in the
// re-key's transaction.
type Rename struct{ From, To string }

// rekeyMoves are a retirement's renames as the journal does them: every
// retired name linked first (the key before its certificate), then the
// old names removed (the certificate before its key), so that whoever
// reads the directory in between never finds a certificate without its
// key, under either name.
func (d *Store) rekeyMoves(renames []Rename) []Move {
	var links, unlinks []Move
	for _, r := range renames {
		links = append(links, Move{Path: d.journalName(r.From), How: moveRekey, Backup: d.journalName(r.To)})
	}
	for i := len(renames) - 1; i >= 0; i-- {
		unlinks = append(unlinks, Move{Path: d.journalName(renames[i].From), How: moveUnlink, Backup: d.journalName(renames[i].To)})
	}
	return append(links, unlinks...)
}

// applyRekey does one step of a retirement: link the old name to the
// retired one, or remove the old name once both are the same file.
// Idempotent: replayed after the new key's file took the old name, it
// leaves that file alone. A journal edited by hand cannot use it to move
// anything else: only a CA's files, to a retired name beside them.
func (d *Store) applyRekey(m Move) error {
	path, to := d.abspath(m.Path), d.abspath(m.Backup)
	if filepath.Dir(path) != d.abs || filepath.Dir(to) != d.abs || !RetiredNameOf(filepath.Base(path), filepath.Base(to)) {
		return &pkix.Error{File: d.File(journalName), Msg: "asks to retire " + path + " as " + to + ", which mtlsctl never does",
			Hint: "the journal was edited or damaged: check the files it names, then remove it by hand"}
	}
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // done already
	} else if err != nil {
		return d.IOError(path, "cannot retire", err)
	}
	if m.How == moveRekey {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			if err := os.Link(path, to); err != nil {
				return d.IOError(path, "cannot retire", err)
			}
		}
		return nil
	}
	if !sameInode(info, to) {
		return nil // the new key's file took the name: it stays
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return d.IOError(path, "cannot retire", err)
	}
	return nil
}

// RetiredNameOf reports whether to is the retired name of a CA's file
// from: NAME.pem, NAME-key.pem, NAME.crl or (NAME-)serials.txt becoming
// NAME.retired-ID with the same ending.
func RetiredNameOf(from, to string) bool {
	if !strings.Contains(to, RetiredMark) {
		return false
	}
	for _, end := range []string{"-key.pem", ".pem", ".crl", "serials.txt"} {
		if strings.HasSuffix(from, end) {
			return strings.HasSuffix(to, end) && (end != ".pem" || !strings.HasSuffix(to, "-key.pem"))
		}
	}
	return false
}

func sameInode(a fs.FileInfo, path string) bool {
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}
