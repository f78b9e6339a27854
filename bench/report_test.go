package main

import (
	"strings"
	"testing"
)

// withFigures runs f with an empty figure list, restoring the global one
// after.
func withFigures(t *testing.T, f func()) {
	saved, savedRep := figures, curRep
	figures = nil
	t.Cleanup(func() { figures, curRep = saved, savedRep })
	f()
}

// record adds one value per client per repetition to a figure.
func record(label string, keeper, raw []float64) *figure {
	var f *figure
	for i := range keeper {
		curRep = i
		f = fig(label, "µs/op").add(nameKeeper, keeper[i])
		if i < len(raw) && raw[i] > 0 {
			f.add(nameRaw, raw[i])
		}
	}
	return f.goal("≤ 1.1 × raw", atMost(1.1, 0, 0))
}

func TestJudgePairsRepetitions(t *testing.T) {
	withFigures(t, func() {
		// Keeper's worst (12) is above raw's best × 1.1 (11), so the
		// unpaired ends overlap; but in each repetition Keeper is within
		// 1.1 × raw of the same repetition: met.
		drift := record("drift", []float64{10.5, 12, 8.5, 9.5, 11}, []float64{10, 11, 8, 9, 10.5})
		if got := drift.judge(nameRaw, nameGoZK); got != "yes" {
			t.Errorf("drifting load, met in every repetition: %q, want yes", got)
		}
		if got := drift.ratioCell(nameKeeper, nameRaw); got != "1.06 (1.05–1.09)" {
			t.Errorf("ratio cell: %q", got)
		}
		missed := record("missed", []float64{13, 14, 12}, []float64{10, 11, 10})
		if got := missed.judge(nameRaw, nameGoZK); !strings.HasPrefix(got, "**no**") {
			t.Errorf("missed in every repetition: %q", got)
		}
		mixed := record("mixed", []float64{10, 14, 10}, []float64{10, 10, 10})
		if got := mixed.judge(nameRaw, nameGoZK); got != "not resolved: met in 2 of 3 repetitions (medians meet it)" {
			t.Errorf("mixed: %q", got)
		}
		// A repetition the reference lost (its run failed) is not paired
		// with another repetition's value.
		gap := record("gap", []float64{10, 10, 20}, []float64{10, 10, 0})
		if got := gap.judge(nameRaw, nameGoZK); got != "yes" {
			t.Errorf("a reference's lost repetition: %q, want yes", got)
		}
		if got := gap.ratioCell(nameKeeper, nameRaw); got != "1.00" {
			t.Errorf("ratio cell with a lost repetition: %q", got)
		}
	})
}
