package files

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/flowlab/flowlab/userapps"
)

var ctx = context.Background()

func nb(text string) []byte {
	return []byte(`{"cells":[{"cell_type":"code","source":"` + text + `","metadata":{},"outputs":[],"execution_count":null}],"metadata":{},"nbformat":4,"nbformat_minor":5}`)
}

func open(t *testing.T) *Notebooks {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n, err := Open(t.TempDir(), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestPathsConfined(t *testing.T) {
	n := open(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.ipynb"), nb("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A symlink inside the store pointing out of it.
	if err := os.Symlink(outside, filepath.Join(n.Dir(), "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.ipynb"), filepath.Join(n.Dir(), "link.ipynb")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"../x.ipynb", "a/../../x.ipynb", "/etc/passwd", "a//b.ipynb", "./a.ipynb", "a/./b.ipynb",
		".checkpoints/a.ipynb", "a/.hidden.ipynb", `a\..\b.ipynb`, "nul\x00.ipynb", "",
		"escape/secret.ipynb", "escape/new.ipynb", "link.ipynb",
	} {
		t.Run(p, func(t *testing.T) {
			if _, _, err := n.Get(ctx, p); !errors.Is(err, userapps.ErrInvalid) {
				t.Errorf("Get: %v, want ErrInvalid", err)
			}
			if p == "link.ipynb" {
				// Writing or deleting replaces the link itself, never its
				// target: checked below.
				return
			}
			if _, err := n.Put(ctx, p, nb("x")); !errors.Is(err, userapps.ErrInvalid) {
				t.Errorf("Put: %v, want ErrInvalid", err)
			}
			if err := n.Delete(ctx, p); !errors.Is(err, userapps.ErrInvalid) && !errors.Is(err, userapps.ErrNotFound) {
				t.Errorf("Delete: %v", err)
			}
			if _, err := n.Copy(ctx, "none.ipynb", p); err == nil {
				t.Errorf("Copy to %q succeeded", p)
			}
		})
	}
	if _, err := n.Put(ctx, "link.ipynb", nb("over the link")); err != nil {
		t.Fatal(err)
	}
	if err := n.Delete(ctx, "link.ipynb"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret.ipynb")); !bytes.Equal(b, nb("secret")) {
		t.Fatal("the file outside was changed")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Fatalf("files appeared outside: %v", entries)
	}
}

func TestFiles(t *testing.T) {
	n := open(t)
	e, err := n.Put(ctx, "alice/Lab 1.ipynb", nb("v1"))
	if err != nil || e.Path != "alice/Lab 1.ipynb" || e.Size != int64(len(nb("v1"))) || e.Dir {
		t.Fatalf("Put = %+v, %v", e, err)
	}
	if fi, _ := os.Stat(filepath.Join(n.Dir(), "alice", "Lab 1.ipynb")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	data, _, err := n.Get(ctx, "alice/Lab 1.ipynb")
	if err != nil || !bytes.Equal(data, nb("v1")) {
		t.Fatalf("Get = %s, %v", data, err)
	}
	for _, tc := range []struct {
		name string
		data string
	}{{"not JSON", "{"}, {"nbformat 3", `{"nbformat":3}`}, {"no nbformat", `{}`}, {"array", `[]`}} {
		t.Run("put "+tc.name, func(t *testing.T) {
			if _, err := n.Put(ctx, "alice/bad.ipynb", []byte(tc.data)); !errors.Is(err, userapps.ErrInvalid) {
				t.Fatalf("Put = %v", err)
			}
		})
	}
	// Other files are stored as they are.
	if _, err := n.Put(ctx, "alice/notes.txt", []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Copy(ctx, "alice/Lab 1.ipynb", "alice/Lab 1 copy.ipynb"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Copy(ctx, "alice/Lab 1.ipynb", "alice/notes.txt"); !errors.Is(err, userapps.ErrConflict) {
		t.Fatalf("Copy over a file: %v", err)
	}
	if _, err := n.Copy(ctx, "alice/none.ipynb", "alice/x.ipynb"); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("Copy of nothing: %v", err)
	}
	list, err := n.List(ctx, "alice")
	var names []string
	for _, e := range list {
		names = append(names, e.Path)
	}
	if err != nil || !reflect.DeepEqual(names, []string{"alice/Lab 1 copy.ipynb", "alice/Lab 1.ipynb", "alice/notes.txt"}) {
		t.Fatalf("List = %v, %v", names, err)
	}
	if root, err := n.List(ctx, ""); err != nil || len(root) != 1 || !root[0].Dir || root[0].Path != "alice" {
		t.Fatalf("List root = %+v, %v (the checkpoints folder must not show)", root, err)
	}

	// Checkpoints follow renames and go with deletes.
	cp, err := n.CreateCheckpoint(ctx, "alice/Lab 1.ipynb")
	if err != nil || cp.ID != CheckpointID || !cp.Created.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("CreateCheckpoint = %+v, %v", cp, err)
	}
	if _, err := n.Put(ctx, "alice/Lab 1.ipynb", nb("v2")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Rename(ctx, "alice/Lab 1.ipynb", "alice/Lab 1 copy.ipynb"); !errors.Is(err, userapps.ErrConflict) {
		t.Fatalf("Rename over a file: %v", err)
	}
	if _, err := n.Rename(ctx, "alice/Lab 1.ipynb", "bob/Renamed.ipynb"); err != nil {
		t.Fatal(err)
	}
	cps, err := n.Checkpoints(ctx, "bob/Renamed.ipynb")
	if err != nil || len(cps) != 1 || !reflect.DeepEqual(cps[0], cp) {
		t.Fatalf("Checkpoints after rename = %+v, %v; want %+v", cps, err, cp)
	}
	if cps, _ := n.Checkpoints(ctx, "alice/Lab 1.ipynb"); len(cps) != 0 {
		t.Fatalf("old path keeps checkpoints %v", cps)
	}
	if b, err := n.GetCheckpoint(ctx, "bob/Renamed.ipynb", CheckpointID); err != nil || !bytes.Equal(b, nb("v1")) {
		t.Fatalf("GetCheckpoint = %s, %v", b, err)
	}
	if err := n.RestoreCheckpoint(ctx, "bob/Renamed.ipynb", CheckpointID); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := n.Get(ctx, "bob/Renamed.ipynb"); !bytes.Equal(b, nb("v1")) {
		t.Fatalf("after restore: %s", b)
	}
	if err := n.RestoreCheckpoint(ctx, "bob/Renamed.ipynb", "other"); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("restore unknown id: %v", err)
	}
	if err := n.DeleteCheckpoint(ctx, "bob/Renamed.ipynb", CheckpointID); err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteCheckpoint(ctx, "bob/Renamed.ipynb", CheckpointID); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("second DeleteCheckpoint: %v", err)
	}
	if _, err := n.CreateCheckpoint(ctx, "bob/none.ipynb"); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("checkpoint of nothing: %v", err)
	}
	if _, err := n.CreateCheckpoint(ctx, "bob/Renamed.ipynb"); err != nil {
		t.Fatal(err)
	}
	if err := n.Delete(ctx, "bob"); !errors.Is(err, userapps.ErrConflict) {
		t.Fatalf("Delete of a full folder: %v", err)
	}
	if err := n.Delete(ctx, "bob/Renamed.ipynb"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Put(ctx, "bob/Renamed.ipynb", nb("v3")); err != nil {
		t.Fatal(err)
	}
	if cps, _ := n.Checkpoints(ctx, "bob/Renamed.ipynb"); len(cps) != 0 {
		t.Fatalf("a deleted file's checkpoint came back: %v", cps)
	}
	if err := n.Delete(ctx, "bob/Renamed.ipynb"); err != nil {
		t.Fatal(err)
	}
	if err := n.Delete(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Stat(ctx, "bob"); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("Stat deleted folder: %v", err)
	}
	if _, err := n.Mkdir(ctx, "alice/notes.txt/sub"); !errors.Is(err, userapps.ErrConflict) {
		t.Fatalf("Mkdir under a file: %v", err)
	}
	if e, err := n.Mkdir(ctx, "carol/work"); err != nil || !e.Dir {
		t.Fatalf("Mkdir = %+v, %v", e, err)
	}
	if dir, err := n.LocalDir("carol/work/x.ipynb"); err != nil || dir != filepath.Join(n.Dir(), "carol", "work") {
		t.Fatalf("LocalDir = %s, %v", dir, err)
	}
}

func TestOpenSweepsTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "alice"), 0o700); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "alice", ".x.ipynb.0123"+tmpSuffix)
	keep := filepath.Join(dir, "alice", "x.ipynb")
	os.WriteFile(left, []byte("{"), 0o600)
	os.WriteFile(keep, nb("x"), 0o600)
	n, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover kept: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.ipynb")
	for _, content := range []string{`{"nbformat": 4, "cells": []}`, `{"nbformat": 4, "cells": [1]}`} {
		if err := WriteFile(out, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(out); string(got) != content {
			t.Fatalf("file holds %q, want %q", got, content)
		}
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", fi.Mode(), err)
	}
	if err := WriteFile(out, []byte(`{"nbformat": 3}`)); !errors.Is(err, userapps.ErrInvalid) {
		t.Errorf("nbformat 3: %v, want ErrInvalid", err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "out.ipynb"), []byte(`{"nbformat": 4}`)); err == nil {
		t.Error("wrote into a folder that does not exist")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the folder, want only out.ipynb (no temporary file left)", len(entries))
	}
}
