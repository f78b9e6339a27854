package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrCorrupt reports a DistributedQueue message that is not in Curator's
// ItemSerializer format (a bad version header, an unknown record type, a
// negative length or a message cut short).
var ErrCorrupt = errors.New("queue: corrupt Curator queue message")

// Curator's ItemSerializer framing: a version header, then one record per
// item (the item opcode, a big-endian int32 length, the bytes), then the
// end opcode.
const (
	curatorVersion  = 0x00010001
	curatorItemOp   = 0x01
	curatorEndOp    = 0x02
	curatorItemName = "queue-" // DistributedQueue's item prefix
	simpleItemName  = "qn-"    // SimpleDistributedQueue's item prefix
	curatorSep      = '|'      // around a delay or an id in a node name
)

// EncodeMessage returns items as one message in Curator's ItemSerializer
// format, the data of one DistributedQueue node: int32 0x00010001, then
// 0x01, an int32 length and the bytes for each item, then 0x02.
func EncodeMessage(items [][]byte) []byte {
	n := 5
	for _, it := range items {
		n += 5 + len(it)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, curatorVersion)
	for _, it := range items {
		b = append(b, curatorItemOp)
		b = binary.BigEndian.AppendUint32(b, uint32(len(it)))
		b = append(b, it...)
	}
	return append(b, curatorEndOp)
}

// DecodeMessage returns the items of a message in Curator's ItemSerializer
// format. An error matches ErrCorrupt. Bytes after the end record are
// ignored, as Curator ignores them.
func DecodeMessage(b []byte) ([][]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the version header", ErrCorrupt, len(b))
	}
	if v := binary.BigEndian.Uint32(b); v != curatorVersion {
		return nil, fmt.Errorf("%w: version %#08x, want %#08x", ErrCorrupt, v, curatorVersion)
	}
	b = b[4:]
	var items [][]byte
	for {
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: no end record", ErrCorrupt)
		}
		op := b[0]
		b = b[1:]
		switch op {
		case curatorEndOp:
			return items, nil
		case curatorItemOp:
		default:
			return nil, fmt.Errorf("%w: record type %#02x, want %#02x or %#02x", ErrCorrupt, op, curatorItemOp, curatorEndOp)
		}
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: item length cut short", ErrCorrupt)
		}
		n := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if n < 0 || int(n) > len(b) {
			return nil, fmt.Errorf("%w: item of %d bytes, %d left", ErrCorrupt, n, len(b))
		}
		items = append(items, slices.Clone(b[:n]))
		b = b[n:]
	}
}

// priorityName is DistributedPriorityQueue's name prefix for priority p:
// "1" for p >= 0 (else "0"), then p as 8 upper-case hex digits (two's
// complement), so that names sort in priority order.
func priorityName(p int32) string {
	sign := "1"
	if p < 0 {
		sign = "0"
	}
	return fmt.Sprintf("%s%s%08X", curatorItemName, sign, uint32(p))
}

// delayName is DistributedDelayQueue's name prefix for an item due at t:
// "|", the Unix time in milliseconds as at least 8 upper-case hex digits
// (11 for today's dates), "|".
func delayName(t time.Time) string {
	return fmt.Sprintf("%s%c%08X%c", curatorItemName, curatorSep, t.UnixMilli(), curatorSep)
}

// delayOf parses the due time (Unix ms) of a delay queue's node name, as
// Curator does: the hex between the last two "|"; 0 (due now) when there
// is none.
func delayOf(name string) int64 {
	i2 := strings.LastIndexByte(name, curatorSep)
	if i2 <= 0 {
		return 0
	}
	i1 := strings.LastIndexByte(name[:i2], curatorSep)
	if i1 <= 0 || i2 <= i1+1 {
		return 0
	}
	v, err := strconv.ParseInt(name[i1+1:i2], 16, 64)
	if err != nil {
		return 0
	}
	return v
}

// idName is DistributedIdQueue's name prefix for id: "|", the id with "/"
// and "|" replaced by "_", "|".
func idName(id string) string {
	fixed := strings.NewReplacer("/", "_", string(curatorSep), "_").Replace(id)
	return fmt.Sprintf("%s%c%s%c", curatorItemName, curatorSep, fixed, curatorSep)
}

// idOf splits an id queue's node name into the (cleaned) id and the name
// without it, as Curator's parseId does; a name without two "|" is its
// own id and sort key.
func idOf(name string) (id, rest string) {
	i1 := strings.IndexByte(name, curatorSep)
	if i1 < 0 {
		return name, name
	}
	i2 := strings.IndexByte(name[i1+1:], curatorSep)
	if i2 < 0 {
		return name, name
	}
	i2 += i1 + 1
	return name[i1+1 : i2], name[:i1] + name[i2+1:]
}

// sortKind is how a DistributedQueue orders its items.
type sortKind int

const (
	sortName  sortKind = iota // by name (plain and priority queues)
	sortID                    // by name without the id (FIFO)
	sortDelay                 // by due time, then by name
)

// sortItems orders names as Curator's consumer of kind does.
func sortItems(names []string, kind sortKind) {
	switch kind {
	case sortName:
		slices.Sort(names)
	case sortID:
		slices.SortStableFunc(names, func(a, b string) int {
			_, ra := idOf(a)
			_, rb := idOf(b)
			return strings.Compare(ra, rb)
		})
	case sortDelay:
		slices.SortFunc(names, func(a, b string) int {
			if da, db := delayOf(a), delayOf(b); da != db {
				if da < db {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
	}
}
