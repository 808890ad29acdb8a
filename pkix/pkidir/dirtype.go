package pkidir

import (
	"path/filepath"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
)

// Dir is a PKI directory: what it holds (View) and what can be done to it.
// The revocation operations are Ops; issuing and the checks are Dir's own.
type Dir struct {
	*dirview.View
	revocation.Ops
}

// newDir is the directory at path (abs its absolute path).
func newDir(path, abs string) *Dir {
	v := &dirview.View{Store: dirtx.NewStore(path, abs)}
	return &Dir{View: v, Ops: revocation.Ops{View: v}}
}

// Open names a directory (which need not exist yet: ca init makes it).
func Open(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &pkix.Error{File: path, Msg: "cannot resolve the directory: " + err.Error(), Err: err}
	}
	return newDir(path, abs), nil
}
