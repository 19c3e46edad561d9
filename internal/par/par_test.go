package par

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// TestEach: every index is visited once, on more than one goroutine when
// there are cores for it, and n = 0 calls nothing.
func TestEach(t *testing.T) {
	old := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(old)
	const n = 1000
	var seen [n]atomic.Int32
	var running, most atomic.Int32
	Each(n, func(i int) {
		now := running.Add(1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		runtime.Gosched() // let another call start while this one runs
		seen[i].Add(1)
		running.Add(-1)
	})
	for i := range seen {
		if got := seen[i].Load(); got != 1 {
			t.Fatalf("index %d visited %d times", i, got)
		}
	}
	if most.Load() < 2 {
		t.Errorf("at most %d call ran at a time, want several", most.Load())
	}
	Each(0, func(int) { t.Fatal("called for n = 0") })
}
