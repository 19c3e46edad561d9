package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stile test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, key
}

// TestAgentOverTLS: the server serves HTTPS and the agent dials wss://,
// trusting the server's CA.
func TestAgentOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := &harness{t: t, dir: dir, vars: map[string]string{"STILE_DATA": dir, "STILE_URL": "https://" + addr, "STILE_CA": cert}}
	done := make(chan int, 1)
	ctx, cancel := cancelCtx()
	go func() {
		done <- run(ctx, []string{"server", "--listen", addr, "--tls-cert", cert, "--tls-key", key}, h.env(nil, new(syncWriter), new(syncWriter)))
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _, _ := h.stile("", "agents", "list"); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the TLS server did not start")
		}
		time.Sleep(25 * time.Millisecond)
	}
	token := createAgent(t, h, "secure")
	h.vars["STILE_AGENT_TOKEN"] = token
	stop := startAgentEnv(t, h, "secure")
	defer stop()
	// Without the CA the agent refuses the server's certificate.
	h.vars["STILE_CA"] = ""
	h.fails(1, "certificate", "", "agents", "list")
}
