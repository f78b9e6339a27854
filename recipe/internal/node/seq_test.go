package node

import (
	"regexp"
	"slices"
	"testing"
)

func TestSeqOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		seq  int64
		ok   bool
	}{
		{"c25869e5204e4547929f0813ef2277cd__lock__0000000000", 0, true},
		{"x__lock__0000000042", 42, true},
		{"x__lock__2147483647", 2147483647, true},
		{"x__lock__-2147483648", -2147483648, true},
		{"x__lock__-1000000000", -1000000000, true},
		{"x__lock__-000000001", -1, true},
		{"x__lock__-999999999", -999999999, true},
		{"0000000007", 7, true},
		{"x-0000000001", 1, true}, // "-0" + 9 digits is never a negative suffix
		{"x__lock__2147483648", 0, false},
		{"x__lock__-2147483649", 0, false},
		{"x__lock__000000001", 0, false},
		{"lease_holder", 0, false},
		{"", 0, false},
		{"x__lock__00000000a1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, ok := SeqOf(tt.name)
			if seq != tt.seq || ok != tt.ok {
				t.Fatalf("SeqOf(%q) = %d, %v; want %d, %v", tt.name, seq, ok, tt.seq, tt.ok)
			}
		})
	}
}

func TestSeqAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, marker string
		seq          int64
		ok           bool
	}{
		{"_c_466e36e3-b5de-4b43-a1cc-ce2af09e6462-lock-0000000003", "lock-", 3, true},
		{"_c_466e36e3-b5de-4b43-a1cc-ce2af09e6462-lock-1000000000", "lock-", 1000000000, true},
		{"_c_466e36e3-b5de-4b43-a1cc-ce2af09e6462-lock--1000000000", "lock-", -1000000000, true},
		{"_c_466e36e3-b5de-4b43-a1cc-ce2af09e6462-lock--000000005", "lock-", -5, true},
		{"abc__rlock__0000000001", "__rlock__", 1, true},
		{"abc__rlock__0000000001", "__lock__", 0, false},
		{"abc__lock__0000000001", "__rlock__", 0, false},
		{"abc__lock__-2147483648", "__lock__", -2147483648, true},
		{"lock-0000000001", "lock-", 1, true},
		{"ock-0000000001", "lock-", 0, false},
		{"abc__lock__0000000001x", "__lock__", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.marker, func(t *testing.T) {
			seq, ok := SeqAfter(tt.name, tt.marker)
			if seq != tt.seq || ok != tt.ok {
				t.Fatalf("SeqAfter(%q, %q) = %d, %v; want %d, %v", tt.name, tt.marker, seq, ok, tt.seq, tt.ok)
			}
		})
	}
}

// TestSeqAfterMatchesKazoo checks that SeqAfter accepts a name exactly when
// Kazoo's contender pattern does, for the suffixes Kazoo can read.
func TestSeqAfterMatchesKazoo(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`(?:__lock__|__rlock__)(-?\d{10})$`)
	names := []string{
		"a__lock__0000000000", "a__rlock__0000000009", "a__lock__-2147483648",
		"a__lock__000000000", "lease_holder", "a__lock__0000000000a", "a__lock_0000000001",
	}
	for _, n := range names {
		_, ok := Parse(n, "__lock__", "__rlock__")
		if want := re.MatchString(n); ok != want {
			t.Errorf("Parse(%q) ok = %v, Kazoo's pattern says %v", n, ok, want)
		}
	}
}

func TestSortBySeq(t *testing.T) {
	t.Parallel()
	names := []string{
		"c__lock__-2147483647",
		"lease_holder",
		"a__lock__0000000002",
		"b__rlock__0000000001",
		"d__lock__2147483647",
		"e__lock__-000000001",
		"f__lock__-2147483648",
		"g__other__0000000000",
	}
	got := SortBySeq(names, "__lock__", "__rlock__")
	var order []string
	for _, e := range got {
		order = append(order, e.Name)
	}
	want := []string{
		"b__rlock__0000000001",
		"a__lock__0000000002",
		"d__lock__2147483647",
		"f__lock__-2147483648",
		"c__lock__-2147483647",
		"e__lock__-000000001",
	}
	if !slices.Equal(order, want) {
		t.Fatalf("SortBySeq = %q\nwant %q", order, want)
	}
	if got[0].Marker != "__rlock__" || got[1].Marker != "__lock__" {
		t.Fatalf("markers = %q, %q", got[0].Marker, got[1].Marker)
	}
	if names[0] != "c__lock__-2147483647" {
		t.Fatal("SortBySeq modified its input")
	}
	// Without markers every name that ends in a sequence counts.
	if all := SortBySeq(names); len(all) != 7 {
		t.Fatalf("SortBySeq without markers kept %d names, want 7", len(all))
	}
}

func TestCompareSeq(t *testing.T) {
	t.Parallel()
	seqs := []int64{0, 1, 2147483647, -2147483648, -2, -1}
	for i := range seqs {
		for j := range seqs {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareSeq(seqs[i], seqs[j]); got != want {
				t.Errorf("CompareSeq(%d, %d) = %d, want %d", seqs[i], seqs[j], got, want)
			}
		}
	}
}

func TestUUID(t *testing.T) {
	t.Parallel()
	hexRe := regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)
	seen := map[string]bool{}
	for range 100 {
		u := UUIDHex()
		if !hexRe.MatchString(u) {
			t.Fatalf("UUIDHex() = %q, not a uuid4 in hex", u)
		}
		if seen[u] {
			t.Fatalf("UUIDHex() repeated %q", u)
		}
		seen[u] = true
	}
	if u := UUID(); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) {
		t.Fatalf("UUID() = %q", u)
	}
}
