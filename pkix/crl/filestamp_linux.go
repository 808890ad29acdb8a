package crl

import (
	"os"
	"syscall"
)

// changeOf is what tells a replaced file from the old one when its size
// and modification time were kept (cp -p, rsync -t, an archive's epoch):
// its inode and its change time, which no tool sets back.
func changeOf(info os.FileInfo) [3]int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return [3]int64{int64(st.Ino), st.Ctim.Sec, st.Ctim.Nsec}
	}
	return [3]int64{}
}
