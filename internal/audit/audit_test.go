package audit

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
