package scripts

import (
	"debug/elf"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebianPackage runs make deb, installs the package with dpkg, and
// checks what it leaves: the binary runs; the stile user, its data
// directory and its key and token (0600, owned by stile) exist; systemd
// accepts the units; the server starts as stile from the packaged config
// and answers; the backup unit's commands copy its store and prune old
// copies; installing again keeps the key; dpkg -r removes the binary and
// leaves the data, the key and the token; the arm64 package holds an arm64
// binary. It needs root, as CI has; it refuses to touch a machine where
// stile is installed already.
func TestDebianPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dpkg -i needs root (CI runs as root)")
	}
	for _, p := range []string{"/usr/bin/stile", "/etc/stile", "/var/lib/stile", "/var/backups/stile"} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s exists: this test installs and removes stile, and will not on a machine that has it", p)
		}
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("make", "-C", "..", "deb")
	debs, _ := filepath.Glob("../build/stile_*_amd64.deb")
	if len(debs) != 1 {
		t.Fatalf("make deb made %v", debs)
	}
	t.Cleanup(func() {
		exec.Command("dpkg", "--purge", "stile").Run()
		os.RemoveAll("/etc/stile")
		os.RemoveAll("/var/lib/stile")
		os.RemoveAll("/var/backups/stile")
		exec.Command("userdel", "stile").Run()
		exec.Command("groupdel", "stile").Run()
	})
	run("dpkg", "-i", debs[0])

	if out := run("/usr/bin/stile", "version"); !strings.HasPrefix(out, "stile ") {
		t.Errorf("stile version: %s", out)
	}
	for _, page := range []string{"stile.1", "stile-server.1", "stile-backup.1"} {
		if _, err := os.Stat("/usr/share/man/man1/" + page); err != nil {
			t.Errorf("the man page %s is not installed: %v", page, err)
		}
	}
	for _, f := range []string{"/etc/stile/secret.key", "/etc/stile/admin.token"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o600 || st.Uid == 0 {
			t.Errorf("%s: mode %v, owner %d; want 0600 and the stile user", f, fi.Mode().Perm(), st.Uid)
		}
	}
	if fi, err := os.Stat("/var/lib/stile"); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("/var/lib/stile: %v %v", fi, err)
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		run("systemd-analyze", "verify", "/lib/systemd/system/stile-server.service", "/lib/systemd/system/stile-agent.service",
			"/lib/systemd/system/stile-backup.service", "/lib/systemd/system/stile-backup.timer")
	}

	// The server, as its unit runs it: user stile, the packaged config.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	u, err := user.Lookup("stile")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	srv := exec.Command("/usr/bin/stile", "server", "--config", "/etc/stile/server.yaml", "--listen", addr)
	stile := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	srv.SysProcAttr = stile
	srv.Dir = "/"
	srv.WaitDelay = 10 * time.Second
	var log strings.Builder
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	up := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !up; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			up = resp.StatusCode == http.StatusOK
		}
	}
	srv.Process.Signal(os.Interrupt)
	srv.Wait()
	if !up {
		t.Fatalf("the packaged server did not answer on %s:\n%s", addr, log.String())
	}
	if !strings.Contains(log.String(), "admin token in /etc/stile/admin.token") {
		t.Errorf("the server did not take its token from /etc/stile:\n%s", log.String())
	}
	if _, err := os.Stat("/var/lib/stile/stile.db"); err != nil {
		t.Errorf("no store in /var/lib/stile: %v", err)
	}
	backupUnit(t, run, stile)

	// Installed again (as an upgrade is): the key and token stay the same.
	key, _ := os.ReadFile("/etc/stile/secret.key")
	run("dpkg", "-i", debs[0])
	if again, _ := os.ReadFile("/etc/stile/secret.key"); len(key) == 0 || string(again) != string(key) {
		t.Error("installing again replaced the data key")
	}

	run("dpkg", "-r", "stile")
	if _, err := os.Stat("/usr/bin/stile"); err == nil {
		t.Error("dpkg -r left the binary")
	}
	for _, f := range []string{"/var/lib/stile/stile.db", "/etc/stile/secret.key", "/etc/stile/admin.token"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("dpkg -r removed %s: %v", f, err)
		}
	}

	// For arm64 hosts: the same package around an arm64 binary (this
	// machine cannot install it; dpkg-deb reads it).
	run("make", "-C", "..", "deb", "ARCH=arm64")
	arm, _ := filepath.Glob("../build/stile_*_arm64.deb")
	if len(arm) != 1 {
		t.Fatalf("make deb ARCH=arm64 made %v", arm)
	}
	if got := strings.TrimSpace(run("dpkg-deb", "--field", arm[0], "Architecture")); got != "arm64" {
		t.Errorf("the arm64 package's Architecture is %q", got)
	}
	unpacked := t.TempDir()
	run("dpkg-deb", "--extract", arm[0], unpacked)
	f, err := elf.Open(filepath.Join(unpacked, "usr/bin/stile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("the arm64 package's binary is built for %s", f.Machine)
	}
}

// backupUnit runs stile-backup.service's commands as systemd would (its
// Environment, ExecStart then ExecStartPost, through sh, as the stile
// user) on the store the packaged server made: a copy appears in
// /var/backups/stile and restores with the installed key; a copy older
// than the days kept is deleted, a newer one kept.
func backupUnit(t *testing.T, run func(string, ...string) string, as *syscall.SysProcAttr) {
	t.Helper()
	unit, err := os.ReadFile("/lib/systemd/system/stile-backup.service")
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	var start, post string
	for _, line := range strings.Split(string(unit), "\n") {
		key, value, _ := strings.Cut(line, "=")
		// systemd reads %% as %; sh -c '…' is the one quoting used.
		value = strings.ReplaceAll(value, "%%", "%")
		switch key {
		case "Environment":
			env = append(env, strings.Fields(value)...)
		case "ExecStart", "ExecStartPost":
			cmd, ok := strings.CutPrefix(value, "/bin/sh -c '")
			if !ok || !strings.HasSuffix(cmd, "'") {
				t.Fatalf("%s is not /bin/sh -c '…': %s", key, value)
			}
			if key == "ExecStart" {
				start = strings.TrimSuffix(cmd, "'")
			} else {
				post = strings.TrimSuffix(cmd, "'")
			}
		}
	}
	sh := func(script string) {
		t.Helper()
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env, cmd.SysProcAttr, cmd.Dir = append(env, "PATH=/usr/bin:/bin"), as, "/"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("stile-backup.service: %s: %v\n%s", script, err, out)
		}
	}
	old := "/var/backups/stile/stile-20000101T000000Z.db"
	if err := os.WriteFile(old, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	month := time.Now().Add(-30 * 24 * time.Hour)
	os.Chtimes(old, month, month)
	sh(start)
	sh(post)
	copies, _ := filepath.Glob("/var/backups/stile/stile-*.db")
	if len(copies) != 1 || copies[0] == old {
		t.Fatalf("/var/backups/stile after a backup and its clean-up: %v; want the new copy alone", copies)
	}
	out := run("/usr/bin/stile", "restore", copies[0], "--data", t.TempDir(), "--key-file", "/etc/stile/secret.key")
	if !strings.Contains(out, "audit chain verified") {
		t.Errorf("restore of the unit's backup: %s", out)
	}
	os.Remove(copies[0])
}
