package dirview

import (
	"os"
	"path/filepath"
	"sort"

	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
)

// HoldsCA says whether path is a PKI directory with a CA: its root
// certificate or its inventory is there. A command run in the wrong
// directory is told where the CA is instead of being sent to make a
// second one.
func HoldsCA(path string) bool {
	d := View{Store: dirtx.NewStore(path, "")}
	for _, f := range []string{d.CA(RootName).Cert, d.Inventory()} {
		if info, err := os.Stat(f); err == nil && info.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// CADirsBelow lists the direct subdirectories of path that hold a CA
// (as paths joined to path), sorted; one level only, so a look costs one
// directory read.
func CADirsBelow(path string) []string {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil
	}
	var found []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if sub := filepath.Join(path, e.Name()); HoldsCA(sub) {
			found = append(found, sub)
		}
	}
	sort.Strings(found)
	return found
}
