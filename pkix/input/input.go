package input

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/mattn/go-isatty"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
)

// Every file a command reads whole goes through ReadInputAs: a regular
// file, stdin or a pipe (so `--password-file <(pass show x)` works), never
// more than its kind's cap. A device, a directory or a socket is refused
// before a byte is read: /dev/zero never ends and /dev/random never
// answers, and either would otherwise take the process down with a Go
// fatal error instead of one line naming the file.

// InputKind is what an input file holds. Its cap bounds the memory a
// wrong file can take; each is far above what the kind ever holds, so no
// real input is refused.
type InputKind struct {
	Name string // for messages: "CRL", "password", …
	Max  int64  // bytes
}

var (
	// A CRL of a million entries is about 37 MB in DER (50 MB in PEM).
	// 1 GiB is some 28 million entries: far past any list a client
	// downloads, and still a bound on memory.
	InputCRL = InputKind{"CRL", 1 << 30}
	// inspect and the generic reader take anything, a CRL included.
	InputAny = InputKind{"input", 1 << 30}
	// A certificate is 1-2 KiB in PEM; 16 MiB is a bundle of thousands.
	InputCertificates = InputKind{"certificate bundle", 16 << 20}
	// A key, a CSR, a device request or a cfssl JSON document is a few
	// KiB; 1 MiB is generous.
	InputKey     = InputKind{"key", 1 << 20}
	InputRequest = InputKind{"request", 1 << 20}
	InputConfig  = InputKind{"JSON document", 1 << 20}
	// A CN is at most 64 bytes: 128 MiB is two million of them with
	// comments, ten times the largest fleet the benchmarks issue.
	InputCNList = InputKind{"CN list", 128 << 20}
	// A password or an API token is one line; 64 KiB is no secret anyone
	// types, and keeps a key file given by mistake from being read whole.
	InputSecret = InputKind{"password", 64 << 10}
	InputToken  = InputKind{"API token", 64 << 10}
	// crl build's serials are streamed, never held: the cap only stops a
	// regular file that is clearly something else (a disk image, say).
	InputSerials = InputKind{"serials list", 1 << 30}
)

// ReadInput reads a named input file; "-" reads from stdin. Errors name the
// file the way the user wrote it. It takes any kind of input, up to the
// largest cap; callers that know what they read use ReadInputAs.
func ReadInput(path string, stdin io.Reader) ([]byte, error) {
	return ReadInputAs(path, stdin, InputAny)
}

// ReadInputLimit is ReadInput for inputs with a known bound (a request, a
// certificate): more than limit bytes is refused.
func ReadInputLimit(path string, stdin io.Reader, limit int64) ([]byte, error) {
	return ReadInputAs(path, stdin, InputKind{Name: "input", Max: limit})
}

// ReadInputAs reads a named input of the given kind; "-" reads stdin.
func ReadInputAs(path string, stdin io.Reader, kind InputKind) ([]byte, error) {
	if path == "-" {
		if f, ok := stdin.(*os.File); ok {
			if err := checkInputType("stdin", f, kind, true); err != nil {
				return nil, err
			}
		}
		return readCapped("stdin", stdin, kind, 0)
	}
	f, err := OpenInput(path, kind)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := int64(0)
	info, err := f.Stat()
	if err == nil && info.Mode().IsRegular() {
		size = info.Size()
	} else if err == nil && info.Mode()&fs.ModeNamedPipe != 0 {
		defer closeOnInterrupt(f)() // a writer that never writes: a signal ends the wait
	}
	data, err := readCapped(path, f, kind, size)
	if err != nil {
		select {
		case <-interrupted:
			return nil, &pkix.Error{File: path, Msg: "interrupted while waiting for the pipe's data; nothing was written", Err: ErrInterrupted}
		default:
		}
	}
	return data, err
}

// OpenInput opens a named input of the given kind for streaming: a
// regular file or a pipe, one that is not larger than the cap (a pipe's
// reader must bound what it reads itself).
func OpenInput(path string, kind InputKind) (*os.File, error) {
	var f *os.File
	var err error
	info, statErr := os.Stat(path)
	if statErr == nil && !isFileOrPipe(info.Mode()) {
		// Refused before the open, which for a socket fails obscurely
		// and for a device may have effects of its own.
		return nil, notAFile(path, info.Mode(), kind, false)
	}
	if statErr == nil && info.Mode()&fs.ModeNamedPipe != 0 {
		// A pipe is opened the ordinary way, waiting for its writer as
		// cat does (a <(…) pipe has one already): opened non-blocking,
		// a FIFO whose writer has not come yet reads as empty. A signal
		// ends the wait (inputwait.go).
		f, err = openPipe(path)
	} else {
		// O_NONBLOCK: whatever it is, its open must not wait (a FIFO put
		// here since the stat, a device); it is looked at before reading.
		f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	if errors.Is(err, ErrInterrupted) {
		return nil, err // already names the file
	} else if err != nil {
		return nil, openError(path, err)
	}
	if err := checkInputType(path, f, kind, false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// OpenRegular opens path only if it is a regular file, without ever
// blocking: for files re-read by a long-running process (serve's CRL),
// where a FIFO or a device put in place must not hang or flood it.
func OpenRegular(path string, kind InputKind) (*os.File, fs.FileInfo, error) {
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		return nil, nil, notRegular(path, info.Mode(), kind)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, openError(path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, openError(path, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, notRegular(path, info.Mode(), kind)
	}
	if info.Size() > kind.Max {
		f.Close()
		return nil, nil, tooLarge(path, kind)
	}
	return f, info, nil
}

func notRegular(path string, m fs.FileMode, kind InputKind) *pkix.Error {
	return pkix.Errorf(path, "is %s, not a regular file to read the %s from", typeName(m), kind.Name).
		WithHint("put the %s itself at %s", kind.Name, path)
}

// ReadRegular reads a regular file of the given kind whole (see
// OpenRegular), with what its stat said when it was opened.
func ReadRegular(path string, kind InputKind) ([]byte, fs.FileInfo, error) {
	f, info, err := OpenRegular(path, kind)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	data, err := readCapped(path, f, kind, info.Size())
	return data, info, err
}

// checkInputType refuses what is not a file or a pipe, and a regular file
// over the cap before it is read. A terminal is stdin typed by hand.
func checkInputType(label string, f *os.File, kind InputKind, isStdin bool) error {
	info, err := f.Stat()
	if err != nil {
		return openError(label, err)
	}
	m := info.Mode()
	switch {
	case m.IsRegular():
		if info.Size() > kind.Max {
			return tooLarge(label, kind)
		}
		return nil
	case m&fs.ModeNamedPipe != 0:
		return nil
	case isStdin && m&fs.ModeCharDevice != 0 && isTerminal(f):
		return nil
	}
	return notAFile(label, m, kind, isStdin)
}

func isFileOrPipe(m fs.FileMode) bool { return m.IsRegular() || m&fs.ModeNamedPipe != 0 }

func notAFile(label string, m fs.FileMode, kind InputKind, isStdin bool) *pkix.Error {
	what := "the file"
	if isStdin {
		what = "a file or a pipe to stdin"
	}
	return pkix.Errorf(label, "is %s, not a file or a pipe to read the %s from", typeName(m), kind.Name).
		WithHint("give %s that holds the %s", what, kind.Name)
}

// readCapped reads r whole, refusing more than the kind's cap after
// reading one byte past it (a pipe says nothing of its size up front).
func readCapped(label string, r io.Reader, kind InputKind, size int64) ([]byte, error) {
	buf := make([]byte, 0, min(size, kind.Max)+1)
	for int64(len(buf)) <= kind.Max {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // let append grow it
		}
		room := min(int64(cap(buf)), kind.Max+1)
		n, err := r.Read(buf[len(buf):room])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, pkix.Errorf(label, "cannot read: %v", atomicfile.UnwrapPathError(err))
		}
	}
	return nil, tooLarge(label, kind)
}

func tooLarge(label string, kind InputKind) *pkix.Error {
	return pkix.Errorf(label, "is larger than %s: more than any %s", sizeText(kind.Max), kind.Name).
		WithHint("check the file name (the README's \"Input files\" lists each input's cap)")
}

func openError(path string, err error) *pkix.Error {
	if errors.Is(err, fs.ErrNotExist) {
		return &pkix.Error{File: path, Msg: "no such file", Err: err}
	}
	return &pkix.Error{File: path, Msg: fmt.Sprintf("cannot read: %v", atomicfile.UnwrapPathError(err)), Err: err}
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeNamedPipe != 0:
		return "a pipe"
	}
	return "not a regular file"
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func isTerminal(f *os.File) bool { return isatty.IsTerminal(f.Fd()) }

// ReadFileAs is ReadInputAs for a path that is always a file name ("-"
// too): the files a directory names, and those handed down to pkidir.
func ReadFileAs(path string, kind InputKind) ([]byte, error) {
	if path == "-" {
		path = "./-"
	}
	return ReadInputAs(path, nil, kind)
}
