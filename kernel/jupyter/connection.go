package jupyter

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultSignatureScheme is the signature scheme of new connection files and
// the one assumed when a file leaves signature_scheme empty.
const DefaultSignatureScheme = "hmac-sha256"

// ConnectionInfo is the content of a Jupyter connection file: where a kernel's
// five sockets listen and the key that signs every message. The JSON field
// names are the standard ones jupyter_client writes.
//
// A ConnectionInfo is a plain value, safe to copy and to share read-only.
type ConnectionInfo struct {
	// Transport is "tcp" or "ipc".
	Transport string `json:"transport"`
	// IP is the address for tcp; for ipc it is the path prefix of the socket
	// files, each being IP + "-" + port.
	IP          string `json:"ip"`
	ShellPort   int    `json:"shell_port"`
	IOPubPort   int    `json:"iopub_port"`
	StdinPort   int    `json:"stdin_port"`
	ControlPort int    `json:"control_port"`
	HBPort      int    `json:"hb_port"`
	// Key signs messages; empty means messages are neither signed nor checked.
	Key string `json:"key"`
	// SignatureScheme is "hmac-sha256" (or another hmac-* scheme, see
	// NewSigner); empty means hmac-sha256.
	SignatureScheme string `json:"signature_scheme"`
	KernelName      string `json:"kernel_name"`
}

// ParseConnectionInfo decodes and validates the JSON of a connection file.
// Unknown fields are ignored, as jupyter_client adds its own. It returns an
// error wrapping ErrBadConnectionInfo for malformed JSON or invalid fields,
// or ErrUnsupportedScheme for an unknown signature scheme.
func ParseConnectionInfo(data []byte) (ConnectionInfo, error) {
	var info ConnectionInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return ConnectionInfo{}, fmt.Errorf("%w: %w", ErrBadConnectionInfo, err)
	}
	if err := info.Validate(); err != nil {
		return ConnectionInfo{}, err
	}
	return info, nil
}

// ReadConnectionFile reads and validates a connection file. Errors name the
// path and wrap ErrBadConnectionInfo, ErrUnsupportedScheme or the
// os error (fs.ErrNotExist...).
func ReadConnectionFile(path string) (ConnectionInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("read connection file: %w", err)
	}
	info, err := ParseConnectionInfo(data)
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("read connection file %s: %w", path, err)
	}
	return info, nil
}

// WriteConnectionFile writes info to path with mode 0600, atomically: the JSON
// goes to a temporary file in the same directory, which is synced and then
// renamed over path, so a kernel never reads half a file. It validates info
// first (ErrBadConnectionInfo, ErrUnsupportedScheme).
func WriteConnectionFile(path string, info ConnectionInfo) (err error) {
	if err := info.Validate(); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod guards against an unusual umask
	// handling and documents the intent: the key is a secret.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write connection file %s: %w", path, err)
	}
	// Make the rename itself durable; a failure here does not undo the write.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ConnectionOptions configures NewConnectionInfo. The zero value gives tcp on
// 127.0.0.1 with hmac-sha256.
type ConnectionOptions struct {
	// Transport is "tcp" (default) or "ipc".
	Transport string
	// IP is the tcp address to allocate ports on; default 127.0.0.1.
	IP string
	// Dir is where ipc socket files go; default os.TempDir(). Unix socket
	// paths are limited to 107 bytes, so keep it short.
	Dir string
	// KernelName is copied into the file's kernel_name.
	KernelName string
}

// NewConnectionInfo returns a ConnectionInfo for launching a kernel: five free
// ports (for tcp, found by listening on port 0 on all five at once, then
// closing) or five fresh socket paths (for ipc, with a random prefix in Dir),
// and a random 256-bit key with hmac-sha256. Another process may grab a tcp
// port between this call and the kernel's bind; launchers retry on a bind
// failure. Safe for concurrent use. Errors wrap ErrBadConnectionInfo for bad
// options.
func NewConnectionInfo(opts ConnectionOptions) (ConnectionInfo, error) {
	var keyBytes [32]byte
	if _, err := rand.Read(keyBytes[:]); err != nil {
		return ConnectionInfo{}, fmt.Errorf("new connection info: key: %w", err)
	}
	info := ConnectionInfo{
		Transport:       opts.Transport,
		Key:             hex.EncodeToString(keyBytes[:]),
		SignatureScheme: DefaultSignatureScheme,
		KernelName:      opts.KernelName,
	}
	if info.Transport == "" {
		info.Transport = "tcp"
	}
	switch info.Transport {
	case "tcp":
		info.IP = opts.IP
		if info.IP == "" {
			info.IP = "127.0.0.1"
		}
		var lns [5]net.Listener
		defer func() {
			for _, ln := range lns {
				if ln != nil {
					ln.Close()
				}
			}
		}()
		var ports [5]int
		for i := range lns {
			ln, err := net.Listen("tcp", net.JoinHostPort(info.IP, "0"))
			if err != nil {
				return ConnectionInfo{}, fmt.Errorf("new connection info: allocate port on %s: %w", info.IP, err)
			}
			lns[i] = ln
			ports[i] = ln.Addr().(*net.TCPAddr).Port
		}
		info.ShellPort, info.IOPubPort, info.StdinPort, info.ControlPort, info.HBPort = ports[0], ports[1], ports[2], ports[3], ports[4]
	case "ipc":
		dir := opts.Dir
		if dir == "" {
			dir = os.TempDir()
		}
		var r [6]byte
		if _, err := rand.Read(r[:]); err != nil {
			return ConnectionInfo{}, fmt.Errorf("new connection info: %w", err)
		}
		info.IP = filepath.Join(dir, "kernel-"+hex.EncodeToString(r[:]))
		info.ShellPort, info.IOPubPort, info.StdinPort, info.ControlPort, info.HBPort = 1, 2, 3, 4, 5
	default:
		return ConnectionInfo{}, fmt.Errorf("new connection info: %w: transport %q (want tcp or ipc)", ErrBadConnectionInfo, opts.Transport)
	}
	if err := info.Validate(); err != nil {
		return ConnectionInfo{}, fmt.Errorf("new connection info: %w", err)
	}
	return info, nil
}

// maxUnixPath is the longest socket path Linux accepts (sun_path is 108 bytes
// including the terminating NUL).
const maxUnixPath = 107

// Validate checks the fields a kernel or client needs: a known transport, an
// address, ports in range (0 is allowed for tcp: a Server then picks a free
// port), distinct non-zero ports, and a supported signature scheme. It
// returns an error wrapping ErrBadConnectionInfo or ErrUnsupportedScheme.
func (c ConnectionInfo) Validate() error {
	var problems []string
	switch c.Transport {
	case "tcp", "ipc":
	case "":
		problems = append(problems, "transport is missing (want tcp or ipc)")
	default:
		problems = append(problems, fmt.Sprintf("transport %q is not supported (want tcp or ipc)", c.Transport))
	}
	if c.IP == "" {
		problems = append(problems, "ip is missing")
	}
	seen := make(map[int]Channel, 5)
	for ch := Shell; ch <= Heartbeat; ch++ {
		p := c.Port(ch)
		if p < 0 || p > 65535 {
			problems = append(problems, fmt.Sprintf("%s port %d is out of range", ch, p))
			continue
		}
		if p == 0 {
			continue
		}
		if prev, dup := seen[p]; dup {
			problems = append(problems, fmt.Sprintf("%s and %s share port %d", prev, ch, p))
		}
		seen[p] = ch
		if c.Transport == "ipc" {
			if n := len(c.IP) + 1 + len(strconv.Itoa(p)); n > maxUnixPath {
				problems = append(problems, fmt.Sprintf("ipc path for %s is %d bytes, more than the %d a unix socket allows", ch, n, maxUnixPath))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrBadConnectionInfo, strings.Join(problems, "; "))
	}
	if _, ok := hashForScheme(c.SignatureScheme); !ok {
		return fmt.Errorf("%w %q (want %s)", ErrUnsupportedScheme, c.SignatureScheme, DefaultSignatureScheme)
	}
	return nil
}

// Port returns the port of a channel, 0 for an invalid channel.
func (c ConnectionInfo) Port(ch Channel) int {
	switch ch {
	case Shell:
		return c.ShellPort
	case IOPub:
		return c.IOPubPort
	case Stdin:
		return c.StdinPort
	case Control:
		return c.ControlPort
	case Heartbeat:
		return c.HBPort
	}
	return 0
}

func (c *ConnectionInfo) setPort(ch Channel, port int) {
	switch ch {
	case Shell:
		c.ShellPort = port
	case IOPub:
		c.IOPubPort = port
	case Stdin:
		c.StdinPort = port
	case Control:
		c.ControlPort = port
	case Heartbeat:
		c.HBPort = port
	}
}

// Endpoint returns the ZeroMQ endpoint of a channel: "tcp://IP:PORT", or for
// ipc jupyter_client's convention "ipc://IP-PORT" (IP being a path, e.g.
// "ipc:///tmp/kernel-abc-1").
func (c ConnectionInfo) Endpoint(ch Channel) string {
	port := strconv.Itoa(c.Port(ch))
	if c.Transport == "ipc" {
		return "ipc://" + c.IP + "-" + port
	}
	return "tcp://" + net.JoinHostPort(c.IP, port)
}

// NewSigner returns the Signer for the connection's key and scheme.
// Errors wrap ErrUnsupportedScheme.
func (c ConnectionInfo) NewSigner() (*Signer, error) {
	return NewSigner(c.SignatureScheme, []byte(c.Key))
}

// netAddr returns the Go network and address of a channel's endpoint, for
// Listen or Dial. A tcp ip of "*" (ZeroMQ's any-address) listens on all
// interfaces.
func (c ConnectionInfo) netAddr(ch Channel) (network, addr string) {
	port := strconv.Itoa(c.Port(ch))
	if c.Transport == "ipc" {
		return "unix", c.IP + "-" + port
	}
	ip := c.IP
	if ip == "*" {
		ip = ""
	}
	return "tcp", net.JoinHostPort(ip, port)
}

// String shows the connection without its key, for logs.
func (c ConnectionInfo) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s shell=%d iopub=%d stdin=%d control=%d hb=%d scheme=%s",
		c.Transport, c.IP, c.ShellPort, c.IOPubPort, c.StdinPort, c.ControlPort, c.HBPort, c.SignatureScheme)
	if c.Key != "" {
		b.WriteString(" key=<redacted>")
	}
	return b.String()
}

// errNotSocket is returned when an ipc path exists and is not a socket.
var errNotSocket = errors.New("exists and is not a socket")
