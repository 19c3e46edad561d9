package bench

import (
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// replanProfiles is how many stile re-plans profileReplans records.
const replanProfiles = 10

// profileReplans records a CPU profile of this process (the server, the
// built-in agent and the store; not the CLI process) over replanProfiles
// steady re-plans through the CLI, and nothing else, into the file named by
// STILE_BENCH_REPLAN_PROFILE. -cpuprofile covers the whole run instead:
// the fixture, the converges and the in-process figures too.
func profileReplans(b *testing.B, replan func() time.Duration) {
	path := os.Getenv("STILE_BENCH_REPLAN_PROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Logf("STILE_BENCH_REPLAN_PROFILE: %v (drop -cpuprofile)", err)
		return
	}
	var took time.Duration
	for range replanProfiles {
		took += replan()
	}
	pprof.StopCPUProfile()
	b.Logf("CPU profile of %d steady re-plans (%.2f s each) written to %s", replanProfiles, took.Seconds()/replanProfiles, path)
}

// resetPeakRSS starts a new peak resident set for this process (Linux
// 4.0+: writing 5 to /proc/self/clear_refs resets VmHWM). It reports false
// where it cannot, and peakRSS then gives the process's lifetime peak.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns this process's peak resident set in MB: VmHWM from
// /proc/self/status, or getrusage's maxrss without /proc.
func peakRSS() float64 {
	if kb := vmHWM("/proc/self/status"); kb > 0 {
		return kb / 1024
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// vmHWM returns the VmHWM line of a /proc/PID/status file in kB, 0 when
// it cannot be read.
func vmHWM(path string) float64 {
	status, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb
		}
	}
	return 0
}

// versus holds one step's alternated runs of stile and ldap2pg.
type versus struct {
	step        string
	stile, peer []time.Duration
	stileMB     float64 // this process's peak RSS during the step (server, agent, store)
	peerMB      float64 // ldap2pg's largest maxrss during the step
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is stile's median over ldap2pg's: below 1 stile is faster.
func (v versus) ratio() float64 {
	return median(v.stile).Seconds() / median(v.peer).Seconds()
}

// report adds the step's ldap2pg figures to the sub-benchmark's metrics.
func (v versus) report(b *testing.B) {
	b.ReportMetric(median(v.peer).Seconds(), "ldap2pg-s/op")
	b.ReportMetric(v.ratio(), "vs-ldap2pg-x")
	b.ReportMetric(v.peerMB, "ldap2pg-peak-RSS-MB")
}

// versusTable renders the steps as a Markdown table: medians, the ratio,
// and every run in the order it ran.
func versusTable(vs []versus) string {
	var sb strings.Builder
	sb.WriteString("\n| step | stile (median) | ldap2pg (median) | stile / ldap2pg | stile runs | ldap2pg runs | peak RSS stile server / ldap2pg |\n|---|---|---|---|---|---|---|\n")
	runs := func(ds []time.Duration) string {
		parts := make([]string, len(ds))
		for i, d := range ds {
			parts[i] = fmt.Sprintf("%.2f", d.Seconds())
		}
		return strings.Join(parts, ", ")
	}
	for _, v := range vs {
		fmt.Fprintf(&sb, "| %s | %.2f s | %.2f s | %.2f× | %s | %s | %.0f / %.0f MB |\n", v.step,
			median(v.stile).Seconds(), median(v.peer).Seconds(), v.ratio(), runs(v.stile), runs(v.peer), v.stileMB, v.peerMB)
	}
	return sb.String()
}
