package ca

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// BatchResult is the outcome of one certificate of a batch.
type BatchResult struct {
	Issued   *Issued
	Warnings []string
	Err      error
}

// ErrNotStarted is the result of a certificate a cancelled batch never
// began: nothing of it exists.
var ErrNotStarted = errors.New("not started: the batch was interrupted")

// RunBatch makes one certificate per job on all cores (RSA key generation
// dominates, so a fleet is CPU-bound). issue is the cryptography
// (a leaf, an intermediate) of job i; onDone, if set, runs on the worker right
// after each certificate (to stage its files while other cores compute)
// with the number done so far. Once ctx is done no new certificate is
// started, and those in flight finish: a signal loses no work that was
// already paid for. Results are in job order; one failure does not stop
// the others.
func RunBatch(ctx context.Context, n int, issue func(i int) (*Issued, []string, error), onDone func(i int, r *BatchResult, done int)) []BatchResult {
	results := make([]BatchResult, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if ctx.Err() != nil {
					results[i] = BatchResult{Err: ErrNotStarted}
					continue
				}
				issued, warnings, err := issue(i)
				results[i] = BatchResult{Issued: issued, Warnings: warnings, Err: err}
				k := done.Add(1)
				if onDone != nil {
					onDone(i, &results[i], int(k))
				}
			}
		}()
	}
	wg.Wait()
	return results
}

// SafeName derives a file base name from a common name: letters, digits,
// '.', '_' and '-' kept, every other run of characters one '-', no leading
// dots or dashes. A name with nothing usable left gets a stable hash.
func SafeName(cn string) string {
	var b strings.Builder
	dash := false
	for _, r := range cn {
		ok := r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.Trim(b.String(), "-.")
	if name == "" || name == ".." {
		sum := sha256.Sum256([]byte(cn))
		name = "cn-" + hex.EncodeToString(sum[:4])
	}
	if len(name) > 100 {
		name = name[:100]
	}
	return name
}
