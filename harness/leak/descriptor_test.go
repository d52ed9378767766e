package leak

import (
	"sync"
	"testing"
)

// TestGoroutineDescriptorBytes checks GoroutineDescriptorBytes against this
// Go runtime: the heap after GC may grow by at most that much per goroutine
// that was alive at once and has ended.
func TestGoroutineDescriptorBytes(t *testing.T) {
	const n = 20000
	before := heapAfterGC()
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); <-release }()
	}
	close(release)
	wg.Wait()
	grew := int64(heapAfterGC()) - int64(before)
	per := grew / n
	t.Logf("heap grew %d bytes per ended goroutine", per)
	if per > GoroutineDescriptorBytes {
		t.Fatalf("the runtime keeps %d bytes per ended goroutine, over GoroutineDescriptorBytes = %d: raise it", per, GoroutineDescriptorBytes)
	}
}
