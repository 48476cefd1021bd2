package fault_test

import (
	"fmt"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic/fault"
	"github.com/shardnet/shardnet/nic/memwire"
)

func ExampleWrap() {
	sa, _ := buf.NewSlab(64, buf.DefaultFrameSize, buf.DefaultHeadroom)
	sb, _ := buf.NewSlab(64, buf.DefaultFrameSize, buf.DefaultHeadroom)
	defer sa.Close()
	defer sb.Close()
	a, b, _ := memwire.New(memwire.Config{}, sa, sb)
	var now int64 // the shard's clock; a test drives it by hand
	fb := fault.Wrap(b, fault.Config{
		Seed:  1,
		Rx:    fault.Faults{Delay: 1, DelayBy: 1000},
		Clock: func() int64 { return now },
	})
	defer a.Close()
	defer fb.Close()

	p := sa.Alloc()
	p.Append(60)
	a.TxBurst([]*buf.Packet{p})

	rx := make([]*buf.Packet, 8)
	fmt.Println(fb.RxBurst(rx)) // held
	due, _ := fb.NextDue()      // a shard must not sleep past this
	now = due
	fmt.Println(due, fb.RxBurst(rx))
	rx[0].Release()
	// Output:
	// 0
	// 1000 1
}
