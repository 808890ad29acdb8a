package commands

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts run the real mtlsctl main as a command. With
// MTLSCTL_AS_MAIN=1 this test binary is mtlsctl itself, for the tests that
// must kill, signal or time a real process (see mtlsctl below).
func TestMain(m *testing.M) {
	if os.Getenv("MTLSCTL_AS_MAIN") == "1" {
		code := Run(os.Args, os.Stdin, os.Stdout, os.Stderr)
		reportPeak(os.Getenv("MTLSCTL_PEAK_FILE"))
		os.Exit(code)
	}
	testscript.Main(reportSkips{m, os.Stdout}, map[string]func(){
		"mtlsctl": func() { os.Exit(Run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// mtlsctl runs the binary in dir with extra environment; it returns the
// exit code (-1 when killed), stdout and stderr.
func mtlsctl(t testing.TB, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "MTLSCTL_AS_MAIN=1", "NO_COLOR=1"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running mtlsctl %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// must runs mtlsctl and fails the test unless it exits 0.
func must(t testing.TB, dir string, args ...string) string {
	t.Helper()
	code, out, errs := mtlsctl(t, dir, nil, args...)
	if code != 0 {
		t.Fatalf("mtlsctl %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out + errs
}
