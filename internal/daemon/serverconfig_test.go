package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/errs"
)

// TestServerConfigValidate: each bad setting is refused naming its flag.
func TestServerConfigValidate(t *testing.T) {
	good := serverConfig{listen: "127.0.0.1:8009", prefix: "stile", lockDB: "postgres", applyTimeout: time.Minute, consoleTimeout: time.Minute, applyParallel: 4, rotateCheck: time.Minute}
	if err := good.Validate(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	for _, tt := range []struct {
		change func(*serverConfig)
		want   string
	}{
		{func(c *serverConfig) { c.listen = "8009" }, "--listen"},
		{func(c *serverConfig) { c.pgListen = "nowhere" }, "--pg-listen"},
		{func(c *serverConfig) { c.metricsListen = "9109" }, "--metrics-listen"},
		{func(c *serverConfig) { c.prefix = "Bad-Prefix" }, "--role-prefix"},
		{func(c *serverConfig) { c.lockDB = "" }, "--lock-database"},
		{func(c *serverConfig) { c.tlsCert = "cert.pem" }, "--tls-cert and --tls-key"},
		{func(c *serverConfig) { c.applyTimeout = 0 }, "--apply-timeout"},
		{func(c *serverConfig) { c.consoleTimeout = 0 }, "--console-timeout"},
		{func(c *serverConfig) { c.applyParallel = 0 }, "--apply-parallel"},
		{func(c *serverConfig) { c.adminIdle = -time.Second }, "--admin-idle"},
		{func(c *serverConfig) { c.rotateCheck = 0 }, "--rotate-check-every"},
		{func(c *serverConfig) { c.notifyWebhook = "ftp://x" }, "--notify-webhook"},
		{func(c *serverConfig) { c.publicURL = "http://stile.example.com" }, "--public-url"},
		{func(c *serverConfig) { c.adminIdleMax = -1 }, "--admin-idle-max"},
		{func(c *serverConfig) { c.driftEvery = -time.Second }, "--drift-every"},
		{func(c *serverConfig) { c.webhook = "http://example.com/hook" }, "--audit-webhook"},
		{func(c *serverConfig) { c.advertise = "ws://10.0.0.1:8009" }, "--advertise-url"},
	} {
		c := good
		tt.change(&c)
		err := c.Validate()
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an invalid error naming %s", c, err, tt.want)
		}
	}
}
