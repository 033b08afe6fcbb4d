package jupyter

import "errors"

// Sentinel errors. Functions wrap them with the operation and details; test
// with errors.Is.
var (
	// ErrNoDelimiter means a multipart message has no "<IDS|MSG>" frame, so
	// it is not a Jupyter message at all.
	ErrNoDelimiter = errors.New("jupyter: no <IDS|MSG> delimiter frame")
	// ErrBadSignature means a message's HMAC signature is missing or does not
	// match its frames: it was not sent by a holder of the connection key.
	ErrBadSignature = errors.New("jupyter: bad message signature")
	// ErrDuplicateSignature means a signed message was seen before: a replay.
	ErrDuplicateSignature = errors.New("jupyter: duplicate message signature (replayed message)")
	// ErrMalformed means a message's frames are missing or are not the JSON
	// objects the protocol prescribes.
	ErrMalformed = errors.New("jupyter: malformed message")
	// ErrUnsupportedScheme means a signature scheme other than the hmac-*
	// schemes this package implements (hmac-sha256 is the standard one).
	ErrUnsupportedScheme = errors.New("jupyter: unsupported signature scheme")
	// ErrBadConnectionInfo means a connection file or ConnectionInfo is
	// malformed or incomplete.
	ErrBadConnectionInfo = errors.New("jupyter: invalid connection info")
	// ErrClosed is returned by operations on a Server or Client that has shut
	// down.
	ErrClosed = errors.New("jupyter: closed")
	// ErrUnroutable means a ROUTER send found no connected peer with the
	// message's first identity: the front end that sent the request is gone
	// (or the message was not built as a reply).
	ErrUnroutable = errors.New("jupyter: no connected peer with that identity")
	// ErrNoHeartbeat means the kernel did not echo a heartbeat in time.
	ErrNoHeartbeat = errors.New("jupyter: kernel heartbeat not answered")
	// ErrBadChannel means an operation was asked on a channel that does not
	// support it (for example a Send on iopub from a client).
	ErrBadChannel = errors.New("jupyter: operation not supported on this channel")
)
