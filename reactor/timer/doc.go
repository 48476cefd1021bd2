// Package timer is a hashed timing wheel (Varghese & Lauck, scheme 6): the
// one timer facility of a shard. ip and tcp arm timers on it; the reactor
// advances it once per loop iteration with the loop's clock.
//
// Layer: a leaf, so that ip and tcp may use it without importing the reactor.
//
// Ownership: a Wheel and its Timers belong to one shard and are used only
// from its thread. Timers are intrusive (embedded in the connection or cache
// entry they serve), so arming and cancelling never allocate. A Timer is
// armed on at most one Wheel at a time.
//
// Time is int64 nanoseconds on a monotonic clock whose epoch is the
// caller's; tests drive it by hand.
//
// Scheme: the wheel has a power-of-two number of slots, each covering one
// tick. A timer sits, unsorted, in the slot of its deadline's tick modulo
// the number of slots, and keeps its absolute deadline, so a timer more than
// one revolution away simply stays put until a later pass finds it due.
// Schedule and Cancel are O(1); Advance visits only the non-empty slots
// between the previous and the new time (found through a bitmap), and at
// most every slot once however far time jumps, so it costs
// O(slots/64 + visited timers), never O(gap/tick).
//
// Firing: Advance(now) fires every timer whose deadline is <= now, never one
// whose deadline is later. A deadline at or before the wheel's time fires at
// the next Advance. Callbacks run inline, inside Advance, and may Schedule
// or Cancel any timer, including themselves and other timers of the slot
// being processed. A timer that a callback arms for a time <= now fires at
// the next Advance, not again in the current one, so a self-re-arming timer
// cannot make Advance loop. Callbacks must not call Advance.
package timer
