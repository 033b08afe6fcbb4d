package kafka

import "errors"

// Sentinel errors. Every error the package returns wraps one of them (or
// a taps configuration error), so callers can test with errors.Is; the
// message around it says what was wrong and what to do.
var (
	// ErrBadMessage means a Kafka message is not a valid record: not one
	// JSON object, a field that is not in the schema or has the wrong
	// type, or values that cannot belong to a record (a missing start
	// time, an address that is not an IP, counts that do not add up).
	ErrBadMessage = errors.New("malformed record message")
	// ErrNoBrokers means no Kafka broker was configured.
	ErrNoBrokers = errors.New("no Kafka brokers configured")
	// ErrUnreachable means no configured broker answered in time, or a
	// topic does not exist there; the message names the brokers.
	ErrUnreachable = errors.New("cannot reach Kafka")
	// ErrNotDelivered means the brokers did not acknowledge records: the
	// producer gave up after its retries, or a flush timed out.
	ErrNotDelivered = errors.New("records not acknowledged by Kafka")
	// ErrClosed means the producer was closed.
	ErrClosed = errors.New("the Kafka producer is closed")
)
