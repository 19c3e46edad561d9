package main

import (
	"archive/tar"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImage builds stile as `make image` does (static, CGO off) for amd64
// and arm64, assembles the image index and writes its OCI archive; then,
// with no container runtime, reads the archive back as an OCI layout,
// checks each platform's image (user, entrypoint, labels, a static binary
// of that architecture), unpacks the filesystems and runs the entrypoint
// of this machine's architecture from it. One binary makes one image.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	bins := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		bins[arch] = filepath.Join(dir, arch, "stile")
		gobuild := exec.Command("go", "build", "-trimpath", "-ldflags", "-X github.com/stile-dev/stile/internal/version.Version=v9.9.9-test", "-o", bins[arch], "../../cmd/stile")
		gobuild.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if out, err := gobuild.CombinedOutput(); err != nil {
			t.Fatalf("go build (%s): %v\n%s", arch, err, out)
		}
	}
	o := options{caFile: caPath, version: "v9.9.9-test", revision: "abc123", created: time.Unix(1_800_000_000, 0).UTC()}

	archive := filepath.Join(dir, "stile-image.tar")
	if _, err := buildArchive(o, []string{bins["amd64"], bins["arm64"]}, archive); err != nil {
		t.Fatal(err)
	}
	idx := readArchive(t, archive)
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json: %+v, %v; want one image index", im, err)
	}
	multi, err := idx.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	mm, err := multi.IndexManifest()
	if err != nil || len(mm.Manifests) != 2 {
		t.Fatalf("the image index: %+v, %v; want two images", mm, err)
	}
	for _, m := range mm.Manifests {
		if m.Platform == nil || m.Platform.OS != "linux" || bins[m.Platform.Architecture] == "" {
			t.Fatalf("an image for platform %+v", m.Platform)
		}
		img, err := multi.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, img, m.Platform.Architecture, filepath.Join(dir, "root-"+m.Platform.Architecture))
	}

	// One binary: the archive holds the image itself.
	single := filepath.Join(dir, "single.tar")
	if _, err := buildArchive(o, []string{bins["amd64"]}, single); err != nil {
		t.Fatal(err)
	}
	idx = readArchive(t, single)
	im, err = idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Fatalf("index.json: %+v, %v; want one image", im, err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, img, "amd64", filepath.Join(dir, "root-single"))

	// Refused: two binaries of one platform, and a file that is no binary.
	if _, err := buildArchive(o, []string{bins["arm64"], bins["arm64"]}, filepath.Join(dir, "twice.tar")); err == nil || !strings.Contains(err.Error(), "two binaries for linux/arm64") {
		t.Errorf("two arm64 binaries: %v", err)
	}
	if _, err := buildArchive(o, []string{caPath}, filepath.Join(dir, "ca.tar")); err == nil || !strings.Contains(err.Error(), "not a linux (ELF) binary") {
		t.Errorf("a CA bundle as the binary: %v", err)
	}
}

// readArchive unpacks an OCI archive and opens its layout's index.
func readArchive(t *testing.T, archive string) v1.ImageIndex {
	t.Helper()
	oci := filepath.Join(t.TempDir(), "oci")
	untar(t, archive, oci)
	idx, err := layout.ImageIndexFromPath(oci)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "stile" {
		t.Fatalf("index.json: %+v, %v; want one entry named stile", im, err)
	}
	return idx
}

// checkImage holds one platform's image to what `make image` promises: its
// config (architecture, user, entrypoint, labels) and its filesystem (the
// user, who owns the data directory, the CA certificates, a static
// entrypoint built for arch, which runs when arch is this machine's).
func checkImage(t *testing.T, img v1.Image, arch, root string) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != binPath || cf.OS != "linux" || cf.Architecture != arch {
		t.Errorf("%s: user %q, entrypoint %q, platform %s/%s", arch, c.User, c.Entrypoint, cf.OS, cf.Architecture)
	}
	for k, want := range map[string]string{"org.opencontainers.image.version": "v9.9.9-test", "org.opencontainers.image.revision": "abc123", "org.opencontainers.image.source": source} {
		if c.Labels[k] != want {
			t.Errorf("%s: label %s = %q, want %q", arch, k, c.Labels[k], want)
		}
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	owners := extract(t, rc, root)
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), "stile:x:65532:65532:") {
		t.Errorf("%s: /etc/passwd:\n%s", arch, passwd)
	}
	if owners[strings.TrimPrefix(dataDir, "/")] != 65532 {
		t.Errorf("%s: %s is owned by %d", arch, dataDir, owners[strings.TrimPrefix(dataDir, "/")])
	}
	if fi, err := os.Stat(filepath.Join(root, caPath)); err != nil || fi.Size() == 0 {
		t.Errorf("%s: CA certificates: %v", arch, err)
	}
	entry := filepath.Join(root, binPath)
	f, err := elf.Open(entry)
	if err != nil {
		t.Fatal(err)
	}
	if goArch[f.Machine] != arch {
		t.Errorf("the %s image's entrypoint is built for %s", arch, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the %s entrypoint is dynamically linked", arch)
		}
	}
	f.Close()
	if arch != runtime.GOARCH {
		return
	}
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
