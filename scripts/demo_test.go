// Package scripts_test runs the scripts people run first (make demo) as
// tests, so that what a newcomer meets is what CI checked.
package scripts_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needDemo skips the demo's tests where they cannot run (not root: the
// demo's PostgreSQL runs as the postgres OS user), unless CI is set.
func needDemo(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the demo runs as root (its PostgreSQL runs as the postgres OS user): CI must run it")
	}
	t.Skip("the demo runs as root")
}

// demoProcesses lists the processes whose command line names a demo work
// dir (/tmp/stile-demo.*): its PostgreSQL, stile server and stile connect.
func demoProcesses(t *testing.T) map[int]string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		line := string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		if strings.Contains(line, "/stile-demo.") {
			out[pid] = line
		}
	}
	return out
}

// runDemo runs scripts/demo.sh with env added, and returns its output, the
// processes of a demo that it left running (stopping them, so that a
// failed test leaks nothing either) and how it ended.
func runDemo(t *testing.T, env ...string) (string, []string, error) {
	t.Helper()
	before := demoProcesses(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "demo.sh")
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var left []string
	for pid, line := range demoProcesses(t) {
		if _, old := before[pid]; !old {
			left = append(left, strconv.Itoa(pid)+" "+line)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	slices.Sort(left)
	return out.String(), left, err
}

// TestDemo: make demo's script runs to its end, says where its server and
// stile connect listen (ports the kernel chose), and leaves no process and
// no work dir behind.
func TestDemo(t *testing.T) {
	needDemo(t)
	out, left, err := runDemo(t)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	if len(left) > 0 {
		t.Errorf("the demo left %d process(es) running:\n%s", len(left), strings.Join(left, "\n"))
	}
	for _, want := range []string{`stile: serving on http://127\.0\.0\.1:\d+ `, `connect to stile_analytics_ro_\w+ at 127\.0\.0\.1:\d+ `, `==> Done`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the demo's output has no %q:\n%s", want, out)
		}
	}
	if m := regexp.MustCompile(`work dir (\S+)`).FindStringSubmatch(out); m == nil {
		t.Errorf("the demo does not say its work dir:\n%s", out)
	} else if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the demo kept its work dir %s after a run that succeeded (%v)", m[1], err)
	}
}

// TestDemoSaysFailedStep: when a step fails, the demo says which, keeps its
// logs, and still leaves no process behind.
func TestDemoSaysFailedStep(t *testing.T) {
	needDemo(t)
	out, left, err := runDemo(t, "PG_VERSION=99")
	if err == nil {
		t.Fatalf("the demo succeeded without PostgreSQL 99:\n%s", out)
	}
	if len(left) > 0 {
		t.Errorf("the failed demo left %d process(es) running:\n%s", len(left), strings.Join(left, "\n"))
	}
	m := regexp.MustCompile(`demo failed at step "Start a throwaway PostgreSQL" \(exit \d+\); its logs are in (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo does not say which step failed:\n%s", out)
	}
	if _, err := os.Stat(m[1]); err != nil {
		t.Errorf("the failed demo did not keep its logs: %v", err)
	}
	os.RemoveAll(m[1])
}
