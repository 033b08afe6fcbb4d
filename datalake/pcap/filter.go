package pcap

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/bpf"
)

// ErrFilter is wrapped by CompileFilter's errors: the expression is not in
// the subset it compiles, or a raw program is malformed.
var ErrFilter = errors.New("capture filter")

// CompileFilter compiles a capture filter for Ethernet frames (what an
// AF_PACKET socket sees, lo included) into a classic BPF program that
// accepts up to snaplen bytes of a matching frame (0: 262144). It accepts
// two forms:
//
//   - the output of tcpdump -ddd (a count, then one "code jt jf k"
//     instruction per line; lines may also be separated by commas), for
//     any expression libpcap compiles;
//   - an expression in a subset of tcpdump's language, compiled here
//     without libpcap: the primitives ip, ip6, arp, tcp, udp, sctp, icmp,
//     icmp6, [src|dst] host ADDR, [src|dst] net CIDR, [src|dst] port N,
//     [src|dst] portrange N-M, combined with and (&&), or (||), not (!)
//     and parentheses. As in tcpdump, and and or have equal precedence
//     and group from the left; not binds tightest. Addresses may be IPv4
//     or IPv6; port primitives match TCP, UDP and SCTP over IPv4 (not in
//     later fragments) and over IPv6 without extension headers; tcp,
//     udp, ... over IPv6 look at the fixed header's next header only, as
//     tcpdump does. Frames with VLAN tags match none of these primitives
//     (tcpdump needs its vlan keyword for them too).
//
// Errors wrap ErrFilter and say which word was not understood.
func CompileFilter(expr string, snaplen int) ([]bpf.RawInstruction, error) {
	if snaplen <= 0 {
		snaplen = 262144
	}
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, nil
	}
	if looksRaw(expr) {
		return parseRaw(expr)
	}
	p := &filterParser{toks: tokenize(expr)}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("%w: unexpected %q in %q", ErrFilter, p.toks[p.pos], expr)
	}
	var a assembler
	accept, reject := a.label(), a.label()
	a.cond(n, accept, reject)
	a.place(accept)
	a.emit(bpf.RetConstant{Val: uint32(snaplen)})
	a.place(reject)
	a.emit(bpf.RetConstant{Val: 0})
	return a.assemble()
}

// maxInstructions is the kernel's limit on a classic BPF program
// (BPF_MAXINSNS).
const maxInstructions = 4096

// looksRaw reports whether expr is tcpdump -ddd output: digits, spaces,
// commas and newlines only, starting with the instruction count.
func looksRaw(expr string) bool {
	for _, r := range expr {
		if !unicode.IsDigit(r) && r != ' ' && r != ',' && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

func parseRaw(expr string) ([]bpf.RawInstruction, error) {
	lines := strings.FieldsFunc(expr, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	if len(lines) == 0 {
		return nil, fmt.Errorf("%w: empty program", ErrFilter)
	}
	count, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || count != len(lines)-1 || count == 0 || count > maxInstructions {
		return nil, fmt.Errorf("%w: raw program: the first number (%s) must be the count of the instructions that follow (%d), as tcpdump -ddd prints it", ErrFilter, strings.TrimSpace(lines[0]), len(lines)-1)
	}
	prog := make([]bpf.RawInstruction, 0, count)
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("%w: raw instruction %d %q: want \"code jt jf k\"", ErrFilter, i+1, l)
		}
		var v [4]uint64
		for j, s := range f {
			bits := []int{16, 8, 8, 32}[j]
			if v[j], err = strconv.ParseUint(s, 10, bits); err != nil {
				return nil, fmt.Errorf("%w: raw instruction %d %q: %v", ErrFilter, i+1, l, err)
			}
		}
		prog = append(prog, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	// The kernel checks the program when it is attached; checking the
	// jumps here gives the error before the capture starts, with the
	// instruction that is wrong.
	const classJump, classRet, opJA = 0x05, 0x06, 0x00
	for i, r := range prog {
		if r.Op&0x07 != classJump {
			continue
		}
		far := i + 1 + max(int(r.Jt), int(r.Jf))
		if r.Op&0xf0 == opJA {
			far = i + 1 + int(r.K)
		}
		if far >= len(prog) {
			return nil, fmt.Errorf("%w: raw instruction %d jumps past the end of the program", ErrFilter, i+1)
		}
	}
	if prog[len(prog)-1].Op&0x07 != classRet {
		return nil, fmt.Errorf("%w: raw program does not end with a return", ErrFilter)
	}
	return prog, nil
}

// A filter expression is a tree of these nodes.
type (
	fAnd struct{ l, r fNode }
	fOr  struct{ l, r fNode }
	fNot struct{ x fNode }
	// fTest compares a field of the frame: size bytes at off (from the
	// frame's start, or from the IPv4 header's end when afterIPv4), masked
	// if mask is not 0, with val by op.
	fTest struct {
		size      int
		off       uint32
		mask      uint32
		op        bpf.JumpTest // JumpEqual, JumpGreaterOrEqual, JumpGreaterThan or JumpBitsSet
		val       uint32
		afterIPv4 bool
	}
)

type fNode interface{ isNode() }

func (fAnd) isNode()  {}
func (fOr) isNode()   {}
func (fNot) isNode()  {}
func (fTest) isNode() {}

func and(ns ...fNode) fNode {
	n := ns[0]
	for _, m := range ns[1:] {
		n = fAnd{n, m}
	}
	return n
}

func or(ns ...fNode) fNode {
	n := ns[0]
	for _, m := range ns[1:] {
		n = fOr{n, m}
	}
	return n
}

func eq(size int, off, val uint32) fNode {
	return fTest{size: size, off: off, op: bpf.JumpEqual, val: val}
}

// Ethernet frame offsets (no VLAN tag).
const (
	offEtherType = 12
	offIP        = 14
)

var (
	isIPv4 = eq(2, offEtherType, etherIPv4)
	isIPv6 = eq(2, offEtherType, etherIPv6)
	isARP  = eq(2, offEtherType, etherARP)
	// notLaterFragment: the IPv4 fragment offset is 0, so the transport
	// header is in this frame.
	notLaterFragment = fNot{fTest{size: 2, off: offIP + 6, op: bpf.JumpBitsSet, val: 0x1fff}}
)

func ipv4Proto(p uint32) fNode { return and(isIPv4, eq(1, offIP+9, p)) }
func ipv6Proto(p uint32) fNode { return and(isIPv6, eq(1, offIP+6, p)) }

// addrTest matches the source (dir "src"), destination ("dst") or either
// address against a prefix.
func addrTest(dir string, pre netip.Prefix) fNode {
	a := pre.Addr()
	bits := pre.Bits()
	var base fNode = isIPv6
	srcOff, dstOff := uint32(offIP+8), uint32(offIP+24)
	if a.Is4() {
		base, srcOff, dstOff = isIPv4, offIP+12, offIP+16
	}
	raw := a.AsSlice()
	match := func(off uint32) fNode {
		var tests []fNode
		for w := 0; w*32 < len(raw)*8; w++ {
			keep := min(max(bits-w*32, 0), 32)
			if keep == 0 {
				break
			}
			mask := uint32(0xffffffff) << (32 - keep)
			v := uint32(raw[4*w])<<24 | uint32(raw[4*w+1])<<16 | uint32(raw[4*w+2])<<8 | uint32(raw[4*w+3])
			t := fTest{size: 4, off: off + uint32(4*w), op: bpf.JumpEqual, val: v & mask}
			if keep < 32 {
				t.mask = mask
			}
			tests = append(tests, t)
		}
		if len(tests) == 0 { // /0 matches every address
			return base
		}
		return and(tests...)
	}
	switch dir {
	case "src":
		return and(base, match(srcOff))
	case "dst":
		return and(base, match(dstOff))
	}
	return and(base, or(match(srcOff), match(dstOff)))
}

// portTest matches a source, destination or either port in [lo, hi] of
// TCP, UDP and SCTP.
func portTest(dir string, lo, hi uint32) fNode {
	inRange := func(t fTest) fNode {
		if lo == hi {
			t.op, t.val = bpf.JumpEqual, lo
			return t
		}
		ge, gt := t, t
		ge.op, ge.val = bpf.JumpGreaterOrEqual, lo
		gt.op, gt.val = bpf.JumpGreaterThan, hi
		return and(ge, fNot{gt})
	}
	ports := func(v4 bool) fNode {
		src := fTest{size: 2, off: 0, afterIPv4: true}
		if !v4 {
			src = fTest{size: 2, off: offIP + ipv6HeaderLen}
		}
		dst := src
		dst.off += 2
		switch dir {
		case "src":
			return inRange(src)
		case "dst":
			return inRange(dst)
		}
		return or(inRange(src), inRange(dst))
	}
	l4 := func(v4 bool) fNode {
		proto := func(p uint32) fNode { return eq(1, offIP+6, p) }
		if v4 {
			proto = func(p uint32) fNode { return eq(1, offIP+9, p) }
		}
		return or(proto(6), proto(17), proto(132))
	}
	return or(
		and(isIPv4, l4(true), notLaterFragment, ports(true)),
		and(isIPv6, l4(false), ports(false)),
	)
}

type filterParser struct {
	toks []string
	pos  int
}

func tokenize(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '!':
			out = append(out, string(c))
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			out = append(out, s[i:i+2])
			i += 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()!", rune(s[j])) && !strings.HasPrefix(s[j:], "&&") && !strings.HasPrefix(s[j:], "||") {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *filterParser) next() string {
	t := p.peek()
	if t != "" {
		p.pos++
	}
	return t
}

// parseOr parses a chain of and/or (equal precedence, left to right, as
// tcpdump).
func (p *filterParser) parseOr() (fNode, error) {
	n, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for {
		switch p.peek() {
		case "and", "&&":
			p.next()
			m, err := p.parseNot()
			if err != nil {
				return nil, err
			}
			n = fAnd{n, m}
		case "or", "||":
			p.next()
			m, err := p.parseNot()
			if err != nil {
				return nil, err
			}
			n = fOr{n, m}
		default:
			return n, nil
		}
	}
}

func (p *filterParser) parseNot() (fNode, error) {
	switch p.peek() {
	case "not", "!":
		p.next()
		n, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return fNot{n}, nil
	case "(":
		p.next()
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, fmt.Errorf("%w: missing )", ErrFilter)
		}
		return n, nil
	}
	return p.parsePrimitive()
}

func (p *filterParser) parsePrimitive() (fNode, error) {
	t := p.next()
	switch t {
	case "":
		return nil, fmt.Errorf("%w: expression ends where a primitive was expected", ErrFilter)
	case "ip":
		return isIPv4, nil
	case "ip6":
		return isIPv6, nil
	case "arp":
		return isARP, nil
	case "tcp":
		return or(ipv4Proto(6), ipv6Proto(6)), nil
	case "udp":
		return or(ipv4Proto(17), ipv6Proto(17)), nil
	case "sctp":
		return or(ipv4Proto(132), ipv6Proto(132)), nil
	case "icmp":
		return ipv4Proto(1), nil
	case "icmp6":
		return ipv6Proto(58), nil
	}
	dir := ""
	if t == "src" || t == "dst" {
		dir, t = t, p.next()
	}
	arg := p.next()
	if arg == "" {
		return nil, fmt.Errorf("%w: %s needs an argument", ErrFilter, t)
	}
	switch t {
	case "host":
		a, err := netip.ParseAddr(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: host %q: an IPv4 or IPv6 address (names are not resolved)", ErrFilter, arg)
		}
		return addrTest(dir, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())), nil
	case "net":
		pre, err := netip.ParsePrefix(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: net %q: a CIDR prefix such as 10.0.0.0/8", ErrFilter, arg)
		}
		return addrTest(dir, pre.Masked()), nil
	case "port":
		n, err := strconv.ParseUint(arg, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%w: port %q: a number from 0 to 65535 (service names are not resolved)", ErrFilter, arg)
		}
		return portTest(dir, uint32(n), uint32(n)), nil
	case "portrange":
		los, his, ok := strings.Cut(arg, "-")
		lo, err1 := strconv.ParseUint(los, 10, 16)
		hi, err2 := strconv.ParseUint(his, 10, 16)
		if !ok || err1 != nil || err2 != nil || lo > hi {
			return nil, fmt.Errorf("%w: portrange %q: two port numbers such as 1024-2047", ErrFilter, arg)
		}
		return portTest(dir, uint32(lo), uint32(hi)), nil
	}
	return nil, fmt.Errorf("%w: %q is not in the supported subset (ip ip6 arp tcp udp sctp icmp icmp6 [src|dst] host/net/port/portrange, and or not ( )); for other expressions pass the output of tcpdump -ddd 'EXPR'", ErrFilter, t)
}

// assembler emits instructions whose jumps go to labels, resolved when
// every label is placed. Jumps only go forward, as BPF requires.
type assembler struct {
	ins    []bpf.Instruction
	jumps  []pendingJump
	labels []int // instruction index of each label, -1 until placed
}

type pendingJump struct {
	at          int // index of the JumpIf
	true, false int // labels
}

func (a *assembler) label() int {
	a.labels = append(a.labels, -1)
	return len(a.labels) - 1
}

func (a *assembler) place(l int) { a.labels[l] = len(a.ins) }

func (a *assembler) emit(i bpf.Instruction) { a.ins = append(a.ins, i) }

// cond emits code that goes to label t if n holds and to f otherwise.
func (a *assembler) cond(n fNode, t, f int) {
	switch n := n.(type) {
	case fAnd:
		mid := a.label()
		a.cond(n.l, mid, f)
		a.place(mid)
		a.cond(n.r, t, f)
	case fOr:
		mid := a.label()
		a.cond(n.l, t, mid)
		a.place(mid)
		a.cond(n.r, t, f)
	case fNot:
		a.cond(n.x, f, t)
	case fTest:
		if n.afterIPv4 {
			a.emit(bpf.LoadMemShift{Off: offIP})
			a.emit(bpf.LoadIndirect{Off: offIP + n.off, Size: n.size})
		} else {
			a.emit(bpf.LoadAbsolute{Off: n.off, Size: n.size})
		}
		if n.mask != 0 {
			a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: n.mask})
		}
		a.jumps = append(a.jumps, pendingJump{at: len(a.ins), true: t, false: f})
		a.emit(bpf.JumpIf{Cond: n.op, Val: n.val})
	}
}

func (a *assembler) assemble() ([]bpf.RawInstruction, error) {
	for _, j := range a.jumps {
		ji := a.ins[j.at].(bpf.JumpIf)
		st, sf := a.labels[j.true]-j.at-1, a.labels[j.false]-j.at-1
		if st < 0 || sf < 0 || st > 255 || sf > 255 {
			return nil, fmt.Errorf("%w: expression too long for a BPF program", ErrFilter)
		}
		ji.SkipTrue, ji.SkipFalse = uint8(st), uint8(sf)
		a.ins[j.at] = ji
	}
	if len(a.ins) > maxInstructions {
		return nil, fmt.Errorf("%w: expression too long for a BPF program", ErrFilter)
	}
	prog, err := bpf.Assemble(a.ins)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFilter, err)
	}
	return prog, nil
}
