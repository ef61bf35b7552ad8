package bundle

import (
	"bufio"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The crash test re-executes this test binary as a child that saves one bundle; TestMain turns
// the child into that helper before any test runs.
const (
	envHelper = "STOA_BUNDLE_CRASH_HELPER" // "1" selects the helper
	envDir    = "STOA_BUNDLE_DIR"
	envPub    = "STOA_BUNDLE_PUB"   // hex ed25519 public key
	envFile   = "STOA_BUNDLE_ENV"   // path of the envelope to save
	envPause  = "STOA_BUNDLE_PAUSE" // step at which the helper stops and waits to be killed
)

// saveSteps are the hook's step names in the order Save reaches them.
var saveSteps = []string{"start", "temp-created", "temp-written", "temp-synced", "current-moved", "renamed", "dir-synced"}

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "1" {
		os.Exit(crashHelper())
	}
	os.Exit(m.Run())
}

func crashHelper() int {
	pub, err := hex.DecodeString(os.Getenv(envPub))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: pub:", err)
		return 2
	}
	env, err := os.ReadFile(os.Getenv(envFile))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	pause := os.Getenv(envPause)
	s := &Store{Dir: os.Getenv(envDir), Pub: ed25519.PublicKey(pub)}
	s.hook = func(step string) {
		if step == pause {
			fmt.Println("paused", step)
			time.Sleep(time.Hour) // the parent kills us here
		}
	}
	fmt.Println("ready")
	if _, err := s.Save(env); err != nil {
		fmt.Fprintln(os.Stderr, "helper: save:", err)
		return 1
	}
	fmt.Println("done")
	return 0
}

// TestSaveSurvivesSIGKILL kills a child saving bundle N+1 over bundle N at 100 points: every step
// boundary (the child pauses there through the hook) and random microsecond delays into Save.
// After each kill Load must return N or N+1, never an error. State carries over between rounds,
// so later rounds also save on top of what earlier kills left (missing current, stale temps).
func TestSaveSurvivesSIGKILL(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	envDirPath := t.TempDir()
	s := &Store{Dir: dir, Pub: f.pub}
	if _, err := s.Save(f.sign(t, f.bundle(1))); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	outcomes := map[string]int{}
	const rounds = 100
	start := time.Now()
	for i := 0; i < rounds; i++ {
		cur, err := s.Load()
		if err != nil {
			t.Fatalf("round %d: Load before: %v", i, err)
		}
		n := cur.Version
		envPath := filepath.Join(envDirPath, "next.json")
		if err := os.WriteFile(envPath, f.sign(t, f.bundle(n+1)), 0o600); err != nil {
			t.Fatal(err)
		}
		pause := ""
		var delay time.Duration
		if i%2 == 0 {
			pause = saveSteps[(i/2)%len(saveSteps)]
		} else {
			delay = time.Duration(rng.IntN(3000)) * time.Microsecond
		}
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), envHelper+"=1", envDir+"="+dir, envPub+"="+hex.EncodeToString(f.pub),
			envFile+"="+envPath, envPause+"="+pause)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child did not get ready: %q %s", i, sc.Text(), stderr.String())
		}
		last := ""
		if pause != "" {
			// Wait for the pause line, or for "done" when this round's state skips the step
			// (current-moved does not happen when the current file is missing).
			for sc.Scan() {
				last = sc.Text()
				if strings.HasPrefix(last, "paused") || last == "done" {
					break
				}
			}
		} else {
			time.Sleep(delay)
		}
		cmd.Process.Kill() // SIGKILL
		cmd.Wait()

		b, src, err := s.LoadSource()
		if err != nil {
			t.Fatalf("round %d (pause %q, delay %v): Load after kill: %v; child stderr: %s", i, pause, delay, err, stderr.String())
		}
		if b.Version != n && b.Version != n+1 {
			t.Fatalf("round %d: Load after kill = v%d, want v%d or v%d", i, b.Version, n, n+1)
		}
		// At a step boundary the outcome is exact: before the rename into place the old bundle
		// is in effect, after it the new one.
		if strings.HasPrefix(last, "paused") {
			want := n
			if pause == "renamed" || pause == "dir-synced" {
				want = n + 1
			}
			if b.Version != want {
				t.Fatalf("round %d: killed at %q: Load = v%d, want v%d", i, pause, b.Version, want)
			}
		}
		outcomes[fmt.Sprintf("%s/%s", map[bool]string{true: "new", false: "old"}[b.Version == n+1], src)]++
	}
	t.Logf("%d kills in %v: outcomes %v", rounds, time.Since(start).Round(time.Millisecond), outcomes)
}
