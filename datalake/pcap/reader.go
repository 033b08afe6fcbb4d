package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Sentinel errors of this package. Errors returned by Reader wrap one of
// them inside a *FileError that names the file and the byte offset.
var (
	// ErrUnknownFormat: the file is neither pcap (any of its four magics)
	// nor pcapng, or its header is invalid.
	ErrUnknownFormat = errors.New("not a pcap or pcapng capture")
	// ErrTruncated: the file ends inside a header, a record or a block.
	ErrTruncated = errors.New("capture file truncated")
	// ErrMalformed: a record or block is inconsistent (length beyond the
	// snap length, unknown section version, missing interface, ...).
	ErrMalformed = errors.New("malformed capture record")
	// ErrClosed is wrapped by Live.Next once the capture was closed or
	// failed.
	ErrClosed = errors.New("capture closed")
	// ErrUnsupported: live capture is not available on this system.
	ErrUnsupported = errors.New("live capture is supported on Linux only")
)

// Format is the container format of a capture file.
type Format string

// Formats Reader recognises.
const (
	FormatPcap   Format = "pcap"
	FormatPcapNG Format = "pcapng"
)

// FileError is an error reading a capture: which file, after how many
// packets, and where. Offset is the byte offset where the first record
// that could not be read starts (everything before it was read); the
// packets before it are valid and were returned.
type FileError struct {
	File    string
	Offset  int64
	Packets uint64 // packets read before the error
	Err     error  // wraps ErrUnknownFormat, ErrTruncated or ErrMalformed
	Detail  error  // the underlying reader's error, if any
}

func (e *FileError) Error() string {
	msg := e.Err.Error()
	if e.Detail != nil {
		msg += ": " + e.Detail.Error()
	}
	return fmt.Sprintf("%s: byte offset %d, after %d packets: %s", e.File, e.Offset, e.Packets, msg)
}

// Unwrap returns the sentinel (ErrUnknownFormat, ErrTruncated, ErrMalformed).
func (e *FileError) Unwrap() error { return e.Err }

// Frame is one captured frame. Data is owned by the Reader and is valid
// until the next call to Next.
type Frame struct {
	Data      []byte
	Time      int64  // Unix nanoseconds
	WireLen   int    // original length on the wire
	LinkType  uint32 // LINKTYPE_* of the frame's interface
	Interface int    // pcapng interface index (0 for pcap)
}

// Reader reads frames from a pcap (microsecond or nanosecond, either byte
// order) or pcapng file (several sections and interfaces, mixed link
// types) with gopacket's pure-Go pcapgo readers. It is not safe for
// concurrent use.
type Reader struct {
	name    string
	format  Format
	cr      countingReader
	br      *bufio.Reader
	pcap    *pcapgo.Reader
	ng      *pcapgo.NgReader
	link    uint32
	order   binary.ByteOrder // pcap: the file's byte order
	nsPer   uint32           // pcap: nanoseconds per unit of the timestamp fraction
	packets uint64
	good    int64 // offset just past the last complete record
	err     error
}

// readerBuffer is the read buffer: large sequential reads.
const readerBuffer = 1 << 20

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// NewReader reads a capture from r; name is used in errors. It reads the
// file header and returns a *FileError wrapping ErrUnknownFormat or
// ErrTruncated if it is not a capture.
func NewReader(r io.Reader, name string) (*Reader, error) {
	rd := &Reader{name: name}
	rd.cr.r = r
	// pcapgo wraps its input in bufio.NewReader, which returns a
	// *bufio.Reader of at least its default size unchanged: so this one
	// is shared, and the offset of what was consumed is known exactly.
	rd.br = bufio.NewReaderSize(&rd.cr, readerBuffer)
	magic, err := rd.br.Peek(4)
	if err != nil {
		if err == io.EOF && len(magic) == 0 {
			return nil, rd.fail(ErrTruncated, errors.New("empty file"))
		}
		return nil, rd.fail(ErrTruncated, fmt.Errorf("%d bytes: shorter than any file header", len(magic)))
	}
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0a0d0d0a:
		rd.format = FormatPcapNG
		ng, err := pcapgo.NewNgReader(rd.br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, rd.fail(classify(err, ErrUnknownFormat), err)
		}
		rd.ng = ng
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		rd.format = FormatPcap
		pr, err := pcapgo.NewReader(rd.br)
		if err != nil {
			return nil, rd.fail(classify(err, ErrUnknownFormat), err)
		}
		rd.pcap = pr
		rd.link = uint32(pr.LinkType())
		m := binary.LittleEndian.Uint32(magic)
		rd.order, rd.nsPer = binary.LittleEndian, 1000
		if m == 0xd4c3b2a1 || m == 0x4d3cb2a1 {
			rd.order = binary.BigEndian
		}
		if m == 0xa1b23c4d || m == 0x4d3cb2a1 {
			rd.nsPer = 1
		}
	default:
		return nil, rd.fail(ErrUnknownFormat, fmt.Errorf("magic %x", magic))
	}
	rd.good = rd.offset()
	return rd, nil
}

// Open opens a capture file. Close the returned closer when done.
func Open(path string) (*Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open capture: %w", err)
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, f, nil
}

// Format returns the container format.
func (r *Reader) Format() Format { return r.format }

// Packets returns the number of frames returned so far.
func (r *Reader) Packets() uint64 { return r.packets }

// Offset returns the byte offset just past the last frame returned.
func (r *Reader) Offset() int64 { return r.good }

// Next returns the next frame. At the end of the file it returns io.EOF;
// on damage a *FileError (wrapping ErrTruncated or ErrMalformed) that
// names the offset of the first record it could not read. After an error
// it keeps returning it.
func (r *Reader) Next() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	if r.pcap != nil {
		if f, ok := r.nextPcap(); ok {
			return f, nil
		}
	}
	var (
		data []byte
		ci   gopacket.CaptureInfo
		err  error
	)
	if r.ng != nil {
		data, ci, err = r.ng.ZeroCopyReadPacketData()
	} else {
		data, ci, err = r.pcap.ZeroCopyReadPacketData()
	}
	if err != nil {
		// A clean end: pcap at a record boundary (its reader also
		// returns io.EOF when a record header is followed by no data);
		// pcapng at a block boundary, after trailing non-packet blocks
		// such as statistics (its reader turns running out inside a
		// block into io.ErrUnexpectedEOF).
		if err == io.EOF && (r.ng != nil || r.offset() == r.good) {
			r.good = r.offset()
			r.err = io.EOF
			return Frame{}, io.EOF
		}
		r.err = r.fail(classify(err, ErrMalformed), err)
		return Frame{}, r.err
	}
	link := r.link
	if r.ng != nil {
		if len(ci.AncillaryData) > 0 {
			if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
				link = uint32(lt)
			}
		}
	}
	r.packets++
	r.good = r.offset()
	return Frame{Data: data, Time: ci.Timestamp.UnixNano(), WireLen: ci.Length, LinkType: link, Interface: ci.InterfaceIndex}, nil
}

// fastCaptureMax is the largest record nextPcap reads itself: pcapgo's
// bound for a record (the larger of the snap length and libpcap's
// MAXIMUM_SNAPLEN, 262144) is never below it, and it fits the buffer.
const fastCaptureMax = 262144

// nextPcap reads the next pcap record in place from the read buffer:
// pcapgo copies every record into a buffer of its own and builds a
// time.Time from the header, which cost a fifth of reading and decoding.
// It reads only records that are whole and valid by pcapgo's rules; for
// anything else (end of file, damage, a record larger than
// fastCaptureMax) it reports false without consuming anything, and pcapgo
// reads the record, so errors are pcapgo's.
func (r *Reader) nextPcap() (Frame, bool) {
	h, err := r.br.Peek(16)
	if err != nil {
		return Frame{}, false
	}
	capLen := r.order.Uint32(h[8:12])
	wireLen := r.order.Uint32(h[12:16])
	if capLen > fastCaptureMax || capLen > wireLen {
		return Frame{}, false
	}
	rec, err := r.br.Peek(16 + int(capLen))
	if err != nil {
		return Frame{}, false
	}
	// As pcapgo: the fraction times nsPer in 32 bits, then seconds and
	// nanoseconds added.
	ns := int64(r.order.Uint32(rec[0:4]))*1e9 + int64(r.order.Uint32(rec[4:8])*r.nsPer)
	f := Frame{Data: rec[16 : 16+capLen : 16+capLen], Time: ns, WireLen: int(wireLen), LinkType: r.link}
	// Discard only moves the buffer's read position: the record's bytes
	// stay where they are until the next read fills the buffer again.
	r.br.Discard(16 + int(capLen))
	r.packets++
	r.good = r.offset()
	return f, true
}

// offset is the number of bytes the format readers consumed.
func (r *Reader) offset() int64 { return r.cr.n - int64(r.br.Buffered()) }

func (r *Reader) fail(sentinel, detail error) *FileError {
	return &FileError{File: r.name, Offset: r.good, Packets: r.packets, Err: sentinel, Detail: detail}
}

// classify maps a pcapgo error to a sentinel: running out of bytes is
// truncation, anything else is what the caller says.
func classify(err, otherwise error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return ErrTruncated
	}
	return otherwise
}
