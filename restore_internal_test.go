package keeper

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/keeper-go/keeper/internal/wire"
)

// TestCutWatchBatchSizesFrame cuts SetWatches batches off lists of paths
// and checks that every path goes out once, in order, in batches of about
// setWatchesBatch bytes, and that each batch's frame is encoded into the
// size cutWatchBatch gave without growing, byte for byte as newRequest
// encodes it.
func TestCutWatchBatchSizesFrame(t *testing.T) {
	var all [5][]string
	for i := range all {
		for j := range 2000 * (i + 1) {
			all[i] = append(all[i], fmt.Sprintf("/list-%d/%s-%06d", i, bytes.Repeat([]byte{'p'}, j%40), j))
		}
	}
	lists := make([][]string, len(all))
	for i := range all {
		lists[i] = all[i]
	}
	var got [5][]string
	batches := 0
	for len(lists[0])+len(lists[1])+len(lists[2])+len(lists[3])+len(lists[4]) > 0 {
		batch, frame := cutWatchBatch(lists)
		batches++
		size := 0
		for i := range batch {
			got[i] = append(got[i], batch[i]...)
			for _, p := range batch[i] {
				size += len(p)
			}
		}
		if size == 0 || size >= setWatchesBatch+100 {
			t.Fatalf("batch %d: %d bytes of paths", batches, size)
		}
		body := &wire.SetWatches2{RelativeZxid: 7, DataWatches: nonNil(batch[0]), ExistWatches: nonNil(batch[1]),
			ChildWatches: nonNil(batch[2]), PersistentWatches: nonNil(batch[3]), PersistentRecursiveWatches: nonNil(batch[4])}
		r := newRequestSized(wire.OpSetWatches2, body, nil, frame)
		if len(r.frame) > frame || cap(r.frame) != frame {
			t.Errorf("batch %d: frame of %d bytes, capacity %d; cutWatchBatch said %d", batches, len(r.frame), cap(r.frame), frame)
		}
		want := newRequest(wire.OpSetWatches2, body, nil)
		if !bytes.Equal(r.frame, want.frame) {
			t.Errorf("batch %d: the sized frame differs from newRequest's", batches)
		}
		r.recycle()
		want.recycle()
	}
	for i := range all {
		if len(got[i]) != len(all[i]) {
			t.Fatalf("list %d: %d paths sent, want %d", i, len(got[i]), len(all[i]))
		}
		for j := range all[i] {
			if got[i][j] != all[i][j] {
				t.Fatalf("list %d, path %d: %q, want %q", i, j, got[i][j], all[i][j])
			}
		}
	}
	if batches < 3 {
		t.Errorf("%d batches for %d KiB of paths", batches, 30000*30>>10)
	}
}
