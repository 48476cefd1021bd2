package tcp

import (
	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/wire"
)

// oooEntry is one held out-of-order segment: p.Data() is exactly the
// payload bytes [seq, end).
type oooEntry struct {
	seq, end wire.Seq
	p        *buf.Packet
}

// reassembly holds out-of-order segments — the received packets
// themselves, trimmed to their payload, never copies — sorted and
// non-overlapping, until the gap before them fills. It is bounded both in
// entries (frames held) and in payload bytes; a segment over either bound
// is dropped and counted (the peer retransmits it).
type reassembly struct {
	e     []oooEntry
	bytes int
	// A FIN that arrived out of order: it takes effect when RCV.NXT
	// reaches finSeq.
	fin    bool
	finSeq wire.Seq
}

type oooResult uint8

const (
	oooInserted oooResult = iota
	oooDuplicate
	oooFull
)

func (r *reassembly) empty() bool { return len(r.e) == 0 }

// insert adds payload p (p.Data() starts at seq). On oooInserted the
// reassembly owns p; otherwise the caller still does.
func (r *reassembly) insert(seq wire.Seq, p *buf.Packet, limit int) oooResult {
	end := seq.Add(uint32(p.Len()))
	n := len(r.e)
	i := 0
	for i < n && r.e[i].end.LessEq(seq) {
		i++
	}
	front := 0
	if i < n && r.e[i].seq.LessEq(seq) {
		if end.LessEq(r.e[i].end) {
			return oooDuplicate
		}
		front = int(r.e[i].end.Sub(seq))
		i++
	}
	j := i
	covered := 0
	for j < n && r.e[j].end.LessEq(end) {
		covered += r.e[j].p.Len()
		j++
	}
	back := 0
	if j < n && r.e[j].seq.LessThan(end) {
		back = int(end.Sub(r.e[j].seq))
	}
	newLen := p.Len() - front - back
	if newLen <= 0 {
		return oooDuplicate
	}
	if n-(j-i)+1 > cap(r.e) || r.bytes-covered+newLen > limit {
		return oooFull
	}
	p.TrimFront(front)
	p.Truncate(newLen)
	seq = seq.Add(uint32(front))
	for k := i; k < j; k++ {
		r.e[k].p.Release()
	}
	r.bytes += newLen - covered
	ent := oooEntry{seq: seq, end: seq.Add(uint32(newLen)), p: p}
	switch d := j - i; {
	case d == 0:
		r.e = r.e[:n+1]
		copy(r.e[i+1:], r.e[i:n])
	case d > 1:
		copy(r.e[i+1:], r.e[j:n])
		r.e = r.e[:n-d+1]
	}
	r.e[i] = ent
	return oooInserted
}

// next removes and returns the first held segment if it starts at or
// before rcvNxt, trimmed to start exactly at rcvNxt. Segments wholly below
// rcvNxt are released on the way.
func (r *reassembly) next(rcvNxt wire.Seq) *buf.Packet {
	for len(r.e) > 0 && r.e[0].seq.LessEq(rcvNxt) {
		e := r.e[0]
		copy(r.e, r.e[1:])
		r.e = r.e[:len(r.e)-1]
		r.bytes -= e.p.Len()
		if e.end.LessEq(rcvNxt) {
			e.p.Release()
			continue
		}
		e.p.TrimFront(int(rcvNxt.Sub(e.seq)))
		return e.p
	}
	return nil
}

// releaseAll frees every held packet.
func (r *reassembly) releaseAll() {
	for _, e := range r.e {
		e.p.Release()
	}
	r.e = r.e[:0]
	r.bytes = 0
	r.fin = false
}
