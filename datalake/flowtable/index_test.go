package flowtable

import (
	"math/rand/v2"
	"testing"
)

// TestFlowIndex runs random puts and deletes against a Go map, over few
// distinct keys (so the same key comes back after its deletion) and
// enough of them to grow the table and wrap probes around its end.
func TestFlowIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := newFlowIndex()
	want := map[flowKey]*flow{}
	key := func() flowKey {
		var k flowKey
		k.lo[15], k.hi[15] = byte(r.IntN(60)), byte(r.IntN(60))
		k.loPort, k.proto = uint16(r.IntN(3)), ProtoTCP
		return k
	}
	for step := range 200_000 {
		k := key()
		got := x.get(&k)
		if got != want[k] {
			t.Fatalf("step %d: get %v = %p, want %p", step, k, got, want[k])
		}
		switch {
		case got == nil:
			f := &flow{key: k}
			x.put(f)
			want[k] = f
		case r.IntN(3) > 0:
			x.delete(got)
			delete(want, k)
		}
		if x.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, x.len(), len(want))
		}
	}
	n := 0
	x.all(func(f *flow) {
		n++
		if want[f.key] != f {
			t.Errorf("all: %v is not in the map", f.key)
		}
	})
	if n != len(want) || len(x.slots) < 2*len(want) {
		t.Errorf("all saw %d of %d flows in %d slots", n, len(want), len(x.slots))
	}
}
