package main

import (
	"fmt"
	"math"
	"strings"
)

// figure is one row of the results table: a value per client per
// repetition.
type figure struct {
	label  string
	unit   string
	vals   map[string]series
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
	f := &figure{label: label, unit: unit, vals: map[string]series{}}
	figures = append(figures, f)
	return f
}

// add records one repetition's value for a client.
func (f *figure) add(client string, v float64) *figure {
	f.vals[client] = append(f.vals[client], v)
	return f
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

// judge renders the Met cell of f: its check at the medians, and whether
// the spreads resolve it. A target is called met (or missed) only when it
// is met (or missed) at both ends of the spreads: with Keeper's worst
// repetition against the references' best, and with Keeper's best against
// their worst. Otherwise the spreads overlap the limit and the cell says
// so, with the medians' reading beside it. ref1 and ref2 name the columns
// the check compares Keeper with (raw and go-zookeeper, or raw and Kazoo).
func (f *figure) judge(ref1, ref2 string) string {
	if f.check == nil {
		return ""
	}
	k, kLo, kHi := f.vals[nameKeeper].summary()
	r, rLo, rHi := f.vals[ref1].summary()
	g, gLo, gHi := f.vals[ref2].summary()
	mid := f.check(k, r, g)
	if !mid.known {
		return "—"
	}
	a, b := f.check(kHi, rLo, gLo), f.check(kLo, rHi, gHi)
	switch {
	case a.met && b.met:
		return "yes"
	case !a.met && !b.met:
		return "**no**, " + mid.how
	case mid.met:
		return "not resolved: spreads overlap (medians meet it)"
	default:
		return "not resolved: spreads overlap (medians " + mid.how + ")"
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

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
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
		r, g, k := f.vals[nameRaw].median(), f.vals[nameGoZK].median(), f.vals[nameKeeper].median()
		met := f.judge(nameRaw, nameGoZK)
		kr, gr := ratio(k, r), ratio(g, r)
		if f.unit == "allocs/op" || f.unit == "B/op" {
			kr, gr = "—", "—" // raw's row is the process's background, not a client's cost
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			f.label, f.unit, cell(f.vals[nameRaw]), cell(f.vals[nameGoZK]), cell(f.vals[nameKeeper]),
			kr, ratio(k, g), gr, f.target, met)
	}
	return b.String()
}
