// Command taps benchmarks the data taps (datalake/taps) against Debian's
// kcat (librdkafka) in one invocation, on one in-process broker
// (datalake/taps/broker), so every figure is taken against the same Kafka:
//
//   - SendMessage latency: p50 and p99 of -single sends, one at a time,
//     through DataTaps exactly as a cell calls it (nil once the broker
//     acknowledged from all in-sync replicas), after -warmup sends;
//   - batch throughput: DataTaps.SendMessages with -batch messages per call
//     (a ~200-byte JSON alert each), messages/s and MB/s, -runs runs;
//   - the peer: `kcat -P` fed the same messages from a file, with acks=all,
//     idempotence, -linger-ms and no compression, taking turns with the
//     batches, -runs runs. kcat is timed twice: its process from start to
//     exit, and from the broker's receipt of its first Produce request
//     (kfake's control hook) to its exit, which leaves out process start,
//     connection, metadata and producer id: the time the taps' already
//     connected producer does not pay either.
//
// Sends are audited into a JSON-lines file, as in a kernel started with
// --taps-audit. Each topic is then read back with `kcat -C` and every
// message is checked: once, unchanged, in the order sent; and the audit
// file must hold one record per message the taps sent.
//
// Usage: go run ./bench/taps [-single 2000] [-batch 10000] [-runs 15] [-cpuprofile FILE]
// Results go to stdout as Markdown for BENCHMARKS.md; progress to stderr.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowlab/flowlab/datalake/taps"
	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// config is the command line.
type config struct {
	single, warmup int
	batch, runs    int
	kcat           string
	lingerMS       int
	cpuProfile     string
}

func main() {
	var c config
	flag.IntVar(&c.single, "single", 2000, "timed single SendMessage calls")
	flag.IntVar(&c.warmup, "warmup", 200, "untimed SendMessage calls first")
	flag.IntVar(&c.batch, "batch", 10000, "messages per SendMessages call and per kcat run")
	flag.IntVar(&c.runs, "runs", 15, "timed batches on each side (after one untimed)")
	flag.StringVar(&c.kcat, "kcat", "kcat", "kcat binary")
	flag.IntVar(&c.lingerMS, "linger-ms", 0, "kcat's linger.ms (the taps flush at once: 0 compares like with like)")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the sends to FILE (the in-process broker included)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, c)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/taps:", err)
		os.Exit(1)
	}
}

// Topics, one per side, so each can be read back and counted alone.
const (
	topicSingle = "bench.single"
	topicBatch  = "bench.batch"
	topicKcat   = "bench.kcat"
)

// results holds every measurement of one invocation.
type results struct {
	kcatVersion string
	msgBytes    float64 // mean message size
	single      []time.Duration
	batch       []time.Duration
	kcat        []time.Duration // process start to exit
	kcatNet     []time.Duration // first Produce request to exit
	verified    map[string]int  // topic → messages read back and checked
}

func run(ctx context.Context, c config) error {
	if c.single < 1 || c.batch < 1 || c.runs < 1 || c.warmup < 0 {
		return errors.New("-single, -batch and -runs must be at least 1, -warmup at least 0")
	}
	kcatVersion, err := kcatVersion(c.kcat)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-taps-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	b, err := broker.New(broker.Options{Addr: "127.0.0.1:0", Topics: []string{topicSingle, topicBatch, topicKcat}})
	if err != nil {
		return err
	}
	bctx, stopBroker := context.WithCancel(ctx)
	brokerDone := make(chan error, 1)
	go func() { brokerDone <- b.Run(bctx) }()
	defer func() { stopBroker(); <-brokerDone }()
	fmt.Fprintf(os.Stderr, "broker on %s\n", b.Addr())
	clock := watchProduce(b.Cluster(), topicKcat)

	// The kernel's wiring (cmd/flowlab configureTaps with --taps-audit):
	// a Set recording into a JSON-lines audit file, installed as DataTaps.
	audit, err := taps.OpenJSONL(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		return err
	}
	defer audit.Close()
	cluster := taps.Cluster{Brokers: []string{b.Addr()}}
	set, err := taps.New(taps.Config{Taps: map[string]taps.TapConfig{
		"Alerts": {Cluster: cluster, Topic: topicSingle},
		"Bulk":   {Cluster: cluster, Topic: topicBatch},
	}}, taps.Options{App: "bench", Recorder: audit})
	if err != nil {
		return err
	}
	defer set.Close()
	taps.Configure(set)
	defer taps.Configure(nil)

	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	r := results{kcatVersion: kcatVersion, verified: map[string]int{}}
	seq := 0
	next := func(n int) []string {
		m := make([]string, n)
		for i := range m {
			m[i] = alert(seq)
			seq++
		}
		return m
	}

	// Single sends, as a cell sends an alert.
	fmt.Fprintf(os.Stderr, "SendMessage: %d warm-up, %d timed\n", c.warmup, c.single)
	singles := next(c.warmup + c.single)
	for i, m := range singles {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		if err := taps.DataTaps.SendMessage(m, "Alerts"); err != nil {
			return err
		}
		if i >= c.warmup {
			r.single = append(r.single, time.Since(t0))
		}
	}

	// Batches through the cell API, then the same messages through kcat.
	var sizes int
	batches := make([][]string, c.runs+1)
	for i := range batches {
		batches[i] = next(c.batch)
		for _, m := range batches[i] {
			sizes += len(m)
		}
	}
	r.msgBytes = float64(sizes) / float64(len(batches)*c.batch)
	fmt.Fprintf(os.Stderr, "SendMessages and kcat -P, taking turns: 1 warm-up + %d batches of %d (%.0f-byte messages)\n", c.runs, c.batch, r.msgBytes)
	kc := kcatProducer{bin: c.kcat, addr: b.Addr(), lingerMS: c.lingerMS, clock: clock}
	files := make([]string, len(batches))
	for i, msgs := range batches {
		files[i] = filepath.Join(dir, fmt.Sprintf("batch-%d.ndjson", i))
		if err := os.WriteFile(files[i], []byte(strings.Join(msgs, "\n")+"\n"), 0o600); err != nil {
			return err
		}
	}
	// Turns, so the machine's other load falls on both sides alike.
	for i, msgs := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		runtime.GC()
		t0 := time.Now()
		if err := taps.DataTaps.SendMessages(msgs, "Bulk"); err != nil {
			return err
		}
		d := time.Since(t0)
		k, kNet, err := kc.produce(ctx, topicKcat, files[i])
		if err != nil {
			return err
		}
		if i > 0 {
			r.batch = append(r.batch, d)
			r.kcat = append(r.kcat, k)
			r.kcatNet = append(r.kcatNet, kNet)
		}
	}
	if c.cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	// Read every topic back with kcat and check each side's messages.
	fmt.Fprintln(os.Stderr, "verifying with kcat -C")
	var all []string
	for _, b := range batches {
		all = append(all, b...)
	}
	want := map[string][]string{topicSingle: singles, topicBatch: all, topicKcat: all}
	for _, topic := range []string{topicSingle, topicBatch, topicKcat} {
		got, err := kcatConsume(ctx, c.kcat, b.Addr(), topic)
		if err != nil {
			return err
		}
		if err := verify(want[topic], got); err != nil {
			return fmt.Errorf("topic %s: %w", topic, err)
		}
		r.verified[topic] = len(got)
	}
	lines, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		return err
	}
	if n, want := bytes.Count(lines, []byte("\n")), len(singles)+len(all); n != want {
		return fmt.Errorf("audit file: %d records, want %d", n, want)
	}
	r.verified["audit records"] = len(singles) + len(all)
	report(c, kc, r)
	return nil
}

// alert is a realistic tap message, about 200 bytes of JSON: the lab's port
// scan alert, numbered by seq so the read-back can check every message.
func alert(seq int) string {
	a := struct {
		Seq       int    `json:"seq"`
		Alert     string `json:"alert"`
		Severity  string `json:"severity"`
		Src       string `json:"src_address"`
		Dst       string `json:"dst_address"`
		Ports     int    `json:"distinct_ports"`
		FirstSeen string `json:"first_seen"`
		LastSeen  string `json:"last_seen"`
	}{
		Seq:       seq,
		Alert:     "port_scan",
		Severity:  "high",
		Src:       fmt.Sprintf("10.%d.%d.%d", seq>>16&0xff, seq>>8&0xff, seq&0xff),
		Dst:       fmt.Sprintf("172.16.%d.%d", seq*7>>8&0xff, seq*7&0xff),
		Ports:     11 + seq%1000,
		FirstSeen: time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second).Format(time.RFC3339),
		LastSeen:  time.Date(2026, 1, 2, 13, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second).Format(time.RFC3339),
	}
	b, _ := json.Marshal(a) // a struct of strings and ints always encodes
	return string(b)
}

// kcatProducer runs `kcat -P` with producer settings comparable to a tap's.
type kcatProducer struct {
	bin, addr string
	lingerMS  int
	clock     *produceClock
}

// args are kcat's arguments for producing to topic.
func (k kcatProducer) args(topic string) []string {
	return []string{"-P", "-b", k.addr, "-t", topic, "-p", "0",
		"-X", "acks=all",
		"-X", "enable.idempotence=true",
		"-X", fmt.Sprintf("linger.ms=%d", k.lingerMS),
		"-X", "compression.codec=none",
	}
}

// produce feeds file to kcat on stdin, one message a line, and returns the
// time from process start to exit (kcat exits once every message is
// acknowledged) and from the broker's receipt of kcat's first Produce
// request to exit.
func (k kcatProducer) produce(ctx context.Context, topic, file string) (wall, net time.Duration, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, k.bin, k.args(topic)...)
	cmd.Stdin = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	k.clock.reset()
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("kcat -P: %w: %s", err, stderr.String())
	}
	end := time.Now()
	// kcat reports failed deliveries on stderr and still exits 0.
	if s := stderr.String(); strings.Contains(s, "ERROR") || strings.Contains(s, "failed") {
		return 0, 0, fmt.Errorf("kcat -P: %s", s)
	}
	first := k.clock.first()
	if first.IsZero() {
		return 0, 0, errors.New("kcat -P: the broker saw no Produce request")
	}
	return end.Sub(t0), end.Sub(first), nil
}

// produceClock notes when the broker receives the first Produce request
// for one topic since its last reset.
type produceClock struct {
	mu    sync.Mutex
	at    time.Time
	topic string
}

// watchProduce observes c's Produce requests for topic, without handling
// them: kfake processes them as usual.
func watchProduce(c *kfake.Cluster, topic string) *produceClock {
	pc := &produceClock{topic: topic}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		now := time.Now()
		if pr, ok := req.(*kmsg.ProduceRequest); ok {
			for _, t := range pr.Topics {
				if t.Topic == pc.topic {
					pc.mu.Lock()
					if pc.at.IsZero() {
						pc.at = now
					}
					pc.mu.Unlock()
				}
			}
		}
		return nil, nil, false
	})
	return pc
}

func (pc *produceClock) reset() {
	pc.mu.Lock()
	pc.at = time.Time{}
	pc.mu.Unlock()
}

func (pc *produceClock) first() time.Time {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.at
}

// kcatConsume reads a topic's partition 0 from the beginning to its end.
func kcatConsume(ctx context.Context, bin, addr, topic string) ([]string, error) {
	cmd := exec.CommandContext(ctx, bin, "-C", "-b", addr, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%s\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kcat -C %s: %w: %s", topic, err, stderr.String())
	}
	var msgs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		msgs = append(msgs, sc.Text())
	}
	return msgs, sc.Err()
}

// verify checks got is want: every message once, unchanged, in the order
// sent (both sides write one partition, idempotently).
func verify(want, got []string) error {
	if len(got) != len(want) {
		return fmt.Errorf("read back %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("message %d: got %.80q, want %.80q", i, got[i], want[i])
		}
	}
	return nil
}

// kcatVersion returns kcat's and librdkafka's versions.
func kcatVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "-V").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kcat: %w (install Debian's kcat package)", err)
	}
	var kcat, rd string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(line))
		for i := 0; i+1 < len(f); i++ {
			switch f[i] {
			case "Version":
				kcat = f[i+1]
			case "librdkafka":
				rd = f[i+1]
			}
		}
	}
	return fmt.Sprintf("kcat %s, librdkafka %s", kcat, rd), nil
}

func median(d []time.Duration) time.Duration { return percentile(d, 50) }

// percentile is the nearest-rank percentile p of d.
func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// rate is messages/s for n messages in d.
func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

// kmsgs formats a rate in thousands of messages per second.
func kmsgs(v float64) string { return fmt.Sprintf("%.1fk msg/s", v/1000) }

func report(c config, kc kcatProducer, r results) {
	n := c.batch
	mb := func(d time.Duration) float64 { return float64(n) * r.msgBytes / 1e6 / d.Seconds() }
	row := func(name string, d []time.Duration, ratio string) {
		fmt.Printf("| %s | %s (%.1f MB/s) | %s–%s | %s |\n", name, kmsgs(rate(n, median(d))), mb(median(d)),
			kmsgs(rate(n, slices.Max(d))), kmsgs(rate(n, slices.Min(d))), ratio)
	}
	// The ratio of each turn (a batch and kcat right after it), so load
	// that comes and goes on the machine cancels out; median and spread.
	speedup := func(peer []time.Duration) string {
		q := make([]float64, len(peer))
		for i := range peer {
			q[i] = peer[i].Seconds() / r.batch[i].Seconds()
		}
		return fmt.Sprintf("%.2f× (%.2f–%.2f)", medianRatio(peer, r.batch), slices.Min(q), slices.Max(q))
	}
	startup := make([]time.Duration, len(r.kcat))
	for i := range r.kcat {
		startup[i] = r.kcat[i] - r.kcatNet[i]
	}

	fmt.Printf("Machine: %d CPUs, %s, %s/%s; %s; %s\n\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version(), r.kcatVersion)
	fmt.Printf("kcat: `kcat %s < FILE`\n\n", strings.Join(kc.args("TOPIC"), " "))
	fmt.Println("| measure | median | spread (min–max) | taps speed / kcat speed, per turn: median (min–max) |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| SendMessage latency, p50 of %d | %s | | |\n", len(r.single), ms(median(r.single)))
	fmt.Printf("| SendMessage latency, p99 | %s | max %s | |\n", ms(percentile(r.single, 99)), ms(slices.Max(r.single)))
	row(fmt.Sprintf("SendMessages, %d × %.0f B, %d runs", n, r.msgBytes, len(r.batch)), r.batch,
		fmt.Sprintf("%s kcat process, %s kcat from first Produce", speedup(r.kcat), speedup(r.kcatNet)))
	row("kcat -P, same messages: process start to exit", r.kcat, "1")
	row("kcat -P: broker's first Produce request to exit", r.kcatNet, "1")
	fmt.Printf("| kcat start-up (start to first Produce request) | %s | %s–%s | |\n", ms(median(startup)), ms(slices.Min(startup)), ms(slices.Max(startup)))
	fmt.Println()
	fmt.Printf("Read back with kcat -C, every message once, unchanged and in order: %s %d, %s %d, %s %d; audit records %d.\n",
		topicSingle, r.verified[topicSingle], topicBatch, r.verified[topicBatch], topicKcat, r.verified[topicKcat], r.verified["audit records"])
	fmt.Println()
	fmt.Printf("Targets (issue 4): SendMessage p50 ≤ 0.3 ms: %s; batches ≥ 100k msg/s: %s; not slower than kcat (median turn): %s (process), %s (from first Produce).\n",
		verdict(median(r.single) <= 300*time.Microsecond),
		verdict(rate(n, median(r.batch)) >= 100_000),
		verdict(medianRatio(r.kcat, r.batch) >= 1),
		verdict(medianRatio(r.kcatNet, r.batch) >= 1))
}

// medianRatio is the median over turns of peer[i] / d[i].
func medianRatio(peer, d []time.Duration) float64 {
	q := make([]float64, len(peer))
	for i := range peer {
		q[i] = peer[i].Seconds() / d[i].Seconds()
	}
	slices.Sort(q)
	return q[len(q)/2]
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// cpuModel is the processor's name from /proc/cpuinfo, if any.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
