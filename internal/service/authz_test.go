package service

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// Every exported method of every service, by who may call it. A new method
// fails TestServicesAuthorize until it is placed here.
var (
	// memberOps take the Principal and decide themselves what a member
	// may see or do (their roles, their sessions, their connections).
	memberOps = []string{"CanSee", "ResourceRolesFor", "ResourceRoleFor", "ApprovalRequired", "Sessions", "Session",
		"Connect", "ConsoleRun", "CancelQuery", "Logout", "ApproveDevice",
		"Policy", "Create", "Review", "Cancel", "Get", "List", "Inbox", "Mine", "DecideGrants"}
	// signInOps authenticate a token, a cookie, a code or a cancel key:
	// they are how a principal comes to be.
	signInOps = []string{"Authenticate", "StartWebSession", "WebSession", "EndWebSession", "OIDCStart", "OIDCStartCLI",
		"OIDCCallback", "OIDCSignIn", "VerifyIDToken", "StartDevice", "DeviceToken", "CLIToken", "OpenUpstream", "CancelByKey",
		"Finish"}
	// lifecycleOps are the server's own: the daemon runs them, no request
	// reaches them.
	lifecycleOps = []string{"Recover", "Sweep", "DriftEvery", "EnforceAccess", "EnforceAccessEvery", "CatchUpUsage",
		"SetListenerAddr", "SetAPIBase", "Metrics", "ConsoleTimeout", "RolePrefix", "OIDCName", "Expire", "ExpireEvery", "RotateEvery", "CloseDue", "CloseDueEvery"}
)

// TestServicesAuthorize calls every administrators' operation of every
// service directly, with no PostgreSQL (a SQLite store) and zero arguments:
// as a member it is errs.Forbidden, as no one errs.Unauthorized, before it
// reads or changes anything. The HTTP route table test (server) checks
// the same from the outside.
func TestServicesAuthorize(t *testing.T) {
	svc, err := newService(t, t.TempDir(), "stile", runner.Local{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := svc.Access.CreateUser(ctx, Admin, "mia", false); err != nil {
		t.Fatal(err)
	}
	_, token, err := svc.Access.CreateToken(ctx, Admin, "mia")
	if err != nil {
		t.Fatal(err)
	}
	mia, err := svc.SignIn.Authenticate(ctx, token)
	if err != nil || mia.Admin {
		t.Fatalf("mia: %+v %v", mia, err)
	}
	before, err := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}

	classified := slices.Concat(memberOps, signInOps, lifecycleOps)
	principal := reflect.TypeFor[Principal]()
	admins := 0
	v := reflect.ValueOf(*svc)
	for i := range v.NumField() {
		service := v.Field(i)
		name := v.Type().Field(i).Name
		for m := range service.Type().Methods() {
			if slices.Contains(classified, m.Name) {
				continue
			}
			admins++
			fn := service.Method(m.Index)
			for _, who := range []struct {
				p    Principal
				code errs.Code
			}{{mia, errs.Forbidden}, {Principal{}, errs.Unauthorized}} {
				args := make([]reflect.Value, fn.Type().NumIn())
				takesP := false
				var got error
				for j := range args {
					switch in := fn.Type().In(j); {
					case in == principal:
						args[j], takesP = reflect.ValueOf(who.p), true
					case in == reflect.TypeFor[context.Context]():
						args[j] = reflect.ValueOf(ctx)
					case in == reflect.TypeFor[func(ItemOutcome)]():
						// ApplyBatch answers per item.
						args[j] = reflect.ValueOf(func(o ItemOutcome) { got = o.Err })
					case in == reflect.TypeFor[[]ApplyItem]():
						args[j] = reflect.ValueOf([]ApplyItem{{Resource: "r", PlanSID: "s"}})
					default:
						args[j] = reflect.Zero(in)
					}
				}
				if !takesP {
					t.Errorf("%s.%s takes no Principal: it is an administrators' operation anyone in the process could call (or list it as a member, sign-in or lifecycle operation)", name, m.Name)
					break
				}
				out := fn.Call(args)
				if len(out) == 0 {
					// ApplyBatch: its emit set got.
				} else if last := out[len(out)-1]; last.Type() == reflect.TypeFor[error]() && !last.IsNil() {
					got = last.Interface().(error)
				}
				if !errs.Is(got, who.code) {
					t.Errorf("%s.%s as %q: %v, want %s", name, m.Name, who.p.User, got, who.code)
				}
			}
		}
	}
	if admins < 40 {
		t.Errorf("only %d administrators' operations were called: the walk over the services is broken", admins)
	}
	after, err := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("the refused calls recorded %d sessions", len(after)-len(before))
	}

	// What a member decides for themselves: mia sees no role she was not
	// granted, and not the admin's session.
	if _, err := svc.Access.ResourceRoleFor(ctx, mia, "stile_x_ro_00000000"); !errs.Is(err, errs.NotFound) {
		t.Errorf("ResourceRoleFor as mia: %v, want not found", err)
	}
	if _, err := svc.Access.ApprovalRequired(ctx, mia, "stile_x_ro_00000000"); !errs.Is(err, errs.NotFound) {
		t.Errorf("ApprovalRequired as mia: %v, want not found", err)
	}
	if len(before) == 0 {
		t.Fatal("no session recorded by the admin's setup")
	}
	if _, err := svc.Reporting.Session(ctx, mia, before[0].SID); !errs.Is(err, errs.Forbidden) {
		t.Errorf("Session %s (%s) as mia: %v, want forbidden", before[0].SID, before[0].Kind, err)
	}
	if list, err := svc.Reporting.Sessions(ctx, mia, store.SessionFilter{}); err != nil || len(list) != 0 {
		t.Errorf("Sessions as mia: %d sessions, %v; want none of the admin's", len(list), err)
	}
	if _, err := svc.Reporting.Sessions(ctx, Principal{}, store.SessionFilter{}); !errs.Is(err, errs.Unauthorized) {
		t.Errorf("Sessions as no one: %v, want unauthorized", err)
	}
	// The requests' and campaigns' member operations refuse no one first.
	nobody := Principal{}
	for name, call := range map[string]func() error{
		"Requests.Create": func() error { _, err := svc.Requests.Create(ctx, nobody, "r", time.Hour, ""); return err },
		"Requests.Review": func() error { _, err := svc.Requests.Review(ctx, nobody, "id", true, ""); return err },
		"Requests.Cancel": func() error { _, err := svc.Requests.Cancel(ctx, nobody, "id"); return err },
		"Requests.Get":    func() error { _, err := svc.Requests.Get(ctx, nobody, "id"); return err },
		"Requests.List":   func() error { _, err := svc.Requests.List(ctx, nobody, store.RequestFilter{}); return err },
		"Requests.Inbox":  func() error { _, err := svc.Requests.Inbox(ctx, nobody); return err },
		"Requests.Mine":   func() error { _, err := svc.Requests.Mine(ctx, nobody); return err },
		"Campaigns.List":  func() error { _, err := svc.Campaigns.List(ctx, nobody); return err },
		"Campaigns.Get":   func() error { _, err := svc.Campaigns.Get(ctx, nobody, "id"); return err },
		"Campaigns.DecideGrants": func() error {
			_, err := svc.Campaigns.DecideGrants(ctx, nobody, "id", []string{"r/g"}, true, "")
			return err
		},
	} {
		if err := call(); !errs.Is(err, errs.Unauthorized) {
			t.Errorf("%s as no one: %v, want unauthorized", name, err)
		}
	}
	// A member reviews no request of a role whose policy names no
	// approver group (administrators decide), and sees no campaign.
	if _, err := svc.Campaigns.Get(ctx, mia, "id"); !errs.Is(err, errs.NotFound) {
		t.Errorf("Campaigns.Get as mia: %v, want not found", err)
	}
}
