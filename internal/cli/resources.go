package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
)

func newResourcesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "resources",
		Aliases: []string{"resource"},
		Short:   "Inventory, admin credentials, health, plans and applies of PostgreSQL resources",
		Example: `  stile resources import inventory.csv
  stile resources list
  stile resources plan analytics --role ro --scopes analytics --privileges SELECT`,
	}
	cmd.AddCommand(newImportCmd(e), newListCmd(e), newAdminCmd(e), newHealthCmd(e), newPlanCmd(e), newApplyCmd(e), newDiscoverCmd(e), newGenerateCmd(e))
	return cmd
}

// readFile reads a file named on the command line ("-": stdin) that the
// command takes as one of want, and refuses one that looks like another
// kind of file, naming the command that takes it.
func readFile(path string, stdin io.Reader, want ...spec.FileKind) ([]byte, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, errs.Invalidf("read %s: %v", displayName(path), err)
	}
	got := spec.Sniff(data)
	if got == spec.KindUnknownFile || len(want) == 0 || slices.Contains(want, got) {
		return data, nil
	}
	use := map[spec.FileKind]string{
		spec.KindPlanFile:  "stile resources plan -f %s -o results.yaml",
		spec.KindRolesCSV:  "stile resources plan -f %s -o results.yaml",
		spec.KindResults:   "stile resources apply -f %s",
		spec.KindInventory: "stile resources import %s",
		spec.KindAdminsCSV: "stile resources admin import %s",
	}
	try := fmt.Sprintf(use[got], path)
	if got == spec.KindPlanDocument {
		// One plan, as plan status prints it: applied by its sid.
		sid := "SID"
		if m := documentSID.FindSubmatch(data); m != nil {
			sid = string(m[1])
		}
		try = "stile resources apply RESOURCE --sid " + sid + " (a plan document is applied by its sid)"
	}
	return nil, usageError{
		msg: fmt.Sprintf("%s looks like %s, not %s", displayName(path), got.WithArticle(), want[0].WithArticle()),
		try: try,
	}
}

var documentSID = regexp.MustCompile(`(?m)^sid:\s*"?([0-9a-fA-F-]+)"?\s*$`)

// displayName is how messages name a file given on the command line.
func displayName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

// printJSONLine writes v as one line of JSON (NDJSON), as it happens.
func printJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// terminal reports whether w is a terminal, where progress lines go.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func newImportCmd(e *env) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import resources from a CSV (name,type,host,port[,database,sslmode])",
		Long: `Import resources from a CSV with the header name,type,host,port and, optionally, database
(maintenance database, default postgres) and sslmode (default prefer). Every row is shown as
new, update (with the changed fields), unchanged or error. If any row is in error nothing is
written and the command exits 1; otherwise all rows are written in one transaction.`,
		Example: `  stile resources import inventory.csv --dry-run
  stile resources import inventory.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readFile(args[0], e.stdin, spec.KindInventory)
			if err != nil {
				return err
			}
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var res api.ImportResult
			callErr := c.call(cmd.Context(), "POST", "/api/v1/resources/import", map[string]any{"csv": string(data), "dry_run": dryRun}, &res)
			if callErr != nil && !detail(callErr, &res) {
				return callErr
			}
			if callErr != nil && len(res.Rows) == 0 {
				// A file-level problem (empty, a missing column): no table.
				return callErr
			}
			tw := table(e.stdout)
			fmt.Fprintln(tw, "LINE\tNAME\tACTION\tDETAIL")
			for _, r := range res.Rows {
				d := r.Error
				if r.Action == api.ActionUpdate {
					d = fmt.Sprint(r.Changes)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Line, r.Name, r.Action, d)
			}
			tw.Flush()
			if callErr != nil {
				return importError(displayName(args[0]), callErr)
			}
			switch {
			case dryRun:
				fmt.Fprintln(e.stdout, "dry run: nothing written")
			case res.Written:
				fmt.Fprintln(e.stdout, "imported")
			default:
				fmt.Fprintln(e.stdout, "nothing to change")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "preview only; write nothing")
	return cmd
}

// importError prefixes the service's error, which names the first row in
// error by its line and counts the others, with the file's name.
func importError(file string, err error) error {
	if ae, ok := errors.AsType[*apiError](err); ok && ae.Code == errs.Invalid {
		return errs.Invalidf("%s %s", file, ae.Message)
	}
	return err
}

func newListCmd(e *env) *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List resources with their setup progress",
		Example: "  stile resources list\n  stile resources list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var res struct {
				Resources []api.ResourceView `json:"resources"`
			}
			if err := c.call(cmd.Context(), "GET", "/api/v1/resources", nil, &res); err != nil {
				return err
			}
			return o.print(e, res, func(w io.Writer) error {
				tw := table(w)
				fmt.Fprintln(tw, "NAME\tHOST:PORT\tAGENT\tADMIN\tSETUP\tROLES")
				for _, r := range res.Resources {
					admin := "no"
					if r.AdminSet {
						admin = r.AdminUser
					}
					fmt.Fprintf(tw, "%s\t%s:%d\t%s\t%s\t%d/3 %s\t%d\n", r.Name, r.Host, r.Port, r.Agent, admin, r.Progress, r.Stage, r.Roles)
				}
				return tw.Flush()
			})
		},
	}
	o.flags(cmd)
	return cmd
}
