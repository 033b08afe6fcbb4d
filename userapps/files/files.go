// Package files keeps notebooks (and any other file of the Jupyter contents
// API) as files under one folder of the data directory, with at most one
// checkpoint per file. It implements userapps.NotebookStore.
//
// Every write is atomic and durable: the content goes to a hidden temporary
// file in the target's folder, which is fsynced, renamed over the target,
// and the folder is fsynced; a crash at any point leaves the old or the new
// content. Temporary files a crash left behind are removed by Open.
//
// All access goes through an os.Root, so a path cannot leave the folder,
// not even through a symlink; on top of that, paths are checked (relative,
// slash-separated, no "..", no hidden component, no NUL or backslash), which
// also keeps the checkpoints folder (.checkpoints) out of reach.
package files

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/userapps"
)

// CheckpointID is the id of a file's only checkpoint (Jupyter's convention).
const CheckpointID = "checkpoint"

// checkpointDir is the hidden folder that mirrors the tree with checkpoints.
const checkpointDir = ".checkpoints"

// tmpSuffix marks temporary files; Open removes leftovers.
const tmpSuffix = ".flowlab-tmp"

// Options configures Open. The zero value works.
type Options struct {
	// Now stamps checkpoints; nil means time.Now.
	Now func() time.Time
	// Logger receives the leftover temporary files removed; nil discards.
	Logger *slog.Logger
	// NoSync skips the fsyncs (tests and throwaway demo data only).
	NoSync bool
}

// Notebooks is the file store. It is safe for concurrent use within one
// process; one data directory belongs to one server.
type Notebooks struct {
	dir  string
	root *os.Root
	now  func() time.Time
	log  *slog.Logger
	sync bool
	// mu serializes changes so the existence checks of Copy and Rename hold
	// until the change is made; reads do not take it.
	mu sync.Mutex
}

var _ userapps.NotebookStore = (*Notebooks)(nil)

// Open opens the store rooted at dir, creating it (0700) if needed, and
// removes temporary files a crash left behind.
func Open(dir string, opts Options) (*Notebooks, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open notebooks %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("open notebooks: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open notebooks: %w", err)
	}
	n := &Notebooks{dir: abs, root: root, now: opts.Now, log: opts.Logger, sync: !opts.NoSync}
	if n.now == nil {
		n.now = time.Now
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if err := n.sweep(); err != nil {
		root.Close()
		return nil, fmt.Errorf("open notebooks %s: %w", abs, err)
	}
	return n, nil
}

// Close releases the store's folder handle.
func (n *Notebooks) Close() error { return n.root.Close() }

// Dir returns the store's absolute folder.
func (n *Notebooks) Dir() string { return n.dir }

func (n *Notebooks) sweep() error {
	return fs.WalkDir(n.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), tmpSuffix) {
			n.log.Info("removing a temporary file left by a crash", "path", p)
			if err := n.root.Remove(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// clean checks a slash-separated relative path; "" (the root) is allowed
// only when root is true.
func clean(p string, root bool) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("path %q %s: %w", p, why, userapps.ErrInvalid)
	}
	if p == "" {
		if root {
			return ".", nil
		}
		return bad("is empty")
	}
	if strings.ContainsAny(p, "\x00\\") {
		return bad("contains a NUL or a backslash")
	}
	if strings.HasPrefix(p, "/") {
		return bad("is absolute; paths are relative to the notebooks folder")
	}
	for _, part := range strings.Split(p, "/") {
		switch {
		case part == "" || part == ".":
			return bad("has an empty or '.' component")
		case part == "..":
			return bad("goes up with '..'")
		case strings.HasPrefix(part, "."):
			return bad("has a hidden component (starting with '.')")
		}
	}
	return p, nil
}

// notFound turns fs.ErrNotExist into ErrNotFound and a Root escape into
// ErrInvalid. os.Root's escape error is not exported, hence its text.
func notFound(op, p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: %w", op, p, userapps.ErrNotFound)
	case err != nil && strings.Contains(err.Error(), "path escapes from parent"):
		return fmt.Errorf("%s %s: a symlink leads outside the notebooks folder: %w", op, p, userapps.ErrInvalid)
	}
	return fmt.Errorf("%s %s: %w", op, p, err)
}

func entry(p string, fi fs.FileInfo) userapps.Entry {
	e := userapps.Entry{Path: p, Dir: fi.IsDir(), Modified: fi.ModTime().UTC()}
	if !e.Dir {
		e.Size = fi.Size()
	}
	if p == "." {
		e.Path = ""
	}
	return e
}

// validNotebook checks what Put accepts for a .ipynb path.
func validNotebook(p string, data []byte) error {
	if !strings.HasSuffix(p, ".ipynb") {
		return nil
	}
	var nb struct {
		NBFormat *int `json:"nbformat"`
	}
	if err := json.Unmarshal(data, &nb); err != nil {
		return fmt.Errorf("notebook %s is not JSON (%v): %w", p, err, userapps.ErrInvalid)
	}
	if nb.NBFormat == nil || *nb.NBFormat != 4 {
		return fmt.Errorf("notebook %s is not nbformat 4: %w", p, userapps.ErrInvalid)
	}
	return nil
}

// writeAtomic writes data to p inside the root: temporary file, fsync,
// rename, fsync of the folder. With noClobber the final step is a hard link,
// which fails if p exists (ErrConflict).
func (n *Notebooks) writeAtomic(p string, data []byte, mtime time.Time, noClobber bool) error {
	return writeAtomic(n.root, n.sync, p, data, mtime, noClobber)
}

// WriteFile writes one file outside any store (the executed notebook of
// `flowlab run -o OUT`) as the store writes its files: a temporary file
// beside it, fsync, rename over it, fsync of the folder. The folder must
// exist. A name ending in .ipynb must hold nbformat 4 JSON, else the error
// wraps ErrInvalid. Files it creates get mode 0600.
func WriteFile(name string, data []byte) error {
	if err := validNotebook(name, data); err != nil {
		return err
	}
	root, err := os.OpenRoot(filepath.Dir(name))
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer root.Close()
	if err := writeAtomic(root, true, filepath.Base(name), data, time.Time{}, false); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// writeAtomic writes data to p inside root (see Notebooks.writeAtomic).
func writeAtomic(root *os.Root, durable bool, p string, data []byte, mtime time.Time, noClobber bool) error {
	dir := path.Dir(p)
	if err := root.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var r [8]byte
	rand.Read(r[:])
	tmp := path.Join(dir, "."+path.Base(p)+"."+hex.EncodeToString(r[:])+tmpSuffix)
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !mtime.IsZero() {
		err = root.Chtimes(tmp, mtime, mtime)
	}
	if err == nil {
		if noClobber {
			err = root.Link(tmp, p)
			if errors.Is(err, fs.ErrExist) {
				err = fmt.Errorf("%s exists: %w", p, userapps.ErrConflict)
			}
			root.Remove(tmp)
		} else {
			err = root.Rename(tmp, p)
		}
	}
	if err != nil {
		root.Remove(tmp)
		return err
	}
	return syncDir(root, durable, dir)
}

func (n *Notebooks) syncDir(dir string) error {
	return syncDir(n.root, n.sync, dir)
}

func syncDir(root *os.Root, durable bool, dir string) error {
	if !durable {
		return nil
	}
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get returns a file's content and description. Errors wrap ErrInvalid,
// ErrNotFound (also for a folder).
func (n *Notebooks) Get(ctx context.Context, p string) ([]byte, userapps.Entry, error) {
	p, err := clean(p, false)
	if err != nil {
		return nil, userapps.Entry{}, err
	}
	f, err := n.root.Open(p)
	if err != nil {
		return nil, userapps.Entry{}, notFound("get", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, userapps.Entry{}, notFound("get", p, err)
	}
	if fi.IsDir() {
		return nil, userapps.Entry{}, fmt.Errorf("get %s: a folder, not a file: %w", p, userapps.ErrNotFound)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, userapps.Entry{}, fmt.Errorf("get %s: %w", p, err)
	}
	return buf.Bytes(), entry(p, fi), nil
}

// Put writes a file atomically, creating its folders. Errors wrap
// ErrInvalid (bad path, a .ipynb that is not nbformat 4 JSON).
func (n *Notebooks) Put(ctx context.Context, p string, data []byte) (userapps.Entry, error) {
	p, err := clean(p, false)
	if err != nil {
		return userapps.Entry{}, err
	}
	if err := validNotebook(p, data); err != nil {
		return userapps.Entry{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if fi, err := n.root.Stat(p); err == nil && fi.IsDir() {
		return userapps.Entry{}, fmt.Errorf("put %s: a folder is in the way: %w", p, userapps.ErrConflict)
	}
	if err := n.writeAtomic(p, data, time.Time{}, false); err != nil {
		return userapps.Entry{}, notFound("put", p, err)
	}
	return n.Stat(ctx, p)
}

// Stat describes a file or folder ("" is the root). Errors wrap ErrInvalid,
// ErrNotFound.
func (n *Notebooks) Stat(ctx context.Context, p string) (userapps.Entry, error) {
	p, err := clean(p, true)
	if err != nil {
		return userapps.Entry{}, err
	}
	fi, err := n.root.Stat(p)
	if err != nil {
		return userapps.Entry{}, notFound("stat", p, err)
	}
	return entry(p, fi), nil
}

// List returns a folder's visible entries by name ("" is the root). Errors
// wrap ErrInvalid, ErrNotFound.
func (n *Notebooks) List(ctx context.Context, dir string) ([]userapps.Entry, error) {
	dir, err := clean(dir, true)
	if err != nil {
		return nil, err
	}
	f, err := n.root.Open(dir)
	if err != nil {
		return nil, notFound("list", dir, err)
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, notFound("list", dir, err)
	}
	var out []userapps.Entry
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, entry(path.Join(dir, de.Name()), fi))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Mkdir creates a folder and its parents. Errors wrap ErrInvalid, or
// ErrConflict if a file is in the way.
func (n *Notebooks) Mkdir(ctx context.Context, dir string) (userapps.Entry, error) {
	dir, err := clean(dir, false)
	if err != nil {
		return userapps.Entry{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.root.MkdirAll(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTDIR) {
			return userapps.Entry{}, fmt.Errorf("mkdir %s: a file is in the way: %w", dir, userapps.ErrConflict)
		}
		return userapps.Entry{}, notFound("mkdir", dir, err)
	}
	return n.Stat(ctx, dir)
}

// Copy copies a file to a new path (not its checkpoint). Errors wrap
// ErrInvalid, ErrNotFound, ErrConflict if to exists.
func (n *Notebooks) Copy(ctx context.Context, from, to string) (userapps.Entry, error) {
	data, _, err := n.Get(ctx, from)
	if err != nil {
		return userapps.Entry{}, fmt.Errorf("copy: %w", err)
	}
	to, err = clean(to, false)
	if err != nil {
		return userapps.Entry{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.writeAtomic(to, data, time.Time{}, true); err != nil {
		return userapps.Entry{}, notFound("copy to", to, err)
	}
	return n.Stat(ctx, to)
}

// Rename moves a file or folder and its checkpoints. Errors wrap
// ErrInvalid, ErrNotFound, ErrConflict if to exists.
func (n *Notebooks) Rename(ctx context.Context, from, to string) (userapps.Entry, error) {
	from, err := clean(from, false)
	if err != nil {
		return userapps.Entry{}, err
	}
	to, err = clean(to, false)
	if err != nil {
		return userapps.Entry{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.root.Lstat(from); err != nil {
		return userapps.Entry{}, notFound("rename", from, err)
	}
	if _, err := n.root.Lstat(to); err == nil {
		return userapps.Entry{}, fmt.Errorf("rename %s to %s: %s exists: %w", from, to, to, userapps.ErrConflict)
	}
	if err := n.root.MkdirAll(path.Dir(to), 0o700); err != nil {
		return userapps.Entry{}, notFound("rename to", to, err)
	}
	if err := n.root.Rename(from, to); err != nil {
		return userapps.Entry{}, notFound("rename", from, err)
	}
	if err := n.syncDir(path.Dir(to)); err != nil {
		return userapps.Entry{}, err
	}
	if err := n.syncDir(path.Dir(from)); err != nil {
		return userapps.Entry{}, err
	}
	// The checkpoint (or a folder of them) follows.
	cpFrom, cpTo := path.Join(checkpointDir, from), path.Join(checkpointDir, to)
	if _, err := n.root.Lstat(cpFrom); err == nil {
		n.root.RemoveAll(cpTo)
		if err := n.root.MkdirAll(path.Dir(cpTo), 0o700); err == nil {
			err = n.root.Rename(cpFrom, cpTo)
		}
		if err != nil {
			n.log.Warn("checkpoint not moved with its file", "from", from, "to", to, "err", err)
		}
	}
	return n.Stat(ctx, to)
}

// Delete removes a file and its checkpoint, or an empty folder. Errors wrap
// ErrInvalid, ErrNotFound, ErrConflict for a folder that is not empty.
func (n *Notebooks) Delete(ctx context.Context, p string) error {
	p, err := clean(p, false)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	fi, err := n.root.Lstat(p)
	if err != nil {
		return notFound("delete", p, err)
	}
	if fi.IsDir() {
		if list, err := n.List(ctx, p); err == nil && len(list) > 0 {
			return fmt.Errorf("delete %s: the folder is not empty: %w", p, userapps.ErrConflict)
		}
		// Hidden leftovers (temporary files) go with the folder.
		if err := n.root.RemoveAll(p); err != nil {
			return notFound("delete", p, err)
		}
	} else if err := n.root.Remove(p); err != nil {
		return notFound("delete", p, err)
	}
	if err := n.root.RemoveAll(path.Join(checkpointDir, p)); err != nil {
		n.log.Warn("checkpoint not deleted with its file", "path", p, "err", err)
	}
	return n.syncDir(path.Dir(p))
}

// LocalDir returns the absolute folder holding p on the local disk. Errors
// wrap ErrInvalid.
func (n *Notebooks) LocalDir(p string) (string, error) {
	p, err := clean(p, false)
	if err != nil {
		return "", err
	}
	return filepath.Join(n.dir, filepath.FromSlash(path.Dir(p))), nil
}

func cpPath(p string) string { return path.Join(checkpointDir, p) }

// CreateCheckpoint copies the file as it is now to its checkpoint,
// replacing the previous one, and returns it. Errors wrap ErrInvalid,
// ErrNotFound.
func (n *Notebooks) CreateCheckpoint(ctx context.Context, p string) (userapps.Checkpoint, error) {
	data, _, err := n.Get(ctx, p)
	if err != nil {
		return userapps.Checkpoint{}, fmt.Errorf("create checkpoint: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now().UTC().Truncate(time.Microsecond)
	if err := n.writeAtomic(cpPath(p), data, now, false); err != nil {
		return userapps.Checkpoint{}, fmt.Errorf("create checkpoint of %s: %w", p, err)
	}
	return userapps.Checkpoint{ID: CheckpointID, Created: now}, nil
}

// Checkpoints lists the file's checkpoints: none or one. Errors wrap
// ErrInvalid.
func (n *Notebooks) Checkpoints(ctx context.Context, p string) ([]userapps.Checkpoint, error) {
	p, err := clean(p, false)
	if err != nil {
		return nil, err
	}
	fi, err := n.root.Stat(cpPath(p))
	if errors.Is(err, fs.ErrNotExist) || err == nil && fi.IsDir() {
		return []userapps.Checkpoint{}, nil
	}
	if err != nil {
		return nil, notFound("checkpoints of", p, err)
	}
	return []userapps.Checkpoint{{ID: CheckpointID, Created: fi.ModTime().UTC()}}, nil
}

func (n *Notebooks) checkpoint(p, id string) (string, error) {
	p, err := clean(p, false)
	if err != nil {
		return "", err
	}
	if id != CheckpointID {
		return "", fmt.Errorf("checkpoint %q of %s: %w", id, p, userapps.ErrNotFound)
	}
	return p, nil
}

// GetCheckpoint returns a checkpoint's content. Errors wrap ErrInvalid,
// ErrNotFound.
func (n *Notebooks) GetCheckpoint(ctx context.Context, p, id string) ([]byte, error) {
	p, err := n.checkpoint(p, id)
	if err != nil {
		return nil, err
	}
	data, err := n.root.ReadFile(cpPath(p))
	if err != nil {
		return nil, notFound("checkpoint of", p, err)
	}
	return data, nil
}

// RestoreCheckpoint writes the checkpoint over the file, atomically; the
// checkpoint stays. Errors wrap ErrInvalid, ErrNotFound.
func (n *Notebooks) RestoreCheckpoint(ctx context.Context, p, id string) error {
	data, err := n.GetCheckpoint(ctx, p, id)
	if err != nil {
		return fmt.Errorf("restore checkpoint: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.writeAtomic(p, data, time.Time{}, false); err != nil {
		return fmt.Errorf("restore checkpoint of %s: %w", p, err)
	}
	return nil
}

// DeleteCheckpoint removes a checkpoint. Errors wrap ErrInvalid,
// ErrNotFound.
func (n *Notebooks) DeleteCheckpoint(ctx context.Context, p, id string) error {
	p, err := n.checkpoint(p, id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	fi, err := n.root.Lstat(cpPath(p))
	if err != nil || fi.IsDir() {
		return fmt.Errorf("delete checkpoint of %s: %w", p, userapps.ErrNotFound)
	}
	if err := n.root.Remove(cpPath(p)); err != nil {
		return notFound("delete checkpoint of", p, err)
	}
	return n.syncDir(path.Dir(cpPath(p)))
}
