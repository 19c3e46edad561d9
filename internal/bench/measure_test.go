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

// ratios are stile's run over ldap2pg's run of each alternation: the two
// ran back to back, under the same load of a shared machine.
func (v versus) ratios() []float64 {
	out := make([]float64, min(len(v.stile), len(v.peer)))
	for i := range out {
		out[i] = v.stile[i].Seconds() / v.peer[i].Seconds()
	}
	return out
}

// ratio is the median of ratios: below 1 stile is faster. Medians of each
// tool's runs drift apart when the load changes between alternations; the
// pairs do not.
func (v versus) ratio() float64 {
	r := v.ratios()
	if len(r) == 0 {
		return 0
	}
	slices.Sort(r)
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

// report adds the step's ldap2pg figures to the sub-benchmark's metrics.
func (v versus) report(b *testing.B) {
	b.ReportMetric(median(v.peer).Seconds(), "ldap2pg-s/op")
	b.ReportMetric(v.ratio(), "vs-ldap2pg-x")
	b.ReportMetric(v.peerMB, "ldap2pg-peak-RSS-MB")
}

// versusTable renders the steps as a Markdown table: medians, the ratio,
// and every run and pair's ratio in the order they ran.
func versusTable(vs []versus) string {
	var sb strings.Builder
	sb.WriteString("| step | stile (median) | ldap2pg (median) | stile / ldap2pg (median of pairs) | stile runs | ldap2pg runs | pairs | peak RSS stile server / ldap2pg |\n|---|---|---|---|---|---|---|---|\n")
	list := func(xs []float64, f string) string {
		parts := make([]string, len(xs))
		for i, x := range xs {
			parts[i] = fmt.Sprintf(f, x)
		}
		return strings.Join(parts, ", ")
	}
	secs := func(ds []time.Duration) []float64 {
		out := make([]float64, len(ds))
		for i, d := range ds {
			out[i] = d.Seconds()
		}
		return out
	}
	for _, v := range vs {
		fmt.Fprintf(&sb, "| %s | %.2f s | %.2f s | %.2f× | %s | %s | %s | %.0f / %.0f MB |\n", v.step,
			median(v.stile).Seconds(), median(v.peer).Seconds(), v.ratio(),
			list(secs(v.stile), "%.2f"), list(secs(v.peer), "%.2f"), list(v.ratios(), "%.2f×"), v.stileMB, v.peerMB)
	}
	return sb.String()
}
