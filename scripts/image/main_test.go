package main

import (
	"archive/tar"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImage builds stile as `make image` does (static, CGO off), assembles
// the image and writes its OCI archive; then, with no container runtime,
// reads the archive back as an OCI layout, checks the user, entrypoint and
// labels, unpacks the filesystem and runs the entrypoint from it.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "stile")
	gobuild := exec.Command("go", "build", "-trimpath", "-ldflags", "-X github.com/stile-dev/stile/internal/version.Version=v9.9.9-test", "-o", bin, "../../cmd/stile")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	img, err := build(options{binary: bin, caFile: caPath, version: "v9.9.9-test", revision: "abc123", created: time.Unix(1_800_000_000, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "stile-image.tar")
	if err := writeOCIArchive(img, archive); err != nil {
		t.Fatal(err)
	}

	// Read it back: an OCI layout with one image.
	oci := filepath.Join(dir, "oci")
	untar(t, archive, oci)
	idx, err := layout.ImageIndexFromPath(oci)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "stile" {
		t.Fatalf("index: %+v, %v", im, err)
	}
	back, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != binPath || cf.OS != "linux" {
		t.Errorf("user %q, entrypoint %q, os %q", c.User, c.Entrypoint, cf.OS)
	}
	for k, want := range map[string]string{"org.opencontainers.image.version": "v9.9.9-test", "org.opencontainers.image.revision": "abc123", "org.opencontainers.image.source": source} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}

	// Its filesystem: the user exists, owns the data directory, and the
	// entrypoint is a static binary that runs.
	root := filepath.Join(dir, "root")
	rc := mutate.Extract(back)
	defer rc.Close()
	owners := extract(t, rc, root)
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), "stile:x:65532:65532:") {
		t.Errorf("/etc/passwd:\n%s", passwd)
	}
	if owners[strings.TrimPrefix(dataDir, "/")] != 65532 {
		t.Errorf("%s is owned by %d", dataDir, owners[strings.TrimPrefix(dataDir, "/")])
	}
	if fi, err := os.Stat(filepath.Join(root, caPath)); err != nil || fi.Size() == 0 {
		t.Errorf("CA certificates: %v", err)
	}
	entry := filepath.Join(root, binPath)
	f, err := elf.Open(entry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the entrypoint is dynamically linked")
		}
	}
	f.Close()
	out, err := exec.Command(entry, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v9.9.9-test") {
		t.Errorf("%s version: %v\n%s", binPath, err, out)
	}
}

// untar unpacks a tar file into dir.
func untar(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	extract(t, f, dir)
}

// extract unpacks a tar stream into dir and returns each entry's owner.
func extract(t *testing.T, r io.Reader, dir string) map[string]int {
	t.Helper()
	owners := map[string]int{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return owners
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		owners[name] = h.Uid
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, os.FileMode(h.Mode)&0o777); err != nil {
				t.Fatal(err)
			}
		}
	}
}
