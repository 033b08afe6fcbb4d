//go:build !kernelonly

package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/ingest"
	"github.com/flowlab/flowlab/datalake/pcap"
)

func init() {
	register(command{name: "capture", summary: "capture live traffic from an interface into the lake's flows", run: runCapture})
}

func runCapture(ctx context.Context, std streams, args []string) error {
	fs := newFlags(std, "capture", "capture -i IFACE [--lake DIR] [flags]", `
Capture live traffic from a network interface (AF_PACKET, no libpcap; needs
root or CAP_NET_RAW) into the lake: flow records are published to
/tetration/flows as they finish, every --publish-every and at each hour
boundary. Ctrl-C (or SIGTERM) ends every open flow and publishes everything
before exiting, so stopping loses nothing. --filter keeps only the frames
that match, in the kernel: "tcp and port 443", "not port 22", "net
10.0.0.0/8 and udp", or tcpdump -ddd output for other expressions.`)
	lake := fs.String("lake", os.Getenv("FLOWLAB_LAKE"), "datalake root `DIR` (default $FLOWLAB_LAKE)")
	iface := fs.String("i", "", "network `interface` to capture on (required)")
	snaplen := fs.Int("snaplen", 0, "capture at most `N` bytes per frame (0: whole frames)")
	filter := fs.String("filter", "", "capture only frames matching `EXPR`, a tcpdump expression in the subset flowlab compiles\n"+
		"(ip ip6 arp tcp udp sctp icmp icmp6, [src|dst] host/net/port/portrange, and or not, parentheses)\n"+
		"or the output of tcpdump -ddd 'EXPR' for any other; filtered in the kernel (see docs/ingest.md)")
	every := fs.Duration("publish-every", time.Minute, "publish buffered records this `often`")
	quiet := fs.Bool("quiet", false, "print only errors")
	tf := addTableFlags(fs)
	if err := parseFlags(fs, std, args); err != nil {
		return err
	}
	if *iface == "" {
		return usagef("capture needs -i IFACE")
	}
	if *lake == "" {
		return usagef("no lake: pass --lake DIR or set FLOWLAB_LAKE")
	}
	opts, err := tf.options()
	if err != nil {
		return err
	}
	prog, err := pcap.CompileFilter(*filter, *snaplen)
	if err != nil {
		return usagef("--filter: %v", err)
	}
	l, err := datalake.Open(datalake.Options{Root: *lake})
	if err != nil {
		return err
	}
	defer l.Close()
	live, err := pcap.OpenLive(*iface, *snaplen)
	if err != nil {
		return err
	}
	if prog != nil {
		if err := live.SetFilter(prog); err != nil {
			live.Close()
			return err
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !*quiet {
		fmt.Fprintf(std.err, "flowlab capture: capturing on %s into %s; Ctrl-C to stop\n", *iface, *lake)
	}
	st, err := ingest.Capture(ctx, live, l, opts, ingest.CaptureOptions{Interface: *iface, PublishEvery: *every})
	if !*quiet {
		fmt.Fprintf(std.out, "%s: %d packets, %d flows, %d files published\n", *iface, st.Packets, st.Flows, len(st.Published))
	}
	return err
}
