package userapps

// RunStatus is where one run of an app's notebook is (a scheduled run, a
// "Run now", a `flowlab run`). The values are the strings the runs table
// keeps.
type RunStatus string

// The statuses of a run. Queued and Running are on the way; the others are
// final (Final).
const (
	// RunQueued: the run waits for its turn (overlap or concurrency limits).
	RunQueued RunStatus = "queued"
	// RunRunning: a kernel is running the notebook's cells.
	RunRunning RunStatus = "running"
	// RunSucceeded: every cell ran without an error (cells tagged
	// raises-exception may have raised).
	RunSucceeded RunStatus = "succeeded"
	// RunFailed: a cell raised an error, the kernel could not start or
	// died, or the notebook or its parameters were invalid.
	RunFailed RunStatus = "failed"
	// RunTimedOut: a cell or the whole run took longer than its timeout;
	// the kernel was interrupted and shut down.
	RunTimedOut RunStatus = "timed-out"
	// RunCancelled: the run was cancelled (a user, a server shutdown).
	RunCancelled RunStatus = "cancelled"
	// RunSkipped: the run never started (a tick skipped by the overlap or
	// catch-up policy).
	RunSkipped RunStatus = "skipped"
)

// Valid reports whether s is one of the statuses above.
func (s RunStatus) Valid() bool {
	switch s {
	case RunQueued, RunRunning, RunSucceeded, RunFailed, RunTimedOut, RunCancelled, RunSkipped:
		return true
	}
	return false
}

// Final reports whether a run in status s is over.
func (s RunStatus) Final() bool {
	return s.Valid() && s != RunQueued && s != RunRunning
}
