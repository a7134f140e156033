package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process figures read from /proc (Linux): what a broker running as its
// own process costs in memory and CPU. Every reader returns zero values
// and an error where /proc is missing, so reports just leave them out.

// MemSample is one reading of a process's memory, in bytes.
type MemSample struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the highest VmRSS so far
}

// ReadMem reads VmRSS and VmHWM from /proc/<pid>/status.
func ReadMem(pid int) (MemSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return MemSample{}, err
	}
	var m MemSample
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.Peak
		default:
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				*dst = n << 10
			}
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, nil
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// ProcCPU is the user+system CPU time process pid has used so far.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from
	// after its closing parenthesis, where field 3 (state) starts.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTick, nil
}

// selfCPU is the user+system CPU time of this process (every thread).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures the CPU a phase used in this process (the clients, and
// in-process brokers) and in the broker processes (pids), summed.
type cpuMeter struct {
	pids          []int
	self0, broker time.Duration
	ok            bool
}

func startCPU(pids []int) cpuMeter {
	m := cpuMeter{pids: pids, self0: selfCPU()}
	m.broker, m.ok = procsCPU(pids)
	return m
}

// procsCPU sums ProcCPU over pids; false when there are none or one could
// not be read.
func procsCPU(pids []int) (time.Duration, bool) {
	var sum time.Duration
	for _, pid := range pids {
		d, err := ProcCPU(pid)
		if err != nil {
			return 0, false
		}
		sum += d
	}
	return sum, len(pids) > 0
}

// stop returns the CPU time used since start: by this process, and by the
// broker processes (-1 when there are none or they could not be read).
func (m cpuMeter) stop() (client, broker time.Duration) {
	client, broker = selfCPU()-m.self0, -1
	if m.ok {
		if b, ok := procsCPU(m.pids); ok {
			broker = b - m.broker
		}
	}
	return client, broker
}
