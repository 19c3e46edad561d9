package service

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
)

// BenchmarkMaskingRelay is a 1,000-row × 10-column result read with pgx
// through the server's PostgreSQL listener (the whole relay: sign-in once,
// then the query each iteration), the role without rules, with rules that
// match nothing, with one column rule, and with every detector; the
// direct connection to PostgreSQL is the baseline of the same run.
func BenchmarkMaskingRelay(b *testing.B) {
	c := pgtest.First(b)
	p := c.Prefix(b)
	db := p + "_bench"
	c.Exec(b, "postgres", "CREATE DATABASE "+db)
	cols := ""
	for i := range 10 {
		cols += fmt.Sprintf(", 'value %d of row ' || i || ', ordinary text' AS c%d", i, i)
	}
	c.Exec(b, db, "CREATE TABLE public.wide AS SELECT i AS id, 'user' || i || '@example.com' AS email"+cols+" FROM generate_series(1, 1000) i")
	svc := serviceWithResource(b, p, c.Target())
	svc.SignIn.adminToken = "admin-token"
	ctx := context.Background()
	role := applyRole(b, svc, spec.Role{Resource: p, Label: "ro", Scopes: []string{db}, Privileges: []string{"SELECT"}})
	ln := serveListener(b, svc)
	const q = "SELECT email, c0, c1, c2, c3, c4, c5, c6, c7, c8 FROM public.wide"
	read := func(b *testing.B, url string) {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		for b.Loop() {
			rows, _ := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
			n := 0
			for rows.Next() {
				n++
			}
			if rows.Err() != nil || n != 1000 {
				b.Fatalf("%d rows, %v", n, rows.Err())
			}
		}
	}
	tg := c.Target()
	direct := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", tg.User, tg.Password, tg.Host, tg.Port, db)
	b.Run("warm_up", func(b *testing.B) { read(b, direct) })
	b.Run("direct", func(b *testing.B) { read(b, direct) })
	via := fmt.Sprintf("postgres://%s:admin-token@%s/%s?sslmode=disable", role, ln, db)
	for _, tt := range []struct {
		name  string
		rules []mask.Rule
	}{
		{"no_rules", nil},
		{"rules_matching_nothing", []mask.Rule{{ID: "n", Column: "*.*.other.*", Style: mask.Redact}}},
		{"column_rule", []mask.Rule{{ID: "c", Column: "*.*.wide.email", Style: mask.Partial}}},
		{"all_detectors", []mask.Rule{{ID: "e", Detector: "email", Style: mask.Partial}, {ID: "c", Detector: "card", Style: mask.Partial},
			{ID: "i", Detector: "iban", Style: mask.Redact}, {ID: "p", Detector: "phone", Style: mask.Redact}, {ID: "4", Detector: "ipv4", Style: mask.Redact},
			{ID: "6", Detector: "ipv6", Style: mask.Redact}, {ID: "j", Detector: "jwt", Style: mask.Redact}}},
	} {
		rules, _ := svc.Masking.MaskRules(ctx, Admin, role)
		for _, r := range rules {
			svc.Masking.RemoveMaskRule(ctx, Principal{User: "bench", Admin: true}, role, r.ID)
		}
		for _, r := range tt.rules {
			if _, err := svc.Masking.AddMaskRule(ctx, Principal{User: "bench", Admin: true}, role, r); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(tt.name, func(b *testing.B) { read(b, via) })
	}
}
