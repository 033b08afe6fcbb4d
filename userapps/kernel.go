package userapps

import (
	"context"

	"github.com/flowlab/flowlab/kernel/jupyter"
)

// KernelManager starts kernels for apps (package userapps/kernels). It is the
// Service's view of the manager; the HTTP layer uses the manager's own,
// richer API.
type KernelManager interface {
	// StartKernel starts a kernel for app with dir as its working directory
	// and returns once the kernel answers. Errors wrap ErrKernel.
	StartKernel(ctx context.Context, app App, dir string) (Kernel, error)
	// LookupKernel returns the kernel with this id, or ErrNotFound when it is
	// not running (never started, shut down, or gone after a server restart).
	LookupKernel(id string) (Kernel, error)
}

// Kernel is one running kernel as the Service sees it. Implementations are
// safe for concurrent use.
type Kernel interface {
	// ID is the kernel's id, stored in App.KernelID.
	ID() string
	// Execute runs code and collects its outputs (jupyter.Client.Execute).
	Execute(ctx context.Context, code string, opts jupyter.ExecuteOptions) (*jupyter.Execution, error)
	// Restart replaces the kernel process by a fresh one with the same id.
	Restart(ctx context.Context) error
	// Shutdown stops the kernel: a shutdown_request, then a kill if it does
	// not exit in time. Afterwards Done is closed.
	Shutdown(ctx context.Context) error
	// Done is closed when the kernel has stopped for good: shut down, or
	// dead beyond its restart policy (then Err says why).
	Done() <-chan struct{}
	// Err is nil while the kernel runs and after a requested Shutdown; it
	// says why the kernel died otherwise.
	Err() error
}
