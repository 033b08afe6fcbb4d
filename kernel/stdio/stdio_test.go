package stdio

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// spareFD returns a descriptor the test may redirect without touching the
// test binary's own stdout and stderr, and a file that writes to it.
func spareFD(t *testing.T) (int, *os.File) {
	t.Helper()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { null.Close() })
	fd := int(null.Fd())
	// Writes through a separate *os.File with the same number go wherever the
	// descriptor points after redirection, like fmt.Println does for fd 1.
	w := os.NewFile(uintptr(fd), "spare")
	return fd, w
}

type collector struct {
	mu     sync.Mutex
	chunks map[string][]string
	at     []time.Time
}

func (c *collector) sink(stream, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chunks == nil {
		c.chunks = map[string][]string{}
	}
	c.chunks[stream] = append(c.chunks[stream], text)
	c.at = append(c.at, time.Now())
}

func (c *collector) text(stream string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.chunks[stream], "")
}

func (c *collector) count(stream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.chunks[stream])
}

func start(t *testing.T, col *collector, streams ...Stream) *Capture {
	t.Helper()
	c, err := Start(Options{Sink: col.sink, Streams: streams, KeepStdin: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestFlushDeliversEverythingWrittenBefore(t *testing.T) {
	fd, w := spareFD(t)
	col := &collector{}
	c := start(t, col, Stream{"stdout", fd})
	var want strings.Builder
	for i := range 2000 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := w.WriteString(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := col.text("stdout"); got != want.String() {
		t.Fatalf("got %d bytes, want %d", len(got), want.Len())
	}
	if n := col.count("stdout"); n > 20 {
		t.Errorf("2000 small writes became %d messages; want them coalesced", n)
	}
}

func TestOutputStreamsLiveBeforeFlush(t *testing.T) {
	fd, w := spareFD(t)
	col := &collector{}
	start(t, col, Stream{"stdout", fd})
	fmt.Fprint(w, "first")
	deadline := time.Now().Add(2 * time.Second)
	for col.text("stdout") != "first" {
		if time.Now().After(deadline) {
			t.Fatal("output written without a flush did not arrive within 2 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSplitUTF8IsNotBroken(t *testing.T) {
	fd, w := spareFD(t)
	col := &collector{}
	c := start(t, col, Stream{"stdout", fd})
	euro := []byte("€") // 3 bytes
	w.Write(euro[:1])
	time.Sleep(60 * time.Millisecond) // let the interval expire mid-rune
	w.Write(euro[1:])
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := col.text("stdout"); got != "€" {
		t.Fatalf("got %q", got)
	}
}

func TestWritesFromGoroutinesAreCaptured(t *testing.T) {
	fd, w := spareFD(t)
	col := &collector{}
	c := start(t, col, Stream{"stdout", fd})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				fmt.Fprintf(w, "g%d-%d\n", g, i)
			}
		}()
	}
	wg.Wait()
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(col.text("stdout"), "\n"); n != 800 {
		t.Fatalf("got %d lines, want 800", n)
	}
}

func TestSentinelSplitAcrossReadsAndLookalikes(t *testing.T) {
	if got := sentinelPrefixLen([]byte("abc\x00flow"), []byte("\x00flowlab-x\x00")); got != 5 {
		t.Fatalf("sentinelPrefixLen = %d, want 5", got)
	}
	fd, w := spareFD(t)
	col := &collector{}
	c := start(t, col, Stream{"stdout", fd})
	// Output that looks like the start of a sentinel must come through intact.
	fmt.Fprint(w, "x\x00flowlab-flush-y")
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := col.text("stdout"); got != "x\x00flowlab-flush-y" {
		t.Fatalf("got %q", got)
	}
}

func TestCloseRestoresDescriptor(t *testing.T) {
	fd, w := spareFD(t)
	var before unix.Stat_t
	if err := unix.Fstat(fd, &before); err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	c, err := Start(Options{Sink: col.sink, Streams: []Stream{{"stdout", fd}}, KeepStdin: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "tail")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := col.text("stdout"); got != "tail" {
		t.Errorf("output pending at Close was lost: %q", got)
	}
	var after unix.Stat_t
	if err := unix.Fstat(fd, &after); err != nil {
		t.Fatal(err)
	}
	if before.Ino != after.Ino || before.Dev != after.Dev {
		t.Errorf("descriptor %d not restored", fd)
	}
	if err := c.Flush(context.Background()); err != ErrClosed {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
}

func TestCompleteUTF8(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"ascii", []byte("abc"), 3},
		{"full rune", []byte("a€"), 4},
		{"one byte of three", []byte("a\xe2"), 1},
		{"two bytes of three", []byte("a\xe2\x82"), 1},
		{"invalid continuation only", []byte("a\x82"), 2},
		{"empty", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := completeUTF8(tt.in); got != tt.want {
				t.Errorf("completeUTF8(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}
