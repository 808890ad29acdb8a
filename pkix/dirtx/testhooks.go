package dirtx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TestPause stops the process at a named point when MTLSCTL_TEST_PAUSE
// is "NAME:DIR": it writes DIR/paused-PID and waits until DIR/go exists.
// The race tests use it to line two real processes up at the same point
// (both signed, neither committed), which timing alone would rarely do.
// Unset, it costs one getenv.
func TestPause(name string) {
	v := os.Getenv("MTLSCTL_TEST_PAUSE")
	point, dir, ok := strings.Cut(v, ":")
	if !ok || point != name {
		return
	}
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("paused-%d", os.Getpid())), nil, 0o644)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
