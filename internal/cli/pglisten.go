package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"time"

	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/service"
)

// servePG runs the server's PostgreSQL listener on addr: the user name is a
// resource role, the password the API token. TLS uses the server's
// certificate, or one generated at start.
func servePG(ctx context.Context, addr, certFile, keyFile string, svc *service.Service, log *slog.Logger) (net.Addr, error) {
	var cert tls.Certificate
	var err error
	if certFile != "" {
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	} else {
		cert, err = selfSignedCert()
	}
	if err != nil {
		return nil, fmt.Errorf("pg listener certificate: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pg listener: %w", err)
	}
	l := &proxy.Listener{
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Log: log,
		Open: func(ctx context.Context, user, password, database string) (*proxy.Upstream, error) {
			p, err := svc.Authenticate(ctx, password)
			if err != nil {
				return nil, fmt.Errorf("%w for user %q", proxy.ErrAuth, user)
			}
			c, err := svc.Connect(ctx, p, user, database)
			if err != nil {
				return nil, err
			}
			return &proxy.Upstream{Ctx: c.Ctx, Conn: c.Upstream, Hello: c.Hello, Cancel: c.Cancel, KeyData: c.KeyData,
				Finish: func(st proxy.Stats) { svc.Finish(ctx, c, st) }}, nil
		},
		CancelElsewhere: svc.CancelByKey,
	}
	go l.Serve(ctx, ln)
	return ln.Addr(), nil
}

// selfSignedCert makes a throwaway certificate for the pg listener when the
// server has none: clients with sslmode=require encrypt, though they cannot
// verify it.
func selfSignedCert() (tls.Certificate, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "stile"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}, nil
}
