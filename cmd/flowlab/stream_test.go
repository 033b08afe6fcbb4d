//go:build !kernelonly

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/duckdb"
	"github.com/flowlab/flowlab/datalake/kafka"
	"github.com/flowlab/flowlab/datalake/pcap"
	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/flowlab/flowlab/datalake/taps/broker/brokertest"
	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// streamCapture is the capture the streaming tests send through Kafka: 76
// TCP connections, every flag combination, both directions.
const streamCapture = "../../testdata/pcaps/tcpstate/curated-pcaps__tcp_control_two_way_all_flags.pcap"

// startStreamBroker runs the in-process broker with topics of three
// partitions until the test ends.
func startStreamBroker(t *testing.T, topics ...string) *broker.Broker {
	t.Helper()
	return brokertest.Start(t, broker.Options{Topics: topics, Partitions: 3})
}

// flowlab runs the built binary and returns its stdout; it fails the test
// on a non-zero exit.
func flowlab(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, flowlabtest.Binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("flowlab %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// kcatMessages reads every message of every partition of topic with kcat
// (librdkafka), as key and value.
func kcatMessages(t *testing.T, addr, topic string) [][2]string {
	t.Helper()
	kcat := flowlabtest.RequireCommand(t, "kcat")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	var msgs [][2]string
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("kcat line %q", line)
		}
		msgs = append(msgs, [2]string{k, v})
	}
	return msgs
}

// checkFlowMessages checks what kcat read: one JSON object per flow, with
// exactly the lake's column names, keyed by its flow_id.
func checkFlowMessages(t *testing.T, msgs [][2]string) {
	t.Helper()
	var cols []string
	ft := reflect.TypeOf(datalake.Flow{})
	for i := 0; i < ft.NumField(); i++ {
		cols = append(cols, ft.Field(i).Tag.Get("parquet"))
	}
	slices.Sort(cols)
	for i, m := range msgs {
		var obj map[string]any
		if err := json.Unmarshal([]byte(m[1]), &obj); err != nil {
			t.Fatalf("message %d is not JSON: %v\n%s", i, err, m[1])
		}
		var keys []string
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, cols) {
			t.Fatalf("message %d has keys\n%v\nwant the flow columns\n%v", i, keys, cols)
		}
		if obj["flow_id"] != m[0] {
			t.Fatalf("message %d: key %q, flow_id %v", i, m[0], obj["flow_id"])
		}
		if _, err := kafka.DecodeFlow([]byte(m[1])); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

// lakeFlows sums a lake's flows per 5-tuple: records, packets, bytes.
func lakeFlows(t *testing.T, root string) map[string][3]int64 {
	t.Helper()
	l, err := datalake.Open(datalake.Options{Root: root, NewEngine: duckdb.Factory(duckdb.Options{Root: root, MemoryLimit: "256MiB"})})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rows, err := l.IO().Read("/tetration/flows", "PARQUET", "ALL").
		GroupBy("src_address", "dst_address", "src_port", "dst_port", "proto").
		Agg("count(*)::BIGINT AS n", "sum(pkts)::BIGINT AS pkts", "sum(bytes)::BIGINT AS bytes").Rows()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][3]int64{}
	for _, r := range rows {
		out[fmt.Sprint(r[:5]...)] = [3]int64{r[5].(int64), r[6].(int64), r[7].(int64)}
	}
	return out
}

// sameFlows compares two lakes per 5-tuple.
func sameFlows(t *testing.T, got, want string) {
	t.Helper()
	g, w := lakeFlows(t, got), lakeFlows(t, want)
	if len(w) == 0 {
		t.Fatal("the reference lake is empty")
	}
	for k, wv := range w {
		if g[k] != wv {
			t.Errorf("%s: Kafka lake has (flows, packets, bytes) %v, file ingest %v", k, g[k], wv)
		}
	}
	for k, gv := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("%s: only in the Kafka lake: %v", k, gv)
		}
	}
}

// TestStreamCaptureThroughKafka: capture -r publishes a real capture's
// flows and packets to Kafka, kcat reads them as one JSON object per flow
// keyed by flow_id, ingest --from-kafka writes them to a lake, and that
// lake holds, per 5-tuple, the flows, packets and bytes a direct ingest of
// the file gives.
func TestStreamCaptureThroughKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and kcat")
	}
	flowlabtest.RequireCommand(t, "kcat")
	b := startStreamBroker(t, "flows", "flows.packets")
	out := flowlab(t, "capture", "-r", streamCapture, "--to-kafka", "flows", "--brokers", b.Addr(), "--packets", "--sensor", "s1")
	var file string
	var pkts, flows, acked, failed int
	if _, err := fmt.Sscanf(out, "%s %d packets, %d flows, %d messages acknowledged by Kafka (%d failed)", &file, &pkts, &flows, &acked, &failed); err != nil || pkts != 7938 || acked != flows+pkts || failed != 0 {
		t.Fatalf("capture summary %q (%v)", out, err)
	}
	msgs := kcatMessages(t, b.Addr(), "flows")
	if len(msgs) != flows {
		t.Fatalf("kcat read %d flow messages, capture sent %d", len(msgs), flows)
	}
	checkFlowMessages(t, msgs)
	if n := len(kcatMessages(t, b.Addr(), "flows.packets")); n != pkts {
		t.Errorf("kcat read %d packet messages, want %d", n, pkts)
	}

	fromKafka, direct := t.TempDir(), t.TempDir()
	out = flowlab(t, "ingest", "--from-kafka", "flows", "--brokers", b.Addr(), "--packets", "--lake", fromKafka, "--exit-at-end", "--flush-records", "1000")
	if want := fmt.Sprintf("kafka:flows (group flowlab-ingest): %d messages (0 malformed), %d flows, %d packets,", flows+pkts, flows, pkts); !strings.HasPrefix(out, want) {
		t.Errorf("ingest summary %q, want %q...", out, want)
	}
	flowlab(t, "ingest", "--lake", direct, "--sensor", "s1", "--packets", streamCapture)
	sameFlows(t, fromKafka, direct)
	// Running it again reads nothing: the group is at the end.
	if out := flowlab(t, "ingest", "--from-kafka", "flows", "--brokers", b.Addr(), "--lake", fromKafka, "--exit-at-end"); !strings.Contains(out, ": 0 messages") {
		t.Errorf("second ingest: %q", out)
	}
}

// TestStreamLiveCaptureOnLoopback: capture -i lo --to-kafka with UDP
// traffic the test sends, recorded beside it into a pcap file by the test;
// the lake filled from Kafka equals a direct ingest of the recording.
func TestStreamLiveCaptureOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("live capture, the binary and kcat")
	}
	flowlabtest.RequireCommand(t, "kcat")
	rec, err := pcap.OpenLive("lo", 0)
	if err != nil {
		t.Skipf("no live capture here: %v", err)
	}
	b := startStreamBroker(t, "live")
	servers := []*net.UDPConn{udpSocket(t), udpSocket(t)}
	ports := []int{udpPort(servers[0]), udpPort(servers[1])}
	filter := fmt.Sprintf("udp and (port %d or port %d)", ports[0], ports[1])
	prog, err := pcap.CompileFilter(filter, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.SetFilter(prog); err != nil {
		t.Fatal(err)
	}
	recording := filepath.Join(t.TempDir(), "lo.pcap")
	recorded := make(chan error, 1)
	go func() { recorded <- record(rec, recording) }()

	cmd := exec.Command(flowlabtest.Binary(t), "capture", "-i", "lo", "--filter", filter, "--to-kafka", "live", "--brokers", b.Addr(), "--sensor", "s1")
	var out bytes.Buffer
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	started := make([]byte, 4096)
	if n, err := stderr.Read(started); err != nil || !strings.Contains(string(started[:n]), "capturing on lo") {
		t.Fatalf("capture did not start: %q %v", started[:n], err)
	}
	// Three flows: 5 datagrams and 2 answers on the first port, 3 from
	// another client socket, 1 to the second port.
	send := func(c *net.UDPConn, port, n int) {
		for i := range n {
			if _, err := c.WriteToUDP(fmt.Appendf(nil, "datagram %d", i), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clients := []*net.UDPConn{udpSocket(t), udpSocket(t)}
	send(clients[0], ports[0], 5)
	send(servers[0], udpPort(clients[0]), 2)
	send(clients[1], ports[0], 3)
	send(clients[1], ports[1], 1)
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, out.String())
	}
	rec.Close()
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "lo: 11 packets, 3 flows, 3 messages acknowledged by Kafka (0 failed)") {
		t.Errorf("capture summary %q", out.String())
	}
	msgs := kcatMessages(t, b.Addr(), "live")
	if len(msgs) != 3 {
		t.Fatalf("kcat read %d messages, want 3", len(msgs))
	}
	checkFlowMessages(t, msgs)
	fromKafka, direct := t.TempDir(), t.TempDir()
	flowlab(t, "ingest", "--from-kafka", "live", "--brokers", b.Addr(), "--lake", fromKafka, "--exit-at-end")
	flowlab(t, "ingest", "--lake", direct, "--sensor", "s1", recording)
	sameFlows(t, fromKafka, direct)
}

// udpSocket is a UDP socket on 127.0.0.1, closed when the test ends.
func udpSocket(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func udpPort(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

// record writes what a live capture sees to a pcap file until it is
// closed.
func record(live *pcap.Live, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	for {
		fr, err := live.Next()
		if err != nil {
			return nil
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, fr.Time), CaptureLength: len(fr.Data), Length: fr.WireLen}
		if err := w.WritePacket(ci, fr.Data); err != nil {
			return err
		}
	}
}

// TestIngestFromKafkaKilledBetweenPublishAndCommit: an ingest killed with
// SIGKILL right after its second batch reached the lake, before the
// offsets were committed, is run again; the lake then holds every flow
// once, as a direct ingest of the capture does.
func TestIngestFromKafkaKilledBetweenPublishAndCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and a process that is killed")
	}
	b := startStreamBroker(t, "flows")
	flowlab(t, "capture", "-r", streamCapture, "--to-kafka", "flows", "--brokers", b.Addr(), "--sensor", "s1")
	lake, direct := t.TempDir(), t.TempDir()
	args := []string{"ingest", "--from-kafka", "flows", "--brokers", b.Addr(), "--lake", lake, "--flush-records", "20", "--exit-at-end"}

	// The test binary itself runs the ingest, with a hook that kills it
	// between publishing its second batch and committing the offsets.
	helper := exec.Command(os.Args[0], "-test.run=^TestIngestKafkaKillHelper$")
	a, _ := json.Marshal(args)
	helper.Env = flowlabtest.Env("FLOWLAB_KILL_HELPER_ARGS="+string(a), "FLOWLAB_KILL_AFTER=2")
	out, err := helper.CombinedOutput()
	ws, ok := helper.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the helper was not killed: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), " flows, 0 packets, 0 malformed"); n != 2 {
		t.Fatalf("the helper published %d batches before dying, want 2:\n%s", n, out)
	}
	files, _ := filepath.Glob(filepath.Join(lake, "tetration", "flows", "*", "*", "*.parquet"))
	if len(files) == 0 {
		t.Fatal("nothing in the lake after the kill")
	}

	out2 := flowlab(t, args...)
	if !strings.Contains(out2, "(0 malformed)") {
		t.Errorf("restart: %q", out2)
	}
	flowlab(t, "ingest", "--lake", direct, "--sensor", "s1", streamCapture)
	sameFlows(t, lake, direct)
}

// TestIngestKafkaKillHelper is the process TestIngestFromKafkaKilledBetweenPublishAndCommit
// kills; it does nothing in a normal test run.
func TestIngestKafkaKillHelper(t *testing.T) {
	raw := os.Getenv("FLOWLAB_KILL_HELPER_ARGS")
	if raw == "" {
		t.Skip("run by TestIngestFromKafkaKilledBetweenPublishAndCommit")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	after, _ := strconv.Atoi(os.Getenv("FLOWLAB_KILL_AFTER"))
	var n int
	kafkaPublished = func(kafka.Publication) {
		if n++; n == after {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	err := run(context.Background(), streams{in: os.Stdin, out: os.Stdout, err: os.Stderr}, args)
	t.Fatalf("the ingest ended without being killed: %v", err)
}

// TestStreamFlagErrors: mistakes on the command line are refused with
// what to do, and an unreachable broker within the timeout.
func TestStreamFlagErrors(t *testing.T) {
	lake := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		say  string
	}{
		{"no brokers", []string{"capture", "-r", streamCapture, "--to-kafka", "flows"}, "no Kafka brokers: pass --brokers"},
		{"bad broker", []string{"capture", "-r", streamCapture, "--to-kafka", "flows", "--brokers", "kafka"}, `"kafka" is not host:port`},
		{"unknown tap", []string{"capture", "-r", streamCapture, "--to-kafka", "flows", "--tap", "Nope", "--taps", `{"taps":{"Alerts":{"brokers":["127.0.0.1:9"],"topic":"a"}}}`}, "the configured taps are Alerts"},
		{"broker down", []string{"capture", "-r", streamCapture, "--to-kafka", "flows", "--brokers", "127.0.0.1:1", "--kafka-timeout", "3s"}, "cannot reach Kafka at 127.0.0.1:1"},
		{"kafka and lake", []string{"capture", "-r", streamCapture, "--to-kafka", "flows", "--brokers", "127.0.0.1:1", "--lake", lake}, "the records go to one of them"},
		{"brokers without topic", []string{"capture", "-r", streamCapture, "--brokers", "127.0.0.1:1", "--lake", lake}, "go with --to-kafka"},
		{"interface and file", []string{"capture", "-i", "lo", "-r", streamCapture, "--lake", lake}, "-i IFACE, or -r FILE"},
		{"files and topic", []string{"ingest", "--from-kafka", "flows", "--brokers", "127.0.0.1:1", "--lake", lake, streamCapture}, "reads a topic, not files"},
		{"table flag", []string{"ingest", "--from-kafka", "flows", "--brokers", "127.0.0.1:1", "--lake", lake, "--tcp-idle", "1m"}, "--tcp-idle shapes the flow records"},
		{"group without topic", []string{"ingest", "--group", "g", "--lake", lake, streamCapture}, "go with --from-kafka"},
		{"ingest broker down", []string{"ingest", "--from-kafka", "flows", "--brokers", "127.0.0.1:1", "--lake", lake, "--kafka-timeout", "3s"}, "is running and reachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			start := time.Now()
			err := run(context.Background(), streams{out: &out, err: &out}, tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("%v\n%s\nwant an error saying %q", err, out.String(), tc.say)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}
