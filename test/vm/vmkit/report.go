package vmkit

import (
	"strconv"
	"strings"
)

// Report is what a guest run printed, parsed from its console lines (the Mark* lines of the
// guest init, see GuestConfig).
type Report struct {
	Booted         string         // kernel uptime when init started, e.g. "1.93s"
	ModulesLoaded  int            // modules init loaded
	ModulesTime    string         // how long loading took
	ModuleFailures []string       // "<name> <error>"
	Binaries       []*BinaryRun   // in the order they ran
	Done           bool           // init reached its end (nothing hung or crashed the guest)
	InitFail       string         // init's own error, if any
	Warnings       []string       // STOA-VM WARN lines
	byName         map[string]int // index into Binaries
}

// BinaryRun is one test binary's run in the guest.
type BinaryRun struct {
	Name     string
	Finished bool   // a RESULT line came
	OK       bool   // exit code 0
	Code     int    // exit code
	Duration string // as the guest measured it
	Output   []string
}

// ParseReport reads console lines. Lines between a binary's START and RESULT are its output; a
// marker may follow other text on the same line (a test's last line without a newline, or a
// kernel message), so markers are found anywhere in a line.
func ParseReport(lines []string) *Report {
	r := &Report{byName: map[string]int{}}
	var cur *BinaryRun
	for _, line := range lines {
		before, mark, rest := findMark(line)
		if mark == "" {
			if cur != nil {
				cur.Output = append(cur.Output, line)
			}
			continue
		}
		if cur != nil && before != "" {
			cur.Output = append(cur.Output, before)
		}
		f := strings.Fields(rest)
		switch mark {
		case MarkBooted:
			if len(f) > 0 {
				r.Booted = f[0]
			}
		case MarkModules:
			if len(f) > 0 {
				r.ModulesLoaded, _ = strconv.Atoi(f[0])
			}
			if len(f) > 1 {
				r.ModulesTime = f[1]
			}
		case MarkModuleFail:
			r.ModuleFailures = append(r.ModuleFailures, strings.TrimSpace(rest))
		case MarkStart:
			if len(f) == 0 {
				continue
			}
			cur = &BinaryRun{Name: f[0]}
			r.byName[cur.Name] = len(r.Binaries)
			r.Binaries = append(r.Binaries, cur)
		case MarkResult:
			if len(f) < 3 || cur == nil || f[0] != cur.Name {
				if cur != nil { // a stray or garbled result line is output, not a verdict
					cur.Output = append(cur.Output, line)
				}
				continue
			}
			code, err := strconv.Atoi(f[2])
			if err != nil {
				cur.Output = append(cur.Output, line)
				continue
			}
			cur.Finished, cur.Code, cur.OK = true, code, f[1] == "ok" && code == 0
			if len(f) > 3 {
				cur.Duration = f[3]
			}
			cur = nil
		case MarkDone:
			r.Done = true
			cur = nil
		case markInitFail:
			r.InitFail = strings.TrimSpace(rest)
		case markWarn:
			r.Warnings = append(r.Warnings, strings.TrimSpace(rest))
		case MarkScreendump:
			if cur != nil {
				cur.Output = append(cur.Output, line)
			}
		}
	}
	return r
}

// Binary returns the run of the named binary, or nil.
func (r *Report) Binary(name string) *BinaryRun {
	if i, ok := r.byName[name]; ok {
		return r.Binaries[i]
	}
	return nil
}

const (
	markInitFail = "STOA-VM INIT-FAIL"
	markWarn     = "STOA-VM WARN"
)

// Longer marks first where one is a prefix of another (MODULE-FAIL vs MODULES).
func markList() [9]string {
	return [9]string{MarkModuleFail, MarkModules, MarkBooted, MarkStart, MarkResult, MarkDone, MarkScreendump, markInitFail, markWarn}
}

// findMark finds the first marker in line (followed by a space or the line's end).
func findMark(line string) (before, mark, rest string) {
	i := strings.Index(line, "STOA-VM ")
	if i < 0 {
		return line, "", ""
	}
	tail := line[i:]
	for _, m := range markList() {
		if strings.HasPrefix(tail, m) && (len(tail) == len(m) || tail[len(m)] == ' ') {
			return line[:i], m, tail[len(m):]
		}
	}
	return line, "", ""
}

// ScreendumpRequest returns the checker name when line asks for a screendump.
func ScreendumpRequest(line string) (string, bool) {
	_, mark, rest := findMark(line)
	if mark != MarkScreendump {
		return "", false
	}
	f := strings.Fields(rest)
	if len(f) != 1 {
		return "", false
	}
	return f[0], true
}
