package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
)

func newMaskingCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "masking",
		Short: "Mask sensitive values in a resource role's query results (docs/masking.md)",
		Example: `  stile masking add stile_shop_ro_1a2b3c4d --column 'shop.public.customers.email' --style partial
  stile masking add stile_shop_ro_1a2b3c4d --column '*.*.*.ssn' --strict
  stile masking add stile_shop_ro_1a2b3c4d --detector card --style partial
  stile masking list stile_shop_ro_1a2b3c4d
  stile masking check stile_shop_ro_1a2b3c4d`,
	}
	list := dataCmd(e, "list ROLE", "List a role's masking rules", "  stile masking list stile_shop_ro_1a2b3c4d", 1,
		func(c *client, cmd *cobra.Command, a []string) (any, func(io.Writer) error, error) {
			var out struct {
				Rules []mask.Rule `json:"rules"`
			}
			err := c.call(cmd.Context(), "GET", "/api/v1/roles/"+pathEscape(a[0])+"/masking", nil, &out)
			return out, func(w io.Writer) error {
				tw := table(w)
				fmt.Fprintln(tw, "ID\tCOLUMN\tDETECTOR\tSTYLE\tSTRICT")
				for _, r := range out.Rules {
					det := r.Detector
					if r.Regex != "" {
						det += " " + r.Regex
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", r.ID, dash(r.Column), dash(det), r.Style, r.Strict)
				}
				return tw.Flush()
			}, err
		})
	var rule mask.Rule
	add := simple(e, "add ROLE", "Add a masking rule: a column pattern or a content detector, and a style", "  stile masking add stile_shop_ro_1a2b3c4d --detector email --style redact", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			if err := rule.Validate(); err != nil {
				return "", usageError{msg: err.Error(), try: "--column db.schema.table.column or --detector email|card|iban|phone|ipv4|ipv6|jwt|regex, and --style redact|partial|hash"}
			}
			var got mask.Rule
			if err := c.call(cmd.Context(), "POST", "/api/v1/roles/"+pathEscape(a[0])+"/masking", rule, &got); err != nil {
				return "", err
			}
			msg := fmt.Sprintf("rule %s added to %s: connections opened from now on are masked", got.ID, a[0])
			if got.Strict {
				msg += "; PostgreSQL withholds the column once the role's next plan is applied (stile resources plan, then apply)"
			}
			return msg, nil
		})
	add.Flags().StringVar(&rule.ID, "id", "", "the rule's id (default: made up)")
	add.Flags().StringVar(&rule.Column, "column", "", "mask this column: database.schema.table.column, * for any part")
	add.Flags().StringVar(&rule.Detector, "detector", "", "mask what this finds in any value: email, card, iban, phone, ipv4, ipv6, jwt or regex")
	add.Flags().StringVar(&rule.Regex, "regex", "", "the regex detector's regular expression (RE2)")
	add.Flags().StringVar(&rule.Style, "style", "redact", "redact (****), partial (keep the shape) or hash (a keyed, stable token)")
	add.Flags().BoolVar(&rule.Strict, "strict", false, "also withhold SELECT on the column in PostgreSQL, from the role's next apply (column rules)")
	remove := simple(e, "remove ROLE ID", "Remove a masking rule", "  stile masking remove stile_shop_ro_1a2b3c4d 3f9c0a1b", 2,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			return "rule " + a[1] + " removed from " + a[0], c.call(cmd.Context(), "DELETE", "/api/v1/roles/"+pathEscape(a[0])+"/masking/"+pathEscape(a[1]), nil, nil)
		})
	var o output
	check := &cobra.Command{
		Use:     "check ROLE",
		Short:   "Check that no path returns a raw value: each rule's canary through the relay, the PostgreSQL listener, stile connect's endpoint and, for strict rules, the role's own password",
		Example: "  stile masking check stile_shop_ro_1a2b3c4d\n  stile masking check stile_shop_ro_1a2b3c4d --json   # exits 1 on a raw value too",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var out api.MaskingCheck
			if err := c.call(cmd.Context(), "POST", "/api/v1/roles/"+pathEscape(a[0])+"/masking/check", nil, &out); err != nil {
				return err
			}
			err = o.print(e, out, func(w io.Writer) error {
				tw := table(w)
				fmt.Fprintln(tw, "PATH\tFORMAT\tOUTCOME\tCANARY\tDETAIL")
				for _, p := range out.Probes {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Path, dash(p.Format), p.Outcome, p.Canary, dash(p.Detail))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if out.Leaks == 0 && out.Errors == 0 {
					fmt.Fprintf(w, "no raw value on any path (session %s)\n", out.SID)
				}
				return nil
			})
			switch {
			case err != nil:
				return err
			case out.Leaks > 0:
				return fmt.Errorf("%d probe(s) returned a raw value (session %s; an alert was raised)", out.Leaks, out.SID)
			case out.Errors > 0:
				return fmt.Errorf("%d probe(s) could not tell (session %s)", out.Errors, out.SID)
			}
			return nil
		},
	}
	o.flags(check)
	cmd.AddCommand(list, add, remove, check)
	return cmd
}

// dash is s, or "-" for nothing.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newGuardrailsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guardrails",
		Short: "Refuse kinds of statement on a resource role, or make it read-only (docs/masking.md)",
		Example: `  stile guardrails set stile_shop_rw_1a2b3c4d --block ddl,truncate,delete_without_where,update_without_where
  stile guardrails set stile_shop_ro_1a2b3c4d --read-only
  stile guardrails show stile_shop_rw_1a2b3c4d`,
	}
	show := dataCmd(e, "show ROLE", "Show a role's guardrails", "  stile guardrails show stile_shop_rw_1a2b3c4d", 1,
		func(c *client, cmd *cobra.Command, a []string) (any, func(io.Writer) error, error) {
			var p guard.Policy
			err := c.call(cmd.Context(), "GET", "/api/v1/roles/"+pathEscape(a[0])+"/guardrails", nil, &p)
			return p, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "block: %s\nread_only: %v\n", dash(strings.Join(p.Block, ",")), p.ReadOnly)
				return err
			}, err
		})
	var p guard.Policy
	set := simple(e, "set ROLE", "Replace a role's guardrails (no flags: none)", "  stile guardrails set stile_shop_rw_1a2b3c4d --block ddl,drop", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			if err := p.Validate(); err != nil {
				return "", usageError{msg: err.Error(), try: "--block " + strings.Join(guard.Kinds, ",")}
			}
			if err := c.call(cmd.Context(), "PUT", "/api/v1/roles/"+pathEscape(a[0])+"/guardrails", p, nil); err != nil {
				return "", err
			}
			return fmt.Sprintf("guardrails of %s: block %s, read-only %v (connections opened from now on)", a[0], dash(strings.Join(p.Block, ",")), p.ReadOnly), nil
		})
	set.Flags().StringSliceVar(&p.Block, "block", nil, "kinds of statement to refuse: "+strings.Join(guard.Kinds, ", "))
	set.Flags().BoolVar(&p.ReadOnly, "read-only", false, "open every connection read-only, and refuse what would undo it")
	cmd.AddCommand(show, set)
	return cmd
}
