package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/flowlab/flowlab/kernel/internal/publish"
	"github.com/flowlab/flowlab/kernel/jupyter"
)

// Wire is the transport a Session serves. *jupyter.Server implements it.
type Wire interface {
	// Shell, Control and Stdin deliver verified requests per channel.
	Shell() <-chan *jupyter.Message
	Control() <-chan *jupyter.Message
	Stdin() <-chan *jupyter.Message
	// Reply answers req on the channel it came in on.
	Reply(req *jupyter.Message, msgType string, content any) error
	// Send sends a message built with Session().NewReply on a channel.
	Send(ch jupyter.Channel, m *jupyter.Message) error
	// PublishFor publishes a message on iopub with req as its parent.
	PublishFor(req *jupyter.Message, msgType string, content any) error
	// Session stamps and signs messages.
	Session() *jupyter.Session
}

var _ Wire = (*jupyter.Server)(nil)

// Options configure a Session. Wire and Executor are required.
type Options struct {
	Wire     Wire
	Executor Executor
	// Flush returns once all output written so far to the captured stdout and
	// stderr has reached WriteStream (stdio.Capture.Flush). Nil when output is
	// not captured.
	Flush func(ctx context.Context) error
	// MaxOutputBytes caps what one cell may write to stdout and stderr; the
	// rest is discarded with a notice. Default 8 MiB.
	MaxOutputBytes int64
	// Version is the implementation version reported in kernel_info.
	Version string
	// Now is the clock used for timings; default time.Now.
	Now func() time.Time
	// Logger receives the kernel's own diagnostics; nil discards them.
	Logger *slog.Logger
	// OnInterrupt, when set, is called on every interrupt besides cancelling
	// the running cell: work the cell started outside the interpreter (a
	// datalake query running in the engine) stops too. It must be safe to
	// call from any goroutine and return quickly.
	OnInterrupt func()
}

// DefaultMaxOutputBytes is the per-cell output cap when Options leaves it 0.
const DefaultMaxOutputBytes = 8 << 20

// Session answers the requests of one kernel process: shell requests one at
// a time in arrival order, control requests concurrently with them. It is
// created with New and served by Run.
type Session struct {
	opts Options
	log  *slog.Logger
	wire Wire
	exec Executor

	count   int // execution counter; only the shell goroutine touches it
	history history

	// cell is the running cell's cancel function, nil when idle.
	cellMu     sync.Mutex
	cellCancel context.CancelFunc

	// Output attribution: stream and display messages go out with the
	// request that is running (or last ran) as parent.
	out outputState

	shutdownOnce sync.Once
	shutdown     chan struct{}
}

type outputState struct {
	mu     sync.Mutex
	parent *jupyter.Message
	silent bool
	bytes  int64
	capped bool
}

// New returns a Session ready to Run.
func New(opts Options) (*Session, error) {
	if opts.Wire == nil || opts.Executor == nil {
		return nil, errors.New("kernel: Options.Wire and Options.Executor are required")
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	return &Session{
		opts:     opts,
		log:      opts.Logger,
		wire:     opts.Wire,
		exec:     opts.Executor,
		shutdown: make(chan struct{}),
	}, nil
}

// Run serves requests until a shutdown_request arrives or ctx ends. It
// publishes the starting status once, then busy and idle around every
// request.
func (s *Session) Run(ctx context.Context) error {
	publish.Set(s.publishDisplay)
	defer publish.Set(nil)

	if err := s.wire.PublishFor(nil, "status", jupyter.Status{ExecutionState: "starting"}); err != nil {
		s.log.Warn("publish starting status", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	controlDone := make(chan struct{})
	go func() {
		defer close(controlDone)
		s.serveControl(ctx)
	}()
	defer func() {
		cancel()
		<-controlDone
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.shutdown:
			return nil
		case req, ok := <-s.wire.Shell():
			if !ok {
				return nil
			}
			s.handleShell(ctx, req)
		}
	}
}

// Interrupt stops the running cell, if any. It is what interrupt_request and
// SIGINT do; it is safe to call from any goroutine.
func (s *Session) Interrupt() {
	s.cellMu.Lock()
	if s.cellCancel != nil {
		s.cellCancel()
	}
	s.cellMu.Unlock()
	if s.opts.OnInterrupt != nil {
		s.opts.OnInterrupt()
	}
}

// Done is closed once a shutdown_request has been answered.
func (s *Session) Done() <-chan struct{} { return s.shutdown }

func (s *Session) serveControl(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case req, ok := <-s.wire.Control():
			if !ok {
				return
			}
			s.handleControl(req)
		}
	}
}

func (s *Session) handleControl(req *jupyter.Message) {
	switch req.Type() {
	case "interrupt_request":
		s.Interrupt()
		s.reply(req, "interrupt_reply", map[string]any{"status": "ok"})
	case "shutdown_request":
		s.handleShutdown(req)
	case "kernel_info_request":
		s.withStatus(req, func() { s.reply(req, "kernel_info_reply", s.kernelInfo()) })
	case "debug_request":
		s.reply(req, "debug_reply", map[string]any{"status": "error", "ename": "NotSupported", "evalue": "the flowlab kernel has no debugger"})
	default:
		s.log.Warn("ignoring unknown control message", "type", req.Type())
	}
}

func (s *Session) handleShutdown(req *jupyter.Message) {
	var c jupyter.ShutdownRequest
	_ = req.DecodeContent(&c)
	s.Interrupt()
	s.reply(req, "shutdown_reply", jupyter.ShutdownReply{Status: "ok", Restart: c.Restart})
	s.shutdownOnce.Do(func() { close(s.shutdown) })
}

// handleShell answers one shell request between busy and idle statuses.
func (s *Session) handleShell(ctx context.Context, req *jupyter.Message) {
	abort := 0
	defer func() {
		if abort > 0 {
			s.abortQueued(ctx, abort)
		}
	}()
	s.withStatus(req, func() {
		switch req.Type() {
		case "execute_request":
			abort = s.execute(ctx, req)
		case "kernel_info_request":
			s.reply(req, "kernel_info_reply", s.kernelInfo())
		case "complete_request":
			s.complete(req)
		case "inspect_request":
			s.inspect(req)
		case "is_complete_request":
			s.isComplete(req)
		case "history_request":
			s.reply(req, "history_reply", s.history.answer(req))
		case "comm_info_request":
			s.reply(req, "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}})
		case "comm_open":
			// No comm targets exist: close the comm so the front end does
			// not wait for it.
			var c struct {
				CommID string `json:"comm_id"`
			}
			_ = req.DecodeContent(&c)
			s.publish(req, "comm_close", map[string]any{"comm_id": c.CommID, "data": map[string]any{}})
		case "comm_msg", "comm_close":
			// Nothing to deliver to.
		case "shutdown_request":
			s.handleShutdown(req)
		default:
			s.log.Warn("ignoring unknown shell message", "type", req.Type())
		}
	})
}

func (s *Session) withStatus(req *jupyter.Message, f func()) {
	s.publish(req, "status", jupyter.Status{ExecutionState: "busy"})
	defer s.publish(req, "status", jupyter.Status{ExecutionState: "idle"})
	f()
}

func (s *Session) reply(req *jupyter.Message, msgType string, content any) {
	if err := s.wire.Reply(req, msgType, content); err != nil {
		s.log.Warn("send reply", "type", msgType, "err", err)
	}
}

func (s *Session) publish(req *jupyter.Message, msgType string, content any) {
	if err := s.wire.PublishFor(req, msgType, content); err != nil {
		s.log.Warn("publish", "type", msgType, "err", err)
	}
}

func (s *Session) kernelInfo() jupyter.KernelInfoReply {
	goVersion := strings.TrimPrefix(runtime.Version(), "go")
	return jupyter.KernelInfoReply{
		Status:                "ok",
		ProtocolVersion:       jupyter.ProtocolVersion,
		Implementation:        "flowlab",
		ImplementationVersion: s.opts.Version,
		LanguageInfo: jupyter.LanguageInfo{
			Name:           "go",
			Version:        goVersion,
			MIMEType:       "text/x-go",
			FileExtension:  ".go",
			PygmentsLexer:  "go",
			CodemirrorMode: "go",
		},
		Banner: fmt.Sprintf("flowlab Go kernel %s (Go %s, interpreted by yaegi)\n"+
			"Cells see IO, SQL, DataTaps and display without imports. %%help lists the magics.", s.opts.Version, goVersion),
		HelpLinks: []jupyter.HelpLink{
			{Text: "flowlab cells", URL: "https://github.com/flowlab/flowlab/blob/main/docs/cells.md"},
			{Text: "flowlab datalake", URL: "https://github.com/flowlab/flowlab/blob/main/docs/datalake.md"},
			{Text: "Go standard library", URL: "https://pkg.go.dev/std"},
			{Text: "Go language specification", URL: "https://go.dev/ref/spec"},
		},
	}
}

// WriteStream publishes captured output; it is the stdio.Capture sink. Output
// of a silent request is dropped, and a cell's output beyond the cap is
// discarded after one notice.
func (s *Session) WriteStream(name, text string) {
	s.out.mu.Lock()
	parent, silent := s.out.parent, s.out.silent
	if silent || s.out.capped {
		s.out.mu.Unlock()
		return
	}
	s.out.bytes += int64(len(text))
	notice := ""
	if s.out.bytes > s.opts.MaxOutputBytes {
		s.out.capped = true
		keep := int64(len(text)) - (s.out.bytes - s.opts.MaxOutputBytes)
		text = text[:max(0, keep)]
		notice = fmt.Sprintf("\n[flowlab: this cell reached the output limit of %s; further output is discarded. "+
			"Print less, or display a summary such as a frame's first rows.]\n", byteSize(s.opts.MaxOutputBytes))
	}
	s.out.mu.Unlock()
	if text != "" {
		s.publish(parent, "stream", jupyter.Stream{Name: name, Text: text})
	}
	if notice != "" {
		s.publish(parent, "stream", jupyter.Stream{Name: "stderr", Text: notice})
	}
}

// publishDisplay is the display package's publisher: display_data,
// update_display_data and clear_output for the running cell, after the output
// written before them.
func (s *Session) publishDisplay(msgType string, content map[string]any) {
	s.flushOutput()
	s.out.mu.Lock()
	parent, silent := s.out.parent, s.out.silent
	s.out.mu.Unlock()
	if silent {
		return
	}
	s.publish(parent, msgType, content)
}

func (s *Session) flushOutput() {
	if s.opts.Flush == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.opts.Flush(ctx); err != nil {
		s.log.Warn("flush captured output", "err", err)
	}
}

// beginOutput attributes output to req from now on.
func (s *Session) beginOutput(req *jupyter.Message, silent bool) {
	s.out.mu.Lock()
	s.out.parent, s.out.silent, s.out.bytes, s.out.capped = req, silent, 0, false
	s.out.mu.Unlock()
}

// endOutput keeps req as the parent for late output (goroutines still
// printing) but stops treating it as silent.
func (s *Session) endOutput() {
	s.out.mu.Lock()
	s.out.silent = false
	s.out.mu.Unlock()
}

type byteSize int64

func (b byteSize) String() string {
	switch {
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d bytes", int64(b))
}
