package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// event is one line of `go tool test2json` output.
type event struct {
	Action string
	Test   string
	Output string
}

// guestTest is a top-level test of a guest binary with its subtests' output.
type guestTest struct {
	name   string
	action string // pass, fail, skip; "" if it never ended (crash, timeout)
	output strings.Builder
}

// mirror reports each guest binary as a subtest and each of its top-level tests under it, so
// `go test -v ./test/vm` shows which driver test passed or failed, with the failing output.
func mirror(t *testing.T, run *guestRun, pkgs []testPkg) {
	for _, p := range pkgs {
		t.Run(p.Name, func(t *testing.T) {
			b := run.report.Binary(p.Name)
			if b == nil {
				t.Fatalf("%s never started in the guest", p.Name)
			}
			tests, err := parseTestOutput(b.Output)
			if err != nil {
				t.Fatalf("test2json: %v", err)
			}
			failed := 0
			for _, gt := range tests {
				t.Run(gt.name, func(t *testing.T) {
					switch gt.action {
					case "pass":
					case "skip":
						t.Skipf("skipped in the guest:\n%s", gt.output.String())
					default:
						failed++
						t.Errorf("%s in the guest (%s):\n%s", gt.name, orUnfinished(gt.action), gt.output.String())
					}
				})
			}
			switch {
			case !b.Finished:
				t.Errorf("%s did not finish; its last output:\n%s", p.Name, lastLines(b.Output, 60))
			case !b.OK && failed == 0:
				t.Errorf("%s exited %d with no failed test; its last output:\n%s", p.Name, b.Code, lastLines(b.Output, 60))
			case b.OK && len(tests) == 0:
				t.Errorf("%s ran no test", p.Name)
			default:
				t.Logf("%s: %d tests, exit %d, %s in the guest", p.Name, len(tests), b.Code, b.Duration)
			}
		})
	}
}

func orUnfinished(a string) string {
	if a == "" {
		return "did not finish"
	}
	return a
}

// parseTestOutput turns a binary's -test.v output into its top-level tests with go tool
// test2json, which knows the format's corner cases (parallel tests, panics, nested runs).
func parseTestOutput(lines []string) ([]*guestTest, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "tool", "test2json")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	var tests []*guestTest
	byName := map[string]*guestTest{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Test == "" {
			continue
		}
		top, _, _ := strings.Cut(e.Test, "/")
		gt := byName[top]
		if gt == nil {
			gt = &guestTest{name: top}
			byName[top] = gt
			tests = append(tests, gt)
		}
		switch {
		case e.Action == "output":
			gt.output.WriteString(e.Output)
		case e.Test == top && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			gt.action = e.Action
		}
	}
	return tests, sc.Err()
}
