package pkix

import (
	"os"

	"golang.org/x/sys/unix"
)

func canSyncFS() bool { return true }

// syncFS flushes every dirty page of the file system holding dir: one call
// makes a whole batch of temporary files durable.
func syncFS(dir *os.File) error { return unix.Syncfs(int(dir.Fd())) }
