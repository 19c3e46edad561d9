// Command image assembles stile's container image from static binaries,
// without a container daemon: for each binary, one layer (the binary, the
// CA certificates, a non-root user and its data directory) on an empty
// base, with the OCI labels; the platform of each is read from the binary
// itself (its ELF machine). One binary makes an image, several an image
// index with one image per platform. Either is written as an OCI archive
// (an OCI image layout in a tar) that podman, skopeo or containerd load.
// `make image` runs it.
//
//	go run ./scripts/image -binary build/linux-amd64/stile -binary build/linux-arm64/stile \
//	  -version v1.2.3 -revision abc123 -o build/stile-image.tar
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
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
	caFile, version, revision string
	created                   time.Time
}

// binaries is the repeated -binary flag.
type binaries []string

func (b *binaries) String() string     { return strings.Join(*b, ",") }
func (b *binaries) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	var o options
	var bins binaries
	var out string
	flag.Var(&bins, "binary", "a static (CGO_ENABLED=0) stile binary for linux; repeat for more platforms")
	flag.StringVar(&o.caFile, "ca", caPath, "the CA certificates bundle to put in the image")
	flag.StringVar(&o.version, "version", "dev", "the version label")
	flag.StringVar(&o.revision, "revision", "", "the commit label")
	flag.StringVar(&out, "o", "stile-image.tar", "the OCI archive to write")
	flag.Parse()
	if len(bins) == 0 {
		bins = binaries{"stile"}
	}
	// Reproducible: the image's time is the (first) binary's.
	if fi, err := os.Stat(bins[0]); err == nil {
		o.created = fi.ModTime().UTC().Truncate(time.Second)
	}
	digest, err := buildArchive(o, bins, out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%s)\n", out, digest)
}

// buildArchive builds an image of each binary and writes them to out: the
// image alone for one binary, an index of them for several. It returns
// the digest of what it wrote.
func buildArchive(o options, bins []string, out string) (v1.Hash, error) {
	var images []v1.Image
	var platforms []v1.Platform
	for _, bin := range bins {
		img, p, err := build(o, bin)
		if err != nil {
			return v1.Hash{}, err
		}
		for _, seen := range platforms {
			if seen.Equals(p) {
				return v1.Hash{}, fmt.Errorf("two binaries for %s/%s", p.OS, p.Architecture)
			}
		}
		images, platforms = append(images, img), append(platforms, p)
	}
	if len(images) == 1 {
		err := writeOCIArchive(out, func(lp layout.Path) error { return lp.AppendImage(images[0], refName()) })
		if err != nil {
			return v1.Hash{}, err
		}
		return images[0].Digest()
	}
	adds := make([]mutate.IndexAddendum, len(images))
	for i, img := range images {
		adds[i] = mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &platforms[i]}}
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	err := writeOCIArchive(out, func(lp layout.Path) error { return lp.AppendIndex(idx, refName()) })
	if err != nil {
		return v1.Hash{}, err
	}
	return idx.Digest()
}

// refName names the image or index in an archive.
func refName() layout.Option {
	return layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "stile"})
}

// goArch maps an ELF machine to Go's (and OCI's) architecture name.
var goArch = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}

// build assembles the image of one binary, for the platform the binary is
// built for.
func build(o options, binary string) (v1.Image, v1.Platform, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, v1.Platform{}, fmt.Errorf("binary: %w", err)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return nil, v1.Platform{}, fmt.Errorf("%s is not a linux (ELF) binary", binary)
	}
	arch, ok := goArch[f.Machine]
	f.Close()
	if !ok {
		return nil, v1.Platform{}, fmt.Errorf("%s is built for %s: amd64 or arm64 only", binary, f.Machine)
	}
	platform := v1.Platform{OS: "linux", Architecture: arch}
	ca, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, v1.Platform{}, fmt.Errorf("CA certificates (install ca-certificates): %w", err)
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
		return nil, v1.Platform{}, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, v1.Platform{}, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, v1.Platform{}, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, v1.Platform{}, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = platform.Architecture, platform.OS
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
	img, err = mutate.ConfigFile(img, cf)
	return img, platform, err
}

// writeOCIArchive writes an OCI image layout, which add fills, in a tar at
// path.
func writeOCIArchive(path string, add func(layout.Path) error) error {
	dir, err := os.MkdirTemp("", "stile-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := add(lp); err != nil {
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
