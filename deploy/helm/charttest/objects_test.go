package charttest

import (
	"reflect"
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// rendered is one render of the chart, its objects by kind and name.
type rendered struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	claims      map[string]*corev1.PersistentVolumeClaim
	budgets     map[string]*policyv1.PodDisruptionBudget
	monitors    map[string]*monitoringv1.ServiceMonitor
	accounts    map[string]*corev1.ServiceAccount
	ingresses   map[string]*networkingv1.Ingress
	existing    []string // Secrets and ConfigMaps the values name, made by the user
	kinds       []string // every object's kind/name, in render order
}

func index(t *testing.T, objs []runtime.Object, existing ...string) *rendered {
	t.Helper()
	r := &rendered{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		claims: map[string]*corev1.PersistentVolumeClaim{}, budgets: map[string]*policyv1.PodDisruptionBudget{},
		monitors: map[string]*monitoringv1.ServiceMonitor{}, accounts: map[string]*corev1.ServiceAccount{},
		ingresses: map[string]*networkingv1.Ingress{},
		existing:  existing,
	}
	for _, obj := range objs {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			r.deployments[o.Name] = o
		case *corev1.Service:
			r.services[o.Name] = o
		case *corev1.ConfigMap:
			r.configMaps[o.Name] = o
		case *corev1.Secret:
			r.secrets[o.Name] = o
		case *corev1.PersistentVolumeClaim:
			r.claims[o.Name] = o
		case *policyv1.PodDisruptionBudget:
			r.budgets[o.Name] = o
		case *monitoringv1.ServiceMonitor:
			r.monitors[o.Name] = o
		case *corev1.ServiceAccount:
			r.accounts[o.Name] = o
		case *networkingv1.Ingress:
			r.ingresses[o.Name] = o
		default:
			t.Fatalf("the chart renders a %T the tests do not check", obj)
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			t.Fatal(err)
		}
		key := reflect.TypeOf(obj).Elem().Name() + "/" + m.GetName()
		if slices.Contains(r.kinds, key) {
			t.Fatalf("%s rendered twice", key)
		}
		r.kinds = append(r.kinds, key)
	}
	return r
}

// checkCommon holds every render to what the chart promises whatever the
// values: hardened pods, mounts of volumes that exist, Secrets and
// ConfigMaps that are rendered or named by the user, Services, the
// ServiceMonitor and the budget selecting what they mean to.
func checkCommon(t *testing.T, r *rendered) {
	t.Helper()
	for name, d := range r.deployments {
		pod := d.Spec.Template.Spec
		if sel, err := metaSelector(d.Spec.Selector.MatchLabels); err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("deployment %s: its selector does not match its pods", name)
		}
		psc := pod.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
			psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("deployment %s: pod security context %+v: want non-root 65532, RuntimeDefault seccomp", name, psc)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("deployment %s: mounts a service account token stile never uses", name)
		}
		if _, ok := r.accounts[pod.ServiceAccountName]; !ok {
			t.Errorf("deployment %s: service account %q is not rendered", name, pod.ServiceAccountName)
		}
		volumes := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			volumes[v.Name] = v
			switch {
			case v.ConfigMap != nil:
				if _, ok := r.configMaps[v.ConfigMap.Name]; !ok && !slices.Contains(r.existing, v.ConfigMap.Name) {
					t.Errorf("deployment %s: volume %s: ConfigMap %q neither rendered nor named in the values", name, v.Name, v.ConfigMap.Name)
				}
			case v.Secret != nil:
				if s, ok := r.secrets[v.Secret.SecretName]; ok {
					for _, item := range v.Secret.Items {
						if _, ok := s.Data[item.Key]; !ok {
							t.Errorf("deployment %s: volume %s: Secret %s has no key %q", name, v.Name, s.Name, item.Key)
						}
					}
				} else if !slices.Contains(r.existing, v.Secret.SecretName) {
					t.Errorf("deployment %s: volume %s: Secret %q neither rendered nor named in the values", name, v.Name, v.Secret.SecretName)
				}
			case v.PersistentVolumeClaim != nil:
				if _, ok := r.claims[v.PersistentVolumeClaim.ClaimName]; !ok && !slices.Contains(r.existing, v.PersistentVolumeClaim.ClaimName) {
					t.Errorf("deployment %s: volume %s: claim %q neither rendered nor named in the values", name, v.Name, v.PersistentVolumeClaim.ClaimName)
				}
			}
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("deployment %s: %d containers, want 1", name, len(pod.Containers))
		}
		c := pod.Containers[0]
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("deployment %s: container security context %+v: want a read-only root, no escalation, no capabilities", name, sc)
		}
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				t.Errorf("deployment %s: mounts %s, no such volume", name, m.Name)
			}
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("deployment %s: no memory request or limit", name)
		}
	}
	for name, s := range r.services {
		d := selected(r, s.Spec.Selector)
		if d == nil {
			t.Errorf("service %s selects no deployment", name)
			continue
		}
		ports := d.Spec.Template.Spec.Containers[0].Ports
		for _, p := range s.Spec.Ports {
			if !slices.ContainsFunc(ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.TargetPort.String() }) {
				t.Errorf("service %s: port %s targets %s, which the pod does not name", name, p.Name, p.TargetPort.String())
			}
		}
	}
	for name, m := range r.monitors {
		sel, _ := metaSelector(m.Spec.Selector.MatchLabels)
		var svc *corev1.Service
		for _, s := range r.services {
			if sel.Matches(labels.Set(s.Labels)) {
				svc = s
			}
		}
		if svc == nil {
			t.Fatalf("service monitor %s selects no service", name)
		}
		for _, e := range m.Spec.Endpoints {
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == e.Port }) {
				t.Errorf("service monitor %s scrapes port %q, which service %s does not have", name, e.Port, svc.Name)
			}
		}
	}
	for name, ing := range r.ingresses {
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				svc, ok := r.services[p.Backend.Service.Name]
				if !ok || !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == p.Backend.Service.Port.Name }) {
					t.Errorf("ingress %s: %s routes to service %s port %q, which is not rendered", name, rule.Host, p.Backend.Service.Name, p.Backend.Service.Port.Name)
				}
			}
		}
	}
	for name, b := range r.budgets {
		if selected(r, b.Spec.Selector.MatchLabels) == nil {
			t.Errorf("budget %s selects no deployment", name)
		}
	}
}

// selected is the one deployment whose pods sel matches, or nil.
func selected(r *rendered, match map[string]string) *appsv1.Deployment {
	sel, err := metaSelector(match)
	if err != nil || len(match) == 0 {
		return nil
	}
	var found *appsv1.Deployment
	for _, d := range r.deployments {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			if found != nil {
				return nil // two: a selector too wide
			}
			found = d
		}
	}
	return found
}

func metaSelector(match map[string]string) (labels.Selector, error) {
	return labels.ValidatedSelectorFromSet(match)
}

// container is the one container of deployment name.
func (r *rendered) container(t *testing.T, name string) corev1.Container {
	t.Helper()
	d, ok := r.deployments[name]
	if !ok {
		t.Fatalf("no deployment %s; rendered: %v", name, r.kinds)
	}
	return d.Spec.Template.Spec.Containers[0]
}

// env is the container's variable name, or nil.
func env(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}
