package dirtx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mtlsctl/mtlsctl/pkix"
)

// Store is the directory as its transactions see it: where it is, under
// the name the user gave (messages speak of that) and as an absolute path
// (the journal must not depend on the working directory). Dir embeds it.
type Store struct {
	path string
	abs  string
}

// NewStore is the directory at path, abs being its absolute path.
func NewStore(path, abs string) Store { return Store{path: path, abs: abs} }

// Abs is the directory's absolute path.
func (d *Store) Abs() string { return d.abs }

// The files the transactions themselves write.
const (
	InventoryName = "inventory.tsv"
	journalName   = ".mtlsctl-journal"
)

// Path is the directory as the user named it.
func (d *Store) Path() string { return d.path }

// File is the path of a file of the directory.
func (d *Store) File(name string) string { return filepath.Join(d.path, name) }

// Inventory is the inventory file's path.
func (d *Store) Inventory() string { return d.File(InventoryName) }

// Exists is nil when the directory is there. Otherwise it is what every
// command says of a missing directory (most often a mistyped --dir): the
// read-only verbs ask first, Lock when it finds none.
func (d *Store) Exists() error {
	info, err := os.Stat(d.abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return d.noDir("no such directory", err)
	case err != nil:
		return d.IOError(d.path, "cannot read", err)
	case !info.IsDir():
		return d.noDir("is not a directory", fs.ErrNotExist)
	}
	return nil
}

func (d *Store) noDir(msg string, err error) error {
	return &pkix.Error{File: d.path, Msg: msg, Hint: "run '%s' first, or pass %s", HintArgs: []any{pkix.ActMakeCA, pkix.OptDir}, Err: err}
}
