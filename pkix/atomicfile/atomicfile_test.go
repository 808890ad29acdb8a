package atomicfile

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

func TestWriteFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "b.pem")
	if err := os.WriteFile(taken, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := []File{
		{Path: filepath.Join(dir, "a.pem"), Data: []byte("a"), Mode: ModePublic},
		{Path: taken, Data: []byte("b"), Mode: ModeSecret},
	}
	if _, err := WriteFiles(files, false); err == nil {
		t.Fatal("overwrote an existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory has %d entries after a failed write, want only b.pem", len(entries))
	}
	if data, _ := os.ReadFile(taken); string(data) != "precious" {
		t.Errorf("existing file changed to %q", data)
	}
}

func TestWriteFilesModesAndBackup(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pem")
	if _, err := WriteFiles([]File{{Path: key, Data: []byte("old"), Mode: ModeSecret}}, false); err != nil {
		t.Fatal(err)
	}
	w, err := WriteFiles([]File{{Path: key, Data: []byte("new"), Mode: ModeSecret}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if w[0].Backup != key+".bak" {
		t.Errorf("backup %q", w[0].Backup)
	}
	for path, want := range map[string]string{key: "new", key + ".bak": "old"} {
		data, _ := os.ReadFile(path)
		info, _ := os.Stat(path)
		if string(data) != want || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %q mode %v", path, data, info.Mode().Perm())
		}
	}
}

// Several processes (here goroutines) writing the same name at once: exactly
// one wins, the others are refused, and the file holds the winner's bytes.
func TestWriteFilesRaceHasOneWinner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ca-key.pem")
	var wins atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := []byte{byte('a' + i)}
			if _, err := WriteFiles([]File{{Path: path, Data: data, Mode: ModeSecret}}, false); err == nil {
				wins.Add(1)
				winner.Store(string(data))
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d writers succeeded, want 1", wins.Load())
	}
	if data, _ := os.ReadFile(path); string(data) != winner.Load().(string) {
		t.Errorf("file holds %q, winner wrote %q", data, winner.Load())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left, want 1 (no temp files)", len(entries))
	}
}
