package keeper

import (
	"errors"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Version
	}{
		{"3.8.0", Version{3, 8, 0}},
		{"3.8.0-1", Version{3, 8, 0}},
		{"3.5.10-1", Version{3, 5, 10}},
		{"3.9.2-e454e8c7283100c7caec6dcae2bc82aaecb63023,", Version{3, 9, 2}},
		{"3.9.2-e454e8c7283100c7caec6dcae2bc82aaecb63023, built on 2024-02-12 20:59 UTC", Version{3, 9, 2}},
		{"3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC", Version{3, 8, 0}},
		{"3.5.5-SNAPSHOT", Version{3, 5, 5}},
		{"3.10.1+build7", Version{3, 10, 1}},
		{"  3.7.1  ", Version{3, 7, 1}},
		{"v3.6.4", Version{3, 6, 4}},
		{"3.6", Version{3, 6, 0}},
		{"3.6-beta", Version{3, 6, 0}},
		{"0.0.0", Version{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVersion(tt.in)
			if err != nil {
				t.Fatalf("ParseVersion(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseVersion(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, in := range []string{
		"", " ", "3", "3.", "3.8.", "3.8.0.1", "3.8x", "a.b.c", "-3.8.0", "3..0",
		"3.8.99999999", "99999999999999999999.1.1", "3.8.0/1", "v", "Zookeeper version: 3.8.0",
	} {
		t.Run(in, func(t *testing.T) {
			v, err := ParseVersion(in)
			if err == nil {
				t.Fatalf("ParseVersion(%q) = %v, want an error", in, v)
			}
			if !errors.Is(err, errBadVersion) {
				t.Fatalf("ParseVersion(%q) error %v does not wrap errBadVersion", in, err)
			}
		})
	}
}

func TestVersionCompare(t *testing.T) {
	v := Version{3, 6, 2}
	tests := []struct {
		major, minor, patch int
		want                bool
	}{
		{3, 6, 2, true},
		{3, 6, 1, true},
		{3, 5, 9, true},
		{2, 9, 9, true},
		{3, 6, 3, false},
		{3, 7, 0, false},
		{4, 0, 0, false},
	}
	for _, tt := range tests {
		if got := v.AtLeast(tt.major, tt.minor, tt.patch); got != tt.want {
			t.Errorf("%v.AtLeast(%d, %d, %d) = %v, want %v", v, tt.major, tt.minor, tt.patch, got, tt.want)
		}
	}
	if (Version{}).AtLeast(3, 5, 0) {
		t.Error("the zero Version must not be at least 3.5.0")
	}
	if !(Version{}).IsZero() || v.IsZero() {
		t.Error("IsZero is wrong")
	}
	if got := v.String(); got != "3.6.2" {
		t.Errorf("String() = %q", got)
	}
	if v.Compare(Version{3, 10, 0}) != -1 || (Version{3, 10, 0}).Compare(v) != 1 || v.Compare(v) != 0 {
		t.Error("Compare is wrong")
	}
	for _, s := range []string{"3.8.0", "3.10.12", "0.0.1"} {
		p, err := ParseVersion(s)
		if err != nil || p.String() != s {
			t.Errorf("round trip %q: %v, %v", s, p, err)
		}
	}
}
