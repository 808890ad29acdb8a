package input

import (
	"bytes"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The input reader against the real things: /dev/zero, a FIFO, a
// directory, a socket, a pipe named the way <(…) names it, and files over
// a cap. Each refusal is one error naming the file, never a fatal error.

func TestReadInputRefusesDevicesDirectoriesSockets(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct{ path, want string }{
		{"/dev/zero", "/dev/zero: is a character device, not a file or a pipe to read the CRL from"},
		{dir, dir + ": is a directory, not a file or a pipe to read the CRL from"},
		{sock, sock + ": is a socket, not a file or a pipe to read the CRL from"},
	} {
		_, err := ReadInputAs(tc.path, nil, InputCRL)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v, want %q", tc.path, err, tc.want)
		}
		if pkix.HintOf(err).IsZero() {
			t.Errorf("%s: no hint", tc.path)
		}
	}
	// A symlink is followed, and what it points at judged.
	link := filepath.Join(dir, "ca.crl")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFileAs(link, InputCRL); err == nil || !strings.Contains(err.Error(), "is a character device") {
		t.Errorf("symlink to /dev/zero: %v", err)
	}
}

func TestReadInputStdinDevice(t *testing.T) {
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	_, err = ReadInputAs("-", zero, InputCRL)
	if err == nil || !strings.HasPrefix(err.Error(), "stdin: is a character device") {
		t.Errorf("stdin from /dev/zero: %v", err)
	}
}

func TestReadInputFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pw")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// The writer comes after the reader opened, as with mkfifo and a
	// producer started in the background.
	go func() {
		time.Sleep(50 * time.Millisecond)
		os.WriteFile(fifo, []byte("secret\n"), 0)
	}()
	data, err := ReadInputAs(fifo, nil, InputSecret)
	if err != nil || string(data) != "secret\n" {
		t.Fatalf("FIFO: %q, %v", data, err)
	}
	// A writer that does not stop: the cap ends it, one line.
	done := make(chan struct{})
	defer close(done)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		chunk := bytes.Repeat([]byte("a"), 4096)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := f.Write(chunk); err != nil {
				return
			}
		}
	}()
	_, err = ReadInputAs(fifo, nil, InputSecret)
	if err == nil || err.Error() != fifo+": is larger than 64 KiB: more than any password" {
		t.Fatalf("endless FIFO: %v", err)
	}
}

// A pipe named as bash names <(…): /dev/fd/N, a link to an anonymous pipe.
func TestReadInputProcessSubstitution(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.Write([]byte("dev-1\ndev-2\n"))
		w.Close()
	}()
	path := fmt.Sprintf("/dev/fd/%d", r.Fd())
	data, err := ReadInputAs(path, nil, InputCNList)
	if err != nil || string(data) != "dev-1\ndev-2\n" {
		t.Fatalf("%s: %q, %v", path, data, err)
	}
}

func TestReadInputCaps(t *testing.T) {
	dir := t.TempDir()
	// A sparse file one byte over the CRL cap: refused from its size,
	// before a byte of it is read.
	huge := filepath.Join(dir, "huge.crl")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(InputCRL.Max + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadInputAs(huge, nil, InputCRL)
	if err == nil || err.Error() != huge+": is larger than 1 GiB: more than any CRL" {
		t.Errorf("over the CRL cap: %v", err)
	}
	// Exactly at a cap is taken; one byte more is not, from a file and
	// from stdin alike.
	at := bytes.Repeat([]byte("x"), int(InputSecret.Max))
	file := filepath.Join(dir, "pw")
	os.WriteFile(file, at, 0o600)
	if data, err := ReadInputAs(file, nil, InputSecret); err != nil || len(data) != len(at) {
		t.Errorf("at the cap: %d bytes, %v", len(data), err)
	}
	if data, err := ReadInputAs("-", bytes.NewReader(at), InputSecret); err != nil || len(data) != len(at) {
		t.Errorf("stdin at the cap: %d bytes, %v", len(data), err)
	}
	os.WriteFile(file, append(at, 'x'), 0o600)
	if _, err := ReadInputAs(file, nil, InputSecret); err == nil || !strings.Contains(err.Error(), "is larger than 64 KiB") {
		t.Errorf("over the cap: %v", err)
	}
	if _, err := ReadInputAs("-", bytes.NewReader(append(at, 'x')), InputSecret); err == nil || err.Error() != "stdin: is larger than 64 KiB: more than any password" {
		t.Errorf("stdin over the cap: %v", err)
	}
	// The CRL cap is far above a million-entry CRL (about 37 MB).
	if InputCRL.Max < 20*37<<20 {
		t.Errorf("the CRL cap %d does not leave room for CRLs far larger than a million entries", InputCRL.Max)
	}
}

func TestReadRegularRefusesFIFOWithoutBlocking(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "ca.crl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// No writer ever comes: an ordinary open would block for good.
	res := make(chan error, 1)
	go func() {
		_, _, err := ReadRegular(fifo, InputCRL)
		res <- err
	}()
	select {
	case err := <-res:
		if err == nil || err.Error() != fifo+": is a pipe, not a regular file to read the CRL from" {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("opening a FIFO blocked")
	}
	if _, _, err := ReadRegular("/dev/zero", InputCRL); err == nil || !strings.Contains(err.Error(), "is a character device, not a regular file") {
		t.Errorf("/dev/zero: %v", err)
	}
}
