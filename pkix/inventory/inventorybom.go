package inventory

import (
	"bytes"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
)

// An editor that saves "UTF-8 with BOM" (or UTF-16) puts a byte-order mark
// before the header. The inventory's lines are then no longer what they
// say: the header stops being a comment and every reader would fail with
// a column count that says nothing of the cause, while an append would
// still go through. So readers and writers both look at the first bytes.
var byteOrderMarks = []struct {
	mark     []byte
	encoding string
}{
	{[]byte{0xEF, 0xBB, 0xBF}, "UTF-8"},
	{[]byte{0xFF, 0xFE}, "UTF-16LE"},
	{[]byte{0xFE, 0xFF}, "UTF-16BE"},
}

// CheckInventoryStart refuses an inventory whose first bytes (head, at
// least the first four if the file has them) are a byte-order mark.
func CheckInventoryStart(path string, head []byte) error {
	for _, b := range byteOrderMarks {
		if bytes.HasPrefix(head, b.mark) {
			hint := "restore it from git, or save it again without the mark (as plain UTF-8; mtlsctl writes no BOM)"
			if b.encoding == "UTF-8" {
				hint = `remove the mark: sed -i '1s/^\xEF\xBB\xBF//' ` + path + ` (or restore it from git)`
			}
			return &pkix.Error{File: path, Line: 1, Msg: fmt.Sprintf("starts with a byte-order mark (%s, % X): an editor saved it that way; mtlsctl reads and appends only plain UTF-8", b.encoding, b.mark),
				Hint: hint}
		}
	}
	return nil
}
