package vm

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/test/vm/vmkit"
)

// TestDrivers builds the hw-tagged test binaries, boots them in QEMU and mirrors their results:
// one subtest per binary, one per top-level guest test inside it.
func TestDrivers(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a QEMU guest (about 20 s; minutes on the first run, which downloads the kernel): not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	start := time.Now()
	art := artifacts(t)
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := hwPackages(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("no package has hw-tagged tests (test/vm/smoke at least should)")
	}
	for _, p := range pkgs {
		t.Logf("guest tests: %s", p.ImportPath)
	}

	// The kernel (download, gpio-sim build) and the Go builds are independent: run them together.
	bins := t.TempDir()
	var k *vmkit.Kernel
	var gpioSim, bootImage string
	var kernelErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		step := time.Now()
		k, kernelErr = vmkit.FetchKernel(ctx, vmkit.KernelSpec{Logf: t.Logf})
		if kernelErr == nil {
			gpioSim, kernelErr = vmkit.BuildGPIOSim(ctx, k)
		}
		if kernelErr == nil {
			bootImage, kernelErr = k.BootImage(ctx)
		}
		if kernelErr == nil {
			t.Logf("kernel %s + gpio-sim ready in %s (cache %s)", k.Release, time.Since(step).Round(time.Millisecond), k.Dir)
		}
	}()
	step := time.Now()
	buildErr := buildBinaries(ctx, root, bins, pkgs)
	t.Logf("guest binaries built in %s", time.Since(step).Round(time.Millisecond))
	wg.Wait()
	if kernelErr != nil {
		t.Fatal(kernelErr)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}

	step = time.Now()
	initrd := filepath.Join(bins, "initrd.cpio")
	// STOA_VM_ARGS adds test flags for the guest binaries, e.g. "-test.run=TestCamera".
	testArgs := append([]string{"-test.v", "-test.count=1", "-test.timeout=5m"}, strings.Fields(os.Getenv("STOA_VM_ARGS"))...)
	size, err := buildInitramfs(ctx, initrd, bins, k, gpioSim, pkgs, testArgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("initramfs: %.1f MB in %s", float64(size)/1e6, time.Since(step).Round(time.Millisecond))

	// Each binary may take up to its -test.timeout; the guest gets that plus time to boot.
	run := boot(ctx, t, bootImage, initrd, art, time.Duration(len(pkgs))*5*time.Minute+2*time.Minute)
	mirror(t, run, pkgs)
	t.Logf("total %s (boot to result %s; QEMU start to init %s, kernel uptime at init %s, modules: %d in %s); artifacts in %s",
		time.Since(start).Round(time.Millisecond), run.bootToResult.Round(time.Millisecond),
		run.toInit.Round(time.Millisecond), run.report.Booted, run.report.ModulesLoaded, run.report.ModulesTime, art)
}

// artifacts is where the console log and screendumps go: $STOA_ARTIFACTS/test-vm if set (kept
// for CI), else a temporary folder.
func artifacts(t *testing.T) string {
	if d := os.Getenv("STOA_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, "test-vm")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

type guestRun struct {
	report       *vmkit.Report
	bootToResult time.Duration
	toInit       time.Duration // QEMU start to the guest init's first line
	screens      []screenCheck
}

type screenCheck struct {
	name, file string
	err        error
}

// boot runs the guest to its end, taking screendumps when the console asks for them.
func boot(ctx context.Context, t *testing.T, kernel, initrd, art string, limit time.Duration) *guestRun {
	t.Helper()
	logf, err := os.Create(filepath.Join(art, "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	run := &guestRun{}
	var (
		mu      sync.Mutex
		shots   sync.WaitGroup
		qmp     *vmkit.QMP
		qmpOnce sync.Once
		qmpErr  error
		m       *vmkit.Machine
		started = make(chan struct{})
	)
	verbose := testing.Verbose()
	check := checkers()
	screendump := func(name string) {
		defer shots.Done()
		<-started
		sc := screenCheck{name: name}
		defer func() {
			mu.Lock()
			run.screens = append(run.screens, sc)
			mu.Unlock()
		}()
		checker, ok := check[name]
		if !ok {
			sc.err = fmt.Errorf("no screen checker named %q (known: quadrants)", name)
			return
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		mu.Lock()
		qmpOnce.Do(func() { qmp, qmpErr = m.QMP(qctx) })
		q, err := qmp, qmpErr
		n := len(run.screens)
		mu.Unlock()
		if err != nil {
			sc.err = err
			return
		}
		sc.file = filepath.Join(art, fmt.Sprintf("screendump-%d-%s.png", n+1, name))
		// The guest holds the picture for 4 s; the display may lag the test's drawing (fbdev
		// deferred I/O, a loaded host), so poll until the check passes or ~3 s are gone.
		deadline := time.Now().Add(3 * time.Second)
		for {
			sc.err = shoot(qctx, q, sc.file, checker)
			if sc.err == nil || time.Now().After(deadline) {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	qemuStart := time.Now()
	onLine := func(line string) {
		if verbose {
			t.Log(line)
		}
		if strings.Contains(line, vmkit.MarkBooted) {
			mu.Lock()
			run.toInit = time.Since(qemuStart)
			mu.Unlock()
		}
		if name, ok := vmkit.ScreendumpRequest(line); ok {
			shots.Add(1)
			go screendump(name)
		}
	}
	bootCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	m, err = vmkit.Start(bootCtx, vmkit.MachineConfig{
		Kernel: kernel, Initrd: initrd,
		// STOA_VM_APPEND adds kernel arguments (e.g. loglevel=7 to debug a driver's probe).
		Append:     strings.TrimSpace("console=ttyS0 quiet panic=-1 vt.global_cursor_default=0 " + os.Getenv("STOA_VM_APPEND")),
		Args:       []string{"-nic", "none", "-vga", "std"},
		ConsoleLog: logf, OnLine: onLine,
	})
	if err != nil {
		t.Fatal(err)
	}
	close(started)
	defer m.Close()
	waitErr := m.Wait(bootCtx)
	run.bootToResult = time.Since(m.Started)
	shots.Wait()
	if qmp != nil {
		qmp.Close()
	}
	run.report = vmkit.ParseReport(m.Console.Lines())
	t.Logf("QEMU ran %s; console log: %s", run.bootToResult.Round(time.Millisecond), logf.Name())
	if waitErr != nil {
		t.Errorf("guest did not finish: %v\nlast console lines:\n%s", waitErr, lastLines(m.Console.Lines(), 40))
	}
	if !run.report.Done {
		t.Errorf("guest init did not reach its end (%s)\nlast console lines:\n%s", run.report.InitFail, lastLines(m.Console.Lines(), 40))
	}
	for _, f := range run.report.ModuleFailures {
		t.Errorf("guest module failed to load: %s", f)
	}
	for _, w := range run.report.Warnings {
		t.Logf("guest warning: %s", w)
	}
	for _, s := range run.screens {
		if s.err != nil {
			t.Errorf("screen check %q (%s): %v", s.name, s.file, s.err)
		} else {
			t.Logf("screen check %q passed (%s)", s.name, s.file)
		}
	}
	return run
}

// shoot takes one screendump into file and checks it.
func shoot(ctx context.Context, q *vmkit.QMP, file string, check func(image.Image) error) error {
	if err := q.Screendump(ctx, file); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("decode %s: %w", file, err)
	}
	return check(img)
}

func lastLines(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
