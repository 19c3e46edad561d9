package server_test

import (
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/spec"
)

// openAPITypes names the Go type of every schema in openapi.yaml that lists
// properties: the components by name, request and response bodies by
// "METHOD path request" or "METHOD path STATUS".
var openAPITypes = map[string]reflect.Type{
	"#/components/schemas/Generated":      reflect.TypeFor[api.Generated](),
	"#/components/schemas/Unexpressed":    reflect.TypeFor[api.Unexpressed](),
	"#/components/schemas/Role":           reflect.TypeFor[spec.Role](),
	"#/components/schemas/PlanOutcome":    reflect.TypeFor[api.PlanOutcome](),
	"#/components/schemas/PlanDocument":   reflect.TypeFor[api.PlanDocument](),
	"#/components/schemas/PlanBlock":      reflect.TypeFor[api.PlanBlock](),
	"#/components/schemas/PlanStep":       reflect.TypeFor[api.PlanStep](),
	"#/components/schemas/Session":        reflect.TypeFor[api.Session](),
	"#/components/schemas/Grant":          reflect.TypeFor[api.Grant](),
	"#/components/schemas/AccessPolicy":   reflect.TypeFor[api.AccessPolicy](),
	"#/components/schemas/AccessRequest":  reflect.TypeFor[api.AccessRequest](),
	"#/components/schemas/Review":         reflect.TypeFor[api.Review](),
	"#/components/schemas/MyAccess":       reflect.TypeFor[api.MyAccess](),
	"#/components/schemas/RotateOutcome":  reflect.TypeFor[api.RotateOutcome](),
	"#/components/schemas/RotationStatus": reflect.TypeFor[api.RotationStatus](),
	"#/components/schemas/Rotation":       reflect.TypeFor[api.Rotation](),
	"#/components/schemas/MyRole":         reflect.TypeFor[api.MyRole](),

	"POST /api/v1/agents request":                   reflect.TypeFor[api.AgentRequest](),
	"POST /api/v1/resources/import request":         reflect.TypeFor[api.ImportRequest](),
	"PUT /api/v1/resources/{name}/admin request":    reflect.TypeFor[api.AdminRequest](),
	"POST /api/v1/admins/import request":            reflect.TypeFor[api.AdminImportRequest](),
	"POST /api/v1/plans request":                    reflect.TypeFor[api.PlanRequest](),
	"POST /api/v1/plans/declared request":           reflect.TypeFor[api.DeclaredPlanRequest](),
	"POST /api/v1/resources/{name}/apply request":   reflect.TypeFor[api.ApplyRequest](),
	"POST /api/v1/applies request":                  reflect.TypeFor[api.ApplyBatchRequest](),
	"POST /api/v1/roles/{name}/retire request":      reflect.TypeFor[api.RetireRequest](),
	"POST /api/v1/connections/cancel request":       reflect.TypeFor[api.CancelRequest](),
	"POST /api/v1/auth/cli-token request":           reflect.TypeFor[api.CLITokenRequest](),
	"POST /api/v1/auth/device/token request":        reflect.TypeFor[api.DeviceTokenRequest](),
	"POST /api/v1/roles/{name}/masking request":     reflect.TypeFor[mask.Rule](),
	"PUT /api/v1/roles/{name}/guardrails request":   reflect.TypeFor[guard.Policy](),
	"PUT /api/v1/access/{role}/{group} request":     reflect.TypeFor[api.GrantRequest](),
	"POST /api/v1/roles/{name}/rotate request":      reflect.TypeFor[api.RotateRequest](),
	"PUT /api/v1/roles/{name}/rotation request":     reflect.TypeFor[api.ScheduleRequest](),
	"POST /api/v1/campaigns request":                reflect.TypeFor[api.NewCampaign](),
	"POST /api/v1/campaigns/{id}/decisions request": reflect.TypeFor[api.CampaignDecision](),
	"#/components/schemas/Campaign":                 reflect.TypeFor[api.Campaign](),
	"#/components/schemas/CampaignItem":             reflect.TypeFor[api.CampaignItem](),
	"#/components/schemas/MemberUse":                reflect.TypeFor[api.MemberUse](),
	"#/components/schemas/Suggestion":               reflect.TypeFor[api.Suggestion](),
	"#/components/schemas/ScopeUse":                 reflect.TypeFor[api.ScopeUse](),
	"POST /api/v1/requests request":                 reflect.TypeFor[api.NewAccessRequest](),
	"POST /api/v1/requests/{id}/{decision} request": reflect.TypeFor[api.ReviewRequest](),
}

// TestOpenAPISchemasMatchTypes checks every schema of openapi.yaml that
// lists properties against the Go type the server encodes or decodes: each
// property is a JSON field of the type with a matching JSON type, and each
// JSON field of the type is a property. A schema with properties and no
// type in openAPITypes fails too, so a new one is checked from the start.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	c := schemaChecker{t: t, doc: doc}
	found := map[string]map[string]any{}
	for name, s := range mapAt(doc, "components", "schemas") {
		found["#/components/schemas/"+name] = s.(map[string]any)
	}
	for path, item := range mapAt(doc, "paths") {
		for method, op := range item.(map[string]any) {
			op, _ := op.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			if s := mapAt(op, "requestBody", "content", "application/json", "schema"); s != nil {
				found[where+" request"] = s
			}
			for status, resp := range mapAt(op, "responses") {
				resp, _ := resp.(map[string]any)
				if s := mapAt(resp, "content", "application/json", "schema"); s != nil {
					found[where+" "+status] = s
				}
			}
		}
	}
	var checked []string
	for _, where := range sortedKeys(found) {
		s := found[where]
		if _, ok := s["properties"]; !ok {
			continue
		}
		typ, ok := openAPITypes[where]
		if !ok {
			t.Errorf("%s: a schema with properties and no Go type in openAPITypes", where)
			continue
		}
		c.check(where, s, typ)
		checked = append(checked, where)
	}
	for _, where := range sortedKeys(openAPITypes) {
		if !slices.Contains(checked, where) {
			t.Errorf("%s: in openAPITypes but not a schema with properties in openapi.yaml", where)
		}
	}
}

type schemaChecker struct {
	t   *testing.T
	doc map[string]any
}

var timeType = reflect.TypeFor[time.Time]()

// check compares schema s, found at where, with typ.
func (c schemaChecker) check(where string, s map[string]any, typ reflect.Type) {
	c.t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if ref, ok := s["$ref"].(string); ok {
		name, _ := strings.CutPrefix(ref, "#/components/schemas/")
		refd := mapAt(c.doc, "components", "schemas")[name]
		if want := openAPITypes[ref]; want != nil && want != typ {
			c.t.Errorf("%s: refers to %s, documented as %v, but the Go type is %v", where, ref, want, typ)
		}
		if refd == nil {
			c.t.Errorf("%s: %s is not in the document", where, ref)
			return
		}
		s = refd.(map[string]any)
	}
	kind, _ := s["type"].(string)
	ok := true
	switch kind {
	case "object":
		ok = typ.Kind() == reflect.Struct || typ.Kind() == reflect.Map || typ.Kind() == reflect.Interface
	case "array":
		ok = typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array
		if items, isMap := s["items"].(map[string]any); ok && isMap {
			c.check(where+"[]", items, typ.Elem())
		}
	case "string":
		ok = typ.Kind() == reflect.String || typ == timeType
	case "boolean":
		ok = typ.Kind() == reflect.Bool
	case "integer":
		ok = typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Uint64
	case "number":
		ok = typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Float64
	}
	if !ok {
		c.t.Errorf("%s: the schema says %s, the Go type is %v", where, kind, typ)
		return
	}
	props, _ := s["properties"].(map[string]any)
	if props == nil || typ.Kind() != reflect.Struct {
		return
	}
	fields := jsonFields(typ)
	for _, name := range sortedKeys(props) {
		ft, ok := fields[name]
		if !ok {
			c.t.Errorf("%s: property %s is not a JSON field of %v", where, name, typ)
			continue
		}
		c.check(where+"."+name, props[name].(map[string]any), ft)
	}
	for _, name := range sortedKeys(fields) {
		if _, ok := props[name]; !ok {
			c.t.Errorf("%s: %v's JSON field %s is not in the schema", where, typ, name)
		}
	}
}

// jsonFields are the fields encoding/json writes for struct type t, by
// name, embedded structs without a tag flattened into it.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for n, ft := range jsonFields(f.Type) {
				if _, ok := out[n]; !ok {
					out[n] = ft
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// mapAt walks m down keys, nil where a step is missing or not a map.
func mapAt(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
