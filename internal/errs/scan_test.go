package errs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// helpers are the public-message path itself: the only functions that may
// put an error's raw text where someone else reads it. Keyed by
// "dir/file.go:Func".
var helpers = map[string]string{
	"errs/public.go:Readable": "the rule: a people-facing error's text",
	"errs/public.go:Postgres": "the rule: PostgreSQL's own error",
	"agent/protocol.go:ToWire": "the agent's report to the server: the server keeps the code " +
		"and applies the rule (an internal error is logged there under the id people see)",
}

// clientSide are the packages (and files) whose output never crosses a
// trust boundary: the CLI prints to the terminal of the person who ran it
// (and its local listener, proxy/local.go, answers that person's own psql
// about their own network), the daemon's own messages go to the terminal
// or log of the operator who started the server, and test support code
// prints to tests.
var clientSide = []string{"cli", "daemon", "proxy/local.go", "pgtest", "pgattack", "oidctest", "store/storetest", "bench"}

// TestNoRawErrorTextToClients reads every non-test Go file under internal/
// (but clientSide) for an error's text (err.Error(), or an error formatted
// with fmt.Sprint*) that ends up where a client reads it: a struct or slice
// literal (a response, an outcome, a greeting), a field or element
// assignment, or a writer (http.Error, Write, Fprint*, a WebSocket's Close,
// SendHello, the proxy's fatal, the apply transcript's logf). Such text
// must come from errs.Public (or Readable, or an errs constructor that
// says the text is for people); a new raw one fails here.
func TestNoRawErrorTextToClients(t *testing.T) {
	var found []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if slices.Contains(clientSide, rel) || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || slices.Contains(clientSide, rel) {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, hit := range rawErrorSinks(f) {
			if _, ok := helpers[rel+":"+hit.fn]; ok {
				continue
			}
			found = append(found, fmt.Sprintf("internal/%s:%d (%s): %s", rel, fset.Position(hit.pos).Line, hit.fn, hit.what))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("raw error text reaches a client: %s; use errs.Public (or an errs constructor that says the text is for people)", f)
	}
}

// TestScannerFinds keeps the scanner honest: each line below writes raw
// error text where a client reads it, and each must be found.
func TestScannerFinds(t *testing.T) {
	src := `package p
func f() {
	proxy.SendHello(ctx, ws, proxy.Hello{Error: err.Error()})
	res.OK, res.Error = false, err.Error()
	p.Detail = "listing the columns of " + db + ": " + err.Error()
	sess.Output = "error: " + err.Error() + "\n"
	http.Error(w, err.Error(), 500)
	ws.Close(websocket.StatusPolicyViolation, fmt.Sprintf("refused: %v", err))
	msg := "none"
	msg = err.Error()
	out = append(out, Report{Message: msg})
	x.Message = strings.TrimPrefix(aerr.Error(), "skip: ")
	fmt.Fprintf(w, "failed: %v\n", err)
}
func g() {
	s.log.Error("x", "err", err.Error())
	if strings.Contains(err.Error(), "dial") {}
	e := errs.New(errs.Failed, "read catalog: %v", err)
	w := fmt.Errorf("x: %w", err)
	panic("plan: " + err.Error())
	p.Detail = errs.Public(s.log, err)
}
`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	hits := rawErrorSinks(f)
	if len(hits) != 9 {
		for _, h := range hits {
			t.Logf("%s: %s", h.fn, h.what)
		}
		t.Fatalf("found %d raw error texts, want the 9 of f and none of g", len(hits))
	}
	for _, h := range hits {
		if h.fn != "f" {
			t.Errorf("a false hit in %s: %s", h.fn, h.what)
		}
	}
}

type sinkHit struct {
	pos  token.Pos
	fn   string
	what string
}

// errName matches the names errors go by: err, aerr, pgErr, e.err.
var errName = regexp.MustCompile(`(?i)^[a-z]*err$`)

// consumers take an error's text without passing it on to a client:
// wrapping, an errs constructor, logging, matching, panicking.
var consumers = regexp.MustCompile(`^(fmt\.Errorf|errs\.\w+|errors\.\w+|panic|strings\.(Contains|HasPrefix|HasSuffix|Index|LastIndex|EqualFold)|.*\blog(ger)?\.\w+|slog\.\w+|t\.\w+|b\.\w+)$`)

// writers put their arguments where a client reads them.
var writers = regexp.MustCompile(`^(http\.Error|.*\.(Write|WriteString|Close|Send)|fmt\.Fprint\w*|.*SendHello|fatal|.*\.logf|logf)$`)

// rawErrorSinks returns where f writes an error's text to a client.
func rawErrorSinks(f *ast.File) []sinkHit {
	var hits []sinkHit
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		parents := map[ast.Node]ast.Node{}
		var stack []ast.Node
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			if len(stack) > 0 {
				parents[n] = stack[len(stack)-1]
			}
			stack = append(stack, n)
			return true
		})
		tainted := map[string]bool{} // local variables holding error text
		check := func(e ast.Expr, what string) {
			var child ast.Node = e
			for p := parents[e]; p != nil; child, p = p, parents[p] {
				switch p := p.(type) {
				case *ast.ParenExpr, *ast.BinaryExpr, *ast.SliceExpr:
					continue
				case *ast.CallExpr:
					name := exprName(p.Fun)
					if child == p.Fun {
						return
					}
					switch {
					case consumers.MatchString(name):
						return
					case writers.MatchString(name):
						hits = append(hits, sinkHit{e.Pos(), fd.Name.Name, what + " written by " + name})
						return
					}
					continue // a string function passes the text on
				case *ast.KeyValueExpr, *ast.CompositeLit:
					hits = append(hits, sinkHit{e.Pos(), fd.Name.Name, what + " in a literal"})
					return
				case *ast.AssignStmt:
					i := slices.IndexFunc(p.Rhs, func(r ast.Expr) bool { return r == child })
					if len(p.Lhs) != len(p.Rhs) || i < 0 {
						return
					}
					switch l := p.Lhs[i].(type) {
					case *ast.Ident:
						tainted[l.Name] = true
					case *ast.SelectorExpr, *ast.IndexExpr:
						hits = append(hits, sinkHit{e.Pos(), fd.Name.Name, what + " assigned to " + exprName(l)})
					}
					return
				default:
					return
				}
			}
		}
		// In source order, so a variable is tainted before its uses.
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				name := exprName(n.Fun)
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Error" && len(n.Args) == 0 && errName.MatchString(lastName(sel.X)) {
					check(n, name+"()")
				}
				if strings.HasPrefix(name, "fmt.Sprint") || strings.HasPrefix(name, "fmt.Fprint") {
					for _, a := range n.Args {
						if id := lastName(a); id != "" && errName.MatchString(id) {
							if strings.HasPrefix(name, "fmt.Fprint") {
								hits = append(hits, sinkHit{n.Pos(), fd.Name.Name, id + " written by " + name})
							} else {
								check(n, name+" of "+id)
							}
							break
						}
					}
				}
			case *ast.Ident:
				if tainted[n.Name] {
					if a, ok := parents[n].(*ast.AssignStmt); ok && slices.Contains(a.Lhs, ast.Expr(n)) {
						return true
					}
					check(n, n.Name+" (holding an error's text)")
				}
			}
			return true
		})
	}
	return hits
}

// lastName is the name an expression ends in: err for err, e.err or f().err.
func lastName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// exprName renders a call's function or an assignment's target: fmt.Errorf,
// s.log.Info, res.Error.
func exprName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprName(e.X) + "." + e.Sel.Name
	case *ast.IndexExpr:
		return exprName(e.X) + "[]"
	case *ast.CallExpr:
		return exprName(e.Fun) + "()"
	}
	return "?"
}
