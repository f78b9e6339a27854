package main

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// completion is what a completer proposes for the word before the cursor.
type completion struct {
	start   int      // index (in runes) where the completed word starts
	words   []string // candidate replacements of line[start:cursor]
	display []string // how to list each candidate (the last path component)
}

// editor is a small line editor for a terminal in raw mode: cursor movement,
// history, tab completion and the usual Emacs keys.
type editor struct {
	out      io.Writer // the terminal; raw mode, so lines end in \r\n
	keys     *keyReader
	width    func() int
	prompt   func() string
	complete func(line []rune, pos int) completion
	wake     <-chan struct{} // redraw the line (the prompt changed)
	// notices returns messages to print above the line (a lost session),
	// when woken; nil for none.
	notices func() []string

	history []string
	line    []rune
	pos     int // cursor, in runes
	off     int // first rune shown, when the line is wider than the terminal
	hist    int // index in history while browsing; len(history) when not
	saved   []rune
}

// errInterruptLine is returned by readLine for Ctrl-C: the line is discarded.
var errInterruptLine = errors.New("interrupted line")

// Keys.
const (
	keyCtrlA     = 1
	keyCtrlB     = 2
	keyCtrlC     = 3
	keyCtrlD     = 4
	keyCtrlE     = 5
	keyCtrlF     = 6
	keyCtrlH     = 8
	keyTab       = 9
	keyCtrlJ     = 10
	keyCtrlK     = 11
	keyCtrlL     = 12
	keyEnter     = 13
	keyCtrlN     = 14
	keyCtrlP     = 16
	keyCtrlU     = 21
	keyCtrlW     = 23
	keyEscape    = 27
	keyBackspace = 127
)

// readLine reads one line. It returns io.EOF for Ctrl-D on an empty line and
// errInterruptLine for Ctrl-C.
func (e *editor) readLine(ctx context.Context) (string, error) {
	e.line, e.pos, e.off, e.hist, e.saved = nil, 0, 0, len(e.history), nil
	e.showNotices()
	e.refresh()
	var pending []byte // an incomplete UTF-8 sequence
	for {
		b, woke, err := e.keys.next(ctx, e.wake)
		if err != nil {
			return "", err
		}
		if woke {
			e.showNotices()
			e.refresh()
			continue
		}
		if len(pending) > 0 || b >= 0x80 {
			pending = append(pending, b)
			if !utf8.FullRune(pending) {
				continue
			}
			r, _ := utf8.DecodeRune(pending)
			pending = pending[:0]
			if r != utf8.RuneError && (unicode.IsPrint(r) || unicode.Is(unicode.Mn, r)) {
				e.insert(r)
			}
			if !e.keys.buffered() {
				e.refresh()
			}
			continue
		}
		switch b {
		case keyEnter, keyCtrlJ:
			e.pos = len(e.line)
			e.refresh()
			io.WriteString(e.out, "\r\n")
			return string(e.line), nil
		case keyCtrlC:
			io.WriteString(e.out, "^C\r\n")
			return "", errInterruptLine
		case keyCtrlD:
			if len(e.line) == 0 {
				io.WriteString(e.out, "\r\n")
				return "", io.EOF
			}
			e.deleteAt(e.pos)
		case keyBackspace, keyCtrlH:
			if e.pos > 0 {
				e.pos--
				e.deleteAt(e.pos)
			}
		case keyCtrlA:
			e.pos = 0
		case keyCtrlE:
			e.pos = len(e.line)
		case keyCtrlB:
			e.pos = max(e.pos-1, 0)
		case keyCtrlF:
			e.pos = min(e.pos+1, len(e.line))
		case keyCtrlK:
			e.line = e.line[:e.pos]
		case keyCtrlU:
			e.line = append([]rune(nil), e.line[e.pos:]...)
			e.pos = 0
		case keyCtrlW:
			start := e.pos
			for start > 0 && e.line[start-1] == ' ' {
				start--
			}
			for start > 0 && e.line[start-1] != ' ' {
				start--
			}
			e.line = append(e.line[:start], e.line[e.pos:]...)
			e.pos = start
		case keyCtrlL:
			io.WriteString(e.out, "\x1b[H\x1b[2J")
		case keyCtrlP:
			e.historyMove(-1)
		case keyCtrlN:
			e.historyMove(1)
		case keyTab:
			e.tab()
		case keyEscape:
			if err := e.escape(ctx); err != nil {
				return "", err
			}
		default:
			if b >= 0x20 && b < 0x7f {
				e.insert(rune(b))
			}
		}
		if !e.keys.buffered() {
			e.refresh()
		}
	}
}

// escape handles an escape sequence: arrows, Home, End, Delete.
func (e *editor) escape(ctx context.Context) error {
	b, _, err := e.keys.next(ctx, nil)
	if err != nil {
		return err
	}
	if b != '[' && b != 'O' {
		return nil // Alt+key: ignored
	}
	var params []byte
	for {
		c, _, err := e.keys.next(ctx, nil)
		if err != nil {
			return err
		}
		if c >= 0x40 && c <= 0x7e {
			switch c {
			case 'A':
				e.historyMove(-1)
			case 'B':
				e.historyMove(1)
			case 'C':
				e.pos = min(e.pos+1, len(e.line))
			case 'D':
				e.pos = max(e.pos-1, 0)
			case 'H':
				e.pos = 0
			case 'F':
				e.pos = len(e.line)
			case '~':
				switch string(params) {
				case "1", "7":
					e.pos = 0
				case "4", "8":
					e.pos = len(e.line)
				case "3":
					e.deleteAt(e.pos)
				}
			}
			return nil
		}
		params = append(params, c)
		if len(params) > 16 {
			return nil
		}
	}
}

// showNotices prints the pending notices on lines of their own, above the
// line being edited (which refresh draws again).
func (e *editor) showNotices() {
	if e.notices == nil {
		return
	}
	for _, n := range e.notices() {
		io.WriteString(e.out, "\r\x1b[K"+n+"\r\n")
	}
}

func (e *editor) insert(r rune) {
	e.line = append(e.line, 0)
	copy(e.line[e.pos+1:], e.line[e.pos:])
	e.line[e.pos] = r
	e.pos++
}

func (e *editor) deleteAt(i int) {
	if i < len(e.line) {
		e.line = append(e.line[:i], e.line[i+1:]...)
	}
}

// historyMove shows an older (-1) or newer (+1) history entry.
func (e *editor) historyMove(d int) {
	n := e.hist + d
	if n < 0 || n > len(e.history) {
		return
	}
	if e.hist == len(e.history) {
		e.saved = append([]rune(nil), e.line...)
	}
	e.hist = n
	if n == len(e.history) {
		e.line = e.saved
	} else {
		e.line = []rune(e.history[n])
	}
	e.pos = len(e.line)
}

// tab completes the word before the cursor: a single candidate replaces it,
// several are completed to their common prefix or else listed.
func (e *editor) tab() {
	if e.complete == nil {
		return
	}
	c := e.complete(e.line, e.pos)
	if len(c.words) == 0 {
		io.WriteString(e.out, "\a")
		return
	}
	word := string(e.line[c.start:e.pos])
	repl := c.words[0]
	for _, w := range c.words[1:] {
		repl = commonPrefix(repl, w)
	}
	if len(c.words) > 1 && utf8.RuneCountInString(repl) <= utf8.RuneCountInString(word) {
		e.list(c.display)
		return
	}
	rest := append([]rune(repl), e.line[e.pos:]...)
	e.line = append(e.line[:c.start:c.start], rest...)
	e.pos = c.start + utf8.RuneCountInString(repl)
}

// list prints completion candidates in columns under the line.
func (e *editor) list(items []string) {
	width := 0
	for _, it := range items {
		width = max(width, strWidth(it)+2)
	}
	cols := max(e.width()/max(width, 1), 1)
	var sb strings.Builder
	sb.WriteString("\r\n")
	for i, it := range items {
		sb.WriteString(it)
		if (i+1)%cols == 0 || i == len(items)-1 {
			sb.WriteString("\r\n")
		} else {
			sb.WriteString(strings.Repeat(" ", width-strWidth(it)))
		}
	}
	io.WriteString(e.out, sb.String())
}

// commonPrefix returns the longest common prefix of a and b, on rune
// boundaries.
func commonPrefix(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	for i > 0 && i < len(a) && !utf8.RuneStart(a[i]) {
		i--
	}
	return a[:i]
}

// refresh redraws the prompt and the line, scrolling it horizontally when it
// is wider than the terminal. Widths are display columns: a CJK character
// takes two, a combining mark none.
func (e *editor) refresh() {
	prompt := []rune(e.prompt())
	avail := e.width() - runesWidth(prompt) - 1
	if avail < 10 {
		prompt = prompt[max(len(prompt)-(e.width()/2), 0):]
		avail = max(e.width()-runesWidth(prompt)-1, 2)
	}
	if e.pos < e.off {
		e.off = e.pos
	}
	for e.off < e.pos && runesWidth(e.line[e.off:e.pos]) > avail {
		e.off++
	}
	end := e.off
	for end < len(e.line) && runesWidth(e.line[e.off:end+1]) <= avail {
		end++
	}
	var sb strings.Builder
	sb.WriteString("\r")
	sb.WriteString(string(prompt))
	sb.WriteString(string(e.line[e.off:end]))
	sb.WriteString("\x1b[K\r")
	if col := runesWidth(prompt) + runesWidth(e.line[e.off:e.pos]); col > 0 {
		sb.WriteString("\x1b[" + strconv.Itoa(col) + "C")
	}
	io.WriteString(e.out, sb.String())
}

// strWidth returns the display width of s on a terminal.
func strWidth(s string) int { return runesWidth([]rune(s)) }

// runesWidth returns the display width of rs on a terminal.
func runesWidth(rs []rune) int {
	w := 0
	for _, r := range rs {
		w += runeWidth(r)
	}
	return w
}

// runeWidth returns how many terminal columns r takes: 0 for combining
// marks and format characters, 2 for East Asian wide and fullwidth
// characters (and emoji), 1 otherwise.
func runeWidth(r rune) int {
	switch {
	case r == 0 || unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	case r < 0x1100:
		return 1
	}
	for _, rg := range wideRanges {
		if r >= rg[0] && r <= rg[1] {
			return 2
		}
	}
	return 1
}

// wideRanges are the blocks of East Asian wide and fullwidth characters
// (Unicode's EastAsianWidth W and F) and of emoji, which terminals draw two
// columns wide.
var wideRanges = [][2]rune{
	{0x1100, 0x115f},   // Hangul Jamo initials
	{0x231a, 0x231b},   // watch, hourglass
	{0x2329, 0x232a},   // angle brackets
	{0x23e9, 0x23ec},   // media controls
	{0x23f0, 0x23f0},   // alarm clock
	{0x23f3, 0x23f3},   // hourglass
	{0x25fd, 0x25fe},   // small squares
	{0x2614, 0x2615},   // umbrella, hot beverage
	{0x2648, 0x2653},   // zodiac
	{0x267f, 0x267f},   // wheelchair
	{0x2693, 0x2693},   // anchor
	{0x26a1, 0x26a1},   // high voltage
	{0x26aa, 0x26ab},   // circles
	{0x26bd, 0x26be},   // balls
	{0x26c4, 0x26c5},   // snowman, sun
	{0x26ce, 0x26ce},   // ophiuchus
	{0x26d4, 0x26d4},   // no entry
	{0x26ea, 0x26ea},   // church
	{0x26f2, 0x26f3},   // fountain, golf
	{0x26f5, 0x26f5},   // sailboat
	{0x26fa, 0x26fa},   // tent
	{0x26fd, 0x26fd},   // fuel pump
	{0x2705, 0x2705},   // check mark
	{0x270a, 0x270b},   // fists
	{0x2728, 0x2728},   // sparkles
	{0x274c, 0x274c},   // cross mark
	{0x274e, 0x274e},   // cross mark
	{0x2753, 0x2755},   // question marks
	{0x2757, 0x2757},   // exclamation mark
	{0x2795, 0x2797},   // plus, minus, divide
	{0x27b0, 0x27b0},   // curly loop
	{0x27bf, 0x27bf},   // double curly loop
	{0x2b1b, 0x2b1c},   // large squares
	{0x2b50, 0x2b50},   // star
	{0x2b55, 0x2b55},   // circle
	{0x2e80, 0x303e},   // CJK radicals, Kangxi, CJK symbols and punctuation
	{0x3041, 0x33ff},   // Hiragana, Katakana, Bopomofo, Hangul compatibility, CJK compatibility
	{0x3400, 0x4dbf},   // CJK extension A
	{0x4e00, 0x9fff},   // CJK unified ideographs
	{0xa000, 0xa4cf},   // Yi
	{0xa960, 0xa97f},   // Hangul Jamo extended A
	{0xac00, 0xd7a3},   // Hangul syllables
	{0xf900, 0xfaff},   // CJK compatibility ideographs
	{0xfe10, 0xfe19},   // vertical forms
	{0xfe30, 0xfe6f},   // CJK compatibility forms, small forms
	{0xff00, 0xff60},   // fullwidth forms
	{0xffe0, 0xffe6},   // fullwidth signs
	{0x16fe0, 0x16fe4}, // ideographic symbols
	{0x17000, 0x18cff}, // Tangut
	{0x1b000, 0x1b2ff}, // Kana supplement and extensions, Nushu
	{0x1f004, 0x1f004}, // mahjong tile
	{0x1f0cf, 0x1f0cf}, // playing card
	{0x1f18e, 0x1f18e}, // AB button
	{0x1f191, 0x1f19a}, // squared words
	{0x1f200, 0x1f2ff}, // enclosed ideographic supplement
	{0x1f300, 0x1f64f}, // pictographs, emoticons
	{0x1f680, 0x1f6ff}, // transport and map
	{0x1f7e0, 0x1f7eb}, // coloured circles and squares
	{0x1f90c, 0x1f9ff}, // supplemental symbols and pictographs
	{0x1fa70, 0x1faff}, // symbols and pictographs extended A
	{0x20000, 0x2fffd}, // CJK extensions B to F
	{0x30000, 0x3fffd}, // CJK extension G and beyond
}
