package vmkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// MachineConfig describes a QEMU guest. The console is the first serial port, on QEMU's stdout;
// QMP listens on a unix socket the Machine creates.
type MachineConfig struct {
	QEMU     string // default qemu-system-x86_64
	Kernel   string // -kernel (optional: a disk image boots without it)
	Initrd   string
	Append   string
	MemoryMB int      // default 1024
	CPUs     int      // default 2
	Args     []string // more arguments: -vga std, -nic none, drives, chardevs, ...
	// ConsoleLog receives a raw copy of the console (the artifact file).
	ConsoleLog io.Writer
	// OnLine sees every console line as it arrives (live logging, checkpoints).
	OnLine func(line string)
}

// Machine is a running QEMU.
type Machine struct {
	Console *Console
	cmd     *exec.Cmd
	dir     string
	qmpPath string
	stderr  *lockedBuffer
	exited  chan struct{}
	waitErr error
	Started time.Time
}

// Start launches QEMU with TCG (KVM is not usable on these hosts; see shared/recipes/qemu-hil.md).
func Start(ctx context.Context, c MachineConfig) (*Machine, error) {
	if c.QEMU == "" {
		c.QEMU = "qemu-system-x86_64"
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = 1024
	}
	if c.CPUs == 0 {
		c.CPUs = 2
	}
	// A short folder of its own: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "vmkit-")
	if err != nil {
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	m := &Machine{dir: dir, qmpPath: filepath.Join(dir, "qmp.sock"), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	args := []string{
		"-accel", "tcg", "-m", strconv.Itoa(c.MemoryMB), "-smp", strconv.Itoa(c.CPUs),
		"-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
		"-qmp", "unix:" + m.qmpPath + ",server=on,wait=off",
	}
	if c.Kernel != "" {
		args = append(args, "-kernel", c.Kernel)
	}
	if c.Initrd != "" {
		args = append(args, "-initrd", c.Initrd)
	}
	if c.Append != "" {
		args = append(args, "-append", c.Append)
	}
	args = append(args, c.Args...)
	m.cmd = exec.Command(c.QEMU, args...)
	m.cmd.Stderr = m.stderr
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	var r io.Reader = out
	if c.ConsoleLog != nil {
		r = io.TeeReader(out, c.ConsoleLog)
	}
	var handlers []func(string)
	if c.OnLine != nil {
		handlers = append(handlers, c.OnLine)
	}
	m.Started = time.Now()
	if err := m.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	m.Console = NewConsole(r, handlers...)
	go func() {
		<-m.Console.Done() // read all output before Wait closes the pipe
		m.waitErr = m.cmd.Wait()
		close(m.exited)
	}()
	go func() {
		select {
		case <-ctx.Done():
			m.Kill()
		case <-m.exited:
		}
	}()
	return m, nil
}

// QMP opens a new QMP connection to the machine.
func (m *Machine) QMP(ctx context.Context) (*QMP, error) { return DialQMP(ctx, m.qmpPath) }

// Exited is closed when QEMU has exited and its console was read to the end.
func (m *Machine) Exited() <-chan struct{} { return m.exited }

// Wait waits for QEMU to exit (the guest powered off) or ctx to end (then it kills QEMU).
func (m *Machine) Wait(ctx context.Context) error {
	select {
	case <-m.exited:
	case <-ctx.Done():
		m.Kill()
		<-m.exited
		return fmt.Errorf("qemu: %w after %s", ctx.Err(), time.Since(m.Started).Round(time.Millisecond))
	}
	if m.waitErr != nil {
		return fmt.Errorf("qemu: %w: %s", m.waitErr, tail(m.stderr.String(), 2000))
	}
	return nil
}

// Kill ends QEMU at once.
func (m *Machine) Kill() {
	if m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
	}
}

// Close kills QEMU if it still runs, waits for it and removes the socket folder.
func (m *Machine) Close() {
	m.Kill()
	<-m.exited
	os.RemoveAll(m.dir)
}

// Stderr is what QEMU wrote to stderr.
func (m *Machine) Stderr() string { return m.stderr.String() }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
