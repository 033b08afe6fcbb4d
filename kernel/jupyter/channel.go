package jupyter

import "fmt"

// Channel names one of the five Jupyter sockets.
type Channel uint8

// The Jupyter channels. The zero Channel is invalid.
const (
	Shell Channel = iota + 1
	Control
	Stdin
	IOPub
	Heartbeat
)

var channelNames = [...]string{Shell: "shell", Control: "control", Stdin: "stdin", IOPub: "iopub", Heartbeat: "hb"}

// String returns the channel's protocol name ("shell", "iopub", "hb", ...), the
// name the websocket protocol uses in its "channel" field.
func (c Channel) String() string {
	if c >= Shell && c <= Heartbeat {
		return channelNames[c]
	}
	return fmt.Sprintf("channel(%d)", uint8(c))
}

// ParseChannel returns the Channel for a protocol name as String returns it.
// It returns an error wrapping ErrBadChannel for any other name.
func ParseChannel(name string) (Channel, error) {
	for c := Shell; c <= Heartbeat; c++ {
		if channelNames[c] == name {
			return c, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown channel %q (want shell, control, stdin, iopub or hb)", ErrBadChannel, name)
}
