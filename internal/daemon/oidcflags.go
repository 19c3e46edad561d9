package daemon

import (
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/local"
	"github.com/stile-dev/stile/internal/service"
)

// oidcFlags are stile server's flags for signing in with the company's
// identity provider.
type oidcFlags struct {
	issuer, clientID, secretFile, name, groupsClaim, adminGroup, publicURL string
	scopes, groupMap                                                       []string
	sessionMax                                                             time.Duration
}

func (f *oidcFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.issuer, "oidc-issuer", "", "sign in to the web app with this OpenID Connect provider (its issuer URL); the client secret comes from STILE_OIDC_CLIENT_SECRET or --oidc-client-secret-file")
	fl.StringVar(&f.clientID, "oidc-client-id", "", "stile's client id at the provider")
	fl.StringVar(&f.secretFile, "oidc-client-secret-file", "", "file holding the client secret")
	fl.StringVar(&f.name, "oidc-name", "SSO", `the provider's name on the sign-in page ("Sign in with NAME")`)
	fl.StringSliceVar(&f.scopes, "oidc-scopes", []string{"profile", "email"}, "scopes to ask for besides openid (some providers want groups)")
	fl.StringVar(&f.groupsClaim, "oidc-groups-claim", "groups", "the claim that lists a person's groups")
	fl.StringVar(&f.adminGroup, "oidc-admin-group", "", "provider group whose members are stile administrators")
	fl.StringArrayVar(&f.groupMap, "oidc-group-map", nil, "PROVIDER=STILE: take provider group PROVIDER as stile group STILE (repeat; when given, other provider groups are ignored)")
	fl.DurationVar(&f.sessionMax, "oidc-session-max", service.DefaultOIDCSessionMax, "a web sign-in through the provider ends after this however much it is used; then the provider is asked again (a person disabled there loses access by then)")
	fl.StringVar(&f.publicURL, "public-url", "", "the URL people reach the web app at (env STILE_PUBLIC_URL; default http(s)://LISTEN); the provider redirects to PUBLIC_URL/auth/oidc/callback")
}

// config checks the flags and reads the secret: nil when sign-in with a
// provider is off.
func (f *oidcFlags) config(e *env, listen string, tls bool) (*service.OIDCConfig, error) {
	if f.publicURL == "" {
		f.publicURL = e.getenv("STILE_PUBLIC_URL")
	}
	if f.issuer == "" {
		if f.clientID != "" {
			return nil, errs.Invalidf("--oidc-client-id needs --oidc-issuer")
		}
		return nil, nil
	}
	for flag, v := range map[string]string{"--oidc-issuer": f.issuer, "--public-url": f.publicURL} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && local.IsLoopback(u.Hostname()))) {
			return nil, errs.Invalidf("%s %q must be an https:// URL (http only on loopback)", flag, v)
		}
	}
	if f.clientID == "" {
		return nil, errs.Invalidf("--oidc-issuer needs --oidc-client-id")
	}
	if f.sessionMax < time.Minute {
		return nil, errs.Invalidf("--oidc-session-max must be at least 1m, not %s", f.sessionMax)
	}
	secret := e.getenv("STILE_OIDC_CLIENT_SECRET")
	if f.secretFile != "" {
		data, err := os.ReadFile(f.secretFile)
		if err != nil {
			return nil, errs.Invalidf("--oidc-client-secret-file: %v", err)
		}
		secret = strings.TrimSpace(string(data))
	}
	if secret == "" {
		return nil, errs.Invalidf("--oidc-issuer needs the client secret: STILE_OIDC_CLIENT_SECRET or --oidc-client-secret-file")
	}
	public := f.publicURL
	if public == "" {
		public = map[bool]string{true: "https://", false: "http://"}[tls] + listen
	}
	cfg := &service.OIDCConfig{Issuer: f.issuer, ClientID: f.clientID, ClientSecret: secret, Name: f.name, Scopes: f.scopes,
		GroupsClaim: f.groupsClaim, AdminGroup: f.adminGroup, SessionMax: f.sessionMax, RedirectURL: strings.TrimSuffix(public, "/") + "/auth/oidc/callback"}
	for _, m := range f.groupMap {
		from, to, ok := strings.Cut(m, "=")
		if !ok || from == "" || to == "" {
			return nil, errs.Invalidf("--oidc-group-map %q is not PROVIDER=STILE", m)
		}
		if cfg.GroupMap == nil {
			cfg.GroupMap = map[string]string{}
		}
		cfg.GroupMap[from] = to
	}
	return cfg, nil
}
