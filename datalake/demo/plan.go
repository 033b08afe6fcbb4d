package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sort"
	"time"
)

// unitFlows is the most flows one unit of work (a part of an hour) holds.
const unitFlows = 250_000

// endpoint is a host of the demo network.
type endpoint struct {
	addr     string
	ip       netip.Addr
	internal bool
	hostname string
	host     *string // hostname for the nullable column; nil for external hosts
}

// service is what a server offers.
type service struct {
	proto   string
	ipProto int32
	port    int32
	name    *string // nil when unknown
}

type server struct {
	endpoint
	services []service
}

// probe is one SYN of a scan.
type probe struct {
	dst   endpoint
	port  int32
	sport int32
}

type scanPlan struct {
	kind, reply string
	src         endpoint
	probes      []probe
}

// plan is everything about the lake that does not depend on the hour being
// generated: hosts, incidents, which hour holds what.
type plan struct {
	o             Options
	now           time.Time
	first, newest time.Time
	outlierHour   time.Time

	sources  []endpoint // background clients
	servers  []server
	internal []int // indices of internal servers
	external []int // indices of external servers
	web      []int // internal servers offering http/https
	dns, ntp int   // server indices

	outlier      int           // source index of the 3-sigma host
	flaky        [][2]int      // per source: the two servers its failed single-SYN attempts go to
	noncompliant []int         // source indices listed in the datasink
	peers        map[int][]int // noncompliant source -> server indices
	scans        []scanPlan
	scanProbes   int
}

// mix combines seed material into one 64-bit value (splitmix64 steps).
func mix(vals ...uint64) uint64 {
	var h uint64 = 0x9e3779b97f4a7c15
	for _, v := range vals {
		h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}

func (p *plan) rng(vals ...uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(p.o.Seed), mix(vals...)))
}

func addr4(a, b, c, d int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a), byte(b), byte(c), byte(d)})
}

func newEndpoint(ip netip.Addr, name string) endpoint {
	e := endpoint{addr: ip.String(), ip: ip, internal: ip.As4()[0] == 10}
	if e.internal {
		e.hostname = name
		e.host = &e.hostname
	}
	return e
}

func newPlan(o Options) *plan {
	p := &plan{o: o, now: o.Now().UTC(), peers: map[int][]int{}}
	p.newest = p.now.Truncate(time.Hour)
	p.first = p.newest.Add(-time.Duration(o.Hours-1) * time.Hour)
	// The outlier bursts in the newest hour, so the lab's 3-sigma query on
	// LASTHOUR finds it; in every other hour it is an ordinary workstation.
	p.outlierHour = p.newest
	r := p.rng(1)

	// Servers: internal services in 10.0.0.0/24, external sites in
	// 198.18.0.0/16 (the benchmarking range, never a real host).
	tcp := func(port int32, name string) service { return service{"TCP", 6, port, &name} }
	udp := func(port int32, name string) service { return service{"UDP", 17, port, &name} }
	addServer := func(ip netip.Addr, name string, svc ...service) int {
		s := server{newEndpoint(ip, name), svc}
		if s.internal {
			p.internal = append(p.internal, len(p.servers))
		} else {
			p.external = append(p.external, len(p.servers))
		}
		p.servers = append(p.servers, s)
		return len(p.servers) - 1
	}
	for i := range 12 {
		p.web = append(p.web, addServer(addr4(10, 0, 0, 10+i), fmt.Sprintf("web-%02d.corp.example", i), tcp(443, "https"), tcp(80, "http")))
	}
	for i := range 4 {
		addServer(addr4(10, 0, 0, 40+i), fmt.Sprintf("db-%02d.corp.example", i), tcp(5432, "postgresql"), tcp(3306, "mysql"))
	}
	for i := range 4 {
		addServer(addr4(10, 0, 0, 50+i), fmt.Sprintf("files-%02d.corp.example", i), tcp(445, "smb"), tcp(22, "ssh"))
	}
	for i := range 3 {
		addServer(addr4(10, 0, 0, 60+i), fmt.Sprintf("jump-%02d.corp.example", i), tcp(22, "ssh"), tcp(3389, "rdp"))
	}
	p.dns = addServer(addr4(10, 0, 0, 53), "dns.corp.example", udp(53, "dns"))
	for i := range 60 {
		addServer(addr4(198, 18, 1+i/200, 1+i%200), "", tcp(443, "https"), tcp(80, "http"))
	}
	p.ntp = addServer(addr4(198, 18, 123, 123), "", udp(123, "ntp"))

	// Background sources: 85% internal workstations (10.1.0.0/16), 15%
	// external clients of the internal web servers (198.19.0.0/16).
	n := sourceCount(o.FlowsPerHour)
	for i := range n {
		if i%20 < 17 {
			ip := addr4(10, 1, 1+i/250, 1+i%250)
			p.sources = append(p.sources, newEndpoint(ip, fmt.Sprintf("ws-%04d.corp.example", i)))
		} else {
			p.sources = append(p.sources, newEndpoint(addr4(198, 19, 1+i/250, 1+i%250), ""))
		}
	}
	internalSources := func() []int {
		var out []int
		for i, s := range p.sources {
			if s.internal {
				out = append(out, i)
			}
		}
		return out
	}()
	pick := r.Perm(len(internalSources))
	p.outlier = internalSources[pick[0]]
	for _, k := range pick[1:5] {
		h := internalSources[k]
		p.noncompliant = append(p.noncompliant, h)
		for _, s := range r.Perm(len(p.internal))[:3] {
			p.peers[h] = append(p.peers[h], p.internal[s])
		}
	}
	sort.Ints(p.noncompliant)

	// Failed single-SYN attempts of ordinary sources go to two fixed
	// servers per source, each offering at most two TCP services, so no
	// background (source, destination) pair probes more than two ports and
	// no (source, port) pair more than two destinations: well below any
	// port-scan threshold, yet the lab's predicate matches them and the
	// threshold has work to do.
	var tcpServers []int
	for i, s := range p.servers {
		if s.services[0].proto == "TCP" {
			tcpServers = append(tcpServers, i)
		}
	}
	p.flaky = make([][2]int, len(p.sources))
	for i := range p.flaky {
		a := r.IntN(len(tcpServers))
		b := (a + 1 + r.IntN(len(tcpServers)-1)) % len(tcpServers)
		p.flaky[i] = [2]int{tcpServers[a], tcpServers[b]}
	}

	// Scans: sized to the mean per-source count so scanners never stand out
	// as connection-count outliers, and above the lab's threshold.
	mean := float64(o.FlowsPerHour) / float64(n)
	k := int(math.Max(15, math.Min(200, mean/2)))
	p.scans = []scanPlan{
		p.verticalScan(r, "none", newEndpoint(addr4(198, 51, 100, 23), ""), p.servers[p.web[3]].endpoint, k),
		p.verticalScan(r, "rst", newEndpoint(addr4(10, 1, 200, 66), "ws-scan1.corp.example"), p.servers[p.internal[14]].endpoint, k),
		p.horizontalScan(r, "none", newEndpoint(addr4(203, 0, 113, 77), ""), 3389, k),
		p.horizontalScan(r, "rst", newEndpoint(addr4(10, 1, 201, 99), "ws-scan2.corp.example"), 445, k),
	}
	for _, s := range p.scans {
		p.scanProbes += len(s.probes)
	}
	return p
}

// sourceCount is the number of background sources for a flow rate: about
// 40 flows per source, at least 50 (a 3-sigma outlier needs company), at
// most 5,000.
func sourceCount(flowsPerHour int) int {
	return min(max(flowsPerHour/40, 50), 5000)
}

// repeats adds a repeated probe for about one in ten, so dropping duplicate
// (source, destination, port) rows changes the counts.
func repeats(r *rand.Rand, probes []probe) []probe {
	n := len(probes)
	for i := 0; i < n; i += 10 {
		dup := probes[i]
		dup.sport = int32(40000 + r.IntN(20000))
		probes = append(probes, dup)
	}
	return probes
}

func (p *plan) verticalScan(r *rand.Rand, reply string, src, target endpoint, k int) scanPlan {
	ports := map[int32]bool{}
	var probes []probe
	for len(probes) < k {
		port := int32(1 + r.IntN(1024))
		if len(probes)%4 == 3 {
			port = int32(1025 + r.IntN(64510))
		}
		if ports[port] {
			continue
		}
		ports[port] = true
		probes = append(probes, probe{target, port, int32(40000 + r.IntN(20000))})
	}
	return scanPlan{"vertical", reply, src, repeats(r, probes)}
}

func (p *plan) horizontalScan(r *rand.Rand, reply string, src endpoint, port int32, k int) scanPlan {
	var probes []probe
	for _, h := range r.Perm(250)[:k] {
		probes = append(probes, probe{newEndpoint(addr4(10, 2, 7, 1+h), ""), port, int32(40000 + r.IntN(20000))})
	}
	return scanPlan{"horizontal", reply, src, repeats(r, probes)}
}

// hourPlan is the per-source flow counts of one hour.
type hourPlan struct {
	hour    time.Time
	index   int
	counts  []int
	scans   bool
	extra   []int // flows of scanners, when scans is set
	horizon time.Time
}

func (p *plan) hour(h time.Time) hourPlan {
	idx := int(h.Sub(p.first) / time.Hour)
	hp := hourPlan{hour: h, index: idx, scans: h.Equal(p.newest), horizon: h.Add(time.Hour)}
	if hp.scans {
		hp.horizon = p.now
		if hp.horizon.Sub(h) < time.Second {
			hp.horizon = h.Add(time.Second)
		}
		for _, s := range p.scans {
			hp.extra = append(hp.extra, len(s.probes))
		}
	}
	bg := p.o.FlowsPerHour
	if hp.scans {
		bg -= p.scanProbes
	}
	r := p.rng(2, uint64(idx))
	weights := make([]float64, len(p.sources))
	for i := range weights {
		weights[i] = 0.8 + 0.4*r.Float64()
	}
	if h.Equal(p.outlierHour) {
		// The outlier makes three times the mean of the others.
		m := float64(bg) / float64(len(p.sources)+2)
		out := int(3 * m)
		weights[p.outlier] = 0
		hp.counts = spread(weights, bg-out)
		hp.counts[p.outlier] = out
	} else {
		hp.counts = spread(weights, bg)
	}
	return hp
}

// spread divides total into integer counts proportional to weights.
func spread(weights []float64, total int) []int {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	counts := make([]int, len(weights))
	given := 0
	for i, w := range weights {
		counts[i] = int(float64(total) * w / sum)
		given += counts[i]
	}
	for i := 0; given < total; i = (i + 1) % len(counts) {
		if weights[i] > 0 {
			counts[i]++
			given++
		}
	}
	return counts
}

func (hp hourPlan) sourceCount() int {
	n := len(hp.extra)
	for _, c := range hp.counts {
		if c > 0 {
			n++
		}
	}
	return n
}

// countStats returns the mean and sample standard deviation of the flows per
// source in the hour, as SQL's avg and stddev_samp compute them.
func (hp hourPlan) countStats() (mean, stdev float64) {
	var all []float64
	for _, c := range hp.counts {
		if c > 0 {
			all = append(all, float64(c))
		}
	}
	for _, c := range hp.extra {
		all = append(all, float64(c))
	}
	for _, v := range all {
		mean += v
	}
	mean /= float64(len(all))
	for _, v := range all {
		stdev += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(stdev / float64(len(all)-1))
}

// unit is one part of an hour: the sources [from, to) and, for the first
// part of the newest hour, the scans.
type unit struct {
	hour     time.Time
	from, to int
	scans    bool
}

func (p *plan) units() []unit {
	var out []unit
	for h := p.first; !h.After(p.newest); h = h.Add(time.Hour) {
		hp := p.hour(h)
		from, n := 0, 0
		if hp.scans {
			n = p.scanProbes
		}
		first := true
		for i, c := range hp.counts {
			if n+c > unitFlows && i > from {
				out = append(out, unit{h, from, i, hp.scans && first})
				from, n, first = i, 0, false
			}
			n += c
		}
		out = append(out, unit{h, from, len(hp.counts), hp.scans && first})
	}
	return out
}
