package dirtx

import (
	"path/filepath"
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
