package flowtable

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// flowIndex finds a flow by its key: an open-addressing hash table with
// linear probing, at most half full. A slot holds the flow and its key's
// hash, so a lookup reads one slot and then the flow it needs
// anyway; a Go map keeps the 44-byte key in the slot, which cost one more
// cache miss per packet. The hash mixes the key's words with secret
// random ones, drawn per table, as wyhash (the Go runtime's portable map
// hash) does, so crafted packets cannot make keys collide on purpose; it
// costs a few multiplications where hash/maphash took 30 ns per key.
type flowIndex struct {
	seed  [7]uint64
	slots []indexSlot // len is a power of two
	n     int
}

type indexSlot struct {
	h uint64 // the key's hash
	f *flow  // nil: empty
}

func newFlowIndex() flowIndex {
	x := flowIndex{slots: make([]indexSlot, 1024)}
	for i := range x.seed {
		x.seed[i] = rand.Uint64() // math/rand/v2's generator is seeded randomly
	}
	return x
}

func (x *flowIndex) hash(k *flowKey) uint64 {
	s := &x.seed
	le := binary.LittleEndian
	rest := uint64(k.loPort) | uint64(k.hiPort)<<16 | uint64(k.proto)<<32 | uint64(k.depth)<<40 | uint64(k.v)<<48
	a := mix(le.Uint64(k.lo[:8])^s[0], le.Uint64(k.lo[8:])^s[1])
	b := mix(le.Uint64(k.hi[:8])^s[2], le.Uint64(k.hi[8:])^s[3])
	c := mix(rest^s[4], uint64(k.vlan)^s[5])
	return mix(a^c, b^s[6])
}

// mix is wyhash's mum: the two halves of the 128-bit product, xored.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// get returns the flow of key k, or nil.
func (x *flowIndex) get(k *flowKey) *flow {
	h := x.hash(k)
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.f == nil {
			return nil
		}
		if s.h == h && s.f.key == *k {
			return s.f
		}
	}
}

// put adds f under f.key, which must not be in the index.
func (x *flowIndex) put(f *flow) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	x.insert(f, x.hash(&f.key))
	x.n++
}

func (x *flowIndex) insert(f *flow, h uint64) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i].f != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = indexSlot{h, f}
}

func (x *flowIndex) grow() {
	old := x.slots
	x.slots = make([]indexSlot, 2*len(old))
	for _, s := range old {
		if s.f != nil {
			x.insert(s.f, s.h)
		}
	}
}

// delete removes f, which must be in the index. The slots after it that
// would no longer be found past the hole move back (backward-shift
// deletion), so no tombstones slow later lookups down.
func (x *flowIndex) delete(f *flow) {
	mask := uint64(len(x.slots) - 1)
	i := x.hash(&f.key) & mask
	for x.slots[i].f != f {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; x.slots[j].f != nil; j = (j + 1) & mask {
		// Slot j's flow may fill the hole at i if its home slot is not
		// in the cyclic range (i, j].
		home := x.slots[j].h & mask
		if (j-home)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = indexSlot{}
	x.n--
}

// len returns the number of flows.
func (x *flowIndex) len() int { return x.n }

// all calls fn for every flow, in no particular order; fn must not
// change the index.
func (x *flowIndex) all(fn func(*flow)) {
	for _, s := range x.slots {
		if s.f != nil {
			fn(s.f)
		}
	}
}
