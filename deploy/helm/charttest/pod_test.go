package charttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// userObjects are the Secrets and ConfigMaps the test values name as the
// user's own (existingSecret, existingConfigMap), with made-up contents:
// what a pod of the chart would find mounted.
func userObjects(t *testing.T) map[string]map[string][]byte {
	t.Helper()
	cert, key := selfSigned(t)
	dataKey := make([]byte, 32)
	rand.Read(dataKey)
	return map[string]map[string][]byte{
		"stile-store":         {"url": []byte("postgres://stile:hunter2@db.example:5432/stile")},
		"stile-tls":           {"tls.crt": cert, "tls.key": key},
		"stile-key":           {"secret.key": []byte(base64.StdEncoding.EncodeToString(dataKey) + "\n")},
		"stile-admin":         {"admin.token": []byte("stla_admintokenofthetestvaluesfile")},
		"stile-agent-eu-west": {"token": []byte("stla_agenttokenoftheeuwestagent")},
		"stile-agent-local":   {"token": []byte("stla_agenttokenofthelocalagent")},
		"corp-ca":             {"ca.crt": cert},
		"stile-webhook":       {"secret": []byte("webhook-hmac-key")},
	}
}

// pod lays out under root what the container of deployment name would see:
// each volume mount's files (from the rendered ConfigMaps and Secrets or
// the user's, honouring items), emptyDirs and claims as directories. It
// returns the container's arguments and environment as the kubelet would
// resolve them, every path under /etc/stile and /var/lib/stile moved
// under root, and the pod's address taken as 127.0.0.1.
func pod(t *testing.T, r *rendered, user map[string]map[string][]byte, name, root string) (args, env []string) {
	t.Helper()
	spec := r.deployments[name].Spec.Template.Spec
	c := spec.Containers[0]
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		dir := filepath.Join(root, m.MountPath)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		v := volumes[m.Name]
		var files map[string][]byte
		var items []corev1.KeyToPath
		mode := os.FileMode(0o644) // the kubelet's default for both kinds
		switch {
		case v.ConfigMap != nil:
			items = v.ConfigMap.Items
			if v.ConfigMap.DefaultMode != nil {
				mode = os.FileMode(*v.ConfigMap.DefaultMode)
			}
			if cm, ok := r.configMaps[v.ConfigMap.Name]; ok {
				files = map[string][]byte{}
				for k, s := range cm.Data {
					files[k] = []byte(rebase(s, root))
				}
			} else {
				files = user[v.ConfigMap.Name]
			}
		case v.Secret != nil:
			items = v.Secret.Items
			if v.Secret.DefaultMode != nil {
				mode = os.FileMode(*v.Secret.DefaultMode)
			}
			if s, ok := r.secrets[v.Secret.SecretName]; ok {
				files = s.Data
			} else {
				files = user[v.Secret.SecretName]
			}
			if files == nil {
				t.Fatalf("%s: the test has no Secret %s to mount", name, v.Secret.SecretName)
			}
		}
		paths := map[string]string{}
		for k := range files {
			paths[k] = k
		}
		if len(items) > 0 {
			paths = map[string]string{}
			for _, it := range items {
				paths[it.Key] = it.Path
			}
		}
		for k, p := range paths {
			data, ok := files[k]
			if !ok {
				t.Fatalf("%s: volume %s has no key %q", name, m.Name, k)
			}
			// With the mode the pod sees: a program that wants its key
			// file 0600 would fail here as in the pod.
			if err := os.WriteFile(filepath.Join(dir, p), data, mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, p), mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	vars := map[string]string{}
	for _, e := range c.Env {
		value := e.Value
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			value = name + "-7d9f8b-x2x4q"
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP":
			value = "127.0.0.1"
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			data, ok := user[ref.Name][ref.Key]
			if !ok {
				t.Fatalf("%s: env %s: the test has no Secret %s key %s", name, e.Name, ref.Name, ref.Key)
			}
			value = string(data)
		default:
			t.Fatalf("%s: env %s: a source the test does not know: %+v", name, e.Name, e.ValueFrom)
		}
		// $(VAR) names a variable defined before it, as the kubelet expands.
		value = regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(value, func(ref string) string {
			if v, ok := vars[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref
		})
		vars[e.Name] = value
		env = append(env, e.Name+"="+value)
	}
	for _, a := range c.Args {
		args = append(args, rebase(a, root))
	}
	return args, env
}

// rebase moves the pod's paths under root.
func rebase(s, root string) string {
	s = strings.ReplaceAll(s, "/etc/stile/", root+"/etc/stile/")
	return strings.ReplaceAll(s, "/var/lib/stile", root+"/var/lib/stile")
}

// selfSigned is a certificate for 127.0.0.1 and localhost, and its key, in PEM.
func selfSigned(t *testing.T) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stile"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
