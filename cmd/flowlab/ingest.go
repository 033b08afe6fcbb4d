//go:build !kernelonly

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/datalake/ingest"
)

func init() {
	register(command{name: "ingest", summary: "read pcap/pcapng files into the lake's flows (and packets)", run: runIngest})
}

// tableFlags are the flow-table flags ingest and capture share.
type tableFlags struct {
	sensor                    *string
	tcpIdle, udpIdle, icmpIdl *time.Duration
	active                    *time.Duration
	localNets                 *string
	packets                   *bool
	payloadHead               *int
	compression               *string
}

func addTableFlags(fs *flag.FlagSet) *tableFlags {
	host, _ := os.Hostname()
	return &tableFlags{
		sensor:      fs.String("sensor", host, "`name` of the capture point, written to the sensor column"),
		tcpIdle:     fs.Duration("tcp-idle", flowtable.DefaultTCPIdleTimeout, "end a TCP flow idle this `long` (Zeek's default)"),
		udpIdle:     fs.Duration("udp-idle", flowtable.DefaultUDPIdleTimeout, "end a UDP flow idle this `long`"),
		icmpIdl:     fs.Duration("icmp-idle", flowtable.DefaultICMPIdleTimeout, "end an ICMP or other flow idle this `long`"),
		active:      fs.Duration("active-timeout", 0, "cut a long flow into records this `long` (same flow_id); 0: only at hour boundaries"),
		localNets:   fs.String("local-nets", "", "comma-separated `CIDRs` for src_is_internal/dst_is_internal"),
		packets:     fs.Bool("packets", false, "also write /tetration/packets, one record per packet"),
		payloadHead: fs.Int("payload-head", 0, "keep the first `N` payload bytes in packet records (with --packets)"),
		compression: fs.String("compression", "snappy", "Parquet `codec`: snappy, zstd or none"),
	}
}

func (f *tableFlags) options() (ingest.Options, error) {
	o := ingest.Options{Sensor: *f.sensor, Packets: *f.packets, PayloadHead: *f.payloadHead}
	o.Table = flowtable.Options{TCPIdleTimeout: *f.tcpIdle, UDPIdleTimeout: *f.udpIdle, ICMPIdleTimeout: *f.icmpIdl, ActiveTimeout: *f.active}
	o.Parquet.Compression = *f.compression
	for _, s := range strings.Split(*f.localNets, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return o, usagef("--local-nets: %v", err)
		}
		o.Table.LocalNets = append(o.Table.LocalNets, p)
	}
	if *f.payloadHead < 0 || *f.payloadHead > 65535 {
		return o, usagef("--payload-head must be between 0 and 65535")
	}
	return o, nil
}

func runIngest(ctx context.Context, std streams, args []string) error {
	fs := newFlags(std, "ingest", "ingest [--lake DIR] [flags] FILE...\n       flowlab ingest --from-kafka TOPIC --brokers HOST:PORT [--group G] [--lake DIR] [flags]", `
Read capture files (pcap, nanosecond pcap, pcapng with several sections and
interfaces) into the lake: bidirectional flow records in /tetration/flows and,
with --packets, packet records in /tetration/packets, as hourly Parquet.

Each file is committed whole when it was read; a file already ingested (same
sensor and content) is skipped, so an interrupted run can simply be run again.
A truncated or damaged file is ingested up to the damage and reported with
its byte offset; the exit status is then 1.

With --from-kafka TOPIC, read the flow records 'flowlab capture --to-kafka'
publishes (and with --packets, packet records from --packets-topic) as a
Kafka consumer group, until Ctrl-C or, with --exit-at-end, the end of the
topic. Each partition's records are published into the hour partitions
every --flush-records messages, every --flush-interval and at the end; the
offsets are committed to Kafka only after, and the lake remembers them too,
so a crash in between neither loses nor duplicates records. Malformed
messages are logged with their partition and offset, counted, and skipped
or copied to --dead-letter. See docs/ingest.md, "Streaming through Kafka".`)
	lake := fs.String("lake", os.Getenv("FLOWLAB_LAKE"), "datalake root `DIR` (default $FLOWLAB_LAKE)")
	quiet := fs.Bool("quiet", false, "print only errors")
	tf := addTableFlags(fs)
	kf := addIngestKafkaFlags(fs)
	if err := parseFlags(fs, std, args); err != nil {
		return err
	}
	if *kf.topic != "" {
		return runIngestKafka(ctx, std, fs, *lake, *quiet, tf, kf)
	}
	if set := setFlags(fs); set["group"] || set["dead-letter"] || set["exit-at-end"] || set["brokers"] || set["tap"] {
		return usagef("--group, --dead-letter, --exit-at-end, --brokers and --tap go with --from-kafka TOPIC")
	}
	if fs.NArg() == 0 {
		return usagef("ingest needs at least one capture FILE")
	}
	if *lake == "" {
		return usagef("no lake: pass --lake DIR or set FLOWLAB_LAKE")
	}
	opts, err := tf.options()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	bar := newProgress(std.err, *quiet)
	opts.Progress = bar.update
	in, err := ingest.New(*lake, opts)
	if err != nil {
		return err
	}
	var errs []error
	for _, file := range fs.Args() {
		res, err := in.IngestFile(ctx, file)
		bar.clear()
		switch {
		case errors.Is(err, context.Canceled):
			fmt.Fprintf(std.err, "flowlab ingest: stopped; nothing of %s was published; run the same command again to resume\n", file)
			return err
		case errors.Is(err, ingest.ErrDamaged):
			errs = append(errs, fmt.Errorf("%w; %d packets before it are in the lake", res.Damage, res.Packets))
			summarize(std.out, *quiet, res)
		case err != nil:
			errs = append(errs, err)
		default:
			summarize(std.out, *quiet, res)
		}
	}
	return errors.Join(errs...)
}

// summarize prints the one-line result of a file.
func summarize(w io.Writer, quiet bool, r ingest.Result) {
	if quiet {
		return
	}
	if r.Skipped {
		fmt.Fprintf(w, "%s: already ingested (%d packets, %d flows); skipped\n", r.File, r.Packets, r.Flows)
		return
	}
	rate := 0.0
	if s := r.Elapsed.Seconds(); s > 0 {
		rate = float64(r.Packets) / s
	}
	fmt.Fprintf(w, "%s: %s, %d packets (%d non-IP, %d malformed, %d truncated), %d flows, %d files, %.1fs, %.0f packets/s\n",
		r.File, r.Format, r.Packets, r.Decode.NonIP+r.Decode.UnknownLink, r.Decode.Malformed, r.Decode.Truncated,
		r.Flows, len(r.Files), r.Elapsed.Seconds(), rate)
}

// progress draws a one-line progress bar on a terminal, and nothing
// otherwise (the summary line is printed per file).
type progress struct {
	w     io.Writer
	on    bool
	drawn bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	on := false
	if f, ok := w.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progress{w: w, on: on}
}

func (p *progress) update(pr ingest.Progress) {
	if !p.on || pr.Done {
		return
	}
	frac := 0.0
	if pr.BytesTotal > 0 {
		frac = float64(pr.BytesRead) / float64(pr.BytesTotal)
	}
	const width = 24
	n := int(frac * width)
	bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
	rate, eta := 0.0, ""
	if s := pr.Elapsed.Seconds(); s > 0 {
		rate = float64(pr.Packets) / s
		if frac > 0 {
			eta = fmt.Sprintf(" ETA %s", time.Duration(s*(1-frac)/frac*float64(time.Second)).Round(time.Second))
		}
	}
	fmt.Fprintf(p.w, "\r[%s] %3.0f%% %s/%s %d pkts %d flows %.0f pkt/s%s ", bar, frac*100,
		mib(pr.BytesRead), mib(pr.BytesTotal), pr.Packets, pr.Flows, rate, eta)
	p.drawn = true
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }
