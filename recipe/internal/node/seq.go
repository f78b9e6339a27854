package node

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// The server appends a parent's child-version counter, an int32 formatted
// as Java's "%010d", to a sequential node's name: ten digits, zero-padded.
// After 2^31 sequential creates under one parent the counter wraps to
// -2147483648 and counts up towards -1; those suffixes are "-" and ten
// digits ("-2147483648"), or, from -999999999 on, "-" and nine digits
// (Java counts the sign in the width).
//
// Ordering rule: a sequence is compared as the unsigned 32-bit value of its
// int32, so the suffixes 0000000000 … 2147483647 come first, in order, and
// the negative ones, which the server hands out later, after them (from
// -2147483648 up to -1). Kazoo and Curator compare the suffix text instead
// and put the negative ones first; the two rules agree until the counter
// wraps.

// SeqOf returns the sequence number that ends name: ten digits, or a "-"
// followed by ten (or nine) digits for a counter that wrapped. A "-" right
// before ten digits is read as a sign, so for names whose text before the
// sequence ends in "-" (Curator's "-lock-") use SeqAfter with that marker.
func SeqOf(name string) (int64, bool) {
	n := len(name)
	if n >= 11 && name[n-11] == '-' && allDigits(name[n-10:]) {
		if v, ok := parseSeq(name[n-11:]); ok {
			return v, true
		}
	}
	if n >= 10 {
		return parseSeq(name[n-10:])
	}
	return 0, false
}

// SeqAfter returns the sequence number that ends name when marker comes
// right before it, as Kazoo's contender pattern (?:marker)(-?\d{10})$ and
// Curator's "text after the last lock-" read it. ok is false when name
// does not end in marker and a sequence.
func SeqAfter(name, marker string) (int64, bool) {
	n := len(name)
	// A sign is taken only when the marker then still precedes it, so
	// "lock-1000000000" is positive and "lock--1000000000" negative.
	for _, w := range []int{11, 10} {
		if n < w+len(marker) {
			continue
		}
		s := name[n-w:]
		if !strings.HasSuffix(name[:n-w], marker) {
			continue
		}
		if v, ok := parseSeq(s); ok {
			return v, true
		}
	}
	return 0, false
}

// parseSeq parses exactly a server suffix: ten digits, "-" and ten
// digits, or "-" and nine digits, within the int32 range.
func parseSeq(s string) (int64, bool) {
	switch {
	case len(s) == 10 && allDigits(s):
	case len(s) == 11 && s[0] == '-' && s[1] != '0' && allDigits(s[1:]):
		// Java pads to a width of ten including the sign, so a value
		// with ten digits never starts with 0.
	case len(s) == 10 && s[0] == '-' && allDigits(s[1:]):
	default:
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return v, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// SeqKey maps a sequence number to its place in creation order: the
// unsigned value of its int32, so wrapped (negative) sequences sort after
// the positive ones.
func SeqKey(seq int64) uint32 { return uint32(int32(seq)) }

// CompareSeq compares two sequence numbers in creation order (see SeqKey):
// -1 when a was created before b, +1 after, 0 when equal.
func CompareSeq(a, b int64) int { return cmp.Compare(SeqKey(a), SeqKey(b)) }

// Entry is a child name with the sequence number parsed from it and the
// marker that preceded the sequence.
type Entry struct {
	Name   string
	Seq    int64
	Marker string
}

// Parse returns the entry for name when it ends in one of markers followed
// by a sequence (the first marker that fits wins); with no markers, any
// name that ends in a sequence (see SeqOf) qualifies, and Marker is "".
func Parse(name string, markers ...string) (Entry, bool) {
	if len(markers) == 0 {
		s, ok := SeqOf(name)
		return Entry{Name: name, Seq: s}, ok
	}
	for _, m := range markers {
		if s, ok := SeqAfter(name, m); ok {
			return Entry{Name: name, Seq: s, Marker: m}, true
		}
	}
	return Entry{}, false
}

// SortBySeq returns the entries of the names that end in one of markers
// and a sequence (any sequence when no markers are given), in creation
// order (see SeqKey; equal sequences by name). Other names are left out.
// names is not modified.
func SortBySeq(names []string, markers ...string) []Entry {
	out := make([]Entry, 0, len(names))
	for _, n := range names {
		if e, ok := Parse(n, markers...); ok {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := CompareSeq(a.Seq, b.Seq); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
