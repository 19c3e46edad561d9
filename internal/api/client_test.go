package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
)

// TestClient drives api.Client against a real HTTP server speaking the
// API's shapes: the token is sent, answers decode, NDJSON lines arrive one
// by one, and an error response becomes a *ResponseError with its detail.
func TestClient(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ok", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer tok" {
			t.Errorf("Authorization = %q", got)
		}
		var in api.ApplyRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Error(err)
		}
		json.NewEncoder(w).Encode(api.ApplyOutcome{SID: "a-" + in.SID, Status: "applied"})
	})
	mux.HandleFunc("POST /lines", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Accept"); got != "application/x-ndjson" {
			t.Errorf("Accept = %q", got)
		}
		for i := range 3 {
			fmt.Fprintf(w, "{\"index\":%d}\n\n", i)
		}
	})
	mux.HandleFunc("GET /refused", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"error":{"code":"drift","message":"the cluster drifted"},"detail":{"sid":"p1"}}`))
	})
	mux.HandleFunc("GET /proxy", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &api.Client{Base: srv.URL, Token: "tok", HTTP: srv.Client()}
	ctx := context.Background()

	var out api.ApplyOutcome
	if err := c.Call(ctx, "POST", "/ok", api.ApplyRequest{SID: "p1"}, &out); err != nil || out.SID != "a-p1" || out.Status != "applied" {
		t.Errorf("Call = %+v, %v", out, err)
	}

	var idx []int
	err := c.Stream(ctx, "POST", "/lines", nil, func(b []byte) error {
		var l api.PlanLine
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		idx = append(idx, l.Index)
		return nil
	})
	if err != nil || fmt.Sprint(idx) != "[0 1 2]" {
		t.Errorf("Stream: lines %v, %v", idx, err)
	}

	err = c.Call(ctx, "GET", "/refused", nil, nil)
	var re *api.ResponseError
	if !errors.As(err, &re) || re.Code != errs.Drift || re.Error() != "the cluster drifted" {
		t.Fatalf("Call of an error response = %#v", err)
	}
	var d struct{ SID string }
	if !api.DecodeDetail(err, &d) || d.SID != "p1" {
		t.Errorf("DecodeDetail = %+v", d)
	}
	if api.DecodeDetail(fmt.Errorf("wrapped: %w", err), &d) {
		t.Error("DecodeDetail read a wrapped error's detail")
	}

	err = c.Call(ctx, "GET", "/proxy", nil, nil)
	if err == nil || errors.As(err, &re) || err.Error() != "stile server: 502 Bad Gateway" {
		t.Errorf("Call of a non-API error = %v", err)
	}
}
