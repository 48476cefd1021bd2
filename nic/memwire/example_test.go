package memwire_test

import (
	"fmt"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic/memwire"
)

func ExampleNew() {
	sa, _ := buf.NewSlab(64, buf.DefaultFrameSize, buf.DefaultHeadroom)
	sb, _ := buf.NewSlab(64, buf.DefaultFrameSize, buf.DefaultHeadroom)
	defer sa.Close()
	defer sb.Close()
	a, b, err := memwire.New(memwire.Config{}, sa, sb)
	if err != nil {
		panic(err)
	}
	defer a.Close()
	defer b.Close()

	p := sa.Alloc()
	copy(p.Append(60), "a frame for b")
	a.TxBurst([]*buf.Packet{p}) // copies the frame onto the wire, releases p

	rx := make([]*buf.Packet, 8)
	n := b.RxBurst(rx) // b's copy, from b's slab
	fmt.Println(n, string(rx[0].Data()[:13]), sa.InUse(), sb.InUse())
	rx[0].Release()
	// Output: 1 a frame for b 0 1
}
