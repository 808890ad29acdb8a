// Command filecreate times creating small files in a directory, the cost
// that bounds 'client sign' and 'client issue' on a slow disk
// (docs/performance.md, signing devices' requests): with -delete it first
// deletes as many files nearby, as a previous run's clean-up does, which
// on ext4 makes the inode allocator skip the recently freed inodes for a
// while.
//
//	go run ./examples/bench/filecreate -dir /path/on/the/disk            # quiet
//	go run ./examples/bench/filecreate -dir /path/on/the/disk -delete -n 20000   # right after deletions
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	base := flag.String("dir", os.TempDir(), "a directory on the disk to measure")
	n := flag.Int("n", 1000, "files")
	del := flag.Bool("delete", false, "create and delete n files first")
	flag.Parse()
	dir, err := os.MkdirTemp(*base, "filecreate-")
	check(err)
	defer os.RemoveAll(dir)
	if *del {
		for i := 0; i < *n; i++ {
			check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("old-%d", i)), []byte("x"), 0o600))
		}
		for i := 0; i < *n; i++ {
			check(os.Remove(filepath.Join(dir, fmt.Sprintf("old-%d", i))))
		}
	}
	data := make([]byte, 800) // about a certificate
	start := time.Now()
	for i := 0; i < *n; i++ {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprint(i)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		check(err)
		_, err = f.Write(data)
		check(err)
		check(f.Close())
	}
	fmt.Printf("%d files of %d bytes: %v each\n", *n, len(data), time.Since(start)/time.Duration(*n))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "filecreate:", err)
		os.Exit(1)
	}
}
