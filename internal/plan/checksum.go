package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/stile-dev/stile/internal/spec"
)

// canonical is what the checksum covers, serialized as JSON by encoding/json:
// struct fields in the order below, map keys sorted, UTF-8. Lists are sorted
// bytewise in Go before hashing. It excludes the sid, the informational
// table counts and PUBLIC's access, so only role-relevant state rejects an
// apply.
type canonical struct {
	Config struct {
		Config
		Resource    string `json:"resource_name"`
		Host        string `json:"host"`
		Port        int    `json:"port"`
		AdminUser   string `json:"admin_user"`
		ServerMajor int    `json:"server_major"`
	} `json:"config"`
	State State  `json:"current_state"`
	SQL   string `json:"sql_plan"`
}

// Checksum returns the hex SHA-256 of the canonical JSON of doc's config
// (with the resource's name, host, port, admin user and the server's major
// version), its current_state without table counts, and its SQL.
func Checksum(in Input, major int, doc Document) string {
	var c canonical
	c.Config.Config = doc.Config
	c.Config.Scopes = sorted(doc.Config.Scopes)
	c.Config.Privileges = sorted(doc.Config.Privileges)
	c.Config.Resource = in.Role.Resource
	c.Config.Host = in.Host
	c.Config.Port = in.Port
	c.Config.AdminUser = in.AdminUser
	c.Config.ServerMajor = major
	c.State = doc.CurrentState
	c.State.PublicAccess = nil
	if doc.Config.Type == spec.Group {
		// Its members' plans change them: applying a member before its
		// group must not make the group's plan drift.
		c.State.Members = nil
	}
	c.State.ScopeStates = make(map[string]ScopeState, len(doc.CurrentState.ScopeStates))
	for k, v := range doc.CurrentState.ScopeStates {
		v.TableCount = 0
		c.State.ScopeStates[k] = v
	}
	c.SQL = doc.SQLPlan
	data, err := json.Marshal(c)
	if err != nil {
		panic("plan: canonical JSON: " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}
