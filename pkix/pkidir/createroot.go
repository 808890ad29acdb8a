package pkidir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
)

// RootRequest is a new root CA: its cfssl request and configuration, read
// and validated by the caller.
type RootRequest struct {
	Request *cfsslconf.Request
	Config  *cfsslconf.SigningConfig
	Expiry  time.Duration // zero: the request's or the default
	// Extra are files written beside the root in the same transaction
	// (the built-in request and configuration).
	Extra []atomicfile.File
	// Force replaces a root already there.
	Force bool
}

// RootResult is what CreateRoot made and wrote.
type RootResult struct {
	CA       *ca.Issued
	Written  []atomicfile.Written
	Notes    []string // what an earlier interrupted command left, repaired
	Warnings []string
}

// RootOutputs are the files CreateRoot writes.
func (d *Dir) RootOutputs(extra []atomicfile.File) []atomicfile.File {
	root := d.CA(dirview.RootName)
	return append([]atomicfile.File{{Path: root.Cert}, {Path: root.Key}, {Path: root.CSR}}, extra...)
}

// CreateRoot makes a root CA in memory, then creates the directory if
// needed and commits the root with req.Extra as one transaction: on a
// failure nothing is written and a directory it created is removed.
func (d *Dir) CreateRoot(ctx context.Context, req RootRequest) (*RootResult, error) {
	if !req.Force {
		if err := atomicfile.CheckFree(d.RootOutputs(req.Extra)); err != nil {
			return nil, err
		}
	}
	ca, warnings, err := ca.InitCA(req.Request, req.Expiry, req.Config)
	if err != nil {
		return nil, err
	}
	undoDir, err := EnsureDir(d.Path())
	if err != nil {
		return nil, err
	}
	written, repaired, more, err := d.InitRoot(ctx, ca, req.Extra, req.Force)
	if err != nil {
		undoDir()
		return nil, err
	}
	return &RootResult{CA: ca, Written: written, Notes: repaired, Warnings: append(warnings, more...)}, nil
}

// EnsureDir makes the directory if needed (0700: it will hold a CA key)
// and returns a function that removes it again if it was created, for a
// command that fails after this point.
func EnsureDir(dir string) (undo func(), err error) {
	info, err := os.Stat(dir)
	if err == nil {
		if !info.IsDir() {
			return nil, &pkix.Error{File: dir, Msg: "is not a directory"}
		}
		return func() {}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, &pkix.Error{File: dir, Msg: fmt.Sprintf("cannot use the directory: %v", err)}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &pkix.Error{File: dir, Msg: fmt.Sprintf("cannot create the directory: %v", errors.Unwrap(err))}
	}
	// 0700 exactly: under umask 277 it would be 0500, and unwritable.
	if err := os.Chmod(dir, 0o700); err != nil {
		os.Remove(dir)
		return nil, &pkix.Error{File: dir, Msg: fmt.Sprintf("cannot set the directory's mode: %v", errors.Unwrap(err))}
	}
	return func() { os.Remove(dir) }, nil
}
