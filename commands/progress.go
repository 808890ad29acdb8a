package commands

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// progress draws a bar on stderr while a batch is issued, only when stderr
// is a terminal: nothing animated in CI logs or with --json.
type progress struct {
	u       *ui
	total   int
	enabled bool
	mu      sync.Mutex
	last    time.Time
	start   time.Time
}

func newProgress(u *ui, total int, allowed bool) *progress {
	return &progress{u: u, total: total, enabled: allowed && total > 1 && isTerminal(u.err), start: time.Now()}
}

func (p *progress) update(done int) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if done < p.total && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := width * done / p.total
	fmt.Fprintf(p.u.err, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, p.total)
}

func (p *progress) finish() {
	if p.enabled {
		fmt.Fprint(p.u.err, "\r\033[K")
	}
}
