package cli

import (
	"strings"
	"testing"
)

// TestImportRowErrors: a blocked import's one-line error names the first bad
// row by its line in the file and says why, and counts the others; a
// file-level error prints no table.
func TestImportRowErrors(t *testing.T) {
	h := startServer(t, t.TempDir())

	bad := h.write("inventory.csv", "name,type,host,port\n"+
		"good,postgres,h,5432\n"+
		"\n"+ // a blank line still counts as a line of the file
		"badport,postgres,h,abc\n"+
		"badtype,mysql,h,5432\n"+
		"good,postgres,h,5433\n")
	code, out, errOut := h.stile("", "resources", "import", bad)
	want := "Error: " + bad + ` line 4: port "abc" is not a number (and 2 more rows with errors); nothing was imported` + "\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", code, errOut, want)
	}
	for _, s := range []string{"LINE", "badport", "badtype", `repeats line 2`} {
		if !strings.Contains(out, s) {
			t.Errorf("the table lacks %q:\n%s", s, out)
		}
	}

	// One bad row, from stdin.
	h.fails(1, `stdin line 2: port "x" is not a number; nothing was imported`, "name,type,host,port\nr,postgres,h,x\n", "resources", "import", "-")

	// File-level problems: the error alone, no table header.
	for name, csv := range map[string]string{
		"empty.csv":   "",
		"nocol.csv":   "name,type,host\nr,postgres,h\n",
		"norows.csv":  "name,type,host,port\n",
		"unknown.csv": "name,type,host,port,color\nr,postgres,h,1,red\n",
	} {
		code, out, errOut := h.stile("", "resources", "import", h.write(name, csv))
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "Error: ") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1, no stdout, an error", name, code, out, errOut)
		}
	}
	if out := h.ok("", "resources", "list"); strings.Contains(out, "good") {
		t.Errorf("a refused import wrote rows:\n%s", out)
	}
}
