package jupyter

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// ZMTP 3.0 frame flags.
const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

const (
	// bigFrame is the size from which a frame body is written from its own
	// buffer (vectored write) instead of being copied.
	bigFrame = 32 << 10
	// arenaSize is the chunk small received frames are carved from.
	arenaSize = 16 << 10
	// readBufferSize is the bufio size for reading connections.
	readBufferSize = 64 << 10
	// defaultMaxMessage bounds one received message (all frames).
	defaultMaxMessage = 512 << 20
	// handshakeTimeout bounds the ZMTP greeting and READY exchange.
	handshakeTimeout = 10 * time.Second
	// defaultWriteTimeout bounds one message write to a peer that does not
	// read; the connection is closed after it, like a ZeroMQ peer dropped at
	// its high-water mark.
	defaultWriteTimeout = 30 * time.Second
)

var (
	errTooLarge    = errors.New("message exceeds the maximum size")
	errPeerCommand = errors.New("peer sent a ZMTP ERROR command")
)

// wireWriter builds the bytes of one or more ZMTP messages: small frames are
// copied into one buffer, big bodies are kept as their own segment, so a
// message goes out in one (vectored) write.
type wireWriter struct {
	segs    net.Buffers
	cur     []byte
	scratch []byte // header JSON and signature, reused between messages
}

var wirePool = sync.Pool{New: func() any { return &wireWriter{cur: make([]byte, 0, 2048), scratch: make([]byte, 0, 1024)} }}

func getWire() *wireWriter { return wirePool.Get().(*wireWriter) }

func putWire(w *wireWriter) {
	if cap(w.cur) > 1<<20 || cap(w.scratch) > 1<<20 {
		return // do not keep huge buffers alive
	}
	// Only keep the small buffer: big segments alias callers' data.
	if len(w.segs) > 0 {
		w.cur = w.segs[0][:0]
		if cap(w.cur) < 2048 {
			w.cur = make([]byte, 0, 2048)
		}
	}
	w.cur = w.cur[:0]
	clear(w.segs)
	w.segs = w.segs[:0]
	wirePool.Put(w)
}

// frame appends one frame.
func (w *wireWriter) frame(body []byte, more bool) {
	var flags byte
	if more {
		flags |= flagMore
	}
	n := len(body)
	if n > 255 {
		flags |= flagLong
		w.cur = append(w.cur, flags, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(w.cur[len(w.cur)-8:], uint64(n))
	} else {
		w.cur = append(w.cur, flags, byte(n))
	}
	if n >= bigFrame {
		w.segs = append(w.segs, w.cur, body)
		w.cur = w.cur[len(w.cur):]
		return
	}
	w.cur = append(w.cur, body...)
}

// command appends one ZMTP command frame.
func (w *wireWriter) command(name string, body []byte) {
	n := 1 + len(name) + len(body)
	if n > 255 {
		w.cur = append(w.cur, flagCommand|flagLong, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(w.cur[len(w.cur)-8:], uint64(n))
	} else {
		w.cur = append(w.cur, flagCommand, byte(n))
	}
	w.cur = append(w.cur, byte(len(name)))
	w.cur = append(w.cur, name...)
	w.cur = append(w.cur, body...)
}

// buffers returns the segments to write. The result aliases w.
func (w *wireWriter) buffers() net.Buffers {
	if len(w.segs) == 0 {
		return net.Buffers{w.cur}
	}
	if len(w.cur) == 0 {
		return w.segs
	}
	return append(w.segs, w.cur)
}

// zconn is one ZMTP connection after the handshake.
type zconn struct {
	nc       net.Conn
	br       *bufio.Reader
	peerType zmq4.SocketType
	peerID   []byte

	arena  []byte
	maxMsg int64

	wmu      sync.Mutex
	wtimeout time.Duration
	iovArr   [8][]byte // backing of the vectored write, reused under wmu

	closeOnce sync.Once
}

// handshakeConn lets zmq4's handshake read through our buffered reader, so
// no byte the peer sends right after READY is lost.
type handshakeConn struct {
	net.Conn
	r *bufio.Reader
}

// Read reads through the buffered reader.
func (c *handshakeConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// handshake runs the ZMTP 3.0 greeting and NULL-mechanism READY exchange (via
// zmq4) on nc. zmq4 panics on some malformed peer metadata; a panic is turned
// into an error so a hostile peer cannot bring the process down.
func handshake(nc net.Conn, typ zmq4.SocketType, id []byte, server bool, maxMsg int64, wtimeout time.Duration) (zc *zconn, err error) {
	br := bufio.NewReaderSize(nc, readBufferSize)
	if err := nc.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return nil, err
	}
	var conn *zmq4.Conn
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("zmtp handshake: peer sent invalid metadata (%v)", r)
			}
		}()
		conn, err = zmq4.Open(&handshakeConn{Conn: nc, r: br}, null.Security(), typ, zmq4.SocketIdentity(id), server, nil)
	}()
	if err != nil {
		return nil, err
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	if maxMsg <= 0 {
		maxMsg = defaultMaxMessage
	}
	if wtimeout == 0 {
		wtimeout = defaultWriteTimeout
	}
	return &zconn{
		nc:       nc,
		br:       br,
		peerType: zmq4.SocketType(conn.Peer.Meta["Socket-Type"]),
		peerID:   []byte(conn.Peer.Meta["Identity"]),
		maxMsg:   maxMsg,
		wtimeout: wtimeout,
	}, nil
}

func (c *zconn) close() {
	c.closeOnce.Do(func() { c.nc.Close() })
}

// write sends the bytes of w in one write. A failed or timed-out write closes
// the connection: a partial message would desynchronize the stream.
func (c *zconn) write(w *wireWriter) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(w.buffers())
}

func (c *zconn) writeLocked(bufs net.Buffers) error {
	if c.wtimeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.wtimeout))
	}
	var err error
	if len(bufs) == 1 {
		_, err = c.nc.Write(bufs[0])
	} else {
		// WriteTo consumes the slice it is given: hand it a copy.
		iov := append(net.Buffers(c.iovArr[:0]), bufs...)
		_, err = iov.WriteTo(c.nc)
		clear(c.iovArr[:])
	}
	if err != nil {
		c.close()
	}
	return err
}

// zmsg is one received ZMTP message or command.
type zmsg struct {
	frames [][]byte
	// command is the name of a ZMTP command (frames then holds its body as
	// the only frame); "" for a message.
	command string
}

// alloc returns n bytes for a frame body, carved from the arena when small.
func (c *zconn) alloc(n int) []byte {
	if n > arenaSize/4 {
		return make([]byte, n)
	}
	if len(c.arena) < n {
		c.arena = make([]byte, arenaSize)
	}
	b := c.arena[:n:n]
	c.arena = c.arena[n:]
	return b
}

// readBody reads a frame body of size n. Big bodies are read in growing
// chunks so a peer announcing a huge frame it never sends cannot make us
// allocate it up front.
func (c *zconn) readBody(n uint64) ([]byte, error) {
	if n <= 1<<20 {
		b := c.alloc(int(n))
		_, err := io.ReadFull(c.br, b)
		return b, err
	}
	b := make([]byte, 0, 1<<20)
	for uint64(len(b)) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, len(b)) // double as data actually arrives
		}
		k := len(b)
		end := uint64(cap(b))
		if end > n {
			end = n
		}
		b = b[:end]
		if _, err := io.ReadFull(c.br, b[k:]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// readMsg reads the next message, appending its frames to dst. It answers
// PING commands itself and returns other commands as zmsg.command.
func (c *zconn) readMsg(dst [][]byte) (zmsg, error) {
	var total uint64
	for {
		flags, err := c.br.ReadByte()
		if err != nil {
			return zmsg{}, err
		}
		var size uint64
		if flags&flagLong != 0 {
			var sz [8]byte
			if _, err := io.ReadFull(c.br, sz[:]); err != nil {
				return zmsg{}, err
			}
			size = binary.BigEndian.Uint64(sz[:])
		} else {
			b, err := c.br.ReadByte()
			if err != nil {
				return zmsg{}, err
			}
			size = uint64(b)
		}
		total += size
		if size > uint64(c.maxMsg) || total > uint64(c.maxMsg) {
			return zmsg{}, fmt.Errorf("%w (%d bytes, limit %d)", errTooLarge, total, c.maxMsg)
		}
		body, err := c.readBody(size)
		if err != nil {
			return zmsg{}, err
		}
		if flags&flagCommand != 0 {
			if len(dst) > 0 && total > size {
				return zmsg{}, fmt.Errorf("zmtp: command inside a multipart message")
			}
			name, cbody, ok := parseCommand(body)
			if !ok {
				return zmsg{}, fmt.Errorf("zmtp: malformed command frame")
			}
			switch name {
			case zmq4.CmdPing:
				if err := c.pong(cbody); err != nil {
					return zmsg{}, err
				}
				total = 0
				continue
			case zmq4.CmdPong:
				total = 0
				continue
			case zmq4.CmdError:
				return zmsg{}, fmt.Errorf("%w: %q", errPeerCommand, cbody)
			}
			return zmsg{frames: [][]byte{cbody}, command: name}, nil
		}
		dst = append(dst, body)
		if flags&flagMore == 0 {
			return zmsg{frames: dst}, nil
		}
	}
}

func parseCommand(body []byte) (name string, rest []byte, ok bool) {
	if len(body) == 0 || int(body[0]) > len(body)-1 {
		return "", nil, false
	}
	n := int(body[0])
	return string(body[1 : 1+n]), body[1+n:], true
}

// pong answers a PING with its context (the bytes after the 2-byte TTL).
func (c *zconn) pong(ping []byte) error {
	var ctx []byte
	if len(ping) > 2 {
		ctx = ping[2:]
		if len(ctx) > 16 {
			ctx = ctx[:16]
		}
	}
	w := getWire()
	defer putWire(w)
	w.command(zmq4.CmdPong, ctx)
	return c.write(w)
}

// listen binds a channel's endpoint. For ipc, a stale socket file left by a
// crashed kernel is removed first (as libzmq does), but never a file that is
// not a socket.
func listen(info ConnectionInfo, ch Channel) (net.Listener, error) {
	network, addr := info.netAddr(ch)
	if network == "unix" {
		if fi, err := os.Lstat(addr); err == nil {
			if fi.Mode()&os.ModeSocket == 0 {
				return nil, fmt.Errorf("bind %s endpoint %s: %s %w", ch, info.Endpoint(ch), addr, errNotSocket)
			}
			os.Remove(addr)
		}
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("bind %s endpoint %s: %w", ch, info.Endpoint(ch), err)
	}
	return ln, nil
}
