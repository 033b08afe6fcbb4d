package taps

import "errors"

// Sentinel errors. Every error the package returns wraps one of them, so
// callers (and the kernel, which shows them as a cell's error) can test with
// errors.Is; the message around it says what was wrong and what to do.
var (
	// ErrTapsNotConfigured means no taps were configured: the kernel was
	// started without --taps or FLOWLAB_TAPS, or Configure was not called.
	ErrTapsNotConfigured = errors.New("no data taps are configured")
	// ErrTapConfig means a taps configuration is invalid; the message names
	// the tap and the field to fix.
	ErrTapConfig = errors.New("bad taps configuration")
	// ErrUnknownTap means a tap name is not configured; the message lists
	// the configured names.
	ErrUnknownTap = errors.New("unknown tap")
	// ErrTapSend means the broker did not acknowledge a message: it was
	// unreachable, refused the message or the credentials, or answered
	// errors until the retries ran out. The message names the tap, the topic
	// and the brokers.
	ErrTapSend = errors.New("tap send failed")
	// ErrTapTimeout means a send was not acknowledged within the tap's
	// timeout (10 s by default). It wraps ErrTapSend too. The message may
	// still reach the topic later; a retry may deliver it twice.
	ErrTapTimeout = errors.New("timed out")
	// ErrTapMessage means a message cannot be sent as given: SendJSON got a
	// value encoding/json cannot encode, or a message is larger than the
	// tap's limit.
	ErrTapMessage = errors.New("bad tap message")
	// ErrTapRead means a tap's topic could not be read (Tail): the broker
	// is unreachable, the topic is missing, or the offset is out of range.
	ErrTapRead = errors.New("tap read failed")
	// ErrTapsClosed means the taps were shut down.
	ErrTapsClosed = errors.New("the data taps are closed")
)
