package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/service"
)

// servePG runs the server's PostgreSQL listener on addr: the user name is a
// resource role, the password an API token (service.OpenUpstream). TLS uses
// the server's certificate, or one generated at start.
func servePG(ctx context.Context, addr, certFile, keyFile string, svc *service.Services, log *slog.Logger) (net.Addr, error) {
	tlsCfg, err := proxy.ServerTLS(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("pg listener: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pg listener: %w", err)
	}
	l := &proxy.Listener{TLS: tlsCfg, Log: log, Open: svc.Connections.OpenUpstream, CancelElsewhere: svc.Connections.CancelByKey}
	go l.Serve(ctx, ln)
	return ln.Addr(), nil
}
