package keeper

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a ZooKeeper server version such as 3.8.0. Build suffixes
// ("-1", "-SNAPSHOT", a git commit id) are dropped. The zero Version means
// "unknown".
type Version struct {
	Major, Minor, Patch int
}

// errBadVersion is the cause of every ParseVersion error.
var errBadVersion = errors.New("not a version of the form major.minor.patch")

// maxVersionPart bounds each number of a version; ZooKeeper's are small and
// the bound keeps the arithmetic in Compare trivially safe.
const maxVersionPart = 1 << 20

// ParseVersion parses a ZooKeeper version string. It accepts the bare form
// "3.8.0", the form "3.6" (patch 0), and any suffix that begins with '-', '+',
// '_', ',' or a space, so that the version as srvr and mntr print it parses
// too: "3.8.0-1", "3.5.10-1", "3.9.2-e454e8c7283100c7caec6dcae2bc82aaecb63023,
// built on 2024-02-12 20:59 UTC". Leading and trailing white space and a
// leading "v" are ignored.
func ParseVersion(s string) (Version, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "v")
	var parts [3]int
	n := 0
	for n < 3 {
		i := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == 0 || i > 7 {
			return Version{}, fmt.Errorf("keeper: parse version %q: %w", s, errBadVersion)
		}
		v, err := strconv.Atoi(t[:i])
		if err != nil || v > maxVersionPart {
			return Version{}, fmt.Errorf("keeper: parse version %q: %w", s, errBadVersion)
		}
		parts[n] = v
		n++
		t = t[i:]
		if n < 3 && strings.HasPrefix(t, ".") {
			t = t[1:]
			continue
		}
		break
	}
	if n < 2 || (t != "" && !strings.ContainsRune("-+_, \t", rune(t[0]))) {
		return Version{}, fmt.Errorf("keeper: parse version %q: %w", s, errBadVersion)
	}
	return Version{Major: parts[0], Minor: parts[1], Patch: parts[2]}, nil
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	switch {
	case v.Major != w.Major:
		return cmpInt(v.Major, w.Major)
	case v.Minor != w.Minor:
		return cmpInt(v.Minor, w.Minor)
	default:
		return cmpInt(v.Patch, w.Patch)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// AtLeast reports whether v is major.minor.patch or newer. The zero Version
// (unknown) is at least nothing but 0.0.0.
func (v Version) AtLeast(major, minor, patch int) bool {
	return v.Compare(Version{Major: major, Minor: minor, Patch: patch}) >= 0
}

// String returns the version as "major.minor.patch".
func (v Version) String() string {
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) + "." + strconv.Itoa(v.Patch)
}

// IsZero reports whether v is the zero Version, which stands for an unknown
// server version.
func (v Version) IsZero() bool {
	return v == Version{}
}
