package dirtx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// CreatedDirs are directories an operation made for its outputs. If the
// operation fails they are removed again (each only while empty), so a
// failed command leaves the directory as it found it: no empty worker/
// after a full disk.
type CreatedDirs []string

// MkdirAll is os.MkdirAll that remembers each directory it made.
func (c *CreatedDirs) MkdirAll(dir string) error {
	var missing []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			break // MkdirAll says what is wrong with it
		}
		missing = append(missing, p)
		if parent := filepath.Dir(p); parent == p {
			break
		}
	}
	err := os.MkdirAll(dir, 0o755)
	// Outermost first, so that undo (innermost first) can empty them.
	for i := len(missing) - 1; i >= 0; i-- {
		if info, statErr := os.Lstat(missing[i]); statErr == nil && info.IsDir() {
			*c = append(*c, missing[i])
		}
	}
	return err
}

// Undo removes the directories made, innermost first; one that is no
// longer empty (someone else wrote into it meanwhile) stays.
func (c CreatedDirs) Undo() {
	for i := len(c) - 1; i >= 0; i-- {
		os.Remove(c[i])
	}
}
