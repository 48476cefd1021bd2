package tcp

// flowKey identifies a connection on a stack with one local address.
type flowKey struct {
	raddr        [4]byte
	rport, lport uint16
}

// flowTable maps 4-tuples to pool indices: open addressing with linear
// probing and backward-shift deletion (no tombstones), a power-of-two
// number of slots at least twice the connection limit so probes stay
// short. Lookups, inserts and deletes never allocate.
type flowTable struct {
	keys  []flowKey
	vals  []int32 // pool index, -1 = empty slot
	mask  uint32
	seed  uint32
	count int
}

func (t *flowTable) init(maxConns int, seed uint32) {
	n := 16
	for n < 2*maxConns {
		n <<= 1
	}
	t.keys = make([]flowKey, n)
	t.vals = make([]int32, n)
	for i := range t.vals {
		t.vals[i] = -1
	}
	t.mask = uint32(n - 1)
	t.seed = seed | 1
}

func (t *flowTable) hash(k flowKey) uint32 {
	// A keyed multiplicative mix; the seed is random per stack so a peer
	// cannot aim collisions at a chain without knowing it.
	x := uint64(uint32(k.raddr[0])<<24|uint32(k.raddr[1])<<16|uint32(k.raddr[2])<<8|uint32(k.raddr[3])) ^
		uint64(k.rport)<<32 ^ uint64(k.lport)<<48
	x ^= uint64(t.seed) << 16
	x *= 0x9e3779b97f4a7c15
	x ^= x >> 29
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 32
	return uint32(x)
}

func (t *flowTable) lookup(k flowKey) int32 {
	for i := t.hash(k) & t.mask; ; i = (i + 1) & t.mask {
		v := t.vals[i]
		if v < 0 {
			return -1
		}
		if t.keys[i] == k {
			return v
		}
	}
}

// insert adds k; the caller guarantees k is absent and count < len/2.
func (t *flowTable) insert(k flowKey, v int32) {
	i := t.hash(k) & t.mask
	for t.vals[i] >= 0 {
		i = (i + 1) & t.mask
	}
	t.keys[i] = k
	t.vals[i] = v
	t.count++
}

// remove deletes k if present, shifting later members of its probe run
// back so lookups never need tombstones.
func (t *flowTable) remove(k flowKey) bool {
	i := t.hash(k) & t.mask
	for {
		if t.vals[i] < 0 {
			return false
		}
		if t.keys[i] == k {
			break
		}
		i = (i + 1) & t.mask
	}
	t.count--
	j := i
	for {
		j = (j + 1) & t.mask
		if t.vals[j] < 0 {
			break
		}
		home := t.hash(t.keys[j]) & t.mask
		// Move j into the hole at i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.keys[i], t.vals[i] = t.keys[j], t.vals[j]
			i = j
		}
	}
	t.vals[i] = -1
	t.keys[i] = flowKey{}
	return true
}
