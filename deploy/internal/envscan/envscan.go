// Package envscan lists the environment variables a binary of the platform
// reads, from its source: the env struct tags of its config type and of
// the pkg/envcfg types the config embeds. The deploy files' tests check
// that what they set is something a binary reads.
package envscan

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// Vars returns the variables read by the main package in dir, whose
// configuration is the struct type config, with the types it embeds from
// package envcfg looked up in envcfgDir: each name with its default (the
// envDefault tag, "" when none).
func Vars(dir, envcfgDir string) (map[string]string, error) {
	mainTypes, err := structs(dir)
	if err != nil {
		return nil, err
	}
	cfgTypes, err := structs(envcfgDir)
	if err != nil {
		return nil, err
	}
	root, ok := mainTypes["config"]
	if !ok {
		return nil, fmt.Errorf("envscan: no type config in %s", dir)
	}
	out := map[string]string{}
	var walk func(st *ast.StructType, pkg map[string]*ast.StructType, depth int) error
	walk = func(st *ast.StructType, pkg map[string]*ast.StructType, depth int) error {
		if depth > 10 {
			return fmt.Errorf("envscan: types nested too deep")
		}
		for _, f := range st.Fields.List {
			if f.Tag != nil {
				tag, err := strconv.Unquote(f.Tag.Value)
				if err != nil {
					return err
				}
				st := reflect.StructTag(tag)
				if name, _, _ := strings.Cut(st.Get("env"), ","); name != "" {
					out[name] = st.Get("envDefault")
				}
			}
			var next *ast.StructType
			nextPkg := pkg
			switch typ := f.Type.(type) {
			case *ast.Ident:
				next = pkg[typ.Name]
			case *ast.SelectorExpr:
				if x, ok := typ.X.(*ast.Ident); ok && x.Name == "envcfg" {
					next, nextPkg = cfgTypes[typ.Sel.Name], cfgTypes
				}
			case *ast.StructType:
				next = typ
			}
			if next != nil {
				if err := walk(next, nextPkg, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(root, mainTypes, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// structs parses the non-test Go files of dir and returns its struct
// types by name.
func structs(dir string) (map[string]*ast.StructType, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("envscan: %w", err)
	}
	fset := token.NewFileSet()
	out := map[string]*ast.StructType{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return nil, fmt.Errorf("envscan: %w", err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					out[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	return out, nil
}
