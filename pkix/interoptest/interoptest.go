// Package interoptest finds the outside tools (openssl, curl) that tests
// hold mtlsctl's output against. Where one is missing the test is skipped,
// except under CI, which installs them: there it fails, so a CI machine
// without the tools cannot pass quietly.
package interoptest

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of tool, or ends t: skipped where tool is
// missing, failed when CI is set.
func Require(t testing.TB, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; .ci/run installs it", tool)
		}
		t.Skipf("%s is not installed", tool)
	}
	return path
}
