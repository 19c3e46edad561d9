package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestEach: every index is visited once, another call runs while one is
// still running when there are cores for it, and n = 0 calls nothing.
// The call for index 0 waits for another to start: a count of calls
// running at once, as this test kept before, depended on the scheduler
// and failed under load (CI's packages run side by side on 2 cores).
func TestEach(t *testing.T) {
	old := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(old)
	const n = 1000
	var seen [n]atomic.Int32
	other := make(chan struct{})
	var once sync.Once
	Each(n, func(i int) {
		if i == 0 {
			select {
			case <-other:
			case <-time.After(10 * time.Second):
				t.Error("no other call started while the first ran: Each ran them one at a time")
			}
		} else {
			once.Do(func() { close(other) })
		}
		seen[i].Add(1)
	})
	for i := range seen {
		if got := seen[i].Load(); got != 1 {
			t.Fatalf("index %d visited %d times", i, got)
		}
	}
	Each(0, func(int) { t.Fatal("called for n = 0") })
}
