// Package local is what stile reads of the machine it runs on, alike for
// the server and the client: the default data directory, and whether a host
// name is this machine. It has no state and imports no stile package.
package local

import (
	"net"
	"os"
	"path/filepath"
)

// DataDir returns the default data directory: $STILE_DATA, else
// $XDG_DATA_HOME/stile, else ~/.local/share/stile. getenv reads the
// environment (os.Getenv, or a test's).
func DataDir(getenv func(string) string) string {
	if d := getenv("STILE_DATA"); d != "" {
		return d
	}
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "stile")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".local", "share", "stile")
}

// IsLoopback reports whether host (a name or an IP address, no port) is
// this machine: "localhost" or a loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
