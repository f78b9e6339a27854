package main

import (
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keeper-go/keeper/internal/sock"
)

// series holds one figure's value from each repetition.
type series []float64

// summary returns the median, minimum and maximum; NaN when empty.
func (s series) summary() (med, lo, hi float64) {
	if len(s) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	v := slices.Clone(s)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		med = v[n/2]
	} else {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return med, v[0], v[n-1]
}

func (s series) median() float64 {
	m, _, _ := s.summary()
	return m
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

// meter measures one timed part: wall time, this process's CPU time, the
// server processes' CPU time and this process's heap allocations.
type meter struct {
	pids   []int
	wall   time.Time
	cpu    time.Duration
	srv    time.Duration
	allocs uint64
	bytes  uint64
	io     ioCounts // the clients' socket reads and writes
	csw    int64    // this process's voluntary context switches
	gcs    uint32   // garbage collections completed
}

// result is what a meter measured.
type result struct {
	wall, cpu, srv time.Duration
	allocs, bytes  uint64
	io             ioCounts
	csw            int64  // voluntary context switches: a thread went to sleep
	gcs            uint32 // garbage collections completed
}

// ioCounts count the socket reads and writes of the measured clients.
type ioCounts struct{ reads, writes int64 }

// sockReads and sockWrites count the Read and Write calls on the
// go-zookeeper and raw clients' connections (see countingConn); Keeper's
// plain TCP connections count theirs in internal/sock.
var sockReads, sockWrites atomic.Int64

func procIO() ioCounts {
	r, w := sock.Calls()
	return ioCounts{reads: sockReads.Load() + r, writes: sockWrites.Load() + w}
}

// countingConn counts its Read and Write calls: each is one system call
// unless it would block.
type countingConn struct{ net.Conn }

func (c countingConn) Read(b []byte) (int, error) {
	sockReads.Add(1)
	return c.Conn.Read(b)
}

func (c countingConn) Write(b []byte) (int, error) {
	sockWrites.Add(1)
	return c.Conn.Write(b)
}

// startMeter starts measuring; pids are the server processes.
func startMeter(pids ...int) *meter {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := &meter{pids: pids, allocs: ms.Mallocs, bytes: ms.TotalAlloc, gcs: ms.NumGC}
	m.srv = serverCPU(pids)
	m.io = procIO()
	m.csw = contextSwitches()
	m.cpu = processCPU()
	m.wall = time.Now()
	return m
}

// stop ends the measurement.
func (m *meter) stop() result {
	wall := time.Since(m.wall)
	cpu := processCPU() - m.cpu
	csw := contextSwitches() - m.csw
	io := procIO()
	srv := serverCPU(m.pids) - m.srv
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return result{wall: wall, cpu: cpu, srv: srv, allocs: ms.Mallocs - m.allocs, bytes: ms.TotalAlloc - m.bytes,
		io: ioCounts{reads: io.reads - m.io.reads, writes: io.writes - m.io.writes}, csw: csw, gcs: ms.NumGC - m.gcs}
}

// processCPU returns this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// contextSwitches returns this process's voluntary context switches: how
// often one of its threads blocked (a futex wait, an idle epoll wait).
func contextSwitches() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Nvcsw
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// serverCPU returns the summed user+system CPU time of the processes.
func serverCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		d, err := procCPU(pid)
		if err == nil {
			total += d
		}
	}
	return total
}

// procCPU reads utime+stime of pid from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat line for pid %d", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat line for pid %d", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad stat times for pid %d", pid)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// perOp returns d per op in microseconds.
func perOp(d time.Duration, ops int) float64 {
	if ops == 0 {
		return math.NaN()
	}
	return float64(d) / float64(time.Microsecond) / float64(ops)
}

// rate returns ops per second.
func rate(ops int, d time.Duration) float64 {
	if d <= 0 {
		return math.NaN()
	}
	return float64(ops) / d.Seconds()
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
