package commands

import (
	"fmt"
	"io"
	"sync"

	cflog "github.com/cloudflare/cfssl/log"
)

// cfssl logs through package-level state: its Level and one writer. Run
// must not change package-level state per call (runs may go on
// concurrently in one process), so that state is set once, to this sink,
// and each run that asks for --verbose registers its stderr with it for
// as long as it runs. Without --verbose, cfssl's [INFO] lines are noise
// to users and go nowhere.
type cfsslLogSink struct {
	mu   sync.Mutex
	outs map[*ui]io.Writer
}

var (
	cfsslLog     = &cfsslLogSink{outs: map[*ui]io.Writer{}}
	cfsslLogOnce sync.Once
)

// verboseCfssl shows cfssl's log on w until the returned func is called.
func verboseCfssl(u *ui, w io.Writer) (stop func()) {
	cfsslLogOnce.Do(func() {
		cflog.Level = cflog.LevelDebug
		cflog.SetLogger(cfsslLog)
	})
	cfsslLog.mu.Lock()
	cfsslLog.outs[u] = w
	cfsslLog.mu.Unlock()
	return func() {
		cfsslLog.mu.Lock()
		delete(cfsslLog.outs, u)
		cfsslLog.mu.Unlock()
	}
}

// quietCfssl routes cfssl's log to the sink before any run logs, so that
// without --verbose nothing reaches the standard logger.
func quietCfssl() {
	cfsslLogOnce.Do(func() {
		cflog.Level = cflog.LevelDebug
		cflog.SetLogger(cfsslLog)
	})
}

func (s *cfsslLogSink) write(level, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.outs {
		fmt.Fprintf(w, "[%s] %s\n", level, msg)
	}
}

func (s *cfsslLogSink) Debug(m string)   { s.write("DEBUG", m) }
func (s *cfsslLogSink) Info(m string)    { s.write("INFO", m) }
func (s *cfsslLogSink) Warning(m string) { s.write("WARNING", m) }
func (s *cfsslLogSink) Err(m string)     { s.write("ERROR", m) }
func (s *cfsslLogSink) Crit(m string)    { s.write("CRITICAL", m) }
func (s *cfsslLogSink) Emerg(m string)   { s.write("FATAL", m) }
