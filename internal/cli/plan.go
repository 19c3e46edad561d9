package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

// ResultsFile is what `plan -o` writes and `apply -f` reads.
type ResultsFile struct {
	Results []ResultEntry `yaml:"results"`
}

// ResultEntry is one planned item in a results file.
type ResultEntry struct {
	SID      string `yaml:"sid"`
	Resource string `yaml:"resource_name"`
	Role     string `yaml:"role"`
	RoleName string `yaml:"role_name"`
	Status   string `yaml:"status"`
	Message  string `yaml:"message"`
	// Requires lists the roles whose entries apply -f applies first.
	Requires []string `yaml:"requires,omitempty"`
}

func newPlanCmd(e *env) *cobra.Command {
	var (
		role, typ, source, file, out    string
		scopes, privileges, resources   []string
		rotate, asJSON, detailed, every bool
		prune, pruneAdopted             bool
	)
	cmd := &cobra.Command{
		Use:   "plan [NAME --role LABEL ... | -f FILE]",
		Short: "Compute the SQL that brings roles to their declared state (a dry run)",
		Long: `Read the live catalog and compute the minimal SQL to reach the declared state of a role.
Nothing changes in PostgreSQL. The plan is kept as a session; apply it with its sid.

One role: NAME with --role and either --scopes/--privileges (managed) or --source-role
(external). Many roles: -f FILE, a YAML plan file (items:) or a roles CSV
(resource_name,type,role,scopes,permissions,source_role with ';'-separated lists). Every item
is validated before anything is planned. Items of one resource share one catalog read.

Every declared role: --all (narrowed with --resource R, repeatable) plans the declaration of
each role stile keeps (the spec of its last applied plan): the fleet's drift check, for cron
or CI with --detailed-exitcode; -o writes the same results file as -f.

--prune (with -f): also plan the retirement of every role stile manages on the file's
resources that the file no longer declares (REASSIGN/DROP OWNED to each database's owner,
sessions ended, DROP ROLE): destructive, marked RETIRE. Roles stile adopted are spared
unless --prune-adopted.

--detailed-exitcode: exit 0 when in sync, 2 when changes are pending, 1 on any error.`,
		Example: `  stile resources plan analytics --role ro --scopes analytics.public,legacy,app --privileges SELECT
  stile resources plan marketplace --role ro --type external --source-role pg_read_all_data
  stile resources plan -f plan.yaml -o result.yaml
  stile resources plan -f fleet.yaml --prune -o result.yaml
  stile resources plan --all --detailed-exitcode -o drift.yaml
  stile resources plan status 986e35ce-f3fc-4f79-b136-512eada7b850`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (rerr error) {
			if asJSON && (out == "yaml" || out == "json") {
				return usageError{msg: fmt.Sprintf("--json and -o %s are two output formats: give one", out), try: "--json, or -o " + out + ", or --json with -o FILE to print JSON and write the results file"}
			}
			var items []spec.Role
			switch {
			case every && (file != "" || len(args) > 0):
				return errs.Invalidf("give --all alone, or NAME with --role, or -f FILE")
			case len(resources) > 0 && !every:
				return errs.Invalidf("--resource narrows --all")
			case prune && file == "":
				return errs.Invalidf("--prune needs -f FILE: the roles a file no longer declares are retired")
			case pruneAdopted && !prune:
				return errs.Invalidf("--prune-adopted widens --prune: give both")
			case every:
			case file != "" && len(args) > 0:
				return errs.Invalidf("give either NAME with --role, or -f FILE, not both")
			case file != "":
				data, err := readFile(file, e.stdin, spec.KindPlanFile, spec.KindRolesCSV)
				if err != nil {
					return err
				}
				if items, err = spec.ParsePlanFile(displayName(file), data); err != nil {
					return err
				}
				// Problems name items by position; say the file's line.
				lines := itemLines(data)
				defer func() { rerr = atLines(rerr, displayName(file), lines) }()
			case len(args) == 1:
				if role == "" {
					return errs.Invalidf("--role is required with NAME")
				}
				items = []spec.Role{{Resource: args[0], Type: typ, Label: role, Scopes: spec.SplitList(scopes),
					Privileges: spec.SplitList(privileges), SourceRole: source, RotatePassword: rotate}}
			default:
				return errs.Invalidf("give NAME with --role, or -f FILE")
			}
			if _, err := spec.ValidateBatch(items); err != nil && !every {
				return err
			}
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var res struct {
				Results []api.PlanOutcome `json:"results"`
			}
			// The documents are asked for only where they are printed: the
			// one plan shown, and the results as JSON or YAML.
			documents := asJSON || out == "json" || out == "yaml" || (file == "" && !every)
			path, body := "/api/v1/plans", any(api.PlanRequest{Items: items, Documents: documents, Prune: prune, PruneAdopted: pruneAdopted})
			if every {
				path, body = "/api/v1/plans/declared", api.DeclaredPlanRequest{Resources: spec.SplitList(resources), Documents: documents}
			}
			if file == "" && !every {
				if err := c.call(cmd.Context(), "POST", path, body, &res); err != nil {
					return err
				}
			} else {
				want := len(items)
				if prune {
					want = 0 // the server adds the retirements
				}
				if res.Results, err = streamPlans(cmd.Context(), e, c, path, body, want); err != nil {
					return err
				}
			}
			// -o json and -o yaml are the output format (the habit of
			// kubectl); any other -o names the results file, written
			// whatever is printed (--json too).
			format := ""
			switch {
			case asJSON, out == "json":
				format = "json"
			case out == "yaml":
				format = "yaml"
			}
			if out != "" && out != "json" && out != "yaml" {
				if err := writeResults(out, res.Results); err != nil {
					return err
				}
			}
			// One shape for one plan and many: the API's {results: [...]}.
			switch {
			case format == "json":
				printJSON(e.stdout, res)
			case format == "yaml":
				printYAML(e.stdout, res)
			case file == "" && !every && len(res.Results) == 1:
				if r := res.Results[0]; r.Document != nil {
					text, _ := yaml.Marshal(r.Document)
					e.stdout.Write(text)
				}
			default:
				printPlanTable(e, res.Results)
			}
			return planExit(res.Results, detailed)
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "role label (e.g. ro, rw); required without -f")
	f.StringVar(&typ, "type", "managed", "managed or external")
	f.StringArrayVar(&scopes, "scopes", nil, "database or database.schema scopes: comma-separated or repeated")
	f.StringArrayVar(&privileges, "privileges", nil, "privileges (SELECT, INSERT, …, ALL, CREATE, EXECUTE): comma-separated or repeated")
	f.StringVar(&source, "source-role", "", "existing role an external role inherits")
	f.BoolVar(&rotate, "rotate-password", false, "set a new password on apply")
	f.StringVarP(&file, "file", "f", "", "plan file (YAML items: or roles CSV); - for stdin")
	f.StringVarP(&out, "output", "o", "", "write the results (input for apply -f) to this file, with --json too; -o json or -o yaml prints them in that format instead")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON ({results: [...]}, one plan or many)")
	f.BoolVar(&detailed, "detailed-exitcode", false, "exit 0 in sync, 2 changes pending, 1 error")
	f.BoolVar(&every, "all", false, "plan every declared role (the fleet's drift check)")
	f.StringArrayVar(&resources, "resource", nil, "with --all: only these resources (comma-separated or repeated)")
	f.BoolVar(&prune, "prune", false, "with -f: also retire the roles stile manages on the file's resources that the file no longer declares")
	f.BoolVar(&pruneAdopted, "prune-adopted", false, "with --prune: retire adopted roles too")
	cmd.AddCommand(newPlanStatusCmd(e))
	return cmd
}

func printPlanTable(e *env, results []api.PlanOutcome) {
	tw := table(e.stdout)
	fmt.Fprintln(tw, "SID\tRESOURCE\tROLE\tSTATUS\tMESSAGE")
	for _, r := range results {
		msg := r.Message
		if r.Retire && r.Status == plan.ItemOutOfSync {
			msg = "RETIRE (destructive): " + msg
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.SID, r.Resource, r.RoleName, r.Status, msg)
	}
	tw.Flush()
}

// planExit: any failed item → 1; with --detailed-exitcode, any out-of-sync
// item → 2.
func planExit(results []api.PlanOutcome, detailed bool) error {
	pending := false
	for _, r := range results {
		switch r.Status {
		case plan.ItemFailed:
			return exitError{code: 1, err: errs.New(errs.Failed, "plan %s of %s/%s failed: %s", r.SID, r.Resource, r.Label, r.Message)}
		case plan.ItemOutOfSync:
			pending = true
		}
	}
	if detailed && pending {
		return exitError{code: exitPending}
	}
	return nil
}

func writeResults(path string, results []api.PlanOutcome) error {
	var f ResultsFile
	for _, r := range results {
		f.Results = append(f.Results, ResultEntry{SID: r.SID, Resource: r.Resource, Role: r.Label, RoleName: r.RoleName, Status: r.Status, Message: r.Message, Requires: r.Requires})
	}
	data, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func newPlanStatusCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "status SID",
		Short:   "Print a plan's document again",
		Example: "  stile resources plan status 986e35ce-f3fc-4f79-b136-512eada7b850",
		// A resource may be named status: `plan status --role ro …` plans
		// it. So this command reads its own flags, once it knows it is
		// the one meant (its argument is a sid).
		DisableFlagParsing: true,
		Args:               cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, raw []string) error {
			if len(raw) == 1 && (raw[0] == "--help" || raw[0] == "-h") {
				return cmd.Help()
			}
			if len(raw) == 0 || !uuidLike.MatchString(raw[0]) {
				plan := cmd.Parent()
				plan.SetContext(cmd.Context())
				if err := plan.ParseFlags(raw); err != nil {
					return usageError{msg: err.Error(), try: "stile resources plan status SID, or stile resources plan status --role LABEL … to plan a resource named status"}
				}
				return plan.RunE(plan, append([]string{"status"}, plan.Flags().Args()...))
			}
			if err := cmd.Flags().Parse(raw); err != nil {
				return usageError{msg: err.Error(), try: "stile resources plan status SID [--json]"}
			}
			args := cmd.Flags().Args()
			if len(args) != 1 {
				return usageError{msg: fmt.Sprintf("unexpected argument %q for %q", args[1], cmd.CommandPath()), try: "stile resources plan status SID"}
			}
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var res api.PlanStatus
			if err := c.call(cmd.Context(), "GET", "/api/v1/plans/"+pathEscape(args[0]), nil, &res); err != nil {
				return err
			}
			if res.Document == nil {
				return errs.New(errs.Failed, "plan %s has no document: %v", args[0], res.Session.Message)
			}
			if asJSON {
				return printJSON(e.stdout, res.Document)
			}
			text, _ := yaml.Marshal(res.Document)
			_, err = e.stdout.Write(text)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// streamPlans asks for a batch's plans as a stream and returns them in the
// request's order. When it runs longer than a second, a progress line on
// stderr (at a terminal) says how far it is; want is the number of items
// (0 when unknown, as for --all).
func streamPlans(ctx context.Context, e *env, c *client, path string, body any, want int) ([]api.PlanOutcome, error) {
	start := time.Now()
	progress := terminal(e.stderr)
	got := map[int]api.PlanOutcome{}
	err := c.stream(ctx, "POST", path, body, func(b []byte) error {
		var l struct {
			api.PlanLine
			Error *struct {
				Code    errs.Code `json:"code"`
				Message string    `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("decode the server's answer: %w", err)
		}
		if l.Error != nil {
			return &apiError{Code: l.Error.Code, Message: l.Error.Message}
		}
		if _, twice := got[l.Index]; twice || l.Index < 0 || (want > 0 && l.Index >= want) {
			return fmt.Errorf("the server answered twice for item %d, or for one it was not sent", l.Index)
		}
		got[l.Index] = l.PlanOutcome
		if progress && time.Since(start) > time.Second {
			of := ""
			if want > 0 {
				of = fmt.Sprintf("/%d", want)
			}
			fmt.Fprintf(e.stderr, "\r\033[K[%d%s] %s %s %s", len(got), of, l.Resource, l.RoleName, l.Status)
		}
		return nil
	})
	if progress && time.Since(start) > time.Second {
		fmt.Fprintln(e.stderr)
	}
	if err != nil {
		return nil, err
	}
	if want > 0 && len(got) != want {
		return nil, fmt.Errorf("the server's answer ended after %d of %d plans", len(got), want)
	}
	out := make([]api.PlanOutcome, len(got))
	for i := range out {
		o, ok := got[i]
		if !ok {
			return nil, fmt.Errorf("the server's answer has no plan for item %d", i)
		}
		out[i] = o
	}
	return out, nil
}

// itemLines returns the line each item of a plan file starts on: a roles
// CSV's data rows, or the entries of a YAML file's items: list.
func itemLines(data []byte) []int {
	if spec.Sniff(data) == spec.KindRolesCSV {
		var lines []int
		header := true
		for i, l := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(l) == "" {
				continue
			}
			if header {
				header = false
				continue
			}
			lines = append(lines, i+1)
		}
		return lines
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "items" {
			var lines []int
			for _, n := range m.Content[i+1].Content {
				lines = append(lines, n.Line)
			}
			return lines
		}
	}
	return nil
}

var itemRef = regexp.MustCompile(`\bitem (\d+)\b`)

// atLines rewrites the "item N" of err's message (the service's and the
// validator's words) as "FILE line L", keeping err's code.
func atLines(err error, file string, lines []int) error {
	if err == nil || len(lines) == 0 {
		return err
	}
	msg := itemRef.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(m[len("item "):])
		if n < 1 || n > len(lines) {
			return m
		}
		return fmt.Sprintf("%s line %d", file, lines[n-1])
	})
	if msg == err.Error() {
		return err
	}
	code := errs.CodeOf(err)
	if ae, ok := errors.AsType[*apiError](err); ok {
		code = ae.Code
	}
	return &errs.Error{Code: code, Message: msg}
}
