package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

func TestFileAndWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first try fails: retried
			return
		}
		if r.Header.Get("X-Stile-Signature") != Sign("k3y", body) {
			t.Errorf("bad signature %q", r.Header.Get("X-Stile-Signature"))
		}
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Error(err)
		}
		got = append(got, ev)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	e, err := New(Config{File: file, Webhook: srv.URL, WebhookSecret: "k3y"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e.Emit(store.Session{SID: "s1", Kind: "plan", Resource: "a", Actor: "admin", Status: "out-of-sync", CreatedAt: now})
	e.Emit(store.Session{SID: "s2", Kind: "apply", Resource: "a", Actor: "admin", Status: "applied", CreatedAt: now, PlanSID: "s1"})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(file)
	defer f.Close()
	var lines []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, ev)
	}
	if len(lines) != 2 || lines[0].SID != "s1" || lines[1].PlanSID != "s1" || lines[0].Version != 1 {
		t.Fatalf("file events = %+v", lines)
	}
	if len(got) != 2 || calls != 3 {
		t.Fatalf("webhook got %d events in %d calls, want 2 in 3 (one retry)", len(got), calls)
	}
}

// TestEmitNeverBlocks: a stuck webhook fills the queue; Emit still returns.
func TestEmitNeverBlocks(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	e, _ := New(Config{Webhook: srv.URL, Client: &http.Client{Timeout: time.Minute}})
	done := make(chan struct{})
	go func() {
		for range queueSize + 100 {
			e.Emit(store.Session{SID: "x"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Emit blocked on a stuck webhook")
	}
}

// TestEmitDuringClose: sessions may finish while the server shuts down;
// Emit racing Close must neither panic nor race.
func TestEmitDuringClose(t *testing.T) {
	e, err := New(Config{File: filepath.Join(t.TempDir(), "audit.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				e.Emit(store.Session{SID: "x"})
			}
		}()
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	e.Emit(store.Session{SID: "after"})
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestClassify: what an alert rule keys on: warnings for a drift found, a
// password revealed, access widened and any failure; info otherwise.
func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		s                  store.Session
		severity, category string
	}{
		{store.Session{Kind: "drift", Status: "drift", ExitCode: 2}, "warning", "drift"},
		{store.Session{Kind: "reveal", Status: "ok"}, "warning", "secret"},
		{store.Session{Kind: "access", Status: "ok", Input: `{"role":"r","grant":"analysts"}`}, "warning", "access"},
		{store.Session{Kind: "access", Status: "ok", Input: `{"create_user":"ann","admin":true}`}, "warning", "access"},
		{store.Session{Kind: "access", Status: "ok", Input: `{"role":"r","revoke":"analysts"}`}, "info", "access"},
		{store.Session{Kind: "apply", Status: "applied"}, "info", "change"},
		{store.Session{Kind: "apply", Status: "failed", ExitCode: 1}, "warning", "change"},
		{store.Session{Kind: "plan", Status: "out-of-sync"}, "info", "plan"},
		{store.Session{Kind: "health", Status: "failed", ExitCode: 1}, "warning", "health"},
		{store.Session{Kind: "connect", Status: "ok"}, "info", "connection"},
	} {
		ev := FromSession(tt.s)
		if ev.Severity != tt.severity || ev.Category != tt.category {
			t.Errorf("%s %s %s: severity %s, category %s; want %s, %s", tt.s.Kind, tt.s.Status, tt.s.Input, ev.Severity, ev.Category, tt.severity, tt.category)
		}
	}
}

// TestChainFromEvents: a SIEM holding the exported events can check the
// chain without stile's code, by the recipe of docs/audit-chain.md: hex
// SHA-256 of the previous hash, a newline, and the event's fields as one
// line of JSON in the documented order.
func TestChainFromEvents(t *testing.T) {
	at := time.Date(2026, 11, 30, 8, 0, 0, 123456789, time.UTC)
	prev := ""
	var events []Event
	for i, s := range []store.Session{
		{SID: "a", Kind: "plan", Resource: "r", Role: "stile_r_ro_1", Label: "ro", Actor: "ann <ann@example.com>", CreatedAt: at, FinishedAt: at.Add(time.Second), Status: "out-of-sync", Input: `{"a":"<&>"}`, Output: "GRANT …\n", Document: `{"x":1}`, Checksum: "c"},
		{SID: "b", Kind: "connect", Resource: "r", Role: "stile_r_ro_1", Actor: "bob", CreatedAt: at, FinishedAt: at.Add(time.Hour), Status: "ok", ExitCode: 0, Replica: "h/:8080"},
		{SID: "c", Kind: "apply", Resource: "r", Actor: "admin", CreatedAt: at, FinishedAt: at.Add(2 * time.Second), Status: "failed", ExitCode: 1, Message: "refused", PlanSID: "a"},
	} {
		s.ChainSeq = int64(i + 1)
		s.ChainHash = store.ChainHash(prev, s.ChainSeq, s)
		prev = s.ChainHash
		events = append(events, FromSession(s))
	}
	prev = ""
	for _, ev := range events {
		line, _ := json.Marshal(ev)
		var m map[string]any
		json.Unmarshal(line, &m)
		str := func(k string) string { v, _ := m[k].(string); return v }
		when := func(k string) string {
			t, err := time.Parse(time.RFC3339Nano, str(k))
			if err != nil {
				return ""
			}
			return t.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
		}
		var rec strings.Builder
		rec.WriteString("{")
		for i, f := range []struct {
			k string
			v any
		}{
			{"seq", m["chain_seq"]}, {"sid", str("sid")}, {"kind", str("kind")}, {"resource", str("resource_name")},
			{"role", str("role")}, {"label", str("label")}, {"actor", str("actor")}, {"agent", str("agent")},
			{"created_at", when("created_at")}, {"finished_at", when("finished_at")}, {"status", str("status")},
			{"exit_code", m["exit_code"]}, {"message", str("message")}, {"input", str("input")}, {"output", str("output")},
			{"document", str("document")}, {"checksum", str("checksum")}, {"plan_sid", str("plan_sid")}, {"replica", str("replica")},
		} {
			if i > 0 {
				rec.WriteString(",")
			}
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.Encode(f.v)
			fmt.Fprintf(&rec, "%q:%s", f.k, strings.TrimSuffix(b.String(), "\n"))
		}
		rec.WriteString("}")
		sum := sha256.Sum256([]byte(prev + "\n" + rec.String()))
		if got := hex.EncodeToString(sum[:]); got != ev.ChainHash {
			t.Fatalf("event %s: recomputed %s, exported %s\nrecord: %s", ev.SID, got, ev.ChainHash, rec.String())
		}
		prev = ev.ChainHash
	}
}
