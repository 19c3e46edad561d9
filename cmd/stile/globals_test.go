package main

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestNoMutableGlobals holds internal/ to the house rule "no global state":
// state lives in values that are made where the program is wired and passed
// to whoever needs it. It type-checks every package under internal/ (its
// non-test files) and fails on a package-level variable that is state:
//
//   - one that is assigned (=, +=, ++, a range clause), index-assigned,
//     appended to, written through (a field, *p), cleared, deleted from,
//     copied or sorted into, or has its address taken (&x, or a method with
//     a pointer receiver called on it), anywhere in the non-test files of
//     the module's internal packages, its own or another's;
//   - one whose value holds a lock or shared state by its type: a channel,
//     or a sync or sync/atomic value, directly or in its struct fields or
//     array elements (pointers, slices, maps and other modules' types are
//     not followed: what they hold is judged by how they are used).
//
// What stays fine, because nothing writes it after its declaration:
// read-only lookup tables (maps, slices), errors.New sentinels,
// regexp.MustCompile, embed.FS, `var _ I = T{}` assertions (the blank name
// is skipped), and strings the linker sets (internal/version.Version, set
// with -ldflags -X: the linker is not code). Tests may change what they
// like: _test.go files are not read.
func TestNoMutableGlobals(t *testing.T) {
	const module = "github.com/stile-dev/stile/"
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}\t{{.Dir}}\t{{join .GoFiles \",\"}}", module+"internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	export := map[string]string{}
	type pkg struct {
		path, dir string
		files     []string
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		export[f[0]] = f[1]
		if strings.HasPrefix(f[0], module+"internal/") && f[3] != "" {
			pkgs = append(pkgs, pkg{f[0], f[2], strings.Split(f[3], ",")})
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if export[path] == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(export[path])
	})
	var found []string
	for _, p := range pkgs {
		// GoFiles: the non-test files the build takes.
		var syntax []*ast.File
		for _, name := range p.files {
			f, err := parser.ParseFile(fset, filepath.Join(p.dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			syntax = append(syntax, f)
		}
		info := &types.Info{Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}, Types: map[ast.Expr]types.TypeAndValue{}}
		tp, err := (&types.Config{Importer: imp}).Check(p.path, fset, syntax, info)
		if err != nil {
			t.Fatalf("type-check %s: %v", p.path, err)
		}
		found = append(found, mutableGlobals(fset, tp, syntax, info, module)...)
	}
	slices.Sort(found)
	found = slices.Compact(found)
	for _, f := range found {
		t.Error(f)
	}
}

// mutableGlobals lists the package-level variables of the module's
// internal packages that files (of package pkg) write or that pkg declares
// with a stateful type, a line each: where, the name, and why.
func mutableGlobals(fset *token.FileSet, pkg *types.Package, files []*ast.File, info *types.Info, module string) []string {
	var found []string
	report := func(pos token.Pos, v *types.Var, why string) {
		p := fset.Position(pos)
		file := filepath.ToSlash(p.Filename)
		file = file[strings.LastIndex(file, "/internal/")+1:]
		rel := strings.TrimPrefix(v.Pkg().Path(), module)
		found = append(found, fmt.Sprintf("%s:%d: %s.%s is package-level state: %s", file, p.Line, rel, v.Name(), why))
	}
	// global is the module's package-level variable e is rooted in: x,
	// x.f, x[i], *x, pkg.X, (x).
	var global func(e ast.Expr) *types.Var
	global = func(e ast.Expr) *types.Var {
		switch e := e.(type) {
		case *ast.ParenExpr:
			return global(e.X)
		case *ast.StarExpr:
			return global(e.X)
		case *ast.IndexExpr:
			return global(e.X)
		case *ast.IndexListExpr:
			return global(e.X)
		case *ast.SliceExpr:
			return global(e.X)
		case *ast.SelectorExpr:
			if v := packageVar(info.Uses[e.Sel], module); v != nil {
				return v
			}
			return global(e.X)
		case *ast.Ident:
			return packageVar(info.Uses[e], module)
		}
		return nil
	}
	// The declarations: a stateful type.
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, s := range g.Specs {
				for _, name := range s.(*ast.ValueSpec).Names {
					v, _ := info.Defs[name].(*types.Var)
					if v == nil || name.Name == "_" {
						continue
					}
					if why := stateful(v.Type(), pkg, nil); why != "" {
						report(name.Pos(), v, "its type holds "+why)
					}
				}
			}
		}
	}
	// The writes.
	mutators := map[string]bool{
		"delete": true, "clear": true, "copy": true,
		"slices.Sort": true, "slices.SortFunc": true, "slices.SortStableFunc": true, "slices.Reverse": true,
		"sort.Strings": true, "sort.Ints": true, "sort.Float64s": true, "sort.Slice": true, "sort.SliceStable": true, "sort.Sort": true, "sort.Stable": true,
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				for _, l := range n.Lhs {
					if v := global(l); v != nil {
						report(l.Pos(), v, "assigned ("+n.Tok.String()+")")
					}
				}
			case *ast.IncDecStmt:
				if v := global(n.X); v != nil {
					report(n.Pos(), v, "assigned ("+n.Tok.String()+")")
				}
			case *ast.RangeStmt:
				if n.Tok == token.ASSIGN {
					for _, x := range []ast.Expr{n.Key, n.Value} {
						if v := global(x); x != nil && v != nil {
							report(x.Pos(), v, "assigned (range)")
						}
					}
				}
			case *ast.UnaryExpr:
				if n.Op == token.AND {
					if v := global(n.X); v != nil {
						report(n.Pos(), v, "its address is taken")
					}
				}
			case *ast.CallExpr:
				if len(n.Args) > 0 && mutators[calleeName(n.Fun, info)] {
					if v := global(n.Args[0]); v != nil {
						report(n.Pos(), v, "written by "+calleeName(n.Fun, info))
					}
				}
			case *ast.SelectorExpr:
				// A method with a pointer receiver called on an
				// addressable value takes its address.
				sel := info.Selections[n]
				if sel == nil || (sel.Kind() != types.MethodVal && sel.Kind() != types.MethodExpr) {
					break
				}
				sig, _ := sel.Obj().Type().(*types.Signature)
				if sig == nil || sig.Recv() == nil {
					break
				}
				if _, ptrRecv := sig.Recv().Type().(*types.Pointer); !ptrRecv {
					break
				}
				if _, isPtr := info.Types[n.X].Type.(*types.Pointer); isPtr {
					break
				}
				if v := global(n.X); v != nil {
					report(n.Pos(), v, "a method with a pointer receiver ("+sel.Obj().Name()+") is called on it")
				}
			}
			return true
		})
	}
	return found
}

// packageVar is obj when it is a package-level variable of one of the
// module's packages.
func packageVar(obj types.Object, module string) *types.Var {
	v, ok := obj.(*types.Var)
	if !ok || v.Pkg() == nil || v.IsField() || v.Parent() != v.Pkg().Scope() || !strings.HasPrefix(v.Pkg().Path(), module) {
		return nil
	}
	return v
}

// calleeName is a call's function as pkg.Name or a builtin's name.
func calleeName(fun ast.Expr, info *types.Info) string {
	switch f := fun.(type) {
	case *ast.Ident:
		if _, ok := info.Uses[f].(*types.Builtin); ok {
			return f.Name
		}
	case *ast.SelectorExpr:
		if fn, ok := info.Uses[f.Sel].(*types.Func); ok && fn.Pkg() != nil {
			return fn.Pkg().Path() + "." + fn.Name()
		}
	}
	return ""
}

// stateful says what in t holds shared state (a channel, a sync or
// sync/atomic value), looking into struct fields and array elements and
// into the named types of pkg, not through pointers; "" for nothing.
func stateful(t types.Type, pkg *types.Package, seen []types.Type) string {
	if slices.Contains(seen, t) {
		return ""
	}
	seen = append(seen, t)
	switch t := t.(type) {
	case *types.Named:
		if p := t.Obj().Pkg(); p != nil {
			switch p.Path() {
			case "sync", "sync/atomic":
				return p.Path() + "." + t.Obj().Name()
			}
			if p != pkg {
				return ""
			}
		}
		return stateful(t.Underlying(), pkg, seen)
	case *types.Alias:
		return stateful(types.Unalias(t), pkg, seen)
	case *types.Chan:
		return "a channel"
	case *types.Array:
		return stateful(t.Elem(), pkg, seen)
	case *types.Struct:
		for i := range t.NumFields() {
			if why := stateful(t.Field(i).Type(), pkg, seen); why != "" {
				return why
			}
		}
	}
	return ""
}
