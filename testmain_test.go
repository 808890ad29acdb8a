package main

import (
	"os"
	"testing"

	"github.com/mtlsctl/mtlsctl/commands"
)

// TestMain lets a test run this test binary as mtlsctl itself, with
// MTLSCTL_AS_MAIN=1, the way a user runs the built binary.
func TestMain(m *testing.M) {
	if os.Getenv("MTLSCTL_AS_MAIN") == "1" {
		os.Exit(commands.Run(os.Args, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
