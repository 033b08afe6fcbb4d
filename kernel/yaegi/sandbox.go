package yaegi

import (
	"archive/zip"
	"crypto/tls"
	"database/sql"
	"database/sql/driver"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"debug/plan9obj"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	htmltemplate "html/template"
	"io/fs"
	"io/ioutil" //nolint:staticcheck // cells may still use io/ioutil; it is wrapped like os
	"log"
	"log/syslog"
	"net"
	"net/http"
	"net/rpc"
	"net/rpc/jsonrpc"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

// ErrNotAllowed is wrapped by the errors of file operations a sandboxed cell
// attempts outside the directories the kernel was given. It also matches
// fs.ErrPermission.
var ErrNotAllowed = fmt.Errorf("not allowed in a sandboxed cell: the path is outside the directories this kernel may use: %w", fs.ErrPermission)

// errDriverNotAllowed is the error of sql.Open for a database driver compiled
// into the kernel (DuckDB): such a driver opens files itself, unchecked.
var errDriverNotAllowed = fmt.Errorf("not allowed in a sandboxed cell: database drivers compiled into the kernel read and write files outside the sandbox; query the lake with SQL and IO: %w", fs.ErrPermission)

// deniedPackages cannot be imported by sandboxed cells. syscall, unsafe,
// os/exec and plugin are absent from the sandboxed tables altogether.
var deniedPackages = map[string]string{
	"os/exec":                                "cells cannot start processes",
	"syscall":                                "cells cannot make system calls",
	"unsafe":                                 "cells cannot use unsafe",
	"plugin":                                 "cells cannot load plugins",
	"os/signal":                              "signal handling belongs to the kernel (it is how interrupts arrive)",
	"net/http/cgi":                           "cgi handlers start processes",
	"go/build":                               "it reads source trees outside the sandbox",
	"go/importer":                            "it reads compiled packages outside the sandbox",
	"github.com/traefik/yaegi/stdlib":        "the interpreter's own tables are not for cells",
	"runtime/cgo":                            "cells cannot use cgo",
	"github.com/traefik/yaegi/interp":        "the interpreter is not for cells",
	"github.com/traefik/yaegi/stdlib/unsafe": "cells cannot use unsafe",
	"github.com/traefik/yaegi/stdlib/syscall": "cells cannot make system calls",
}

// deniedSymbols are removed from the sandboxed tables: they start or find
// processes, reach raw file descriptors or memory, or trap the process.
var deniedSymbols = map[string][]string{
	"os":            {"StartProcess", "FindProcess", "NewFile", "ProcAttr", "Process"}, // &os.Process{Pid: n} can signal any process
	"runtime":       {"Breakpoint"},
	"runtime/debug": {"WriteHeapDump"},
	"net/http":      {"Dir"},
	"reflect":       {"NewAt"},
	"go/parser":     {"ParseDir"},
}

// deniedMethods are method names a sandboxed cell may not select: methods of
// library types that open files by name and cannot be wrapped.
var deniedMethods = map[string]string{
	"ParseFiles": "template files are read by name; read them with os.ReadFile and call Parse, or use ParseFS with os.DirFS",
	"ParseGlob":  "template files are read by name; read them with os.ReadFile and call Parse, or use ParseFS with os.DirFS",
}

// sandbox checks the paths cells use against the directories the kernel was
// given. Checks resolve symbolic links; they are a guard rail inside the
// process, not an isolation boundary (see docs/sandbox.md).
type sandbox struct {
	rw, ro []string // cleaned absolute roots, links resolved

	mu      sync.Mutex
	drivers map[string]bool // database drivers cells registered
}

func newSandbox(rw, ro []string) (*sandbox, error) {
	s := &sandbox{}
	for _, d := range rw {
		r, err := resolveRoot(d)
		if err != nil {
			return nil, fmt.Errorf("read-write directory %q: %w", d, err)
		}
		s.rw = append(s.rw, r)
	}
	for _, d := range ro {
		r, err := resolveRoot(d)
		if err != nil {
			return nil, fmt.Errorf("read-only directory %q: %w", d, err)
		}
		s.ro = append(s.ro, r)
	}
	return s, nil
}

func resolveRoot(d string) (string, error) {
	abs, err := filepath.Abs(d)
	if err != nil {
		return "", err
	}
	r, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(r)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("not a directory")
	}
	return r, nil
}

// resolve returns the absolute path p designates once every symbolic link
// is followed, for paths that do not exist yet too (the longest existing
// prefix is resolved and the rest appended). With follow false, a link in
// the last element is not followed (Lstat, Remove, Rename, Symlink).
func resolve(p string, follow bool) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if !follow {
		dir, err := resolveAll(filepath.Dir(abs), 0)
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, filepath.Base(abs)), nil
	}
	return resolveAll(abs, 0)
}

func resolveAll(p string, depth int) (string, error) {
	if depth > 40 {
		return "", fmt.Errorf("too many levels of symbolic links")
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r, nil
	}
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		// A dangling link: creating through it would create its target.
		t, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		return resolveAll(t, depth+1)
	}
	dir := filepath.Dir(p)
	if dir == p {
		return p, nil
	}
	rd, err := resolveAll(dir, depth)
	if err != nil {
		return "", err
	}
	return filepath.Join(rd, filepath.Base(p)), nil
}

func within(p, root string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator)) || root == string(filepath.Separator)
}

// check returns nil when the operation op may use path: any listed
// directory for reading, a read-write one for writing.
func (s *sandbox) check(op, path string, write, follow bool) error {
	if strings.IndexByte(path, 0) >= 0 {
		return &fs.PathError{Op: op, Path: path, Err: ErrNotAllowed}
	}
	r, err := resolve(path, follow)
	if err != nil {
		return &fs.PathError{Op: op, Path: path, Err: fmt.Errorf("%w (%v)", ErrNotAllowed, err)}
	}
	for _, root := range s.rw {
		if within(r, root) {
			return nil
		}
	}
	if !write {
		for _, root := range s.ro {
			if within(r, root) {
				return nil
			}
		}
	}
	return &fs.PathError{Op: op, Path: path, Err: ErrNotAllowed}
}

func (s *sandbox) read(op, path string) error  { return s.check(op, path, false, true) }
func (s *sandbox) write(op, path string) error { return s.check(op, path, true, true) }

// readable filters paths to those a cell may read.
func (s *sandbox) readable(paths []string) []string {
	out := paths[:0:0]
	for _, p := range paths {
		if s.check("glob", p, false, false) == nil {
			out = append(out, p)
		}
	}
	return out
}

const writeFlags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREATE | os.O_TRUNC

func tempDir(dir string) string {
	if dir == "" {
		return os.TempDir()
	}
	return dir
}

// sandboxFS is os.DirFS with every name checked after resolving links.
type sandboxFS struct {
	s   *sandbox
	dir string
	fs  fs.FS
}

var (
	_ fs.FS         = (*sandboxFS)(nil)
	_ fs.StatFS     = (*sandboxFS)(nil)
	_ fs.ReadFileFS = (*sandboxFS)(nil)
	_ fs.ReadDirFS  = (*sandboxFS)(nil)
)

func (f *sandboxFS) ok(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return f.s.read(op, filepath.Join(f.dir, filepath.FromSlash(name)))
}

// Open implements fs.FS.
func (f *sandboxFS) Open(name string) (fs.File, error) {
	if err := f.ok("open", name); err != nil {
		return nil, err
	}
	return f.fs.Open(name)
}

// Stat implements fs.StatFS.
func (f *sandboxFS) Stat(name string) (fs.FileInfo, error) {
	if err := f.ok("stat", name); err != nil {
		return nil, err
	}
	return fs.Stat(f.fs, name)
}

// ReadFile implements fs.ReadFileFS.
func (f *sandboxFS) ReadFile(name string) ([]byte, error) {
	if err := f.ok("open", name); err != nil {
		return nil, err
	}
	return fs.ReadFile(f.fs, name)
}

// ReadDir implements fs.ReadDirFS.
func (f *sandboxFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.ok("open", name); err != nil {
		return nil, err
	}
	return fs.ReadDir(f.fs, name)
}

func isUnix(network string) bool { return strings.HasPrefix(network, "unix") }

func (s *sandbox) socket(op, network, addr string) error {
	if !isUnix(network) {
		return nil
	}
	if strings.HasPrefix(addr, "@") || addr == "" {
		return &net.OpError{Op: op, Net: network, Err: fmt.Errorf("abstract unix socket %q: %w", addr, ErrNotAllowed)}
	}
	if err := s.check(op, addr, true, true); err != nil {
		return &net.OpError{Op: op, Net: network, Err: err}
	}
	return nil
}

// cellDriver reports whether a cell registered the database driver name.
func (s *sandbox) cellDriver(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drivers[name]
}

func (s *sandbox) unixAddr(op string, a *net.UnixAddr) error {
	if a == nil {
		return nil
	}
	return s.socket(op, a.Net, a.Name)
}

// symbols returns the wrapped versions of every path-taking function of the
// standard library tables, keyed like yaegi's tables.
func (s *sandbox) symbols() map[string]map[string]reflect.Value {
	v := reflect.ValueOf
	osSyms := map[string]reflect.Value{
		"Open": v(func(name string) (*os.File, error) {
			if err := s.read("open", name); err != nil {
				return nil, err
			}
			return os.Open(name)
		}),
		"OpenFile": v(func(name string, flag int, perm fs.FileMode) (*os.File, error) {
			if err := s.check("open", name, flag&writeFlags != 0, true); err != nil {
				return nil, err
			}
			return os.OpenFile(name, flag, perm)
		}),
		"Create": v(func(name string) (*os.File, error) {
			if err := s.write("open", name); err != nil {
				return nil, err
			}
			return os.Create(name)
		}),
		"ReadFile": v(func(name string) ([]byte, error) {
			if err := s.read("open", name); err != nil {
				return nil, err
			}
			return os.ReadFile(name)
		}),
		"WriteFile": v(func(name string, data []byte, perm fs.FileMode) error {
			if err := s.write("open", name); err != nil {
				return err
			}
			return os.WriteFile(name, data, perm)
		}),
		"Remove": v(func(name string) error {
			if err := s.check("remove", name, true, false); err != nil {
				return err
			}
			return os.Remove(name)
		}),
		"RemoveAll": v(func(name string) error {
			if err := s.check("removeall", name, true, false); err != nil {
				return err
			}
			return os.RemoveAll(name)
		}),
		"Rename": v(func(oldpath, newpath string) error {
			if err := s.check("rename", oldpath, true, false); err != nil {
				return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: ErrNotAllowed}
			}
			if err := s.check("rename", newpath, true, false); err != nil {
				return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: ErrNotAllowed}
			}
			return os.Rename(oldpath, newpath)
		}),
		"Mkdir": v(func(name string, perm fs.FileMode) error {
			if err := s.write("mkdir", name); err != nil {
				return err
			}
			return os.Mkdir(name, perm)
		}),
		"MkdirAll": v(func(name string, perm fs.FileMode) error {
			if err := s.write("mkdir", name); err != nil {
				return err
			}
			return os.MkdirAll(name, perm)
		}),
		"MkdirTemp": v(func(dir, pattern string) (string, error) {
			if err := s.write("mkdirtemp", tempDir(dir)); err != nil {
				return "", err
			}
			return os.MkdirTemp(dir, pattern)
		}),
		"CreateTemp": v(func(dir, pattern string) (*os.File, error) {
			if err := s.write("createtemp", tempDir(dir)); err != nil {
				return nil, err
			}
			return os.CreateTemp(dir, pattern)
		}),
		"ReadDir": v(func(name string) ([]fs.DirEntry, error) {
			if err := s.read("open", name); err != nil {
				return nil, err
			}
			return os.ReadDir(name)
		}),
		"Stat": v(func(name string) (fs.FileInfo, error) {
			if err := s.read("stat", name); err != nil {
				return nil, err
			}
			return os.Stat(name)
		}),
		"Lstat": v(func(name string) (fs.FileInfo, error) {
			if err := s.check("lstat", name, false, false); err != nil {
				return nil, err
			}
			return os.Lstat(name)
		}),
		"Readlink": v(func(name string) (string, error) {
			if err := s.check("readlink", name, false, false); err != nil {
				return "", err
			}
			return os.Readlink(name)
		}),
		"Chdir": v(func(dir string) error {
			if err := s.read("chdir", dir); err != nil {
				return err
			}
			return os.Chdir(dir)
		}),
		"Symlink": v(func(oldname, newname string) error {
			target := oldname
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(newname), target)
			}
			if s.read("symlink", target) != nil || s.check("symlink", newname, true, false) != nil {
				return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: ErrNotAllowed}
			}
			return os.Symlink(oldname, newname)
		}),
		"Link": v(func(oldname, newname string) error {
			// A hard link to a file could later be written through, so its
			// source must be writable too.
			if s.check("link", oldname, true, false) != nil || s.check("link", newname, true, false) != nil {
				return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: ErrNotAllowed}
			}
			return os.Link(oldname, newname)
		}),
		"Chmod": v(func(name string, mode fs.FileMode) error {
			if err := s.write("chmod", name); err != nil {
				return err
			}
			return os.Chmod(name, mode)
		}),
		"Chown": v(func(name string, uid, gid int) error {
			if err := s.write("chown", name); err != nil {
				return err
			}
			return os.Chown(name, uid, gid)
		}),
		"Lchown": v(func(name string, uid, gid int) error {
			if err := s.check("lchown", name, true, false); err != nil {
				return err
			}
			return os.Lchown(name, uid, gid)
		}),
		"Chtimes": v(func(name string, atime, mtime time.Time) error {
			if err := s.write("chtimes", name); err != nil {
				return err
			}
			return os.Chtimes(name, atime, mtime)
		}),
		"Truncate": v(func(name string, size int64) error {
			if err := s.write("truncate", name); err != nil {
				return err
			}
			return os.Truncate(name, size)
		}),
		"DirFS": v(func(dir string) fs.FS {
			if err := s.read("open", dir); err != nil {
				return errFS{err}
			}
			return &sandboxFS{s: s, dir: dir, fs: os.DirFS(dir)}
		}),
		"Exit": v(func(code int) { panic(exitSignal{code}) }),
	}
	ioutilSyms := map[string]reflect.Value{
		"ReadFile":  osSyms["ReadFile"],
		"WriteFile": osSyms["WriteFile"],
		"ReadDir": v(func(dirname string) ([]fs.FileInfo, error) {
			if err := s.read("open", dirname); err != nil {
				return nil, err
			}
			return ioutil.ReadDir(dirname) //nolint:staticcheck // the wrapped function itself
		}),
		"TempFile": v(func(dir, pattern string) (*os.File, error) {
			if err := s.write("createtemp", tempDir(dir)); err != nil {
				return nil, err
			}
			return os.CreateTemp(dir, pattern)
		}),
		"TempDir": v(func(dir, pattern string) (string, error) {
			if err := s.write("mkdirtemp", tempDir(dir)); err != nil {
				return "", err
			}
			return os.MkdirTemp(dir, pattern)
		}),
	}
	filepathSyms := map[string]reflect.Value{
		"Walk": v(func(root string, fn filepath.WalkFunc) error {
			if err := s.read("walk", root); err != nil {
				return err
			}
			return filepath.Walk(root, fn)
		}),
		"WalkDir": v(func(root string, fn fs.WalkDirFunc) error {
			if err := s.read("walk", root); err != nil {
				return err
			}
			return filepath.WalkDir(root, fn)
		}),
		"Glob": v(func(pattern string) ([]string, error) {
			m, err := filepath.Glob(pattern)
			return s.readable(m), err
		}),
		"EvalSymlinks": v(func(path string) (string, error) {
			if err := s.read("evalsymlinks", path); err != nil {
				return "", err
			}
			return filepath.EvalSymlinks(path)
		}),
	}
	parseFiles := func(op string, names []string) error {
		for _, n := range names {
			if err := s.read(op, n); err != nil {
				return err
			}
		}
		return nil
	}
	globFiles := func(pattern string) ([]string, error) {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, err
		}
		m = s.readable(m)
		if len(m) == 0 {
			return nil, fmt.Errorf("template: pattern matches no files: %#q", pattern)
		}
		return m, nil
	}
	return map[string]map[string]reflect.Value{
		"os/os":                  osSyms,
		"io/ioutil/ioutil":       ioutilSyms,
		"path/filepath/filepath": filepathSyms,
		"text/template/template": {
			"ParseFiles": v(func(filenames ...string) (*texttemplate.Template, error) {
				if err := parseFiles("open", filenames); err != nil {
					return nil, err
				}
				return texttemplate.ParseFiles(filenames...)
			}),
			"ParseGlob": v(func(pattern string) (*texttemplate.Template, error) {
				m, err := globFiles(pattern)
				if err != nil {
					return nil, err
				}
				return texttemplate.ParseFiles(m...)
			}),
		},
		"html/template/template": {
			"ParseFiles": v(func(filenames ...string) (*htmltemplate.Template, error) {
				if err := parseFiles("open", filenames); err != nil {
					return nil, err
				}
				return htmltemplate.ParseFiles(filenames...)
			}),
			"ParseGlob": v(func(pattern string) (*htmltemplate.Template, error) {
				m, err := globFiles(pattern)
				if err != nil {
					return nil, err
				}
				return htmltemplate.ParseFiles(m...)
			}),
		},
		"archive/zip/zip": {
			"OpenReader": v(func(name string) (*zip.ReadCloser, error) {
				if err := s.read("open", name); err != nil {
					return nil, err
				}
				return zip.OpenReader(name)
			}),
		},
		"debug/elf/elf": {
			"Open": v(func(name string) (*elf.File, error) {
				if err := s.read("open", name); err != nil {
					return nil, err
				}
				return elf.Open(name)
			}),
		},
		"debug/macho/macho": {
			"Open": v(func(name string) (*macho.File, error) {
				if err := s.read("open", name); err != nil {
					return nil, err
				}
				return macho.Open(name)
			}),
			"OpenFat": v(func(name string) (*macho.FatFile, error) {
				if err := s.read("open", name); err != nil {
					return nil, err
				}
				return macho.OpenFat(name)
			}),
		},
		"debug/pe/pe": {
			"Open": v(func(name string) (*pe.File, error) {
				if err := s.read("open", name); err != nil {
					return nil, err
				}
				return pe.Open(name)
			}),
		},
		"debug/plan9obj/plan9obj": {
			"Open": v(func(name string) (*plan9obj.File, error) {
				if err := s.read("open", name); err != nil {
					return nil, err
				}
				return plan9obj.Open(name)
			}),
		},
		"debug/buildinfo/buildinfo": {
			"ReadFile": v(func(name string) (*buildinfo.BuildInfo, error) {
				if err := s.read("open", name); err != nil {
					return nil, err
				}
				return buildinfo.ReadFile(name)
			}),
		},
		"go/parser/parser": {
			"ParseFile": v(func(fset *token.FileSet, filename string, src any, mode parser.Mode) (*ast.File, error) {
				if src == nil {
					if err := s.read("open", filename); err != nil {
						return nil, err
					}
				}
				return parser.ParseFile(fset, filename, src, mode)
			}),
		},
		"net/http/http": {
			"ServeFile": v(func(w http.ResponseWriter, r *http.Request, name string) {
				if err := s.read("open", name); err != nil {
					http.Error(w, "403 Forbidden", http.StatusForbidden)
					return
				}
				http.ServeFile(w, r, name)
			}),
		},
		"database/sql/sql": {
			// Drivers a cell registers are interpreted code, sandboxed like
			// the rest of the cell; drivers compiled into the kernel are not.
			"Register": v(func(name string, d driver.Driver) {
				sql.Register(name, d)
				s.mu.Lock()
				defer s.mu.Unlock()
				if s.drivers == nil {
					s.drivers = map[string]bool{}
				}
				s.drivers[name] = true
			}),
			"Open": v(func(driverName, dataSourceName string) (*sql.DB, error) {
				if !s.cellDriver(driverName) {
					return nil, fmt.Errorf("sql: open %q: %w", driverName, errDriverNotAllowed)
				}
				return sql.Open(driverName, dataSourceName)
			}),
		},
		// Other packages dial and listen on their own; their unix sockets are
		// checked like net's.
		"crypto/tls/tls": {
			"LoadX509KeyPair": v(func(certFile, keyFile string) (tls.Certificate, error) {
				if err := parseFiles("open", []string{certFile, keyFile}); err != nil {
					return tls.Certificate{}, err
				}
				return tls.LoadX509KeyPair(certFile, keyFile)
			}),
			"Dial": v(func(network, addr string, config *tls.Config) (*tls.Conn, error) {
				if err := s.socket("dial", network, addr); err != nil {
					return nil, err
				}
				return tls.Dial(network, addr, config)
			}),
			"DialWithDialer": v(func(dialer *net.Dialer, network, addr string, config *tls.Config) (*tls.Conn, error) {
				if err := s.socket("dial", network, addr); err != nil {
					return nil, err
				}
				return tls.DialWithDialer(dialer, network, addr, config)
			}),
			"Listen": v(func(network, laddr string, config *tls.Config) (net.Listener, error) {
				if err := s.socket("listen", network, laddr); err != nil {
					return nil, err
				}
				return tls.Listen(network, laddr, config)
			}),
		},
		"net/rpc/rpc": {
			"Dial": v(func(network, address string) (*rpc.Client, error) {
				if err := s.socket("dial", network, address); err != nil {
					return nil, err
				}
				return rpc.Dial(network, address)
			}),
			"DialHTTP": v(func(network, address string) (*rpc.Client, error) {
				if err := s.socket("dial", network, address); err != nil {
					return nil, err
				}
				return rpc.DialHTTP(network, address)
			}),
			"DialHTTPPath": v(func(network, address, path string) (*rpc.Client, error) {
				if err := s.socket("dial", network, address); err != nil {
					return nil, err
				}
				return rpc.DialHTTPPath(network, address, path)
			}),
		},
		"net/rpc/jsonrpc/jsonrpc": {
			"Dial": v(func(network, address string) (*rpc.Client, error) {
				if err := s.socket("dial", network, address); err != nil {
					return nil, err
				}
				return jsonrpc.Dial(network, address)
			}),
		},
		"net/textproto/textproto": {
			"Dial": v(func(network, addr string) (*textproto.Conn, error) {
				if err := s.socket("dial", network, addr); err != nil {
					return nil, err
				}
				return textproto.Dial(network, addr)
			}),
		},
		"log/syslog/syslog": {
			// An empty network means the local syslog daemon's unix socket.
			"Dial": v(func(network, raddr string, priority syslog.Priority, tag string) (*syslog.Writer, error) {
				if network == "" {
					network = "unix"
				}
				if err := s.socket("dial", network, raddr); err != nil {
					return nil, err
				}
				return syslog.Dial(network, raddr, priority, tag)
			}),
			"New": v(func(priority syslog.Priority, tag string) (*syslog.Writer, error) {
				return nil, errLocalSyslog
			}),
			"NewLogger": v(func(p syslog.Priority, logFlag int) (*log.Logger, error) {
				return nil, errLocalSyslog
			}),
		},
		"net/net": {
			"Dial": v(func(network, address string) (net.Conn, error) {
				if err := s.socket("dial", network, address); err != nil {
					return nil, err
				}
				return net.Dial(network, address)
			}),
			"DialTimeout": v(func(network, address string, timeout time.Duration) (net.Conn, error) {
				if err := s.socket("dial", network, address); err != nil {
					return nil, err
				}
				return net.DialTimeout(network, address, timeout)
			}),
			"Listen": v(func(network, address string) (net.Listener, error) {
				if err := s.socket("listen", network, address); err != nil {
					return nil, err
				}
				return net.Listen(network, address)
			}),
			"ListenPacket": v(func(network, address string) (net.PacketConn, error) {
				if err := s.socket("listen", network, address); err != nil {
					return nil, err
				}
				return net.ListenPacket(network, address)
			}),
			"DialUnix": v(func(network string, laddr, raddr *net.UnixAddr) (*net.UnixConn, error) {
				if err := errors.Join(s.unixAddr("dial", laddr), s.unixAddr("dial", raddr)); err != nil {
					return nil, err
				}
				return net.DialUnix(network, laddr, raddr)
			}),
			"ListenUnix": v(func(network string, laddr *net.UnixAddr) (*net.UnixListener, error) {
				if err := s.unixAddr("listen", laddr); err != nil {
					return nil, err
				}
				return net.ListenUnix(network, laddr)
			}),
			"ListenUnixgram": v(func(network string, laddr *net.UnixAddr) (*net.UnixConn, error) {
				if err := s.unixAddr("listen", laddr); err != nil {
					return nil, err
				}
				return net.ListenUnixgram(network, laddr)
			}),
		},
	}
}

// errLocalSyslog is the error of syslog.New and NewLogger, which write to
// the local syslog daemon's unix socket.
var errLocalSyslog = &net.OpError{Op: "dial", Net: "unix", Err: fmt.Errorf("the local syslog socket: %w", ErrNotAllowed)}

// errFS is the file system DirFS returns for a directory a cell may not
// read: every operation fails with the denial.
type errFS struct{ err error }

// Open implements fs.FS.
func (f errFS) Open(string) (fs.File, error) { return nil, f.err }
