package keeper

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	lo, hi := 50*time.Millisecond, 2*time.Second
	for failures := 1; failures <= 40; failures++ {
		want := lo << min(failures-1, 20)
		if want > hi || want <= 0 {
			want = hi
		}
		for i := 0; i < 100; i++ {
			d := backoffDelay(failures, lo, hi)
			if d < want/2 || d > want {
				t.Fatalf("failures %d: delay %v outside [%v, %v]", failures, d, want/2, want)
			}
		}
	}
	// The cap holds however many failures (no overflow to a negative delay).
	if d := backoffDelay(1000, lo, hi); d < hi/2 || d > hi {
		t.Fatalf("after 1000 failures: %v", d)
	}
}
