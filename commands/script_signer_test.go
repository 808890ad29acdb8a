package commands

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/mtlsctl/mtlsctl/pkix/signer/pgtest"
	"github.com/rogpeppe/go-internal/testscript"
)

// condition answers the scripts' [pg] and [cfssl]: PostgreSQL can be
// started, cfssl v1.7.1's CLI can be built. Without them a script skips
// with its message, except under CI (CI=true), where the condition is an
// error and the script fails: .ci/run installs them.
func condition(cond string) (bool, error) {
	var err error
	switch cond {
	case "pg":
		_, err = pgtest.NewDatabase()
	case "cfssl":
		err = buildCfssl()
	default:
		return false, errors.New("unknown condition " + cond)
	}
	if err != nil && os.Getenv("CI") == "true" {
		return false, err
	}
	return err == nil, nil
}

// pgdb: a fresh database on the throwaway PostgreSQL cluster, as
// $MTLSCTL_SIGNER_DB (after [!pg] skip).
func cmdPGDB(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: pgdb")
	}
	dsn, err := pgtest.NewDatabase()
	ts.Check(err)
	ts.Setenv("MTLSCTL_SIGNER_DB", dsn)
}

var (
	cfsslOnce sync.Once
	cfsslBin  string
	cfsslErr  error
)

// buildCfssl builds cfssl v1.7.1's own CLI (cfssl and cfssljson) once,
// with 'go install' into the user's cache: the stock client a runner
// might use.
func buildCfssl() error {
	cfsslOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "mtlsctl-test", "cfssl-v1.7.1")
		if _, err := os.Stat(filepath.Join(dir, "cfssljson")); err == nil {
			cfsslBin = dir
			return
		}
		cmd := exec.Command("go", "install", "github.com/cloudflare/cfssl/cmd/cfssl@v1.7.1", "github.com/cloudflare/cfssl/cmd/cfssljson@v1.7.1")
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			cfsslErr = errors.New("building cfssl v1.7.1: " + err.Error() + ": " + string(out))
			return
		}
		cfsslBin = dir
	})
	return cfsslErr
}

// cfsslcli: $CFSSL and $CFSSLJSON are cfssl v1.7.1's CLI (after
// [!cfssl] skip).
func cmdCfsslCLI(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: cfsslcli")
	}
	ts.Check(buildCfssl())
	ts.Setenv("CFSSL", filepath.Join(cfsslBin, "cfssl"))
	ts.Setenv("CFSSLJSON", filepath.Join(cfsslBin, "cfssljson"))
}
