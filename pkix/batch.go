package pkix

import (
	"crypto/sha256"
	"encoding/hex"
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

// IssueBatch issues one certificate per request on all cores (RSA key
// generation takes ~0.6 s a key, so a fleet is CPU-bound). onIssued, if
// set, runs on the worker right after each certificate (to stage its files
// while other cores compute) with the number done so far. Results are in
// request order; one failure does not stop the others.
func (is *Issuer) IssueBatch(reqs []*Request, profile string, onIssued func(i int, r *BatchResult, done int)) []BatchResult {
	results := make([]BatchResult, len(reqs))
	workers := min(runtime.GOMAXPROCS(0), len(reqs))
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				issued, warnings, err := is.Issue(reqs[i], profile)
				results[i] = BatchResult{Issued: issued, Warnings: warnings, Err: err}
				n := done.Add(1)
				if onIssued != nil {
					onIssued(i, &results[i], int(n))
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
