//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

// Elsewhere each temporary file is fsynced on its own.
func canSyncFS() bool { return false }

func syncFS(*os.File) error { return errors.New("syncfs is Linux-only") }

func renameNoReplace(string, string) (bool, error) { return false, nil }
