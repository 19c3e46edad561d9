// Command image assembles stile's container image from a static binary,
// without a container daemon: one layer (the binary, the CA certificates,
// a non-root user and its data directory) on an empty base, the OCI labels,
// written as an OCI archive (an OCI image layout in a tar) that podman,
// skopeo or containerd load. `make image` runs it.
//
//	go run ./scripts/image -binary build/stile -version v1.2.3 -revision abc123 -o build/stile-image.tar
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are in the image, and who runs it.
const (
	binPath  = "/usr/local/bin/stile"
	caPath   = "/etc/ssl/certs/ca-certificates.crt"
	dataDir  = "/var/lib/stile"
	uid      = 65532
	userName = "stile"
	source   = "https://github.com/stile-dev/stile"
)

// options say what to build.
type options struct {
	binary, caFile, version, revision string
	created                           time.Time
}

func main() {
	var o options
	var out string
	flag.StringVar(&o.binary, "binary", "stile", "the static (CGO_ENABLED=0) stile binary for linux")
	flag.StringVar(&o.caFile, "ca", caPath, "the CA certificates bundle to put in the image")
	flag.StringVar(&o.version, "version", "dev", "the version label")
	flag.StringVar(&o.revision, "revision", "", "the commit label")
	flag.StringVar(&out, "o", "stile-image.tar", "the OCI archive to write")
	flag.Parse()
	// Reproducible: the image's time is the binary's.
	if fi, err := os.Stat(o.binary); err == nil {
		o.created = fi.ModTime().UTC().Truncate(time.Second)
	}
	img, err := build(o)
	if err == nil {
		err = writeOCIArchive(img, out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	d, _ := img.Digest()
	fmt.Printf("wrote %s (%s)\n", out, d)
}

// build assembles the image.
func build(o options) (v1.Image, error) {
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	if !bytes.HasPrefix(bin, []byte("\x7fELF")) {
		return nil, fmt.Errorf("%s is not a linux (ELF) binary", o.binary)
	}
	ca, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, fmt.Errorf("CA certificates (install ca-certificates): %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, owner int) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: owner, Gid: owner, ModTime: o.created})
	}
	file := func(name string, mode int64, data []byte) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: o.created})
		tw.Write(data)
	}
	for _, d := range []string{"etc", "etc/ssl", "etc/ssl/certs", "tmp", "usr", "usr/local", "usr/local/bin", "var", "var/lib"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		dir(d, mode, 0)
	}
	dir(strings.TrimPrefix(dataDir, "/"), 0o700, uid)
	file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:stile:%s:/sbin/nologin\n", userName, uid, uid, dataDir))
	file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\n%s:x:%d:\n", userName, uid))
	file(strings.TrimPrefix(caPath, "/"), 0o644, ca)
	file(strings.TrimPrefix(binPath, "/"), 0o755, bin)
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: o.created}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, uid),
		Entrypoint: []string{binPath},
		Cmd:        []string{"server", "--listen", "0.0.0.0:8009"},
		Env:        []string{"STILE_DATA=" + dataDir, "SSL_CERT_FILE=" + caPath},
		WorkingDir: dataDir,
		ExposedPorts: map[string]struct{}{
			"8009/tcp": {}, // the API and web app
			"5433/tcp": {}, // --pg-listen, when given
		},
		Volumes: map[string]struct{}{dataDir: {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "stile",
			"org.opencontainers.image.description": "owns PostgreSQL access roles across a fleet",
			"org.opencontainers.image.version":     o.version,
			"org.opencontainers.image.revision":    o.revision,
			"org.opencontainers.image.source":      source,
			"org.opencontainers.image.created":     o.created.Format(time.RFC3339),
		},
	}
	return mutate.ConfigFile(img, cf)
}

// writeOCIArchive writes img as an OCI image layout, in a tar at path.
func writeOCIArchive(img v1.Image, path string) error {
	dir, err := os.MkdirTemp("", "stile-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "stile"})); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
