package datalake

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a ranges file: context tables (internal ranges, network names,
// a geo table) are small; a bigger file belongs in a dataset.
const (
	MaxRangesBytes   = 16 << 20
	MaxRangesEntries = 100_000
)

// Ranges is a table of IP networks, each with attribute columns: the
// internal ranges of an organisation, the names of its networks, a geo
// table. Lookup finds the most specific network holding an address; Frame
// turns the table into a frame that SQL joins with flows (IPNumber).
//
// The text form (ParseRanges, IO.ReadRanges) is CSV with a header line. The
// first column holds a network in CIDR form (10.0.0.0/8, 2001:db8::/32) or a
// single address; the other columns are attributes, named by the header. A
// plain list of networks, one a line and nothing else, needs no header.
// Blank lines and lines starting with '#' are skipped. A Ranges is
// read-only once built and safe for concurrent use.
type Ranges struct {
	columns []string // attribute names, without the network column
	entries []rangeEntry
	io      *LakeIO // the lake it was read from; nil: the default lake
}

type rangeEntry struct {
	prefix netip.Prefix
	values []string
}

// ParseRanges reads a ranges table (see Ranges) from r, at most
// MaxRangesBytes and MaxRangesEntries. Errors wrap ErrBadArgument and name
// the line and what is wrong with it.
func ParseRanges(r io.Reader) (*Ranges, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRangesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ranges: read: %w", err)
	}
	if len(data) > MaxRangesBytes {
		return nil, wrapf(ErrBadArgument, "ranges: the file is larger than %d bytes: keep context tables small, or load big ones as a dataset", MaxRangesBytes)
	}
	// Comments are removed before the CSV reader sees them, keeping line
	// numbers for messages.
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] == '#' {
			lines[i] = nil
		}
	}
	cr := csv.NewReader(bytes.NewReader(bytes.Join(lines, []byte("\n"))))
	cr.FieldsPerRecord = 0
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, wrapf(ErrBadArgument, "ranges: the file is empty: it needs a header line such as network,name")
	}
	if err != nil {
		return nil, wrapf(ErrBadArgument, "ranges: %v", err)
	}
	rg := &Ranges{}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if i == 0 {
			if p, err := parseNetwork(h); err == nil {
				if len(header) > 1 {
					return nil, wrapf(ErrBadArgument, "ranges: the first line (%q) is a network, not a header: start the file with a header such as network,name", h)
				}
				// A plain list of networks, one a line, needs no header.
				rg.entries = append(rg.entries, rangeEntry{p, nil})
			}
			continue
		}
		if h == "" || !isSimpleName(h) {
			return nil, wrapf(ErrBadArgument, "ranges: header column %d (%q) is not a plain name: use letters, digits and _ (country, site_name)", i+1, h)
		}
		if seen[h] || h == "network" || h == "first_ip" || h == "last_ip" || h == "prefix_len" {
			return nil, wrapf(ErrBadArgument, "ranges: header column %q is repeated or reserved (network, first_ip, last_ip, prefix_len)", h)
		}
		seen[h] = true
		rg.columns = append(rg.columns, h)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, wrapf(ErrBadArgument, "ranges: %v", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rg.entries) >= MaxRangesEntries {
			return nil, wrapf(ErrBadArgument, "ranges: more than %d networks: keep context tables small, or load big ones as a dataset", MaxRangesEntries)
		}
		p, err := parseNetwork(strings.TrimSpace(rec[0]))
		if err != nil {
			return nil, wrapf(ErrBadArgument, "ranges: line %d: %v", line, err)
		}
		vals := make([]string, len(rg.columns))
		for i := range vals {
			vals[i] = strings.TrimSpace(rec[i+1])
			if strings.ContainsFunc(vals[i], unicode.IsControl) || !utf8.ValidString(vals[i]) {
				return nil, wrapf(ErrBadArgument, "ranges: line %d: column %s holds a control character or invalid UTF-8", line, rg.columns[i])
			}
		}
		rg.entries = append(rg.entries, rangeEntry{p, vals})
	}
	// Most specific first, so Lookup returns the first match.
	sort.SliceStable(rg.entries, func(i, j int) bool { return rg.entries[i].prefix.Bits() > rg.entries[j].prefix.Bits() })
	return rg, nil
}

// parseNetwork reads a CIDR network or a single address, masked to its
// network (10.1.2.3/8 is 10.0.0.0/8).
func parseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a network: write it as an address and a prefix length, such as 10.0.0.0/8", s)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q has a zone, which networks cannot have", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is neither a network (10.0.0.0/8) nor an address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ReadRanges reads a ranges table (see Ranges) from a CSV file in the lake,
// such as /appdata/context/networks.csv: a plain file under /appdata or
// /tetration, not an hour-partitioned dataset. Errors wrap
// ErrNotConfigured, ErrPathRefused, ErrUnknownPath or ErrBadArgument. Safe
// for concurrent use.
func (io *LakeIO) ReadRanges(path string) (*Ranges, error) {
	call := callString("IO.ReadRanges", path)
	l, err := io.target()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	p, err := parseLakePath(path, l.hostRoot)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	fi, err := l.root.Stat(p.rel())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w: no file at %s", call, ErrUnknownPath, p)
	case err != nil && isEscape(err):
		return nil, fmt.Errorf("%s: %w: %s: a symbolic link in it points outside the lake", call, ErrPathRefused, p)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", call, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s: %w: %s is a folder, not a CSV file: IO.Read reads datasets", call, ErrPathRefused, p)
	}
	f, err := l.root.Open(p.rel())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	defer f.Close()
	rg, err := ParseRanges(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	rg.io = io
	return rg, nil
}

// Len returns the number of networks.
func (r *Ranges) Len() int { return len(r.entries) }

// Columns returns the attribute column names, in file order.
func (r *Ranges) Columns() []string { return append([]string(nil), r.columns...) }

// Contains reports whether ip (an IPv4 or IPv6 address as text) is in one
// of the networks. An address that does not parse is in none.
func (r *Ranges) Contains(ip string) bool {
	_, ok := r.find(ip)
	return ok
}

// Lookup returns the attributes of the most specific network holding ip,
// plus "network" (its CIDR form), or nil when none holds it (or ip does not
// parse).
func (r *Ranges) Lookup(ip string) Row {
	e, ok := r.find(ip)
	if !ok {
		return nil
	}
	row := Row{"network": e.prefix.String()}
	for i, c := range r.columns {
		row[c] = e.values[i]
	}
	return row
}

// Get returns the value of one attribute column for ip, or "" when no
// network holds it.
func (r *Ranges) Get(ip, column string) string {
	e, ok := r.find(ip)
	if !ok {
		return ""
	}
	for i, c := range r.columns {
		if c == column {
			return e.values[i]
		}
	}
	return ""
}

func (r *Ranges) find(ip string) (rangeEntry, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return rangeEntry{}, false
	}
	a = a.Unmap().WithZone("")
	for _, e := range r.entries {
		if e.prefix.Contains(a) {
			return e, true
		}
	}
	return rangeEntry{}, false
}

// Frame returns the table as a frame on the lake it was read from (the
// default lake, IO, for a table from ParseRanges), one row per
// network: network (CIDR text), prefix_len, first_ip and last_ip (the
// network's IPv4 addresses as numbers, NULL for IPv6 networks), then the
// attribute columns as text. Register it (RegisterTempTable) and join it in
// SQL with IPNumber:
//
//	nets.Frame().RegisterTempTable("nets")
//	SQL(`SELECT f.src_address, n.name FROM flows f JOIN nets n
//	     ON ` + IPNumber("f.src_address") + ` BETWEEN n.first_ip AND n.last_ip`)
//
// When networks nest, such a join matches each of them; order by
// prefix_len DESC to prefer the most specific.
func (r *Ranges) Frame() *Frame {
	cols := append([]string{"network", "prefix_len", "first_ip", "last_ip"}, r.columns...)
	if len(r.entries) == 0 {
		// An empty table still has its columns.
		sel := []string{"NULL::VARCHAR AS network", "NULL::INTEGER AS prefix_len", "NULL::BIGINT AS first_ip", "NULL::BIGINT AS last_ip"}
		for _, c := range r.columns {
			sel = append(sel, "NULL::VARCHAR AS "+quoteIdent(c))
		}
		return r.frame("SELECT " + strings.Join(sel, ", ") + " WHERE false")
	}
	var b strings.Builder
	b.WriteString("SELECT * FROM (VALUES ")
	for i, e := range r.entries {
		if i > 0 {
			b.WriteString(", ")
		}
		first, last := "NULL::BIGINT", "NULL::BIGINT"
		if e.prefix.Addr().Is4() {
			lo := ipv4Number(e.prefix.Addr())
			hi := lo | (1<<(32-e.prefix.Bits()) - 1)
			first, last = fmt.Sprintf("%d::BIGINT", lo), fmt.Sprintf("%d::BIGINT", hi)
		}
		fmt.Fprintf(&b, "('%s', %d, %s, %s", e.prefix.String(), e.prefix.Bits(), first, last)
		for _, v := range e.values {
			b.WriteString(", '" + strings.ReplaceAll(v, "'", "''") + "'")
		}
		b.WriteString(")")
	}
	b.WriteString(") AS t(")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c))
	}
	b.WriteString(")")
	return r.frame(b.String())
}

// frame is a frame of query on the table's lake, described by its call
// rather than by its (long) VALUES text.
func (r *Ranges) frame(query string) *Frame {
	const call = "Ranges.Frame()"
	io := r.io
	if io == nil {
		io = IO
	}
	l, err := io.target()
	if err != nil {
		return errFrame(nil, call, err)
	}
	return &Frame{lake: l, n: newBuilder().text(query).node(call, call)}
}

func ipv4Number(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
}

// IPNumber returns a SQL expression giving the IPv4 address in the text
// column (or expression) col as a number, comparable with the first_ip and
// last_ip columns of Ranges.Frame; it is NULL for IPv6 and malformed
// addresses, so they join with nothing.
func IPNumber(col string) string {
	part := func(i int) string {
		return fmt.Sprintf("TRY_CAST(split_part(%s, '.', %d) AS BIGINT)", col, i)
	}
	return fmt.Sprintf("(CASE WHEN regexp_full_match(%s, '[0-9]{1,3}(\\.[0-9]{1,3}){3}') THEN %s * 16777216 + %s * 65536 + %s * 256 + %s END)", col, part(1), part(2), part(3), part(4))
}
