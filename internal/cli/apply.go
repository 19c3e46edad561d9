package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

func newApplyCmd(e *env) *cobra.Command {
	var sid, file string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "apply [NAME --sid SID | -f result.yaml]",
		Short: "Apply reviewed plans",
		Long: `Apply a plan by its sid. The agent takes the cluster's apply lock, re-reads the catalog and
re-plans: if the role is already in the desired state nothing runs (skipped); if the state
changed since the plan, the apply is refused (drift, exit 3) and the difference is printed;
otherwise the SQL runs, one transaction per database, each verified before COMMIT. Exit 3 when
the apply (or every entry that did not apply) was refused for drift: make a new plan; exit 1 on
any other failure.

With -f, only out-of-sync entries of a results file (from plan -o) are applied; the others
are reported as skipped. The whole file is checked first, and nothing is applied if it has
an unknown field or two out-of-sync entries with one sid or one resource and role. The file
goes to the server as one batch: one job per cluster (one hold of its apply lock, one catalog
read), clusters in parallel. Each entry is applied, skipped or refused on its own, and its
line is printed as it lands (--json: one JSON object per line); on a terminal a progress line
on stderr says how far the batch is. An entry an earlier apply of the file carried out is
reported as already-applied: running the same file again is not an error. Exit 1 if any entry
did not apply (3 if each of those was refused for drift).

Ctrl-C stops waiting, not the work: the applies run to their end on the server, and
"stile sessions list --kind apply" shows how they ended.`,
		Example: `  stile resources apply analytics --sid 986e35ce-f3fc-4f79-b136-512eada7b850
  stile resources apply -f result.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case file != "" && (len(args) > 0 || sid != ""):
				return errs.Invalidf("give either NAME --sid SID, or -f FILE, not both")
			case file == "" && len(args) == 1 && sid == "" && uuidLike.MatchString(args[0]):
				return usageError{msg: fmt.Sprintf("%q is a session id, not a resource name", args[0]), try: "stile resources apply NAME --sid " + args[0]}
			case file == "" && (len(args) != 1 || sid == ""):
				return errs.Invalidf("give NAME --sid SID, or -f FILE")
			}
			var results []ResultEntry
			if file != "" {
				data, err := readFile(file, e.stdin, spec.KindResults)
				if err != nil {
					return err
				}
				if results, err = parseResults(displayName(file), data); err != nil {
					return err
				}
			}
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			applyOne := func(resource, sid string) (api.ApplyOutcome, error) {
				var out api.ApplyOutcome
				err := c.call(cmd.Context(), "POST", "/api/v1/resources/"+pathEscape(resource)+"/apply", map[string]string{"sid": sid}, &out)
				if err != nil {
					detail(err, &out)
				}
				return out, err
			}
			if file == "" {
				out, err := applyOne(args[0], sid)
				if ae, ok := errors.AsType[*apiError](err); ok && ae.Code == errs.Drift {
					err = &apiError{Code: ae.Code, Message: "apply refused for drift: " + ae.Message, Detail: ae.Detail}
				}
				switch {
				case out.SID == "":
				case asJSON:
					printJSON(e.stdout, out)
				default:
					fmt.Fprintf(e.stdout, "sid: %s\nplan_sid: %s\nstatus: %s\nmessage: %s\noutput: |\n%s", out.SID, out.PlanSID, out.Status, out.Message, indent(out.Output))
				}
				return err
			}
			return applyFile(cmd.Context(), e, c, results, asJSON)
		},
	}
	cmd.Flags().StringVar(&sid, "sid", "", "session id of the plan to apply")
	cmd.Flags().StringVarP(&file, "file", "f", "", "results file written by plan -o")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (with -f: one object per entry as it lands)")
	return cmd
}

// parseResults decodes a results file (what plan -o writes) strictly and
// checks it as a whole, so that a bad file applies nothing: an unknown
// field, an unknown status, an out-of-sync entry without sid or
// resource_name, and two out-of-sync entries with one sid or one resource
// and role are errs.Invalid naming the file, and the entries by position.
func parseResults(name string, data []byte) ([]ResultEntry, error) {
	var rf ResultsFile
	if err := spec.DecodeYAML(data, &rf); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errs.Invalidf("results file %s is empty", name)
		}
		if ye, ok := errors.AsType[*spec.YAMLError](err); ok {
			return nil, errs.Invalidf("results file %s: %s", name, ye)
		}
		return nil, errs.Invalidf("results file %s: %v", name, err)
	}
	if len(rf.Results) == 0 {
		return nil, errs.Invalidf("results file %s has no results", name)
	}
	lines := resultLines(data)
	entry := func(i int) string {
		r := rf.Results[i]
		if i < len(lines) {
			return fmt.Sprintf("entry %d (line %d, %s/%s)", i+1, lines[i], r.Resource, r.Role)
		}
		return fmt.Sprintf("entry %d (%s/%s)", i+1, r.Resource, r.Role)
	}
	var problems []string
	bySID, byRole := map[string]int{}, map[string]int{}
	for i, r := range rf.Results {
		switch r.Status {
		case plan.ItemOutOfSync:
		case plan.ItemInSync, plan.ItemFailed:
			continue
		default:
			problems = append(problems, fmt.Sprintf("%s: status %q is not %s, %s or %s", entry(i), r.Status, plan.ItemOutOfSync, plan.ItemInSync, plan.ItemFailed))
			continue
		}
		if r.SID == "" || r.Resource == "" {
			problems = append(problems, fmt.Sprintf("%s has no sid or no resource_name", entry(i)))
			continue
		}
		role := spec.Role{Resource: strings.TrimSpace(r.Resource), Label: r.Role}.Key()
		if j, dup := bySID[r.SID]; dup {
			problems = append(problems, fmt.Sprintf("%s has the same sid as %s", entry(i), entry(j)))
		} else if j, dup := byRole[role]; dup {
			problems = append(problems, fmt.Sprintf("%s has the same resource and role as %s", entry(i), entry(j)))
		} else {
			bySID[r.SID], byRole[role] = i, i
		}
	}
	if len(problems) > 0 {
		return nil, errs.Invalidf("results file %s: %s; nothing was applied", name, strings.Join(problems, "; "))
	}
	return rf.Results, nil
}

// resultLines returns the line of each entry of a results file's results:
// list, as far as it can tell.
func resultLines(data []byte) []int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "results" {
			continue
		}
		var lines []int
		for _, n := range m.Content[i+1].Content {
			lines = append(lines, n.Line)
		}
		return lines
	}
	return nil
}

// itemOutcome is one entry's outcome as apply -f prints it.
type itemOutcome struct {
	SID      string  `json:"sid,omitempty"`
	PlanSID  string  `json:"plan_sid"`
	Resource string  `json:"resource_name"`
	RoleName string  `json:"role_name"`
	Status   string  `json:"status"`
	Message  string  `json:"message"`
	Seconds  float64 `json:"seconds,omitempty"`
}

// applyOrder puts each entry after the out-of-sync entries whose roles it
// requires (roles declared with CREATE in the same batch, which its plan
// sets default privileges for), keeping the file's order otherwise.
func applyOrder(results []ResultEntry) []ResultEntry {
	todo := slices.Clone(results)
	out := make([]ResultEntry, 0, len(results))
	for len(todo) > 0 {
		waiting := map[string]bool{}
		for _, r := range todo {
			if r.Status == plan.ItemOutOfSync {
				waiting[r.RoleName] = true
			}
		}
		next := slices.IndexFunc(todo, func(r ResultEntry) bool {
			return !slices.ContainsFunc(r.Requires, func(x string) bool { return waiting[x] && x != r.RoleName })
		})
		if next < 0 {
			next = 0 // a cycle: the server refuses what it cannot apply
		}
		out = append(out, todo[next])
		todo = slices.Delete(todo, next, next+1)
	}
	return out
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	out := "  "
	for i := 0; i < len(s); i++ {
		out += string(s[i])
		if s[i] == '\n' && i+1 < len(s) {
			out += "  "
		}
	}
	if s[len(s)-1] != '\n' {
		out += "\n"
	}
	return out
}

// applyFile applies a results file's out-of-sync entries as one batch and
// prints each entry's outcome as it lands.
func applyFile(ctx context.Context, e *env, c *client, results []ResultEntry, asJSON bool) error {
	landed := func(o itemOutcome) {
		if asJSON {
			printJSONLine(e.stdout, o)
		} else {
			fmt.Fprintf(e.stdout, "%s  %s  %s  %s  %s\n", cmp.Or(o.SID, "-"), o.Resource, o.RoleName, o.Status, o.Message)
		}
	}
	if !asJSON {
		fmt.Fprintln(e.stdout, "SID  RESOURCE  ROLE  STATUS  MESSAGE")
	}
	var entries []ResultEntry
	var items []api.ApplyItem
	for _, r := range applyOrder(results) {
		if r.Status != plan.ItemOutOfSync {
			landed(itemOutcome{SID: r.SID, Resource: r.Resource, RoleName: r.RoleName, Status: "skipped", Message: "plan status " + r.Status})
			continue
		}
		entries = append(entries, r)
		items = append(items, api.ApplyItem{Resource: r.Resource, PlanSID: r.SID})
	}
	if len(items) == 0 {
		return nil
	}
	progress := terminal(e.stderr)
	start := time.Now()
	got := make([]bool, len(items))
	n := 0
	var failures []error
	allDrift := true
	err := c.stream(ctx, "POST", "/api/v1/applies", api.ApplyBatchRequest{Items: items}, func(b []byte) error {
		var l api.ApplyBatchLine
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("decode the server's answer: %w", err)
		}
		if l.Index < 0 || l.Index >= len(items) || got[l.Index] {
			return fmt.Errorf("the server answered for entry %d, which it was not sent or answered before", l.Index)
		}
		got[l.Index] = true
		n++
		r := entries[l.Index]
		status, msg := l.Status, l.Message
		if l.Error != nil {
			failures = append(failures, fmt.Errorf("%s/%s: %s", r.Resource, r.Role, l.Error.Message))
			msg = l.Error.Message
			allDrift = allDrift && l.Error.Code == errs.Drift
		}
		landed(itemOutcome{SID: l.SID, PlanSID: r.SID, Resource: r.Resource, RoleName: r.RoleName, Status: status, Message: msg, Seconds: l.Seconds})
		if progress {
			fmt.Fprintf(e.stderr, "\r\033[K[%d/%d] %s %s %s %.2fs", n, len(items), r.Resource, r.RoleName, status, l.Seconds)
		}
		return nil
	})
	if progress {
		fmt.Fprintln(e.stderr)
	}
	if n < len(items) {
		follow := fmt.Sprintf("stile sessions list --kind apply --since %s", time.Since(start).Truncate(time.Minute)+time.Minute)
		why := "the server's answer ended"
		if err != nil {
			why = err.Error()
		}
		if ctx.Err() != nil {
			return exitError{code: 130, err: fmt.Errorf("stopped waiting after %d of %d entries; the applies go on on the server: follow them with %s", n, len(items), follow)}
		}
		return exitError{code: 1, err: fmt.Errorf("%s after %d of %d entries; the applies go on on the server: follow them with %s", why, n, len(items), follow)}
	}
	if len(failures) > 0 {
		if allDrift {
			return exitError{code: exitDrift, err: fmt.Errorf("%d apply(s) refused for drift: %w", len(failures), errors.Join(failures...))}
		}
		return exitError{code: exitFailed, err: fmt.Errorf("%d apply(s) did not succeed: %w", len(failures), errors.Join(failures...))}
	}
	return nil
}
