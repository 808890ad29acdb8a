// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb
// and pg_ctl from Debian's postgresql package, in a temporary directory,
// listening on a free loopback port only (and a socket in that directory),
// as an unprivileged user when the tests run as root (PostgreSQL refuses
// to run as root). Each test gets a fresh database of the one cluster,
// which TestMain stops.
//
// Without PostgreSQL a test is skipped with a message, except under CI
// (CI=true), where it fails: .ci/run installs the package.
package pgtest

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"

	_ "github.com/lib/pq" // the driver the signer uses
)

// Cluster is a running throwaway server.
type Cluster struct {
	dir, bin string
	port     int
	cred     *syscall.Credential
	mu       sync.Mutex
	n        int
}

var (
	mu      sync.Mutex // guards the three below
	started bool
	shared  *Cluster
	initErr error
)

// Bin finds PostgreSQL's server programs: $MTLSCTL_PG_BIN, Debian's
// /usr/lib/postgresql/N/bin (the newest), or initdb on PATH.
func Bin() (string, error) {
	if d := os.Getenv("MTLSCTL_PG_BIN"); d != "" {
		return d, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[i]))))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[j]))))
		return a > b
	})
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL's initdb was not found (install Debian's postgresql, or set MTLSCTL_PG_BIN)")
}

// DSN is a fresh, empty database on the shared cluster, started on first
// use. Outside CI a missing PostgreSQL skips the test.
func DSN(t testing.TB) string {
	t.Helper()
	dsn, err := NewDatabase()
	if err != nil {
		if errors.Is(err, ErrUnavailable) && os.Getenv("CI") != "true" {
			t.Skipf("skipped: %v", err)
		}
		t.Fatalf("PostgreSQL is required under CI: %v", err)
	}
	return dsn
}

// ErrUnavailable: PostgreSQL could not be found or started here.
var ErrUnavailable = errors.New("no PostgreSQL")

// NewDatabase is DSN for callers without a testing.TB (script commands):
// a fresh database, or an error wrapping ErrUnavailable.
func NewDatabase() (string, error) {
	mu.Lock()
	if !started {
		started = true
		shared, initErr = start()
	}
	c, err := shared, initErr
	mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return c.newDatabase()
}

// Stop stops the shared cluster, if one was started (from TestMain, or a
// test's cleanup).
// A later NewDatabase starts a new cluster.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.stop()
	}
	started, shared, initErr = false, nil, nil
}

// Main runs a package's tests and then stops the cluster.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// StopServer stops the cluster's server (its data kept), for tests of
// what a client sees while the database is away.
func StopServer(t testing.TB) {
	t.Helper()
	c := current()
	if err := c.run("pg_ctl", "stop", "-D", c.data(), "-m", "fast", "-w"); err != nil {
		t.Fatal(err)
	}
}

// StartServer starts the cluster StopServer stopped.
func StartServer(t testing.TB) {
	t.Helper()
	if err := current().startServer(); err != nil {
		t.Fatal(err)
	}
}

func current() *Cluster {
	mu.Lock()
	defer mu.Unlock()
	return shared
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func start() (*Cluster, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mtlsctl-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL will not run as root: the cluster is nobody's.
		u, err := user.Lookup("nobody")
		if err != nil {
			return nil, fmt.Errorf("running as root, and no unprivileged user 'nobody' to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if err := c.run("initdb", "-D", c.data(), "-U", "mtlsctl", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.startServer(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) startServer() error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if c.port == 0 || attempt > 0 {
			if c.port, err = freePort(); err != nil {
				return err
			}
		}
		// Loopback only; fsync off: a test database need not survive a
		// power cut, and it makes the cluster fast on slow disks.
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off -c max_connections=200", c.port, c.dir)
		if err = c.run("pg_ctl", "start", "-D", c.data(), "-w", "-t", "60", "-l", filepath.Join(c.dir, "log"), "-o", opts); err == nil {
			return nil
		}
	}
	return err
}

func (c *Cluster) stop() {
	c.run("pg_ctl", "stop", "-D", c.data(), "-m", "immediate", "-w")
	os.RemoveAll(c.dir)
}

func (c *Cluster) run(prog string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		return fmt.Errorf("%s %v: %v\n%s\n%s", prog, args, err, out.Bytes(), log)
	}
	return nil
}

// URL is the connection string of database name.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://mtlsctl@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

func (c *Cluster) newDatabase() (string, error) {
	c.mu.Lock()
	c.n++
	name := fmt.Sprintf("t%d", c.n)
	c.mu.Unlock()
	db, err := sql.Open("postgres", c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		return "", err
	}
	return c.URL(name), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
