package datalake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a lake. The zero value of every field but Root works.
type Options struct {
	// Root is the lake's directory on the host. It is created if missing.
	Root string
	// NewEngine creates the query engine. It is called once, on the first
	// query, so a kernel that never queries never starts an engine. Nil means
	// the lake can list and publish files but not query them (ErrNoEngine).
	NewEngine func() (Engine, error)
	// Now is the clock (UTC hours, LASTHOUR, the partition IO.Write writes).
	// Nil means time.Now.
	Now func() time.Time
	// Logger receives debug logs of the statements run. Nil discards.
	Logger *slog.Logger
	// AllowSystemWrites lets IO.Write write system datasets (/tetration/...).
	// The zero value keeps them read-only to cells.
	AllowSystemWrites bool
	// PreviewRows is how many rows a frame shows when it renders as a cell's
	// value. Zero means 20.
	PreviewRows int
	// MaxCollectRows caps the rows Collect, Rows, Strings, Int64s and
	// Float64s return (ErrTooManyRows beyond). Zero means 2,000,000.
	MaxCollectRows int
}

// Lake is one opened lake: its root, its engine (created on first use), its
// temporary views and persisted frames. It is safe for concurrent use.
type Lake struct {
	root     *os.Root
	hostRoot string // absolute, symbolic links resolved
	opts     Options
	log      *slog.Logger

	mu        sync.Mutex
	eng       Engine
	closed    bool
	ctx       context.Context // cancelled by Interrupt
	cancel    context.CancelFunc
	failedReg map[string]error  // temp views whose registration failed
	views     map[string]string // temp view name -> description of the frame

	seq atomic.Int64 // names of persisted tables

	schemas  schemaCache   // Parquet schema of each data file read so far
	listings listingCache  // data files of hour folders, by folder mtime
	counts   rowCountCache // row counts of data files counted so far

	traceDir  func(rel string) // tests: called for every folder listed
	traceStat func(rel string) // tests: called for every data file the catalog stats
}

// Open opens the lake at opts.Root, creating the folder if needed. The engine
// is not started until the first query. It returns an error wrapping
// ErrNotConfigured when Root is empty.
func Open(opts Options) (*Lake, error) {
	if opts.Root == "" {
		return nil, wrapf(ErrNotConfigured, "no lake root: start the kernel with --lake DIR or set FLOWLAB_LAKE")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PreviewRows <= 0 {
		opts.PreviewRows = 20
	}
	if opts.MaxCollectRows <= 0 {
		opts.MaxCollectRows = 2_000_000
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("open lake %s: %w", opts.Root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("open lake %s: %w", opts.Root, err)
	}
	host, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("open lake %s: %w", opts.Root, err)
	}
	root, err := os.OpenRoot(host)
	if err != nil {
		return nil, fmt.Errorf("open lake %s: %w", opts.Root, err)
	}
	l := &Lake{root: root, hostRoot: host, opts: opts, log: log, failedReg: map[string]error{}, views: map[string]string{}}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l, nil
}

// Root returns the lake's directory on the host (absolute, symbolic links
// resolved). Safe for concurrent use.
func (l *Lake) Root() string { return l.hostRoot }

// IO returns the dataset functions bound to this lake (what the package
// variable IO is for the default lake). Safe for concurrent use.
func (l *Lake) IO() *LakeIO { return &LakeIO{lake: l} }

// Close closes the engine (dropping temporary views and persisted frames)
// and the root. Later calls return errors wrapping ErrClosed. Safe for
// concurrent use; a second Close returns nil.
func (l *Lake) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.cancel()
	var errs []error
	if l.eng != nil {
		errs = append(errs, l.eng.Close())
	}
	errs = append(errs, l.root.Close())
	return errors.Join(errs...)
}

// Interrupt cancels the queries running now; later queries run normally.
// The kernel calls it on an interrupt request. Safe for concurrent use.
func (l *Lake) Interrupt() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancel()
	if !l.closed {
		l.ctx, l.cancel = context.WithCancel(context.Background())
	}
}

// now returns the lake clock's time in UTC.
func (l *Lake) now() time.Time { return l.opts.Now().UTC() }

// engine returns the lake's engine, creating it on first use, and the
// context queries run under.
func (l *Lake) engine() (Engine, context.Context, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, nil, wrapf(ErrClosed, "the lake at %s was closed: restart the kernel", l.hostRoot)
	}
	if l.eng == nil {
		if l.opts.NewEngine == nil {
			l.eng = unavailableEngine{}
		} else {
			start := time.Now()
			e, err := l.opts.NewEngine()
			if err != nil {
				return nil, nil, fmt.Errorf("start the query engine: %w", err)
			}
			l.eng = e
			l.log.Debug("datalake engine started", "root", l.hostRoot, "took", time.Since(start))
		}
	}
	return l.eng, l.ctx, nil
}

// engineFor is engine with the caller's ctx: the context it returns ends
// when ctx ends or when the lake's own ends (Interrupt, Close). A nil ctx
// is the lake's own. Call done when the statement has finished.
func (l *Lake) engineFor(ctx context.Context) (eng Engine, qctx context.Context, done func(), err error) {
	eng, lctx, err := l.engine()
	if err != nil {
		return nil, nil, nil, err
	}
	if ctx == nil {
		return eng, lctx, func() {}, nil
	}
	qctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(lctx, cancel)
	return eng, qctx, func() { stop(); cancel() }, nil
}

// The default lake, used by IO and SQL.
var defaultLake atomic.Pointer[Lake]

// Configure opens the lake described by opts and makes it the default lake
// that IO and SQL use, closing the previous default. The kernel calls it once
// at start; cells never do. Safe for concurrent use. It returns an error
// wrapping ErrNotConfigured when opts.Root is empty.
func Configure(opts Options) error {
	l, err := Open(opts)
	if err != nil {
		return err
	}
	if old := defaultLake.Swap(l); old != nil {
		return old.Close()
	}
	return nil
}

// Default returns the default lake, or nil before Configure. For wiring code;
// cells use IO and SQL.
func Default() *Lake { return defaultLake.Load() }

// Interrupt cancels the queries running on the default lake (a kernel
// interrupt). Safe for concurrent use.
func Interrupt() {
	if l := defaultLake.Load(); l != nil {
		l.Interrupt()
	}
}

// Shutdown closes the default lake and its engine. The kernel calls it on
// shutdown. Safe for concurrent use.
func Shutdown() error {
	if l := defaultLake.Swap(nil); l != nil {
		return l.Close()
	}
	return nil
}

// wrapf returns an error wrapping sentinel with a formatted explanation.
func wrapf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
