// Package charttest checks the Helm chart deploy/helm/stile as `helm lint
// --strict` and `helm template` see it, through Helm's own packages; decodes
// every object it renders strictly into the Kubernetes API types; and runs
// the stile binary on the settings, files and environment a pod of the
// chart would get. It is a module of its own so that Helm and the
// Kubernetes types are no dependency of stile's.
package charttest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	server = "acme-stile"
	agent  = "acme-stile-agent"
)

// TestChart renders each values file of testdata, holds it to what every
// render promises (checkCommon) and to what its values ask, and has the
// real stile read back the config files the chart writes (--print-config
// refuses an unknown key or a bad value).
func TestChart(t *testing.T) {
	bin := buildStile(t)
	user := userObjects(t)
	existing := append(slices.Collect(maps.Keys(user)), "stile-data", "stile-audit")
	for _, c := range []struct {
		file  string
		check func(t *testing.T, r *rendered)
	}{
		{"default.yaml", func(t *testing.T, r *rendered) {
			wantObjects(t, r, "ServiceAccount/acme-stile", "Secret/acme-stile-data-key", "Secret/acme-stile-admin-token",
				"ConfigMap/acme-stile-server", "Deployment/acme-stile", "Service/acme-stile", "PersistentVolumeClaim/acme-stile-data")
			d := r.deployments[server]
			if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				t.Errorf("replicas %d, strategy %q: want 1, Recreate (one pod holds the SQLite volume)", *d.Spec.Replicas, d.Spec.Strategy.Type)
			}
			key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(r.secrets["acme-stile-data-key"].Data["secret.key"])))
			if err != nil || len(key) != 32 {
				t.Errorf("generated data key: %d bytes, %v: want base64 of 32", len(key), err)
			}
			if tok := string(r.secrets["acme-stile-admin-token"].Data["admin.token"]); !strings.HasPrefix(tok, "stla_") || len(tok) < 40 {
				t.Errorf("generated admin token %q", tok)
			}
			for _, name := range []string{"acme-stile-data-key", "acme-stile-admin-token"} {
				if r.secrets[name].Annotations["helm.sh/resource-policy"] != "keep" {
					t.Errorf("secret %s is deleted on uninstall", name)
				}
			}
			if r.claims["acme-stile-data"].Annotations["helm.sh/resource-policy"] != "keep" {
				t.Error("the store's claim is deleted on uninstall")
			}
			wantPorts(t, r, "http:8009", "metrics:9090")
			c := r.container(t, server)
			for _, p := range []string{c.StartupProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path} {
				if p != "/healthz" {
					t.Errorf("probe on %q, want /healthz", p)
				}
			}
			if s := c.ReadinessProbe.HTTPGet.Scheme; s != "HTTP" {
				t.Errorf("probe scheme %s without TLS", s)
			}
			if c.Image != "stile:dev" {
				t.Errorf("image %q, want the chart's appVersion", c.Image)
			}
			// As a subchart it gets its parent's global values, which the schema takes.
			if _, err := helmTemplate(map[string]any{"global": map[string]any{"imageRegistry": "registry.example.com"}}); err != nil {
				t.Errorf("with a parent chart's global values: %v", err)
			}
			// The notes' command reads the token: jsonpath needs the key's dot escaped.
			if _, notes, err := render(map[string]any{}); err != nil || !strings.Contains(notes, `get secret acme-stile-admin-token -o jsonpath='{.data.admin\.token}' | base64 -d`) {
				t.Errorf("NOTES.txt (%v):\n%s", err, notes)
			}
		}},
		{"ha.yaml", func(t *testing.T, r *rendered) {
			wantObjects(t, r, "ServiceAccount/acme-stile", "ConfigMap/acme-stile-server", "Deployment/acme-stile",
				"Service/acme-stile", "PodDisruptionBudget/acme-stile", "ServiceMonitor/acme-stile", "Ingress/acme-stile",
				"ConfigMap/acme-stile-dashboard")
			dashboard, err := os.ReadFile("../stile/dashboards/stile.json")
			if err != nil {
				t.Fatal(err)
			}
			cm := r.configMaps["acme-stile-dashboard"]
			if got := cm.Data["stile.json"]; got != strings.TrimRight(string(dashboard), "\n") || !json.Valid([]byte(got)) || cm.Labels["grafana_dashboard"] != "1" {
				t.Errorf("the dashboard ConfigMap (labels %v) does not hold dashboards/stile.json as it is", cm.Labels)
			}
			if got := r.configMaps["acme-stile-server"].Data["server.yaml"]; !strings.Contains(got, `public-url: "https://stile.example.com"`) {
				t.Errorf("the Ingress's host is not the public URL:\n%s", got)
			}
			if ing := r.ingresses[server]; len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "stile.example.com" || len(ing.Spec.TLS) != 1 {
				t.Errorf("ingress: %+v", ing.Spec)
			}
			d := r.deployments[server]
			if *d.Spec.Replicas != 3 || d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
				t.Errorf("replicas %d, strategy %q: want 3, rolling", *d.Spec.Replicas, d.Spec.Strategy.Type)
			}
			c := r.container(t, server)
			if e := env(c, "STILE_STORE"); e == nil || e.ValueFrom.SecretKeyRef.Name != "stile-store" || e.ValueFrom.SecretKeyRef.Key != "url" {
				t.Errorf("STILE_STORE %+v: want the store's Secret", e)
			}
			if e := env(c, "STILE_ADVERTISE_URL"); e == nil || e.Value != "https://$(POD_IP):8009" {
				t.Errorf("STILE_ADVERTISE_URL %+v", e)
			}
			if c.ReadinessProbe.HTTPGet.Scheme != "HTTPS" {
				t.Error("probes speak HTTP to a TLS server")
			}
			wantPorts(t, r, "http:8009", "postgresql:5433", "metrics:9090")
			if mu := r.budgets[server].Spec.MaxUnavailable; mu == nil || mu.IntValue() != 1 {
				t.Errorf("budget maxUnavailable %v", mu)
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "audit" && m.MountPath == "/var/log/stile" }) {
				t.Errorf("the extra volume is not mounted: %v", c.VolumeMounts)
			}
			if r.monitors[server].Labels["release"] != "prometheus" {
				t.Error("the ServiceMonitor lacks the labels asked for")
			}
		}},
		{"agent.yaml", func(t *testing.T, r *rendered) {
			wantObjects(t, r, "ServiceAccount/acme-stile", "ConfigMap/acme-stile-agent", "Deployment/acme-stile-agent")
			if c := r.container(t, agent); !slices.Equal(c.Args, []string{"agent", "--config", "/etc/stile/config/agent.yaml"}) || len(c.Ports) > 0 {
				t.Errorf("agent container args %q ports %v", c.Args, c.Ports)
			}
			if got := r.configMaps["acme-stile-agent"].Data["agent.yaml"]; !strings.Contains(got, `url: "https://stile.example.com"`) || !strings.Contains(got, "ca: /etc/stile/ca/ca.crt") {
				t.Errorf("agent.yaml:\n%s", got)
			}
		}},
		{"server-and-agent.yaml", func(t *testing.T, r *rendered) {
			wantObjects(t, r, "ServiceAccount/acme-stile", "Secret/acme-stile-data-key", "Secret/acme-stile-admin-token",
				"ConfigMap/acme-stile-server", "ConfigMap/acme-stile-agent", "Deployment/acme-stile", "Service/acme-stile", "Deployment/acme-stile-agent")
			if got := r.configMaps["acme-stile-agent"].Data["agent.yaml"]; !strings.Contains(got, `url: "http://acme-stile.stile.svc:8009"`) {
				t.Errorf("the agent does not dial its release's server:\n%s", got)
			}
		}},
		{"tls-sqlite.yaml", func(t *testing.T, r *rendered) {
			wantPorts(t, r, "http:8009", "postgresql:5433")
		}},
	} {
		t.Run(c.file, func(t *testing.T) {
			vals := loadValues(t, c.file)
			if problems := helmLint(vals); len(problems) > 0 {
				t.Fatalf("helm lint: %s", strings.Join(problems, "\n"))
			}
			manifests, err := helmTemplate(vals)
			if err != nil {
				t.Fatalf("helm template: %v", err)
			}
			r := index(t, decodeAll(t, manifests), existing...)
			checkCommon(t, r)
			c.check(t, r)
			for name, d := range r.deployments {
				root := t.TempDir()
				args, env := pod(t, r, user, name, root)
				out, err := runStile(t, bin, env, append(args, "--print-config")...)
				if err != nil {
					t.Fatalf("%s: stile %s --print-config: %v\n%s", name, strings.Join(args, " "), err, out)
				}
				if strings.Contains(out, "hunter2") {
					t.Errorf("%s: --print-config shows the store's password:\n%s", name, out)
				}
				t.Logf("%s (%s):\n%s", name, d.Spec.Template.Spec.Containers[0].Name, out)
			}
		})
	}
}

// wantObjects: the render holds exactly these objects.
func wantObjects(t *testing.T, r *rendered, want ...string) {
	t.Helper()
	got := slices.Sorted(slices.Values(r.kinds))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("rendered %v\nwant %v", got, want)
	}
}

// wantPorts: the server's Service has exactly these name:port.
func wantPorts(t *testing.T, r *rendered, want ...string) {
	t.Helper()
	var got []string
	for _, p := range r.services[server].Spec.Ports {
		got = append(got, fmt.Sprintf("%s:%d", p.Name, p.Port))
	}
	if !slices.Equal(got, want) {
		t.Errorf("service ports %v, want %v", got, want)
	}
}

// TestChartRefuses: values the chart cannot deploy fail `helm template`
// with a message naming what to change. `helm lint` reports the values the
// schema refuses too; the chart's own refusals (fail) it logs and passes,
// as Helm's lint mode does with every chart's fail.
func TestChartRefuses(t *testing.T) {
	for _, c := range []struct {
		name, values, want string
		schema             bool
	}{
		{"replicas on sqlite", "server: {replicas: 2}", "server.replicas is 2: more than one replica needs the PostgreSQL store", false},
		{"postgres without its secret", "store: {type: postgres}", "store.postgres.existingSecret", false},
		{"listener without tls", "pgListener: {enabled: true}", "pgListener.enabled: the PostgreSQL listener speaks TLS only", false},
		{"a setting the chart owns", "server: {config: {listen: ':80'}}", "server.config.listen: the chart sets listen itself", false},
		{"the store in config", "server: {config: {store: 'postgres://x'}}", "server.config.store: the chart sets store itself", false},
		{"nothing", "server: {enabled: false}", "nothing to deploy", false},
		{"agent without token", "agent: {enabled: true}", "agent.token.existingSecret", false},
		{"agent alone without url", "server: {enabled: false}\nagent: {enabled: true, token: {existingSecret: t}}", "set agent.url", false},
		{"agent url in config", "agent: {enabled: true, token: {existingSecret: t}, config: {url: 'https://x'}}", "agent.config.url: the chart sets url itself", false},
		{"an ingress without hosts", "ingress: {enabled: true}", "ingress.hosts", false},
		{"two CA sources", "agent: {enabled: true, token: {existingSecret: t}, ca: {existingSecret: a, existingConfigMap: b}}", "not both", false},
		{"a misspelt value", "server: {replica: 2}", "additional properties 'replica' not allowed", true},
		{"an unknown store", "store: {type: mysql}", "/store/type': value must be one of", true},
		{"a port out of range", "server: {port: 70000}", "/server/port': maximum", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			vals := map[string]any{}
			if err := yaml.Unmarshal([]byte(c.values), &vals); err != nil {
				t.Fatal(err)
			}
			_, err := helmTemplate(vals)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template: %v\nwant an error with %q", err, c.want)
			}
			if problems := strings.Join(helmLint(vals), "\n"); c.schema && !strings.Contains(problems, c.want) {
				t.Errorf("helm lint: %q\nwant %q", problems, c.want)
			}
		})
	}
}

// TestChartServerRuns starts the server as the chart's pod would run it
// (its config file, the mounted key, token and certificate, its
// environment), with the chart's defaults and on TLS with the PostgreSQL
// listener, and reaches it as the probes and a client do: /healthz, the
// API with the mounted admin token, the listener's port.
func TestChartServerRuns(t *testing.T) {
	bin := buildStile(t)
	user := userObjects(t)
	for _, file := range []string{"default.yaml", "tls-sqlite.yaml"} {
		t.Run(file, func(t *testing.T) {
			vals := loadValues(t, file)
			httpPort, pgPort := freePort(t), freePort(t)
			vals["server"] = map[string]any{"port": httpPort}
			if l, ok := vals["pgListener"].(map[string]any); ok {
				l["port"] = pgPort
			} else {
				pgPort = 0
			}
			manifests, err := helmTemplate(vals)
			if err != nil {
				t.Fatal(err)
			}
			r := index(t, decodeAll(t, manifests), slices.Collect(maps.Keys(user))...)
			root := t.TempDir()
			args, env := pod(t, r, user, server, root)
			probe := r.container(t, server).ReadinessProbe.HTTPGet
			runServer(t, bin, args, env, root, user["stile-tls"]["tls.crt"], func(client *http.Client) {
				base := fmt.Sprintf("%s://127.0.0.1:%d", strings.ToLower(string(probe.Scheme)), httpPort)
				waitHealthy(t, client, base+probe.Path)
				token := strings.TrimSpace(string(r.secrets["acme-stile-admin-token"].Data["admin.token"]))
				for _, c := range []struct {
					token string
					want  int
				}{{token, 200}, {"stla_notthetoken", 401}} {
					req, _ := http.NewRequest("GET", base+"/api/v1/resources", nil)
					req.Header.Set("Authorization", "Bearer "+c.token)
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != c.want {
						t.Errorf("GET /api/v1/resources with token %.9s…: %d, want %d", c.token, resp.StatusCode, c.want)
					}
				}
				if pgPort != 0 {
					pgTLS(t, fmt.Sprintf("127.0.0.1:%d", pgPort), user["stile-tls"]["tls.crt"])
				}
			})
		})
	}
}

// runServer runs stile with args and env until check returns, handing
// check a client that trusts ca.
func runServer(t *testing.T, bin string, args, env []string, home string, ca []byte, check func(*http.Client)) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"HOME=" + home}, env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server output:\n%s", out.String())
		}
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	check(&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})
}

// waitHealthy waits up to 30 seconds for url to answer 200 "ok …".
func waitHealthy(t *testing.T, client *http.Client, url string) {
	t.Helper()
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if resp.StatusCode == 200 && strings.HasPrefix(body, "ok ") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v %q", url, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pgTLS speaks to the PostgreSQL listener at addr as a client does: an
// SSLRequest, answered 'S', then a TLS handshake that must verify with
// the certificate the pod mounted (ca).
func pgTLS(t *testing.T, addr string, ca []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("the PostgreSQL listener: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// SSLRequest: length 8, code 80877103.
	if _, err := conn.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil {
		t.Fatal(err)
	}
	answer := make([]byte, 1)
	if _, err := io.ReadFull(conn, answer); err != nil || answer[0] != 'S' {
		t.Fatalf("the listener answered an SSLRequest with %q (%v), want 'S'", answer, err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	if err := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}).Handshake(); err != nil {
		t.Fatalf("TLS with the listener, trusting the mounted certificate: %v", err)
	}
}
