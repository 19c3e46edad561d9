package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// output is how a command that prints data prints it: a table for people
// by default, or for programs --json, -o json or -o yaml. JSON and YAML
// carry the API's shape (documented in openapi.yaml), never the table's.
type output struct {
	json   bool
	format string
}

// flags gives cmd the output flags.
func (o *output) flags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	cmd.Flags().StringVarP(&o.format, "output", "o", "", "print json or yaml instead of a table")
}

// print writes v as asked, or human(w) for people.
func (o *output) print(e *env, v any, human func(w io.Writer) error) error {
	switch format := o.format; {
	case o.json || format == "json":
		return printJSON(e.stdout, v)
	case format == "yaml":
		return printYAML(e.stdout, v)
	case format == "":
		return human(e.stdout)
	default:
		return usageError{msg: fmt.Sprintf("-o %q: the output format is json or yaml", format), try: "-o json, -o yaml or --json"}
	}
}

// printYAML writes v as YAML with the field names of its JSON.
func printYAML(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return err
	}
	out, err := yaml.Marshal(generic)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// dataCmd is a command that fetches data and prints it through output:
// fetch returns the data and how to print it for people.
func dataCmd(e *env, use, short, example string, args int, fetch func(c *client, cmd *cobra.Command, args []string) (any, func(io.Writer) error, error)) *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use: use, Short: short, Example: example, Args: cobra.ExactArgs(args),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			data, human, err := fetch(c, cmd, a)
			if err != nil {
				return err
			}
			return o.print(e, data, human)
		},
	}
	o.flags(cmd)
	return cmd
}
