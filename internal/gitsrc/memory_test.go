package gitsrc_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"sendops/internal/gitsrc"
	"sendops/internal/testutil/gittest"
)

// A repository of a few kilobytes can hold a file of gigabytes of zeros:
// Fetch refuses it from the sizes the download announces, before
// unpacking, so its memory does not grow with the file (here 8 MiB under
// a limit of 1 MiB; unpacking it allocates several times its size). The fetch runs in
// a process of its own (the server, here, reads the file whole to send
// it), which reports what it allocated.
func TestFetchRefusesLargeFileWithoutUnpacking(t *testing.T) {
	t.Parallel()
	const fileSize = 8 << 20
	r := gittest.New(t)
	r.Commit(t, map[string]string{"a.html": "A"}, "one", "Ann")
	r.Commit(t, map[string]string{"zeros.bin": strings.Repeat("\x00", fileSize)}, "zeros", "Ann")
	srv := gittest.NewHTTPServer(t, "")
	u := srv.Add("acme/zeros.git", r)

	cmd := exec.Command(os.Args[0], "-test.run=^TestFetchMemoryHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GITSRC_MEMORY_HELPER_URL="+u)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	report := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			report[k] = v
		}
	}
	if report["too-large"] != "true" || !strings.Contains(report["err"], "holds a file larger than 1 MiB") {
		t.Errorf("Fetch = %q, want ErrTooLarge for the file\n%s", report["err"], out)
	}
	alloc, err := strconv.ParseInt(report["alloc"], 10, 64)
	if err != nil {
		t.Fatalf("no allocation report: %s", out)
	}
	t.Logf("Fetch allocated %d KiB in all for a repository with a file of %d MiB", alloc>>10, fileSize>>20)
	if alloc > fileSize/4 {
		t.Errorf("Fetch allocated %d MiB in all for a repository with a file of %d MiB: it unpacked the file", alloc>>20, fileSize>>20)
	}
	if srv.Requests() != 2 {
		t.Errorf("the helper made %d requests, want 2", srv.Requests())
	}
}

// TestFetchMemoryHelper is TestFetchRefusesLargeFileWithoutUnpacking's
// fetch, in the process it starts; it is skipped otherwise.
func TestFetchMemoryHelper(t *testing.T) {
	u := os.Getenv("GITSRC_MEMORY_HELPER_URL")
	if u == "" {
		t.Skip("run by TestFetchRefusesLargeFileWithoutUnpacking")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := gitsrc.Fetch(fetchCtx(t), gitsrc.Source{URL: u, Branch: "main"}, gitsrc.Options{AllowPrivate: true, MaxObjectBytes: 1 << 20})
	runtime.ReadMemStats(&after)
	fmt.Printf("\nalloc=%d\ntoo-large=%v\nerr=%v\n", after.TotalAlloc-before.TotalAlloc, errors.Is(err, gitsrc.ErrTooLarge), err)
}
