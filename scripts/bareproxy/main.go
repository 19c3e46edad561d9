// Command bareproxy is the yardstick of `make bench-connect`: the least a Go
// TCP proxy can do (io.Copy both ways, nothing parsed or recorded), so the
// benchmark shows what stile's relay costs beyond any proxy hop.
//
//	bareproxy LISTEN_ADDR UPSTREAM_ADDR
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bareproxy LISTEN_ADDR UPSTREAM_ADDR")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go relay(c, os.Args[2])
	}
}

func relay(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	go func() {
		io.Copy(u, c)
		u.Close()
	}()
	io.Copy(c, u)
}
