package cli

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
)

// Dynamic completion: the names a command's argument or flag takes, asked
// of the server (a second at most; nothing when it does not answer).

type completer func(ctx context.Context, c *client) []string

func completeResources(ctx context.Context, c *client) []string {
	var out struct {
		Resources []api.ResourceView `json:"resources"`
	}
	c.call(ctx, "GET", "/api/v1/resources", nil, &out)
	names := make([]string, len(out.Resources))
	for i, r := range out.Resources {
		names[i] = r.Name
	}
	return names
}

func completeRoles(ctx context.Context, c *client) []string {
	var out struct {
		Roles []api.ResourceRole `json:"roles"`
	}
	c.call(ctx, "GET", "/api/v1/roles", nil, &out)
	names := make([]string, len(out.Roles))
	for i, r := range out.Roles {
		names[i] = r.Name
	}
	return names
}

// completeLabels completes the role labels stile keeps (ro, rw, …): those
// of the resource named first in args, or of every resource when args is
// empty; sorted, each once.
func completeLabels(args []string) completer {
	return func(ctx context.Context, c *client) []string {
		var out struct {
			Roles []api.ResourceRole `json:"roles"`
		}
		c.call(ctx, "GET", "/api/v1/roles", nil, &out)
		labels := map[string]bool{}
		for _, r := range out.Roles {
			if len(args) == 0 || r.Resource == args[0] {
				labels[r.Label] = true
			}
		}
		return slices.Sorted(maps.Keys(labels))
	}
}

func completeAgents(ctx context.Context, c *client) []string {
	var out struct {
		Agents []api.AgentView `json:"agents"`
	}
	c.call(ctx, "GET", "/api/v1/agents", nil, &out)
	var names []string
	for _, a := range out.Agents {
		if !a.Revoked {
			names = append(names, a.Name)
		}
	}
	return names
}

func completeUsers(ctx context.Context, c *client) []string {
	var out struct {
		Users []api.User `json:"users"`
	}
	c.call(ctx, "GET", "/api/v1/users", nil, &out)
	names := make([]string, len(out.Users))
	for i, u := range out.Users {
		names[i] = u.Name
	}
	return names
}

func completeGroups(ctx context.Context, c *client) []string {
	var out struct {
		Groups map[string][]string `json:"groups"`
	}
	c.call(ctx, "GET", "/api/v1/groups", nil, &out)
	return slices.Sorted(maps.Keys(out.Groups))
}

// completeSessions completes recent session ids of kind (all kinds when
// empty), each with what it was as the description.
func completeSessions(kind string) completer {
	return func(ctx context.Context, c *client) []string {
		q := url.Values{"limit": {"50"}}
		if kind != "" {
			q.Set("kind", kind)
		}
		var out struct {
			Sessions []api.Session `json:"sessions"`
		}
		c.call(ctx, "GET", "/api/v1/sessions?"+q.Encode(), nil, &out)
		ids := make([]string, len(out.Sessions))
		for i, s := range out.Sessions {
			ids[i] = s.SID + "\t" + strings.TrimSpace(s.Kind+" "+s.Resource+" "+s.Role+" "+s.Status)
		}
		return ids
	}
}

// completion returns a cobra completion function from one completer per
// positional argument.
func completion(e *env, args ...completer) cobra.CompletionFunc {
	return func(cmd *cobra.Command, done []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(done) >= len(args) || args[len(done)] == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return ask(cmd, e, args[len(done)]), cobra.ShellCompDirectiveNoFileComp
	}
}

// flagCompletion returns a cobra completion function for a flag's value.
func flagCompletion(e *env, f completer) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return ask(cmd, e, f), cobra.ShellCompDirectiveNoFileComp
	}
}

func ask(cmd *cobra.Command, e *env, f completer) []string {
	c, err := newClient(cmd, e)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return f(ctx, c)
}

// completions sets the dynamic completion of every command that takes a
// name: resources, roles, role labels, agents, users, groups and recent
// sids.
func completions(root *cobra.Command, e *env) {
	args := map[string][]completer{
		"stile resources health":        {completeResources},
		"stile resources plan":          {completeResources},
		"stile resources apply":         {completeResources},
		"stile resources admin set":     {completeResources},
		"stile resources plan status":   {completeSessions("plan")},
		"stile sessions show":           {completeSessions("")},
		"stile roles show":              {completeRoles},
		"stile roles reveal":            {completeRoles},
		"stile roles delete":            {completeRoles},
		"stile connect":                 {completeRoles},
		"stile agents revoke":           {completeAgents},
		"stile users disable":           {completeUsers},
		"stile users enable":            {completeUsers},
		"stile tokens create":           {completeUsers},
		"stile tokens list":             {completeUsers},
		"stile groups add":              {completeGroups, completeUsers},
		"stile groups remove":           {completeGroups, completeUsers},
		"stile access grant":            {completeRoles},
		"stile access revoke":           {completeRoles},
		"stile access require-approval": {completeRoles},
	}
	flags := map[string]map[string]completer{
		"stile resources apply":     {"sid": completeSessions("plan")},
		"stile resources plan":      {"resource": completeResources},
		"stile resources admin set": {"agent": completeAgents},
		"stile access grant":        {"group": completeGroups},
		"stile access revoke":       {"group": completeGroups},
		"stile sessions list":       {"resource": completeResources},
	}
	// Flags whose names depend on the command's arguments.
	argFlags := map[string]map[string]func(args []string) completer{
		"stile resources plan": {"role": completeLabels},
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if a, ok := args[c.CommandPath()]; ok {
			c.ValidArgsFunction = completion(e, a...)
		}
		for name, f := range flags[c.CommandPath()] {
			c.RegisterFlagCompletionFunc(name, flagCompletion(e, f))
		}
		for name, f := range argFlags[c.CommandPath()] {
			c.RegisterFlagCompletionFunc(name, func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
				return ask(cmd, e, f(args)), cobra.ShellCompDirectiveNoFileComp
			})
		}
	}
	walk(root)
}
