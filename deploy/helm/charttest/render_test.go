package charttest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

// chartDir is the chart under test, from this module's directory.
const chartDir = "../stile"

const (
	release   = "acme"
	namespace = "stile"
)

// loadValues reads a values file of testdata.
func loadValues(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{}
	if err := yaml.Unmarshal(data, &vals); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return vals
}

// helmLint is `helm lint --strict` with vals: its errors, and its warnings
// as errors too.
func helmLint(vals map[string]any) []string {
	linter := lint.RunAll(chartDir, vals, namespace)
	var problems []string
	for _, m := range linter.Messages {
		if m.Severity >= support.WarningSev {
			problems = append(problems, m.Error())
		}
	}
	return problems
}

// helmTemplate renders the chart with vals as `helm template` does for an
// install (no cluster: lookup finds nothing), with the values schema
// checked, and in strict mode (a template naming a value the chart does not
// have fails). It returns every manifest and, apart, NOTES.txt.
func helmTemplate(vals map[string]any) (manifests map[string]string, err error) {
	manifests, _, err = render(vals)
	return manifests, err
}

// render is helmTemplate, with the notes Helm prints after an install.
func render(vals map[string]any) (manifests map[string]string, notes string, err error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, "", err
	}
	opts := common.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := util.ToRenderValuesWithSchemaValidation(ch, vals, opts, common.DefaultCapabilities, false)
	if err != nil {
		return nil, "", err
	}
	out, err := engine.Engine{Strict: true}.RenderWithContext(context.Background(), ch, top)
	if err != nil {
		return nil, "", err
	}
	for name, text := range out {
		if strings.HasSuffix(name, "NOTES.txt") {
			notes = text
			delete(out, name)
		}
	}
	return out, notes, nil
}

// newScheme is client-go's scheme (every built-in kind) and the Prometheus
// operator's monitoring.coreos.com/v1, for the ServiceMonitor.
func newScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := scheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := monitoringv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// decodeAll decodes every object of a render strictly into its API type: an
// unknown or duplicated field, an unknown kind or a value of the wrong type
// fails. Objects come back in file and document order.
func decodeAll(t *testing.T, manifests map[string]string) []runtime.Object {
	t.Helper()
	codec := serializer.NewCodecFactory(newScheme(t), serializer.EnableStrict).UniversalDeserializer()
	var names []string
	for name := range manifests {
		names = append(names, name)
	}
	slices.Sort(names)
	var objs []runtime.Object
	for _, name := range names {
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(manifests[name], -1) {
			if isEmptyDoc(doc) {
				continue
			}
			obj, gvk, err := codec.Decode([]byte(doc), nil, nil)
			if err != nil {
				t.Fatalf("%s, document %d: %v\n%s", name, i+1, err, doc)
			}
			if gvk.Kind == "" || gvk.Version == "" {
				t.Fatalf("%s, document %d: no kind or apiVersion", name, i+1)
			}
			objs = append(objs, obj)
		}
	}
	return objs
}

// isEmptyDoc: a document of nothing but blank lines and comments.
func isEmptyDoc(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// buildStile builds stile from this repository (CGO off, as the image has it).
func buildStile(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stile")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/stile")
	cmd.Dir = "../../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runStile runs stile with args and only env, returning what it printed.
func runStile(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir()}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
