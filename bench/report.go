package main

import (
	"fmt"
	"math"
	"strings"
)

// figure is one row of the results table: a value per client per
// repetition.
type figure struct {
	label string
	unit  string
	vals  map[string]series
	// reps holds, beside each value in vals, the repetition it was taken
	// in (curRep then), so that clients can be compared run by run.
	reps   map[string][]int
	target string
	// check judges the target from the medians; nil when the row has none.
	check func(keeper, raw, gozk float64) verdict
}

// verdict is a target's outcome at one set of values.
type verdict struct {
	known bool
	met   bool
	how   string // "by 12 %", shown when missed
}

var figures []*figure

// fig returns the figure with label, creating it (in report order).
func fig(label, unit string) *figure {
	for _, f := range figures {
		if f.label == label {
			return f
		}
	}
	f := &figure{label: label, unit: unit, vals: map[string]series{}, reps: map[string][]int{}}
	figures = append(figures, f)
	return f
}

// curRep is the repetition being run (0-based); the loops that run the
// measurements set it, add notes it beside each value.
var curRep int

// add records one repetition's value for a client.
func (f *figure) add(client string, v float64) *figure {
	f.vals[client] = append(f.vals[client], v)
	f.reps[client] = append(f.reps[client], curRep)
	return f
}

// at returns client's value from repetition rep (its n-th there, should a
// run add more than one), NaN when it has none.
func (f *figure) at(client string, rep, n int) float64 {
	for i, r := range f.reps[client] {
		if r != rep {
			continue
		}
		if n == 0 {
			return f.vals[client][i]
		}
		n--
	}
	return math.NaN()
}

// paired returns, for each of a's values, that value followed by the
// others' values from the same repetition (NaN where one has none):
// clients that ran back to back, under the same load on the machine.
func (f *figure) paired(a string, others ...string) [][]float64 {
	var out [][]float64
	seen := map[int]int{}
	for _, rep := range f.reps[a] {
		n := seen[rep]
		seen[rep]++
		p := []float64{f.at(a, rep, n)}
		for _, o := range others {
			p = append(p, f.at(o, rep, n))
		}
		out = append(out, p)
	}
	return out
}

// ratioCell renders a ÷ b: the median and spread of the ratios taken
// repetition by repetition (a's value over b's from the same repetition).
func (f *figure) ratioCell(a, b string) string {
	var rs series
	for _, p := range f.paired(a, b) {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) || p[1] == 0 {
			continue
		}
		rs = append(rs, p[0]/p[1])
	}
	if len(rs) == 0 {
		return "—"
	}
	med, lo, hi := rs.summary()
	if len(rs) == 1 || fmt.Sprintf("%.2f", lo) == fmt.Sprintf("%.2f", hi) {
		return fmt.Sprintf("%.2f", med)
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", med, lo, hi)
}

// goal sets the row's target text and check.
func (f *figure) goal(text string, check func(keeper, raw, gozk float64) verdict) *figure {
	f.target, f.check = text, check
	return f
}

// atMost is a check that the Keeper value is at most factor times the
// reference (raw, go-zookeeper, or both when both factors are positive)
// and at most abs when abs > 0.
func atMost(rawFactor, gozkFactor, abs float64) func(k, r, g float64) verdict {
	return func(k, r, g float64) verdict {
		worst := 0.0 // largest relative excess over a limit
		known := false
		over := func(limit float64) {
			if math.IsNaN(limit) || math.IsNaN(k) || limit <= 0 {
				return
			}
			known = true
			if e := k/limit - 1; e > worst {
				worst = e
			}
		}
		if rawFactor > 0 {
			over(rawFactor * r)
		}
		if gozkFactor > 0 {
			over(gozkFactor * g)
		}
		if abs > 0 {
			over(abs)
		}
		if !known {
			return verdict{}
		}
		if worst <= 0 {
			return verdict{known: true, met: true}
		}
		return verdict{known: true, how: fmt.Sprintf("%.1f %% over", worst*100)}
	}
}

// atLeast is a check that the Keeper value is at least factor times the
// reference (raw and/or go-zookeeper) and at least abs when abs > 0.
func atLeast(rawFactor, gozkFactor, abs float64) func(k, r, g float64) verdict {
	return func(k, r, g float64) verdict {
		worst := 0.0 // largest relative shortfall
		known := false
		under := func(limit float64) {
			if math.IsNaN(limit) || math.IsNaN(k) || limit <= 0 {
				return
			}
			known = true
			if e := 1 - k/limit; e > worst {
				worst = e
			}
		}
		if rawFactor > 0 {
			under(rawFactor * r)
		}
		if gozkFactor > 0 {
			under(gozkFactor * g)
		}
		if abs > 0 {
			under(abs)
		}
		if !known {
			return verdict{}
		}
		if worst <= 0 {
			return verdict{known: true, met: true}
		}
		return verdict{known: true, how: fmt.Sprintf("%.1f %% short", worst*100)}
	}
}

// judge renders the Met cell of f: its check repetition by repetition,
// Keeper's value against the references' from the same repetition (run
// back to back with it, so under the same load). A target is called met
// (or missed) only when every repetition meets (or misses) it; otherwise
// the repetitions disagree and the cell says so, with the medians'
// reading beside it. ref1 and ref2 name the columns the check compares
// Keeper with (raw and go-zookeeper, or raw and Kazoo).
func (f *figure) judge(ref1, ref2 string) string {
	if f.check == nil {
		return ""
	}
	mid := f.check(f.vals[nameKeeper].median(), f.vals[ref1].median(), f.vals[ref2].median())
	if !mid.known {
		return "—"
	}
	met, missed := 0, 0
	for _, p := range f.paired(nameKeeper, ref1, ref2) {
		switch v := f.check(p[0], p[1], p[2]); {
		case !v.known:
		case v.met:
			met++
		default:
			missed++
		}
	}
	switch {
	case missed == 0 && met > 0:
		return "yes"
	case met == 0 && missed > 0:
		return "**no**, " + mid.how
	case mid.met:
		return fmt.Sprintf("not resolved: met in %d of %d repetitions (medians meet it)", met, met+missed)
	default:
		return fmt.Sprintf("not resolved: met in %d of %d repetitions (medians %s)", met, met+missed, mid.how)
	}
}

// num formats a value with a precision that suits its size.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "—"
	case a >= 1000:
		return thousands(int64(math.Round(v)))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a == 0:
		return "0"
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// thousands writes n with thin spaces between groups of three digits.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// cell formats a client's series: median (min–max).
func cell(s series) string {
	if len(s) == 0 {
		return "—"
	}
	med, lo, hi := s.summary()
	if len(s) == 1 || lo == hi {
		return num(med)
	}
	return fmt.Sprintf("%s (%s–%s)", num(med), num(lo), num(hi))
}

// table renders every figure as one Markdown table.
func table() string {
	var b strings.Builder
	b.WriteString("| Measurement | Unit | raw ceiling | go-zookeeper | Keeper | Keeper ÷ raw | Keeper ÷ go-zk | go-zk ÷ raw | Target | Met |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, f := range figures {
		if f.isData() || f.isCurator() {
			continue
		}
		met := f.judge(nameRaw, nameGoZK)
		kr, gr := f.ratioCell(nameKeeper, nameRaw), f.ratioCell(nameGoZK, nameRaw)
		if f.unit == "allocs/op" || f.unit == "B/op" {
			kr, gr = "—", "—" // raw's row is the process's background, not a client's cost
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			f.label, f.unit, cell(f.vals[nameRaw]), cell(f.vals[nameGoZK]), cell(f.vals[nameKeeper]),
			kr, f.ratioCell(nameKeeper, nameGoZK), gr, f.target, met)
	}
	return b.String()
}
