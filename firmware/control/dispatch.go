package control

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Arg describes one command argument. A value is valid when it is one of Enum, or (when
// Int) an integer in [Min, Max], or (when Pattern is set) matches it. An Arg with neither
// Enum, Int nor Pattern accepts any short printable value.
type Arg struct {
	Name     string
	Required bool
	Enum     []string
	Int      bool
	Min, Max int
	Pattern  *regexp.Regexp
	Help     string
}

// Spec is a command's arguments, in positional order for the line protocol and roomctl.
// After, when set, renames the positions after the first argument by its value
// ("ptz goto 10 0 200" → pan, tilt, zoom).
type Spec struct {
	Help  string
	Args  []Arg
	After map[string][]string
}

// Handler carries out a validated command; its result goes into the Reply.
type Handler func(ctx context.Context, args Args) (any, error)

// Args are a command's validated arguments.
type Args map[string]string

// Int returns the named argument as an integer (validated ones always parse).
func (a Args) Int(name string) (int, error) {
	v, ok := a[name]
	if !ok {
		return 0, fmt.Errorf("argument %s is required", name)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("argument %s: %q is not a number", name, v)
	}
	return n, nil
}

// Dispatcher validates commands and runs their handlers. Safe for concurrent use.
type Dispatcher struct {
	mu    sync.RWMutex
	cmds  map[string]entry
	names []string
}

type entry struct {
	spec Spec
	h    Handler
}

// NewDispatcher returns a dispatcher with no commands.
func NewDispatcher() *Dispatcher { return &Dispatcher{cmds: map[string]entry{}} }

var cmdNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Register adds command name with its argument spec and handler.
func (d *Dispatcher) Register(name string, spec Spec, h Handler) error {
	if !cmdNameRE.MatchString(name) {
		return fmt.Errorf("register command: bad name %q", name)
	}
	if h == nil {
		return fmt.Errorf("register command %s: no handler", name)
	}
	seen := map[string]bool{}
	for _, a := range spec.Args {
		if a.Name == "" || seen[a.Name] {
			return fmt.Errorf("register command %s: empty or repeated argument name %q", name, a.Name)
		}
		seen[a.Name] = true
	}
	for k, names := range spec.After {
		for _, n := range names {
			if !seen[n] {
				return fmt.Errorf("register command %s: after %q names unknown argument %q", name, k, n)
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.cmds[name]; dup {
		return fmt.Errorf("register command %s: already registered", name)
	}
	d.cmds[name] = entry{spec: spec, h: h}
	d.names = append(d.names, name)
	slices.Sort(d.names)
	return nil
}

// Names lists the registered commands, sorted.
func (d *Dispatcher) Names() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return slices.Clone(d.names)
}

// Spec returns a registered command's spec.
func (d *Dispatcher) Spec(name string) (Spec, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.cmds[name]
	return e.spec, ok
}

// Validate checks c against its command's spec without running it.
func (d *Dispatcher) Validate(c Command) error {
	d.mu.RLock()
	e, ok := d.cmds[c.Name]
	d.mu.RUnlock()
	if !ok {
		return fmt.Errorf("unknown command %q", printable(c.Name))
	}
	return validate(c.Name, e.spec, c.Args)
}

// Dispatch validates c and runs its handler. Invalid commands change nothing.
func (d *Dispatcher) Dispatch(ctx context.Context, c Command) Reply {
	d.mu.RLock()
	e, ok := d.cmds[c.Name]
	d.mu.RUnlock()
	if !ok {
		return Reply{ID: c.ID, Error: fmt.Sprintf("unknown command %q", printable(c.Name))}
	}
	if err := validate(c.Name, e.spec, c.Args); err != nil {
		return Reply{ID: c.ID, Error: err.Error()}
	}
	res, err := e.h(ctx, Args(maps.Clone(c.Args)))
	if err != nil {
		return Reply{ID: c.ID, Error: c.Name + ": " + err.Error()}
	}
	return Reply{ID: c.ID, OK: true, Result: res}
}

func validate(name string, s Spec, args map[string]string) error {
	known := map[string]Arg{}
	for _, a := range s.Args {
		known[a.Name] = a
	}
	for k := range args {
		if _, ok := known[k]; !ok {
			return fmt.Errorf("%s: unknown argument %q", name, printable(k))
		}
	}
	for _, a := range s.Args {
		v, ok := args[a.Name]
		if !ok {
			if a.Required {
				return fmt.Errorf("%s: argument %s is required%s", name, a.Name, choices(a))
			}
			continue
		}
		if err := checkArg(a, v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func checkArg(a Arg, v string) error {
	if len(v) > 128 {
		return fmt.Errorf("argument %s: longer than 128 characters", a.Name)
	}
	if slices.Contains(a.Enum, v) {
		return nil
	}
	if a.Int {
		if n, err := strconv.Atoi(v); err == nil && n >= a.Min && n <= a.Max {
			return nil
		}
	}
	if a.Pattern != nil && a.Pattern.MatchString(v) {
		return nil
	}
	if len(a.Enum) == 0 && !a.Int && a.Pattern == nil && printable(v) == v && v != "" {
		return nil
	}
	return fmt.Errorf("argument %s: %q is not valid%s", a.Name, printable(v), choices(a))
}

// choices describes what an argument accepts, for error messages.
func choices(a Arg) string {
	var alts []string
	alts = append(alts, a.Enum...)
	if a.Int {
		alts = append(alts, fmt.Sprintf("%d..%d", a.Min, a.Max))
	}
	if a.Pattern != nil && a.Help != "" {
		alts = append(alts, a.Help)
	}
	if len(alts) == 0 {
		return ""
	}
	return " (" + strings.Join(alts, ", ") + ")"
}

// printable quotes nothing but replaces control characters, so error texts stay one line.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// ErrNoWords is returned for an empty command line.
var ErrNoWords = errors.New("empty command")

// FromWords builds a command from words ("mic", "mute"): positional words take the spec's
// argument names in order (or After's names past the first), "name=value" words set an
// argument by name. It does not validate values; Dispatch does.
func FromWords(spec func(name string) (Spec, bool), words []string) (Command, error) {
	if len(words) == 0 {
		return Command{}, ErrNoWords
	}
	c := Command{Name: words[0], Args: map[string]string{}}
	s, ok := spec(c.Name)
	if !ok {
		return Command{}, fmt.Errorf("unknown command %q", printable(c.Name))
	}
	var order []string
	for _, a := range s.Args {
		order = append(order, a.Name)
	}
	pos := 0
	for _, w := range words[1:] {
		if k, v, ok := strings.Cut(w, "="); ok && k != "" {
			if _, dup := c.Args[k]; dup {
				return Command{}, fmt.Errorf("%s: argument %s given twice", c.Name, printable(k))
			}
			c.Args[k] = v
			continue
		}
		if pos == 1 && s.After != nil {
			if names, ok := s.After[c.Args[order[0]]]; ok {
				order = append(order[:1:1], names...)
			}
		}
		if pos >= len(order) {
			return Command{}, fmt.Errorf("%s: unexpected argument %q", c.Name, printable(w))
		}
		if _, dup := c.Args[order[pos]]; dup {
			return Command{}, fmt.Errorf("%s: argument %s given twice", c.Name, order[pos])
		}
		c.Args[order[pos]] = w
		pos++
	}
	if len(c.Args) == 0 {
		c.Args = nil
	}
	return c, nil
}
